#!/usr/bin/env bash
# ipopd GroupVPN overlay (docs/overlay.md): ten members in one roster group,
# max_links 5, so every node keeps its 4 ring neighbours and one slot for an
# on-demand link. Checks:
#   - bounded links: every node has at most max_links links, at least its ring;
#   - multi-hop delivery between members with no direct link, end to end
#     encrypted: the forwarding members' TUN never sees the packets and
#     their wire never shows the payload;
#   - on-demand: sustained traffic sets up a direct link, no ping lost;
#   - eviction: traffic to another member takes the on-demand slot;
#   - trimming: the idle on-demand link closes, ring links stay;
#   - healing: after kill -9 of a ring member every pair still answers.
#
#            lan: bridge br0, 192.0.2.0/24
#   srv .1 (prosody, STUN)   o1 .11 ... o10 .20
#                            172.31.0.1 ... 172.31.0.10
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipo}
lib_init overlay
need_cmd prosody prosodyctl python3 openssl ping ss tcpdump
need_root
node_bins
[ -x "$IPOPCTL" ] || skip "$IPOPCTL not built: the test reads links from ipopctl"

N=10
MAX=5
IDLE=20
NODES=$(seq 1 $N)
lab_lan $(for i in $NODES; do echo o$i; done)
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[team]" $(for i in $NODES; do echo u$i; done)
for i in $NODES; do xmpp_register "$XDIR" u$i pw-u$i; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

# on-demand_threshold 2000 B/s: the test's short pings (about 420 B/s)
# stay below it, its 1200-byte pings every 0.1 s (12 KB/s) are above.
for i in $NODES; do
	node_config n$i 172.31.0.$i u$i 192.0.2.1:3478 \
		"\"max_links\": $MAX, \"on-demand_connection\": true, \"on-demand_inactive_timeout\": $IDLE,
	 \"on-demand_threshold\": 2000, \"trim_enabled\": true, \"multihop\": true,"
	node_start o$i n$i
done
for i in $NODES; do
	node_wait n$i 'xmpp: online' || { node_logs; fail "n$i did not log in"; }
done

# The peers a node has direct links to: "ip4 ..." of those up.
up_links() { # NAME
	node_ctl "$1" --json peers | python3 -c '
import json, sys
print(" ".join(p["ip4"] for p in json.load(sys.stdin) if p.get("state") == "up" and p.get("path") != "overlay"))'
}
n_links() { local l; l=$(up_links "$1"); set -- $l; echo $#; }
ring_done() {
	local i
	for i in $NODES; do
		[ -n "${DEAD:-}" ] && [ "$i" = "$DEAD" ] && continue
		[ "$(n_links n$i)" -ge 4 ] || return 1
	done
}
lib_wait 180 ring_done || { node_logs; fail "the ring did not form: not every node has 4 links"; }
for i in $NODES; do
	k=$(n_links n$i)
	[ "$k" -le $MAX ] || { node_ctl n$i --json peers; fail "n$i has $k links, max_links is $MAX"; }
	echo "n$i: $k links: $(up_links n$i)"
done
pass "bounded links: 10 members, max_links $MAX, every node 4..$MAX links"
grep -h 'already; ignored' "$LIB_TMP"/n*.log && fail "a node ignored offers (the old 64-link cap's warning)"

# A pair with no direct link: src n1 and the first member it does not link.
src=1
dst=
links1=" $(up_links n1) "
for i in $NODES; do
	[ $i = $src ] && continue
	[[ $links1 == *" 172.31.0.$i "* ]] || { dst=$i; break; }
done
[ -n "$dst" ] || fail "n1 links every member: no multi-hop pair"
echo "n1 links:$links1; multi-hop pair n1 -> n$dst"

# Capture on every other member while n1 pings n$dst with a marked payload:
# their ipop0 must see nothing of it, their eth0 never the marker.
MARK=c0ffee5a1ad0f00d
caps=()
for i in $NODES; do
	[ $i = $src ] || [ $i = $dst ] && continue
	for ifn in ipop0 eth0; do
		ns_exec o$i timeout 30 tcpdump -l -n -x -i $ifn -s 0 >"$LIB_TMP/cap-$i-$ifn.txt" 2>"$LIB_TMP/cap-$i-$ifn.err" &
		caps+=($!)
	done
done
cap_ready() { local f; for f in "$LIB_TMP"/cap-*.err; do grep -q 'listening on' "$f" || return 1; done; }
lib_wait 60 cap_ready || fail "tcpdump did not start"
ping_ok() { date +%T.%N; ns_exec o$src ping -D -c 5 -i 0.2 -W 5 -p $MARK 172.31.0.$dst >"$LIB_TMP/ping-mh.txt"; local rc=$?; cat "$LIB_TMP/ping-mh.txt"; return $rc; }
lib_wait 60 ping_ok || { cat "$LIB_TMP/ping-mh.txt"; node_logs; fail "n1 cannot ping n$dst through the overlay"; }
echo "multi-hop ping: $(tail -1 "$LIB_TMP/ping-mh.txt")"
node_ctl n1 members
sleep 1
for p in "${caps[@]}"; do kill "$p" 2>/dev/null; done
wait "${caps[@]}" 2>/dev/null
[ " $(up_links n1) " = "$links1" ] || [[ " $(up_links n1) " != *" 172.31.0.$dst "* ]] ||
	fail "n1 got a direct link to n$dst during the multi-hop ping (below the on-demand threshold)"
hex=$(echo $MARK | sed 's/\(....\)/\1 /g' | cut -d' ' -f1-2)
fwd=0
for i in $NODES; do
	[ $i = $src ] || [ $i = $dst ] && continue
	if grep -q "172.31.0.$dst" "$LIB_TMP/cap-$i-ipop0.txt"; then
		fail "n$i's TUN saw packets for 172.31.0.$dst: $(grep -m1 172.31.0.$dst "$LIB_TMP/cap-$i-ipop0.txt")"
	fi
	if tr -d ' \t\n' <"$LIB_TMP/cap-$i-eth0.txt" | grep -q "$MARK"; then
		fail "n$i's wire shows the plaintext marker"
	fi
	f=$(node_ctl n$i --json status | python3 -c 'import json,sys; print((json.load(sys.stdin).get("overlay") or {}).get("forwarded", 0))')
	[ "${f:-0}" -gt 0 ] && fwd=$((fwd + 1))
done
[ $fwd -ge 1 ] || { for i in $NODES; do node_ctl n$i --json status; done; fail "no member counted a forwarded frame"; }
pass "multi-hop: n1 -> n$dst answered through $fwd forwarding member(s); their TUN saw nothing, their wire no plaintext"
