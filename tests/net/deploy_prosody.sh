#!/usr/bin/env bash
# The Prosody alternative of the deploy/ kit, exercised: Prosody 0.12 runs
# the config written by deploy/prosody/make-config.sh (STARTTLS required,
# SCRAM only), deploy/ipop-accounts.sh -s prosody registers the users and
# writes the mod_groups file for a GroupVPN group and a SocialVPN
# friendship, and the nodes link exactly along those relationships.
#
#   lan 192.0.2.0/24: srv .1 (Prosody), alice .11, bob .12, carol .13, dave .14
#   accounts: group lab = alice bob; friends alice carol; dave: nobody
#   expected links: alice-bob, alice-carol; none for bob-carol, none for dave
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipdp}
lib_init prosody
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
[ -x "$IPOPCTL" ] || skip "$IPOPCTL not built"
ROOT=$NODE_REPO_ROOT

lab_lan a b c d
XDIR="$LIB_TMP/xmpp"
XMPP_IP=192.0.2.1
mkdir -p "$XDIR/certs" "$XDIR/data"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$XMPP_DOMAIN" \
	-addext "subjectAltName=DNS:$XMPP_DOMAIN" \
	-keyout "$XDIR/certs/$XMPP_DOMAIN.key" -out "$XDIR/certs/$XMPP_DOMAIN.crt" 2>/dev/null ||
	fail "openssl could not make a certificate"
"$ROOT/deploy/prosody/make-config.sh" "$XMPP_DOMAIN" "$XMPP_IP" "$XDIR/certs" "$XDIR/groups.txt" \
	>"$XDIR/template.cfg.lua" || fail "deploy/prosody/make-config.sh failed"
# The lab's own process settings go in the global section, before the
# VirtualHost line (everything after it belongs to the host).
awk -v d="$XDIR" '/^VirtualHost/ {
	print "run_as_root = true"; print "daemonize = false"
	print "data_path = \"" d "/data\""; print "pidfile = \"" d "/prosody.pid\""
	print "log = { info = \"" d "/prosody.log\" }"
} { print }' "$XDIR/template.cfg.lua" >"$XDIR/prosody.cfg.lua"
grep -q '^disable_sasl_mechanisms = { "PLAIN"' "$XDIR/prosody.cfg.lua" || fail "template does not disable PLAIN"

cat >"$LIB_TMP/accounts.txt" <<ACC
domain $XMPP_DOMAIN
user alice pw-alice
user bob pw-bob
user carol pw-carol
user dave pw-dave
group lab alice bob
friends alice carol
ACC
PROSODYCTL="prosodyctl --config $XDIR/prosody.cfg.lua" PROSODY_GROUPS_FILE="$XDIR/groups.txt" \
	"$ROOT/deploy/ipop-accounts.sh" -s prosody "$LIB_TMP/accounts.txt" || fail "ipop-accounts.sh -s prosody failed"
grep -qx '\[alice+carol\]' "$XDIR/groups.txt" || { cat "$XDIR/groups.txt"; fail "no friendship section"; }
# A bad file leaves the groups file alone.
cp "$XDIR/groups.txt" "$LIB_TMP/groups.before"
printf 'user eve pw\ngroup\n' >"$LIB_TMP/bad.txt"
PROSODYCTL="prosodyctl --config $XDIR/prosody.cfg.lua" PROSODY_GROUPS_FILE="$XDIR/groups.txt" \
	"$ROOT/deploy/ipop-accounts.sh" -s prosody "$LIB_TMP/bad.txt" >/dev/null 2>&1 && fail "a bad accounts file was accepted"
cmp -s "$XDIR/groups.txt" "$LIB_TMP/groups.before" || fail "a failed run changed the groups file"
pass "ipop-accounts.sh -s prosody: users registered, groups file written (and kept on errors)"

lib_on_exit xmpp_prosody_stop "$XDIR"
xmpp_prosody_start "$(ns_name srv)" "$XMPP_IP" "$XDIR" || fail "Prosody did not start with the template's config"

declare -A IP=([alice]=172.31.0.1 [bob]=172.31.0.2 [carol]=172.31.0.3 [dave]=172.31.0.4)
declare -A HOSTNS=([alice]=a [bob]=b [carol]=c [dave]=d)
for n in alice bob carol dave; do
	node_config $n "${IP[$n]}" $n
	node_start "${HOSTNS[$n]}" $n
done
for n in alice bob carol dave; do
	node_wait $n "xmpp: logged in as $n@$XMPP_DOMAIN/.*\(TLS\)" 30 || { node_logs; fail "$n did not log in over TLS"; }
done
pass "four nodes logged in over STARTTLS with PLAIN disabled (so by SCRAM)"

node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice-bob (group lab) did not come up"; }
node_wait alice 'peer carol@.*-> up' || { node_logs; fail "alice-carol (friends) did not come up"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "bob cannot ping alice"; }
vpn_ping c 172.31.0.1 || { node_logs; fail "carol cannot ping alice"; }
pass "group lab links alice-bob, the friendship links alice-carol"

sleep 2
for pair in "bob 172.31.0.3" "carol 172.31.0.2" "alice 172.31.0.4" "dave 172.31.0.1"; do
	set -- $pair
	[ -z "$(node_path_json "$1" "$2")" ] || fail "$1 lists $2 as a peer without a relationship"
done
ns_exec b ping -c 2 -i 0.2 -W 1 172.31.0.3 >/dev/null 2>&1 && fail "bob reaches carol without a relationship"
pass "no link where the accounts file has no relationship (bob-carol, dave)"
