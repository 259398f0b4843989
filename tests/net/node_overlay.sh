#!/usr/bin/env bash
# ipopd GroupVPN overlay (docs/overlay.md): ten members in one roster group,
# max_links 6, so every node keeps its 4 ring neighbours and a long-distance
# link, and has room for about one on-demand link. Checks:
#   - bounded links: every node has at most max_links links, at least its ring;
#   - multi-hop delivery between members with no direct link, IPv6 (from
#     the address in the member's presence) and IPv4, end to end encrypted: the forwarding members' TUN never sees the packets and
#     their wire never shows the payload;
#   - on-demand: sustained traffic sets up a direct link, no ping lost;
#   - eviction: traffic to another member takes the on-demand slot;
#   - trimming: the idle on-demand link closes, ring links stay;
#   - healing: after kill -9 of a ring member every pair still answers;
#   - multihop off (n1 restarted with "multihop": false): a member outside
#     its structure gets an on-demand link from the first packets, and
#     nothing n1 sends goes through the overlay.
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
MAX=6
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
		"\"ip6\": \"fd00::$i\", \"max_links\": $MAX, \"on-demand_connection\": true, \"on-demand_inactive_timeout\": $IDLE,
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
pass "bounded links: $N members, max_links $MAX, every node 4..$MAX links"
grep -h 'already; ignored' "$LIB_TMP"/n*.log && fail "a node ignored offers (the old 64-link cap's warning)"

# A pair with no direct link: src n1 and a member that n1's overlay reaches
# and will not link for its structure (ring or long distance). Right after
# the ring forms, a busy machine may still be settling it: a member merely
# not linked yet would get its structure link during the multi-hop ping.
src=1
dst=
unlinked() { # members n1 reaches through the overlay, not wanted as neighbours
	node_ctl n1 --json members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m.get("reach") == "overlay" and "not a ring or long-distance" in (m.get("why_not_linked") or ""):
        print(m["ip4"].rsplit(".", 1)[1])'
}
pick_dst() { dst=$(unlinked); dst=${dst%%$'\n'*}; [ -n "$dst" ]; } # no head: python3 would die of SIGPIPE
lib_wait 60 pick_dst || { node_ctl n1 members; fail "n1 reaches no member through the overlay: no multi-hop pair"; }
links1=" $(up_links n1) "
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
# IPv6 first: the session through the overlay starts from the address in
# n$dst's presence, not from an earlier IPv4 packet or a direct link.
ping6_ok() { ns_exec o$src ping -6 -c 5 -i 0.2 -W 5 -p $MARK fd00::$dst >"$LIB_TMP/ping6-mh.txt"; }
lib_wait 60 ping6_ok || { cat "$LIB_TMP/ping6-mh.txt"; node_ctl n1 members; node_logs; fail "n1 cannot ping6 n$dst through the overlay"; }
echo "multi-hop ping6: $(tail -1 "$LIB_TMP/ping6-mh.txt")"
ping_ok() { ns_exec o$src ping -c 5 -i 0.2 -W 5 -p $MARK 172.31.0.$dst >"$LIB_TMP/ping-mh.txt"; }
lib_wait 60 ping_ok || { cat "$LIB_TMP/ping-mh.txt"; node_logs; fail "n1 cannot ping n$dst through the overlay"; }
echo "multi-hop ping: $(tail -1 "$LIB_TMP/ping-mh.txt")"
node_ctl n1 members
sleep 1
for p in "${caps[@]}"; do kill "$p" 2>/dev/null; done
wait "${caps[@]}" 2>/dev/null
kept_for() { # N: "reach kept_for" of member 172.31.0.N in n1's members
	node_ctl n1 --json members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m.get("ip4") == sys.argv[1]: print(m.get("reach"), m.get("kept_for"))' "172.31.0.$1"
}
[[ $(kept_for $dst) != *on-demand* ]] ||
	{ node_ctl n1 members; fail "n1 got an on-demand link to n$dst from the multi-hop ping (below the on-demand threshold)"; }
hex=$(echo $MARK | sed 's/\(....\)/\1 /g' | cut -d' ' -f1-2)
fwd=0
for i in $NODES; do
	[ $i = $src ] || [ $i = $dst ] && continue
	if grep -q "172.31.0.$dst\|fd00::$dst\b" "$LIB_TMP/cap-$i-ipop0.txt"; then
		fail "n$i's TUN saw packets for n$dst: $(grep -m1 "172.31.0.$dst\|fd00::$dst\b" "$LIB_TMP/cap-$i-ipop0.txt")"
	fi
	if tr -d ' \t\n' <"$LIB_TMP/cap-$i-eth0.txt" | grep -q "$MARK"; then
		fail "n$i's wire shows the plaintext marker"
	fi
	f=$(node_ctl n$i --json status | python3 -c 'import json,sys; print((json.load(sys.stdin).get("overlay") or {}).get("forwarded", 0))')
	[ "${f:-0}" -gt 0 ] && fwd=$((fwd + 1))
done
[ $fwd -ge 1 ] || { for i in $NODES; do node_ctl n$i --json status; done; fail "no member counted a forwarded frame"; }
pass "multi-hop: n1 -> n$dst answered (IPv6, then IPv4) through $fwd forwarding member(s); their TUN saw nothing, their wire no plaintext"

# ---- on-demand: 1200-byte pings every 0.1 s (12 KB/s) from n1 to n$dst set
# up a direct link while the overlay carries them; none may be lost.
ovl_field() { # NAME FIELD: a counter of ipopctl status's overlay object
	node_ctl "$1" --json status | python3 -c 'import json,sys; print((json.load(sys.stdin).get("overlay") or {}).get(sys.argv[1], 0))' "$2"
}
linked() { [[ " $(up_links n$1) " == *" 172.31.0.$2 "* ]]; }
ns_exec o$src ping -c 300 -i 0.1 -s 1200 -W 10 172.31.0.$dst >"$LIB_TMP/ping-od.txt" 2>&1 &
odping=$!
t0=$(lib_now_us)
lib_wait 30 linked $src $dst || { wait $odping; cat "$LIB_TMP/ping-od.txt"; node_ctl n1 members; node_logs; fail "no on-demand link n1 -> n$dst within 30 s of traffic"; }
echo "on-demand link n1 -> n$dst up after $((($(lib_now_us) - t0) / 1000)) ms of traffic"
wait $odping
loss=$(grep -o '[0-9.]*% packet loss' "$LIB_TMP/ping-od.txt")
echo "on-demand ping: $(grep 'packets transmitted' "$LIB_TMP/ping-od.txt")"
[ "$loss" = "0% packet loss" ] || { cat "$LIB_TMP/ping-od.txt"; fail "pings lost while the on-demand link came up: $loss"; }
kept=$(kept_for $dst)
[[ $kept == "link "*on-demand* ]] || { node_ctl n1 members; fail "n1 members says n$dst is '$kept', not a link kept for on-demand"; }
pass "on-demand: 12 KB/s to n$dst set up a direct link, 300 pings, none lost"

# ---- eviction: sustained traffic from n1 to every member it has no link
# with, all at once: n1 has room for one or two on-demand links, so new
# demand must push out its least recently used one (the peers' own trims
# cannot make room for all of them). No node ever exceeds max_links, and
# the overlay carries what the links do not.
ev0=$(ovl_field n1 evictions)
targets=()
for i in $NODES; do
	[ $i = $src ] && continue
	linked $src $i || targets+=($i)
done
[ ${#targets[@]} -ge 2 ] || { node_ctl n1 members; fail "n1 is linked with all but ${#targets[@]} member(s): nothing to evict for"; }
evpids=()
for i in "${targets[@]}"; do
	ns_exec o$src ping -c 200 -i 0.1 -s 1200 -W 10 172.31.0.$i >"$LIB_TMP/ping-ev-$i.txt" 2>&1 &
	evpids+=($!)
done
evicted() {
	[ "$(n_links n1)" -le $MAX ] || { echo "n1 has $(n_links n1) links, max_links is $MAX" >"$LIB_TMP/ev-over"; return 0; }
	[ "$(ovl_field n1 evictions)" -gt "$ev0" ]
}
lib_wait 60 evicted
wait "${evpids[@]}"
[ -e "$LIB_TMP/ev-over" ] && { node_ctl n1 members; fail "$(cat "$LIB_TMP/ev-over")"; }
ev=$(($(ovl_field n1 evictions) - ev0))
[ "$ev" -gt 0 ] || { node_ctl n1 members; node_logs; fail "n1 never evicted a link for traffic to ${targets[*]}"; }
got=
for i in "${targets[@]}"; do
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LIB_TMP/ping-ev-$i.txt")
	[ "${rx:-0}" -ge 160 ] || { cat "$LIB_TMP/ping-ev-$i.txt"; fail "traffic n1 -> n$i lost more than 20% while links moved (${rx:-0}/200 answered)"; }
	got+=" n$i $rx/200"
done
node_ctl n1 members
pass "eviction: n1 full at $MAX links evicted $ev least recently used link(s) for traffic to ${#targets[@]} members; answered:$got"

# ---- trimming: with the traffic stopped, on-demand links close after
# on-demand_inactive_timeout ($IDLE s); ring and long-distance links stay.
demand_links() {
	node_ctl n1 --json members | python3 -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin) if m.get("reach") == "link" and "on-demand" in (m.get("kept_for") or "")))'
}
# Both ends of an on-demand link keep it for their traffic and either may
# trim it first: count the trims of every node.
all_trimmed() {
	local i t=0
	for i in $NODES; do t=$((t + $(ovl_field n$i trimmed))); done
	echo $t
}
trimmed() { [ "$(demand_links)" = 0 ] && [ "$(all_trimmed)" -gt 0 ]; }
lib_wait $((IDLE + 90)) trimmed || { node_ctl n1 members; fail "n1's idle on-demand links were not trimmed"; }
[ "$(n_links n1)" -ge 4 ] || { node_ctl n1 members; fail "trimming took ring links: n1 has $(n_links n1)"; }
pass "trimming: $(all_trimmed) idle on-demand link(s) closed ($(ovl_field n1 trimmed) by n1), n1 keeps $(n_links n1) structure links"

# ---- healing: kill -9 one of n1's ring neighbours; the ring closes over
# the gap and every pair of the nine answers.
DEAD=$(node_ctl n1 --json members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if "ring" in (m.get("kept_for") or ""): print(m["ip4"].split(".")[3]); break')
[ -n "$DEAD" ] || fail "n1 lists no ring neighbour"
kill -9 "${NODE_PID[n$DEAD]}"
echo "killed n$DEAD (a ring neighbour of n1)"
gone_everywhere() {
	local i
	for i in $NODES; do
		[ $i = $DEAD ] && continue
		node_ctl n$i --json members | grep -q "\"172.31.0.$DEAD\"" && return 1
	done
	return 0
}
lib_wait 120 gone_everywhere || fail "n$DEAD is still a member somewhere"
lib_wait 180 ring_done || { node_logs; fail "the ring did not heal after n$DEAD died"; }
pair_pings() { # SRC: pings every other live member; prints failures
	local s=$1 d
	for d in $NODES; do
		[ $d = $s ] || [ $d = $DEAD ] && continue
		ns_exec o$s ping -c 3 -i 0.2 -W 5 172.31.0.$d >/dev/null 2>&1 ||
			ns_exec o$s ping -c 3 -i 0.2 -W 5 172.31.0.$d >/dev/null 2>&1 || echo "n$s -> n$d"
	done
}
pids=()
for i in $NODES; do
	[ $i = $DEAD ] && continue
	pair_pings $i >"$LIB_TMP/pairs-$i.txt" &
	pids+=($!)
done
wait "${pids[@]}"
bad=$(cat "$LIB_TMP"/pairs-*.txt)
[ -z "$bad" ] || { for i in $NODES; do [ $i = $DEAD ] || node_ctl n$i members; done; fail "after n$DEAD died these pairs do not answer: $bad"; }
pass "healing: after kill -9 of ring member n$DEAD all 72 pairs of the other nine answer"

# ---- multihop off: n1 restarts with "multihop": false. Nothing may carry
# its packets for a member outside its structure but a direct link, so the
# first packets (dropped) ask for an on-demand link at once, whatever the
# rate; after it is up the pings answer, and n1 sent no overlay frame.
kill -TERM "${NODE_PID[n1]}"
for _ in $(seq 1 100); do kill -0 "${NODE_PID[n1]}" 2>/dev/null || break; sleep 0.1; done
sed -i 's/"multihop": true/"multihop": false/' "$LIB_TMP/n1/config.json"
grep -q '"multihop": false' "$LIB_TMP/n1/config.json" || fail "could not turn multihop off in n1's config"
node_start o1 n1
node_wait n1 'xmpp: online' || { node_logs; fail "n1 did not log in again"; }
lib_wait 180 ring_done || { node_logs; fail "the ring did not form again after n1 restarted"; }
wants_first_packet() { # members n1 asks a link for on their first packet
	node_ctl n1 --json members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m.get("reach") != "link" and "first packet" in (m.get("why_not_linked") or ""):
        print(m["ip4"].rsplit(".", 1)[1])'
}
pick_off() { dst=$(wants_first_packet); dst=${dst%%$'\n'*}; [ -n "$dst" ]; }
lib_wait 60 pick_off || { node_ctl n1 members; fail "n1 with multihop off names no member outside its structure"; }
sent0=$(ovl_field n1 sent)
ns_exec o1 ping -c 120 -i 0.5 -W 5 172.31.0.$dst >"$LIB_TMP/ping-off.txt" 2>&1 &
offping=$!
lib_wait 60 linked 1 $dst || { kill $offping; node_ctl n1 members; node_logs; fail "multihop off: no on-demand link n1 -> n$dst from its first packets"; }
kill $offping 2>/dev/null; wait $offping 2>/dev/null
ns_exec o1 ping -c 5 -i 0.2 -W 5 172.31.0.$dst >"$LIB_TMP/ping-off2.txt" 2>&1 ||
	{ cat "$LIB_TMP/ping-off2.txt"; node_ctl n1 members; fail "multihop off: n1 -> n$dst does not answer over its on-demand link"; }
[[ $(kept_for $dst) == "link "*on-demand* ]] || { node_ctl n1 members; fail "multihop off: n1's link to n$dst is not kept for on-demand"; }
sent1=$(ovl_field n1 sent)
[ "$sent1" = "$sent0" ] || fail "multihop off: n1 sent $((sent1 - sent0)) overlay frame(s)"
pass "multihop off: n1's first packets to n$dst (outside its structure) set up an on-demand link; no overlay frame sent"
