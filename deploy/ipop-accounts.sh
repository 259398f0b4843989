#!/bin/sh
# Creates ipop users and their relationships on the XMPP server.
#
#   ipop-accounts.sh [-s ejabberd|prosody] [-d DOMAIN] FILE
#
# FILE (or - for stdin) has one statement per line; # starts a comment:
#
#   domain xmpp.example.org          the users' domain (or -d DOMAIN)
#   user alice s3cret                register alice@DOMAIN, or reset her password
#                                    (a password is one word: no blanks, no #)
#   friends alice bob                SocialVPN: alice and bob in each other's
#                                    roster with subscription "both"
#   group lab alice bob carol        GroupVPN: shared roster group "lab"; every
#                                    member sees every other member
#
# Every statement may be applied again: registering an existing user sets
# its password, friends and groups are added, never duplicated. Nothing is
# removed: delete with `ejabberdctl unregister` / `delete_rosteritem` /
# `srg_delete` (ejabberd) or by editing the groups file (Prosody).
#
# ejabberd (default): every change goes through ejabberdctl on a running
#   server. EJABBERDCTL overrides the command, words split on blanks, e.g.
#   EJABBERDCTL="ejabberdctl --config /etc/ejabberd/ejabberd.yml".
# prosody: users through prosodyctl (PROSODYCTL overrides the command, as
#   above); relationships go into the mod_groups file PROSODY_GROUPS_FILE
#   (default /etc/prosody/ipop-groups.txt), which this script rewrites from
#   FILE each time. Prosody 0.12 has no command to edit rosters, so a
#   friendship is a two-member group named "alice+bob"; mod_groups shows
#   its members to each other with subscription "both". Prosody reads the
#   file when it starts: restart it afterwards.
#
# Exit status: 0 when every statement was applied, 1 otherwise (each
# failure is reported with its line number), 2 for a usage error.
set -uf # -f: statements are split into words, never globbed
server=ejabberd domain=""
usage() { echo "usage: $0 [-s ejabberd|prosody] [-d DOMAIN] FILE" >&2; exit 2; }
while getopts s:d:h o; do
	case $o in
	s) server=$OPTARG ;;
	d) domain=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
case $server in ejabberd | prosody) ;; *) usage ;; esac
file=$1
if [ "$file" != - ] && [ ! -r "$file" ]; then
	echo "$0: cannot read $file" >&2
	exit 2
fi
EJABBERDCTL=${EJABBERDCTL:-ejabberdctl}
PROSODYCTL=${PROSODYCTL:-prosodyctl}
PROSODY_GROUPS_FILE=${PROSODY_GROUPS_FILE:-/etc/prosody/ipop-groups.txt}
errors=0 lineno=0
groups_tmp=""

err() { echo "$file:$lineno: $*" >&2; errors=$((errors + 1)); }

# Names become JID localparts and command arguments: keep them plain.
valid_name() {
	case $1 in
	"" | *[!A-Za-z0-9._-]*) return 1 ;;
	esac
}

ejctl() { # ARGS... ; prints the output on failure
	# shellcheck disable=SC2086 # EJABBERDCTL is a command line on purpose
	out=$($EJABBERDCTL "$@" 2>&1) && return 0
	printf '%s\n' "$out"
	return 1
}

ej_user() { # NAME PASS
	out=$(ejctl register "$1" "$domain" "$2") && { echo "registered $1@$domain"; return 0; }
	case $out in
	*"already registered"*)
		ejctl change_password "$1" "$domain" "$2" >/dev/null &&
			{ echo "$1@$domain exists; password set"; return 0; } ;;
	esac
	err "user $1: $out"
}

ej_friends() { # A B
	ejctl add_rosteritem "$1" "$domain" "$2" "$domain" "$2" ipop both >/dev/null &&
		ejctl add_rosteritem "$2" "$domain" "$1" "$domain" "$1" ipop both >/dev/null &&
		{ echo "friends $1@$domain <-> $2@$domain (subscription both)"; return 0; }
	err "friends $1 $2: $out"
}

ej_group() { # NAME MEMBER...
	g=$1
	shift
	# The group displays itself to its members: everyone sees everyone.
	ejctl srg_create "$g" "$domain" "$g" "ipop GroupVPN $g" "$g" >/dev/null ||
		{ err "group $g: $out"; return; }
	for m in "$@"; do
		ejctl srg_user_add "$m" "$domain" "$g" "$domain" >/dev/null || { err "group $g member $m: $out"; return; }
	done
	echo "group $g@$domain: $*"
}

pr_user() { # NAME PASS
	# shellcheck disable=SC2086
	out=$($PROSODYCTL register "$1" "$domain" "$2" 2>&1) && { echo "registered $1@$domain"; return 0; }
	err "user $1: $out"
}

pr_section() { # TITLE MEMBER...
	printf '[%s]\n' "$1" >>"$groups_tmp"
	shift
	for m in "$@"; do printf '%s@%s=%s\n' "$m" "$domain" "$m" >>"$groups_tmp"; done
}

pr_friends() { pr_section "$1+$2" "$1" "$2" && echo "friends $1@$domain <-> $2@$domain (group $1+$2)"; }
pr_group() { pr_section "$@" && g=$1 && shift && echo "group $g@$domain: $*"; }

apply() { # WORDS...
	kw=$1
	shift
	case $kw in
	domain)
		[ $# -eq 1 ] || { err "usage: domain NAME"; return; }
		domain=$1 ;;
	user)
		[ $# -eq 2 ] || { err "usage: user NAME PASSWORD"; return; }
		valid_name "$1" || { err "bad user name '$1' (letters, digits, . _ -)"; return; }
		[ -n "$domain" ] || { err "no domain yet (a 'domain' line or -d)"; return; }
		"${pfx}_user" "$@" ;;
	friends)
		[ $# -eq 2 ] || { err "usage: friends USER1 USER2"; return; }
		[ "$1" != "$2" ] || { err "a user cannot befriend herself"; return; }
		valid_name "$1" && valid_name "$2" || { err "bad user name"; return; }
		[ -n "$domain" ] || { err "no domain yet (a 'domain' line or -d)"; return; }
		"${pfx}_friends" "$@" ;;
	group)
		[ $# -ge 2 ] || { err "usage: group NAME MEMBER..."; return; }
		for w in "$@"; do valid_name "$w" || { err "bad name '$w'"; return; }; done
		[ -n "$domain" ] || { err "no domain yet (a 'domain' line or -d)"; return; }
		"${pfx}_group" "$@" ;;
	*) err "unknown statement '$kw' (domain, user, friends, group)" ;;
	esac
}

if [ "$server" = prosody ]; then
	groups_tmp=$(mktemp "$PROSODY_GROUPS_FILE.XXXXXX") || exit 1
	trap 'rm -f "$groups_tmp"' EXIT
	echo "# Written by ipop-accounts.sh from $file; edits here are lost." >"$groups_tmp"
fi
pfx=ej
[ "$server" = prosody ] && pfx=pr
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	line=${line%%#*}
	# shellcheck disable=SC2086 # split the statement into words
	set -- $line
	[ $# -gt 0 ] || continue
	apply "$@"
done <"$( [ "$file" = - ] && echo /dev/stdin || echo "$file")"

if [ -n "$groups_tmp" ]; then
	if [ $errors -eq 0 ]; then
		chmod 644 "$groups_tmp" && mv "$groups_tmp" "$PROSODY_GROUPS_FILE" &&
			echo "wrote $PROSODY_GROUPS_FILE; restart Prosody to load it"
	else
		echo "$PROSODY_GROUPS_FILE left unchanged because of the errors above" >&2
	fi
fi
[ $errors -eq 0 ] || { echo "$errors statement(s) failed" >&2; exit 1; }
