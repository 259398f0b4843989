#!/usr/bin/env bash
# A dual-stack overlay (docs/ipv6.md): three nodes with ip4 and ip6 next to
# a v4-only node. ping6 and a sha256-verified TCP transfer over IPv6; a
# host with a 1500-byte MTU behind carol (router mode, fd00:c::/64) talks
# through the 1280-byte tunnel: it gets an ICMPv6 Packet Too Big from
# carol's kernel, and its TCP crosses (MSS clamped for IPv6); ipopd's own
# Packet Too Big / fragmentation needed when the TUN's MTU is raised past
# "mtu"; link-scope IPv6 stays off the overlay; dave (no ip6) still works
# with everyone over IPv4; ipopctl shows the peers' IPv6 addresses.
# Address ownership covers ip6 (docs/security.md): mallory, a member,
# announces bob's fd00::2 next to her own ip4; alice refuses the ip6 (log,
# ipopctl), mallory links IPv4 only, and alice's IPv6 traffic for fd00::2
# still reaches bob.
#
#                          lan: bridge br0, 192.0.2.0/24
#     +--------------+--------------+--------------+--------------+--------------+
#     |              |              |              |              |              |
#  srv .1          a .11          b .12          c .13          d .14          m .15
#  prosody         alice          bob            carol          dave           mallory
#  ipop-turnserver 172.31.0.1     172.31.0.2     172.31.0.3     172.31.0.4     172.31.0.5
#  (STUN)          fd00::1        fd00::2        fd00::3        (no ip6)       fd00::2 (bob's)
#                                                  | lan0 fd00:c::1/64, mtu 1500
#                                                  | (routes: fd00:c::/64)
#                                                h fd00:c::2/64, mtu 1500
#                                                  default via fd00:c::1
#
# Everyone is in one roster group; alice authorises carol for fd00:c::/64.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init ipv6
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
W=${LIB_WAIT_S:-60} # generous bounds: a wait ends on the event, or fails after W s
MB=${XFER_MB:-20}

# ipopctl's drop counters: drop_count NAME FIELD; drops_reach NAME FIELD N
drop_count() { node_ctl "$1" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"][sys.argv[1]])' "$2"; }
drops_reach() { [ "$(drop_count "$1" "$2")" -ge "$3" ]; }

lab_lan a b c d m
ns_create h
for n in a b c d m h; do
	ns_exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 ||
		skip "IPv6 cannot be enabled in a namespace"
done
ns_link c lan0 fd00:c::1/64 h eth0 fd00:c::2/64
ns_exec h ip -6 route add default via fd00:c::1
ns_exec c sysctl -qw net.ipv6.conf.all.forwarding=1

xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob carol dave mallory
for u in alice bob carol dave mallory; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

node_config alice 172.31.0.1 alice 192.0.2.1:3478 \
	'"ip6": "fd00::1", "accept_routes": {"carol@example.test": ["fd00:c::/48"]},'
node_config bob 172.31.0.2 bob 192.0.2.1:3478 '"ip6": "fd00::2", "ip6_mask": 64,'
node_config carol 172.31.0.3 carol 192.0.2.1:3478 '"ip6": "fd00::3", "routes": ["fd00:c::/64"],'
node_config dave 172.31.0.4 dave 192.0.2.1:3478
node_config mallory 172.31.0.5 mallory 192.0.2.1:3478 '"ip6": "fd00::2",' # started later
node_start a alice
node_start b bob
node_start c carol
node_start d dave

for p in "alice bob" "alice carol" "alice dave" "bob carol" "bob dave" "carol dave"; do
	read -r x y <<<"$p"
	node_wait "$x" "peer $y@.*-> up" "$((2 * W))" || { node_logs; fail "$x's link to $y did not come up"; }
done
pass "six links up (three dual-stack nodes and a v4-only one)"

ns_exec a ip -6 addr show dev ipop0 | grep -q 'inet6 fd00::1/64 scope global' ||
	{ ns_exec a ip -6 addr show dev ipop0; fail "alice's TUN has no fd00::1/64"; }
ns_exec a ip -6 addr show dev ipop0 | grep -q 'inet6 fe80::.* scope link' ||
	{ ns_exec a ip -6 addr show dev ipop0; fail "the kernel's link-local address is gone from alice's TUN"; }
ns_exec d ip -6 addr show dev ipop0 | grep -q 'scope global' && fail "dave (no ip6) has a global IPv6 address"
pass "TUN: fd00::1/64 next to the kernel's own link-local address; dave has none"

# ping6 both ways among the dual-stack nodes (a link may need a moment
# after "up" before the other side routes the new address)
for p in "a fd00::2" "a fd00::3" "b fd00::1" "b fd00::3" "c fd00::1" "c fd00::2"; do
	read -r ns ip <<<"$p"
	lib_wait "$W" vpn_ping "$ns" "$ip" || { node_logs; fail "ping6 $ns -> $ip"; }
done
pass "ping6 among alice, bob and carol"
for p in "a 172.31.0.4" "b 172.31.0.4" "c 172.31.0.4" "d 172.31.0.1" "d 172.31.0.2" "d 172.31.0.3"; do
	read -r ns ip <<<"$p"
	lib_wait "$W" vpn_ping "$ns" "$ip" || { node_logs; fail "IPv4 ping $ns -> $ip"; }
done
pass "dave (v4 only) pings everyone over IPv4 and is pinged back"

# TCP over IPv6; with tcpdump on both TUNs: alice's kernel hands ipopd
# TSO6 super-packets and bob's ipopd writes merged GSO_TCPV6 ones (payloads
# above the IPv6 MSS of mtu - 60 = 1220 bytes)
largest_tcp() { grep -o 'tcp [0-9]*' "$1" | awk '$2 > m { m = $2 } END { print m + 0 }'; }
if command -v tcpdump >/dev/null; then
	ns_bg a "$LIB_TMP/dump.a" tcpdump -i ipop0 -nn -q -l ip6 and tcp
	da=$LIB_PID
	ns_bg b "$LIB_TMP/dump.b" tcpdump -i ipop0 -nn -q -l ip6 and tcp
	db=$LIB_PID
	sleep 1
fi
vpn_xfer a b fd00::2 "$MB" || { node_logs; fail "TCP over IPv6 alice -> bob"; }
if command -v tcpdump >/dev/null; then
	sleep 0.5
	kill "$da" "$db"
	wait "$da" "$db" 2>/dev/null
	ta=$(largest_tcp "$LIB_TMP/dump.a") tb=$(largest_tcp "$LIB_TMP/dump.b")
	[ "$ta" -gt 1220 ] || fail "alice's TUN handed over no TSO6 super-packet (largest TCP payload $ta)"
	[ "$tb" -gt 1220 ] || fail "bob's TUN got no merged IPv6 TCP packet (largest TCP payload $tb)"
	pass "$MB MiB TCP over IPv6 alice -> bob, sha256 verified; TSO6 on alice's TUN (largest $ta), merged on bob's ($tb)"
else
	pass "$MB MiB TCP over IPv6 alice -> bob, sha256 verified (tcpdump missing: offloads not checked)"
fi
vpn_xfer d a 172.31.0.1 5 || { node_logs; fail "TCP over IPv4 dave -> alice"; }
pass "5 MiB TCP over IPv4 dave (v4 only) -> alice, sha256 verified"

# IPv6 to dave's would-be address finds no owner: dropped, counted
no_route0=$(drop_count alice no_route)
ns_exec a ping -c 2 -i 0.2 -W 1 fd00::4 >/dev/null 2>&1 && fail "fd00::4 answered (dave has no ip6)"
lib_wait "$W" drops_reach alice no_route $((no_route0 + 2)) || fail "no_route went $no_route0 -> $(drop_count alice no_route), expected +2"
no_route1=$(drop_count alice no_route)
grep -Eq 'peer alice@.*announces IPv6 address fd00::1; this node has no ip6' "$LIB_TMP/dave.log" ||
	{ node_logs; fail "dave did not log that he stays IPv4-only with alice"; }
pass "IPv6 towards the v4-only node: no route ($no_route0 -> $no_route1); dave logs that he is IPv4-only"

# link-scope IPv6 (multicast, link-local) never crosses the overlay
ns_exec a ping -6 -c 2 -i 0.2 -W 1 ff02::1%ipop0 >/dev/null 2>&1
lib_wait "$W" drops_reach alice link_local 2 || fail "alice counted $(drop_count alice link_local) link-local drops, expected >= 2"
ll=$(drop_count alice link_local)
pass "link-scope IPv6 (ff02::1, the kernel's RS/MLD) kept off the overlay and counted ($ll)"

# ipopctl: the peers' IPv6 addresses and routes, human and --json
js=$(node_ctl alice --json peers)
python3 - "$js" <<'PY' || { echo "$js"; fail "ipopctl peers --json on alice"; }
import json, sys
peers = {p["ip4"]: p for p in json.loads(sys.argv[1])}
assert peers["172.31.0.2"]["ip6"] == "fd00::2", peers["172.31.0.2"]
assert peers["172.31.0.3"]["ip6"] == "fd00::3"
assert peers["172.31.0.3"]["routes"] == ["fd00:c::/64"], peers["172.31.0.3"]
assert peers["172.31.0.4"]["ip6"] is None and peers["172.31.0.4"]["routes"] == []
for p in peers.values():
    assert p["routes_refused"] == [], p
PY
human=$(node_ctl alice peers)
grep -q 'fd00::2' <<<"$human" && grep -q 'fd00:c::/64' <<<"$human" || { echo "$human"; fail "ipopctl peers (human)"; }
st=$(node_ctl bob --json status)
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["ip6"]=="fd00::2" and s["ip6_mask"]==64, s' "$st" ||
	fail "ipopctl status --json on bob: $st"
node_ctl bob status | grep -q 'fd00::2/64' || { node_ctl bob status; fail "ipopctl status (human) shows no ip6"; }
pass "ipopctl: peers show ip6 and routes (human and --json); status shows the node's own ip6"

# --- ownership of ip6: mallory announces bob's fd00::2 (bob's since his
# link to alice was up) next to her own free ip4
lib_wait "$W" grep -q 'owner fd00::2 bob@example.test ' "$LIB_TMP/alice/node.trust" ||
	{ cat "$LIB_TMP/alice/node.trust"; fail "alice's trust file does not keep fd00::2 as bob's"; }
node_start m mallory
node_wait alice 'peer mallory@.*: IPv6 address refused: fd00::2 belongs to bob@example.test; IPv4 only' "$W" ||
	{ node_logs; fail "alice did not refuse mallory's claim on bob's ip6"; }
node_wait alice 'peer mallory@.*-> up' "$W" || { node_logs; fail "mallory's IPv4 link to alice did not come up"; }
lib_wait "$W" vpn_ping m 172.31.0.1 || { node_logs; fail "benign: mallory cannot reach alice over IPv4"; }
bad0=$(drop_count alice bad_source)
ns_exec m ping -6 -c 2 -i 0.2 -W 1 fd00::1 >/dev/null 2>&1 && fail "mallory reached alice from bob's fd00::2"
lib_wait "$W" drops_reach alice bad_source $((bad0 + 2)) ||
	fail "alice's bad_source went $bad0 -> $(drop_count alice bad_source), expected +2"
vpn_xfer a b fd00::2 2 || { node_logs; fail "TCP over IPv6 alice -> fd00::2 did not reach bob"; }
js=$(node_ctl alice --json peers)
python3 - "$js" <<'PY' || { echo "$js"; fail "ipopctl peers --json: mallory's refused ip6"; }
import json, sys
peers = {p["ip4"]: p for p in json.loads(sys.argv[1])}
m = peers["172.31.0.5"]
assert m["ip6"] is None and m["state"] == "up", m
assert m["trust_refused"] == "fd00::2 belongs to bob@example.test; IPv4 only", m
assert peers["172.31.0.2"]["ip6"] == "fd00::2", peers["172.31.0.2"]
PY
node_ctl alice peers | grep -q 'refused: fd00::2 belongs to bob@example.test; IPv4 only' ||
	{ node_ctl alice peers; fail "ipopctl peers (human) lacks the ip6 conflict"; }
node_ctl alice pins | grep -q 'fd00::2 *bob@example.test' || { node_ctl alice pins; fail "ipopctl pins: no ip6 owner"; }
kill -TERM "${NODE_PID[mallory]}" 2>/dev/null
wait "${NODE_PID[mallory]}" 2>/dev/null
pass "mallory's claim on bob's ip6 refused (log, ipopctl peers/pins, trust file); she links IPv4 only, her packets from fd00::2 are dropped ($bad0 -> $(drop_count alice bad_source)), 2 MiB alice -> fd00::2 reach bob (sha256)"

# --- a 1500-byte-MTU host behind carol, through the 1280-byte tunnel
lib_wait "$W" vpn_ping h fd00::1 || { node_logs; fail "h cannot ping alice through carol"; }
out=$(ns_exec h ping -6 -M do -s 1400 -c 3 -i 0.3 -W 5 fd00::1 2>&1)
grep -qi 'packet too big.*mtu.*1280\|mtu=1280' <<<"$out" || { echo "$out"; fail "h got no Packet Too Big (mtu 1280)"; }
mtu=$(ns_exec h ip -6 route get fd00::1 | grep -o 'mtu [0-9]*')
[ "$mtu" = "mtu 1280" ] || { ns_exec h ip -6 route get fd00::1; fail "h's route cache has '$mtu', expected mtu 1280"; }
pass "h (mtu 1500) behind carol: ICMPv6 Packet Too Big, its route cache says $mtu"
vpn_xfer h a fd00::1 "$MB" || { node_logs; fail "TCP over IPv6 h -> alice"; }
pass "$MB MiB TCP h -> alice over IPv6 through carol's 1280 tunnel, sha256 verified"

# --- ipopd's own errors: alice's TUN raised past "mtu" 1280 by hand
ns_exec a ip link set ipop0 mtu 1500
out=$(ns_exec a ping -6 -M do -s 1400 -c 2 -i 0.3 -W 5 fd00::2 2>&1)
echo "$out" | grep -i 'too big\|too long'
grep -qi 'packet too big.*mtu=1280' <<<"$out" || { echo "$out"; fail "no Packet Too Big for alice's own 1448-byte packet"; }
mtu=$(ns_exec a ip -6 route get fd00::2 | grep -o 'mtu [0-9]*')
[ "$mtu" = "mtu 1280" ] || { ns_exec a ip -6 route get fd00::2; fail "alice's route cache for fd00::2 has '$mtu'"; }
out=$(ns_exec a ping -M do -s 1400 -c 2 -i 0.3 -W 5 172.31.0.2 2>&1)
mtu=$(ns_exec a ip route get 172.31.0.2 | grep -o 'mtu [0-9]*')
[ "$mtu" = "mtu 1280" ] || { echo "$out"; ns_exec a ip route get 172.31.0.2; fail "no fragmentation needed: alice's route cache for 172.31.0.2 has '$mtu'"; }
vpn_ping a fd00::2 || fail "small pings stopped after the Packet Too Big"
ns_exec a ip link set ipop0 mtu 1280
lib_wait "$W" drops_reach alice too_big 2 || fail "alice counted $(drop_count alice too_big) too-big packets, expected >= 2"
tb=$(drop_count alice too_big)
pass "ipopd's own Packet Too Big (IPv6) and fragmentation needed (IPv4): alice's kernel learns mtu 1280 ($tb too big)"
