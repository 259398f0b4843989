#!/usr/bin/env bash
# Routes behind a node (router mode, docs/ipv6.md): bob advertises the LAN
# behind him (10.77.0.0/24, fd00:77::/64) and alice, who authorises bob for
# them, reaches a host on that LAN over IPv4 and IPv6 (sha256-verified
# transfers both ways). carol advertises a prefix nobody authorised (refused:
# log line + ipopctl) and one alice authorises but that overlaps bob's
# (refused as a conflict, then installed when bob goes: a standby router).
# carol's packets with an inner source from bob's prefix, or from her own
# refused one, are dropped by alice. ipopd never touches a sysctl: bob warns
# that forwarding is off until the test turns it on.
#
#                       lan: bridge br0, 192.0.2.0/24
#        +------------------+------------------+------------------+
#        |                  |                  |                  |
#   srv 192.0.2.1      a 192.0.2.11       b 192.0.2.12       c 192.0.2.13
#   prosody, STUN      alice              bob (router)       carol
#                      172.31.0.1         172.31.0.2         172.31.0.3
#                      fd00::1            fd00::2            fd00::3
#                                           | lan0 10.77.0.1/24, fd00:77::1/64
#                                         h 10.77.0.2/24, fd00:77::2/64
#                                           default via bob
#
# alice: accept_routes bob -> 10.77.0.0/16, fd00:77::/48;
#                      carol -> 10.77.0.0/16 (overlaps bob's: a standby)
# bob:   routes 10.77.0.0/24, fd00:77::/64
# carol: routes 10.88.0.0/24 (authorised for nobody), 10.77.0.0/25
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init router
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
W=${LIB_WAIT_S:-60} # generous bounds: a wait ends on the event, or fails after W s
MB=${XFER_MB:-10}

# ipopctl's drop counters: drop_count NAME FIELD; drops_reach NAME FIELD N
drop_count() { node_ctl "$1" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"][sys.argv[1]])' "$2"; }
drops_reach() { [ "$(drop_count "$1" "$2")" -ge "$3" ]; }

lab_lan a b c
ns_create h
for n in a b c h; do
	ns_exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 ||
		skip "IPv6 cannot be enabled in a namespace"
done
ns_link b lan0 10.77.0.1/24 h eth0 10.77.0.2/24
ns_exec b ip -6 addr add fd00:77::1/64 dev lan0 nodad
ns_exec h ip -6 addr add fd00:77::2/64 dev eth0 nodad
ns_exec h ip route add default via 10.77.0.1
ns_exec h ip -6 route add default via fd00:77::1
ns_exec b sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0

xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob carol
for u in alice bob carol; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

node_config alice 172.31.0.1 alice 192.0.2.1:3478 '"ip6": "fd00::1", "accept_routes": {
	"bob@example.test": ["10.77.0.0/16", "fd00:77::/48"], "carol@example.test": ["10.77.0.0/16"]},'
node_config bob 172.31.0.2 bob 192.0.2.1:3478 '"ip6": "fd00::2", "routes": ["10.77.0.0/24", "fd00:77::/64"],'
node_config carol 172.31.0.3 carol 192.0.2.1:3478 '"ip6": "fd00::3", "routes": ["10.88.0.0/24", "10.77.0.0/25"],'

node_start a alice
node_start b bob
node_wait bob 'IPv4 forwarding is off.*sysctl -w net.ipv4.ip_forward=1' "$W" || { node_logs; fail "bob did not warn about IPv4 forwarding"; }
node_wait bob 'IPv6 forwarding is off.*sysctl -w net.ipv6.conf.all.forwarding=1' "$W" || { node_logs; fail "bob did not warn about IPv6 forwarding"; }
[ "$(ns_exec b sysctl -n net.ipv4.ip_forward)" = 0 ] && [ "$(ns_exec b sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] ||
	fail "ipopd changed a forwarding sysctl"
grep -q 'gather: 10\.77\.0\.1 (lan0) lies in this node.s routes: not a candidate' "$LIB_TMP/bob.log" ||
	{ node_logs; fail "bob offers his routed LAN's address as an ICE candidate"; }
pass "bob names the sysctls router mode needs and changes none; his LAN address is no candidate"
ns_exec b sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

node_wait alice 'peer bob@.*-> up' "$((2 * W))" || { node_logs; fail "alice's link to bob did not come up"; }
node_wait alice 'peer bob@.*route 10\.77\.0\.0/24 installed' "$W" || { node_logs; fail "bob's IPv4 route not installed"; }
node_wait alice 'peer bob@.*route fd00:77::/64 installed' "$W" || { node_logs; fail "bob's IPv6 route not installed"; }
ns_exec a ip route show dev ipop0 | grep -q '^10\.77\.0\.0/24' || { ns_exec a ip route; fail "no kernel route 10.77.0.0/24 dev ipop0 on alice"; }
ns_exec a ip -6 route show dev ipop0 | grep -q '^fd00:77::/64' || { ns_exec a ip -6 route; fail "no kernel route fd00:77::/64 dev ipop0 on alice"; }
pass "alice installs bob's routes (prefix table and kernel routes on ipop0)"

for ip in 10.77.0.2 fd00:77::2; do
	lib_wait "$W" vpn_ping a $ip || { node_logs; fail "alice cannot ping the LAN host $ip behind bob"; }
done
vpn_ping h 172.31.0.1 || fail "the LAN host cannot ping alice over IPv4"
vpn_ping h fd00::1 || fail "the LAN host cannot ping alice over IPv6"
pass "alice <-> LAN host behind bob: ping over IPv4 and IPv6"
vpn_xfer a h 10.77.0.2 "$MB" || { node_logs; fail "TCP alice -> LAN host over IPv4"; }
vpn_xfer a h fd00:77::2 "$MB" || { node_logs; fail "TCP alice -> LAN host over IPv6"; }
vpn_xfer h a fd00::1 "$MB" || { node_logs; fail "TCP LAN host -> alice over IPv6"; }
pass "$MB MiB TCP alice -> LAN host over IPv4 and IPv6 and back over IPv6, sha256 verified"

# --- carol: an unauthorised prefix and one that conflicts with bob's
node_start c carol
node_wait alice 'peer carol@.*-> up' "$((2 * W))" || { node_logs; fail "alice's link to carol did not come up"; }
node_wait alice 'peer carol@.*route 10\.88\.0\.0/24 refused: is not authorised for carol@example\.test' "$W" ||
	{ node_logs; fail "alice did not refuse carol's unauthorised route with a clear line"; }
node_wait alice 'peer carol@.*route 10\.77\.0\.0/25 refused: overlaps 10\.77\.0\.0/24 of bob@example\.test' "$W" ||
	{ node_logs; fail "alice did not refuse carol's route that conflicts with bob's"; }
grep -E 'route 10\.88\.0\.0/24 refused' "$LIB_TMP/alice.log"
js=$(node_ctl alice --json peers)
python3 - "$js" <<'PY' || { echo "$js"; fail "ipopctl peers --json does not show carol's refused routes"; }
import json, sys
peers = {p["ip4"]: p for p in json.loads(sys.argv[1])}
c, b = peers["172.31.0.3"], peers["172.31.0.2"]
assert c["routes"] == [], c
why = {r["prefix"]: r["why"] for r in c["routes_refused"]}
assert "not authorised" in why["10.88.0.0/24"], why
assert "overlaps 10.77.0.0/24 of bob@example.test" in why["10.77.0.0/25"], why
assert b["routes"] == ["10.77.0.0/24", "fd00:77::/64"] and b["routes_refused"] == [], b
assert b["ip6"] == "fd00::2" and c["ip6"] == "fd00::3"
PY
human=$(node_ctl alice peers)
echo "$human"
grep -q 'route refused.*10\.88\.0\.0/24' <<<"$human" || fail "ipopctl peers (human) does not show the refused route"
ns_exec a ip route | grep -q '10\.88\.0\.0' && fail "alice has a kernel route for carol's unauthorised prefix"
pass "carol's unauthorised and conflicting routes refused: one log line each, ipopctl human and --json"

# --- spoofing: carol's node seals packets whose inner source is in bob's
# authorised prefix, or in her own refused one
bad0=$(drop_count alice bad_source)
ns_exec c ip addr add 10.77.0.99/32 dev lo
ns_exec c ip addr add 10.88.0.99/32 dev lo
ns_exec c ip -6 addr add fd00:77::99/128 dev lo nodad
ns_exec c ping -c 3 -i 0.2 -W 1 -I 10.77.0.99 172.31.0.1 >/dev/null 2>&1 &&
	fail "alice answered carol's packet from bob's prefix"
ns_exec c ping -6 -c 3 -i 0.2 -W 1 -I fd00:77::99 fd00::1 >/dev/null 2>&1 &&
	fail "alice answered carol's IPv6 packet from bob's prefix"
ns_exec c ping -c 3 -i 0.2 -W 1 -I 10.88.0.99 172.31.0.1 >/dev/null 2>&1 &&
	fail "alice answered carol's packet from her refused prefix"
lib_wait "$W" drops_reach alice bad_source $((bad0 + 9)) ||
	fail "alice counted $bad0 -> $(drop_count alice bad_source) bad-source drops, expected +9"
bad1=$(drop_count alice bad_source)
vpn_ping c 172.31.0.1 || fail "carol's own address stopped working"
vpn_ping a 10.77.0.2 || fail "the LAN host behind bob stopped working"
pass "spoofed inner sources from bob's prefix (IPv4, IPv6) and carol's refused prefix dropped ($bad0 -> $bad1)"

# --- bob goes: his routes leave alice's table and kernel; carol, refused
# before, takes over the part she is authorised for
kill -TERM "${NODE_PID[bob]}"
wait "${NODE_PID[bob]}" 2>/dev/null
node_wait alice 'peer bob@.*link removed' "$W" || { node_logs; fail "alice did not remove bob's link"; }
node_wait alice 'peer carol@.*route 10\.77\.0\.0/25 installed' "$W" || { node_logs; fail "carol's standby route was not installed after bob left"; }
ns_exec a ip route show dev ipop0 | grep -q '^10\.77\.0\.0/24' && { ns_exec a ip route; fail "bob's kernel route stayed"; }
ns_exec a ip -6 route show dev ipop0 | grep -q '^fd00:77::/64' && { ns_exec a ip -6 route; fail "bob's IPv6 kernel route stayed"; }
ns_exec a ip route show dev ipop0 | grep -q '^10\.77\.0\.0/25' || { ns_exec a ip route; fail "no kernel route for carol's 10.77.0.0/25"; }
lib_wait "$W" ns_exec c ping -c 1 -W 5 -I 10.77.0.99 172.31.0.1 >/dev/null ||
	fail "carol's packets from 10.77.0.99 are still dropped after she took the route"
pass "bob gone: his routes removed (table and kernel); carol's standby route installed and her LAN source accepted"
