#!/usr/bin/env bash
# The deployment kit as an operator gets it: `make install` into a DESTDIR
# and into a PREFIX, the systemd units checked by systemd-analyze verify,
# the man pages rendered without a warning, the example configurations
# accepted by the daemons' --check, the Prosody template accepted by
# prosodyctl, and the privileges the ipopd@ unit grants (an unprivileged
# user with only CAP_NET_ADMIN) shown to be enough to bring a node up.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipdi}
lib_init install
need_cmd make systemd-analyze systemd-sysusers groff man setpriv turnutils_stunclient
node_bins
ROOT=$NODE_REPO_ROOT
B=${IPOP_BUILD:-build}
# Service users (prosody, nobody) below read files in the lab's directory.
chmod o+x "$LIB_TMP"

# 1. Staged install: files land under DESTDIR, paths inside them do not
#    mention DESTDIR.
D="$LIB_TMP/destdir"
make -s -C "$ROOT" B="$B" install DESTDIR="$D" PREFIX=/usr >"$LIB_TMP/make.log" 2>&1 ||
	{ cat "$LIB_TMP/make.log"; fail "make install DESTDIR=... failed"; }
for f in usr/sbin/ipopd usr/sbin/ipop-turnserver usr/bin/ipopctl \
	usr/share/man/man8/ipopd.8 usr/share/man/man8/ipopctl.8 usr/share/man/man8/ipop-turnserver.8 \
	usr/share/man/man5/ipop-config.json.5 usr/share/man/man5/turn.conf.5 \
	usr/lib/systemd/system/ipopd@.service usr/lib/systemd/system/ipop-turnserver.service \
	usr/lib/sysusers.d/ipop.conf usr/share/ipop/ipop-accounts.sh \
	usr/share/ipop/ejabberd/ejabberd.yml.in usr/share/ipop/ejabberd/make-config.sh \
	usr/share/ipop/prosody/prosody.cfg.lua.in usr/share/ipop/prosody/make-config.sh \
	usr/share/ipop/examples/config-group.json usr/share/ipop/examples/config-social.json \
	usr/share/ipop/examples/turn.conf usr/share/ipop/examples/accounts.example; do
	[ -f "$D/$f" ] || fail "make install did not install /$f"
done
[ -x "$D/usr/share/ipop/ipop-accounts.sh" ] || fail "ipop-accounts.sh is not executable"
grep -q '^ExecStart=/usr/sbin/ipopd -c /etc/ipop/%i.json$' "$D/usr/lib/systemd/system/ipopd@.service" ||
	fail "ipopd@.service does not run /usr/sbin/ipopd"
if grep -rlF -e "$D" -e '@SBINDIR@' "$D/usr/lib/systemd" "$D/usr/share/ipop"; then
	fail "installed files mention DESTDIR or an unfilled @SBINDIR@"
fi
pass "make install DESTDIR=$D PREFIX=/usr: $(find "$D" -type f | wc -l) files, no DESTDIR inside"

# The sysusers.d file creates the units' users (checked in a scratch root).
mkdir -p "$D/etc" && touch "$D/etc/passwd" "$D/etc/group"
systemd-sysusers --root="$D" >"$LIB_TMP/sysusers.log" 2>&1 || { cat "$LIB_TMP/sysusers.log"; fail "systemd-sysusers failed"; }
for u in ipop ipop-turnserver; do
	grep -q "^$u:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$" "$D/etc/passwd" || { cat "$D/etc/passwd"; fail "sysusers did not create $u"; }
done
pass "systemd-sysusers creates the users ipop and ipop-turnserver"

# 2. Install to a real prefix so the units' programs and man pages exist,
#    then let systemd check the units (syntax, sandbox options, ExecStart,
#    Documentation=man:...).
P="$LIB_TMP/prefix"
make -s -C "$ROOT" B="$B" install PREFIX="$P" >"$LIB_TMP/make2.log" 2>&1 ||
	{ cat "$LIB_TMP/make2.log"; fail "make install PREFIX=... failed"; }
U="$P/lib/systemd/system"
out=$(MANPATH="$P/share/man" systemd-analyze verify "$U/ipopd@home.service" "$U/ipop-turnserver.service" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify complained about the units"; }
pass "systemd-analyze verify: ipopd@home.service and ipop-turnserver.service are clean"

# 3. Man pages: no groff warning, and man finds the installed ones.
for m in "$P"/share/man/man*/*; do
	w=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" 2>&1)
	[ -z "$w" ] || { echo "$w"; fail "groff warns about $(basename "$m")"; }
	w=$(MANWIDTH=80 man -l "$m" 2>&1 >/dev/null)
	[ -z "$w" ] || { echo "$w"; fail "man -l warns about $(basename "$m")"; }
done
MANPATH="$P/share/man" man -w ipopd ipopctl ipop-turnserver ipop-config.json turn.conf >/dev/null ||
	fail "man does not find the installed pages"
pass "5 man pages render warning-free and are found under PREFIX/share/man"

# 4. Examples and templates pass the programs' own checks.
E="$P/share/ipop/examples"
for c in config-group.json config-social.json; do
	# as deployed: copied to /etc/ipop with mode 640 (the installed
	# example is 644, and ipopd warns about a password file others read)
	install -m 640 "$E/$c" "$LIB_TMP/$c"
	out=$("$P/sbin/ipopd" -n -c "$LIB_TMP/$c" 2>&1) || { echo "$out"; fail "ipopd -n rejects $c"; }
	grep -q "ok (0 warning(s))" <<<"$out" || { echo "$out"; fail "ipopd -n warns about $c"; }
	out=$("$P/sbin/ipopd" -n -c "$E/$c" 2>&1)
	grep -q "warning: mode 0644 lets others read the passwords" <<<"$out" ||
		{ echo "$out"; fail "ipopd -n does not warn about the readable example $c"; }
done
sed 's/public-ip-address/203.0.113.10/' "$E/turn.conf" >"$LIB_TMP/turn.conf"
"$P/sbin/ipop-turnserver" -n -c "$LIB_TMP/turn.conf" >/dev/null || fail "ipop-turnserver -n rejects the turn.conf template"
"$P/sbin/ipop-turnserver" -n -c "$E/turn.conf" >/dev/null 2>&1 && fail "the unfilled turn.conf template was accepted"
"$P/share/ipop/ejabberd/make-config.sh" xmpp.example.org /etc/ejabberd/ipop.pem >"$LIB_TMP/ejabberd.yml" ||
	fail "ejabberd make-config.sh failed"
! grep -q '@[A-Z_]*@' "$LIB_TMP/ejabberd.yml" || fail "ejabberd.yml has unfilled fields"
"$P/share/ipop/ejabberd/make-config.sh" 'bad domain' x >/dev/null 2>&1 && fail "make-config.sh took a blank in DOMAIN"
if command -v prosodyctl >/dev/null; then
	"$P/share/ipop/prosody/make-config.sh" xmpp.example.org '*' "$LIB_TMP" "$LIB_TMP/groups.txt" \
		>"$LIB_TMP/prosody.cfg.lua" || fail "prosody make-config.sh failed"
	echo 'data_path = "'"$LIB_TMP"'/pdata"' >>"$LIB_TMP/prosody.cfg.lua"
	chmod 644 "$LIB_TMP/prosody.cfg.lua"
	out=$(prosodyctl --config "$LIB_TMP/prosody.cfg.lua" check config 2>&1) ||
		{ echo "$out"; fail "prosodyctl check config rejects the Prosody template"; }
fi
pass "examples pass ipopd -n / ipop-turnserver -n; the ejabberd and Prosody templates render and check"

# 5. What ipopd@.service grants (less CAP_NET_BIND_SERVICE, only for
#    social_dns): a non-root user, CAP_NET_ADMIN as its only
#    (ambient) capability, no new privileges. The node must create its TUN
#    device and answer ipopctl; without the capability it must not start.
need_root
ns_create node
S="$LIB_TMP/state"
mkdir -p "$S"
chown nobody "$S"
cat >"$S/config.json" <<JSON
{ "ip4": "172.31.9.1", "xmpp_username": "n@example.test", "xmpp_password": "x",
  "xmpp_host": "192.0.2.1", "state_dir": "$S", "control_socket": "$S/ctl.sock" }
JSON
chown nobody "$S/config.json"
chmod 600 "$S/config.json"
unpriv() { # CAPS CMD...
	local caps=$1; shift
	ns_exec node setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
		--inh-caps="$caps" --ambient-caps="$caps" --bounding-set="$caps" "$@"
}
out=$(unpriv -all timeout 60 "$IPOPD" -c "$S/config.json" 2>&1) && fail "ipopd started without CAP_NET_ADMIN"
grep -qi 'tun\|permitted\|permission' <<<"$out" || { echo "$out"; fail "no clear error without CAP_NET_ADMIN"; }
unpriv -all,+net_admin "$IPOPD" -c "$S/config.json" >"$LIB_TMP/unpriv.log" 2>&1 &
LIB_PIDS+=("$!")
lib_wait "$LIB_WAIT_S" ns_exec node ip link show ipop0 >/dev/null 2>&1 ||
	{ cat "$LIB_TMP/unpriv.log"; fail "ipopd as nobody with CAP_NET_ADMIN made no TUN device"; }
lib_wait "$LIB_WAIT_S" test -S "$S/ctl.sock" || { cat "$LIB_TMP/unpriv.log"; fail "no control socket"; }
st=$(ns_exec node "$IPOPCTL" -s "$S/ctl.sock" --json status) || fail "ipopctl status failed"
grep -q '"ip4": *"172.31.9.1"' <<<"$st" || { echo "$st"; fail "status lacks the address"; }
ns_exec node ip -4 addr show ipop0 | grep -q '172.31.9.1/24' || fail "ipop0 has no 172.31.9.1/24"
[ "$(stat -c %U "$S/ipop0.key")" = nobody ] || fail "the key file is not the service user's"
pass "as nobody with only CAP_NET_ADMIN (ipopd@.service grants it, plus CAP_NET_BIND_SERVICE for social_dns): TUN up, key created, ipopctl answers"

# What ipop-turnserver.service grants: a non-root user with only
# CAP_NET_BIND_SERVICE binds TURN on 443 (udp and tcp); without it, it cannot.
ns_exec node ip addr add 192.0.2.7/24 dev lo
printf 'listen_address = { "192.0.2.7" }\nudp_port = 443\ntcp_port = 443\nusers = { "u:p" }\n' >"$LIB_TMP/turn443.conf"
chmod 644 "$LIB_TMP/turn443.conf"
out=$(unpriv -all timeout 60 "$TURNSRV" -f -c "$LIB_TMP/turn443.conf" 2>&1) && fail "ipop-turnserver bound 443 without CAP_NET_BIND_SERVICE"
grep -qi 'permission denied' <<<"$out" || { echo "$out"; fail "no clear error binding 443 without the capability"; }
unpriv -all,+net_bind_service "$TURNSRV" -f -c "$LIB_TMP/turn443.conf" >"$LIB_TMP/turn443.log" 2>&1 &
LIB_PIDS+=("$!")
wait_udp_port node 443 && wait_tcp_port node 443 || { cat "$LIB_TMP/turn443.log"; fail "no listener on 443"; }
out=$(stun_udp_client node 192.0.2.7 443)
grep -q 'reflexive addr: 192.0.2.7:' <<<"$out" || { echo "$out"; fail "no STUN answer on 443"; }
pass "as nobody with only CAP_NET_BIND_SERVICE (what ipop-turnserver.service grants): STUN/TURN on 443"

