#!/usr/bin/env bash
# ipopd NAT traversal with TURN, issue 4 cases (a), (b) and (g), in one lab:
#
#   alice 10.0.1.2 --[ra: symmetric NAT]-- 198.51.100.2   --+
#   bob   10.0.2.2 --[rb: symmetric NAT]-- 203.0.113.2    --+--[inet]-- srv 192.0.2.1 prosody, TURN 1
#   carol 10.0.3.2 --[rc: full-cone NAT]-- 198.51.100.130 --+           192.0.2.3 TURN 2
#
# Symmetric: MASQUERADE --random-fully, so each destination gets its own
# mapping and the STUN-learned srflx port is useless to anyone but the
# STUN server. Full cone: MASQUERADE (port-preserving) plus a DNAT of
# carol's UDP port, so anybody may send to its srflx address.
# The nodes list both TURN servers and no STUN server: the TURN servers
# also answer STUN (issue 4, part 1).
#
# (a) alice-bob, both symmetric: no direct pair can work (each side's
#     mapping toward the other is unknown and filtered), so the link is
#     relayed; why_not_direct says the srflx checks timed out.
# (b) alice-carol, symmetric + full cone: the best path is DIRECT. alice's
#     check to carol's srflx leaves through a fresh mapping, passes carol's
#     full-cone NAT, carol learns it as a peer-reflexive candidate and
#     answers; the pair alice host -> carol srflx succeeds. (With a
#     port-restricted cone instead, carol's NAT would drop that check and
#     the link would be relayed like (a).)
# (g) the TURN server carrying alice-bob is killed: the link fails over to
#     the other one. (The time is printed as a figure; its budget, 10 s, is
#     bench/'s: the test waits up to 120 s.)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_nat.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init relay
need_cmd prosody prosodyctl python3 openssl ping ss iptables
need_root
node_bins
MB=${XFER_MB:-50}
CAROL_PORT=40000

nat_lab3 192.0.2.3
for r in ra rb; do
	ns_exec $r iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully || fail "iptables in $r"
	ns_exec $r iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
done
ns_exec rc iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables in rc"
ns_exec rc iptables -t nat -A PREROUTING -i wan -p udp --dport $CAROL_PORT \
	-j DNAT --to-destination 10.0.3.2:$CAROL_PORT || fail "iptables DNAT in rc"

xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob carol
for u in alice bob carol; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
turn_lab_server srv 192.0.2.1
turn_lab_server srv 192.0.2.3

TURN='"turn": [{"server": "192.0.2.1:3478", "user": "u", "pass": "p"},
               {"server": "turn:192.0.2.3:3478?transport=udp", "user": "u", "pass": "p"}],'
node_config alice 172.31.0.1 alice "" "$TURN"
node_config bob 172.31.0.2 bob "" "$TURN"
# carol's first server refuses her (wrong password): whichever she picks
# first, she must end up allocated on the other one.
node_config carol 172.31.0.3 carol "" '"turn": [{"server": "192.0.2.1:3478", "user": "u", "pass": "wrong"},
               {"server": "192.0.2.3:3478", "user": "u", "pass": "p"}],'
node_start a alice
node_start b bob
node_start c carol -p $CAROL_PORT

for n in alice bob carol; do
	node_wait $n 'relay: relayed candidate 192\.0\.2\.[13]:' || { node_logs; fail "$n got no relayed candidate"; }
	node_wait $n 'server-reflexive candidate .* via 192\.0\.2\.[13]:3478' ||
		{ node_logs; fail "$n learned no srflx from a TURN server"; }
done
pass "every node has a relayed candidate, and its srflx from a TURN server (stun is empty)"
grep -q 'relay: relayed candidate 192\.0\.2\.3:[0-9]* on 192\.0\.2\.3:3478' "$LIB_TMP/carol.log" ||
	{ node_logs; fail "carol is not allocated on the server that accepts her password"; }
if grep -h 'relay: 192\.0\.2\.1:3478 (udp): refused: 401' "$LIB_TMP/carol.log"; then
	pass "carol was refused (401) by her first pick and failed over to 192.0.2.3"
else
	pass "carol picked 192.0.2.3 first (the refusal path runs when the random pick is the other one)"
fi

node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
node_wait alice 'peer carol@.*-> up' || { node_logs; fail "alice's link to carol did not come up"; }
node_wait bob 'peer carol@.*-> up' || { node_logs; fail "bob's link to carol did not come up"; }
grep -hE 'ICE selected pair' "$LIB_TMP"/{alice,bob,carol}.log

# --- (a) symmetric <-> symmetric: relayed
vpn_ping a 172.31.0.2 || { node_logs; fail "(a) alice cannot ping bob"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "(a) bob cannot ping alice"; }
pass "(a) ping both ways between the symmetric-NAT nodes"
path=$(node_peer_field alice 172.31.0.2 path)
relay=$(node_peer_field alice 172.31.0.2 relay)
why=$(node_peer_field alice 172.31.0.2 why_not_direct)
echo "alice -> bob: path=$path relay=$relay why_not_direct='$why'"
[ "$path" = relay ] || { node_ctl alice --json peers; fail "(a) path is '$path', expected relay"; }
[[ $relay == 192.0.2.[13]:* ]] || fail "(a) relay is '$relay', expected one of the TURN servers"
[ -n "$why" ] || fail "(a) a relayed link must say why it is not direct"
[ "$(node_peer_field bob 172.31.0.1 path)" = relay ] || fail "(a) bob does not see a relayed path"
vpn_xfer b a 172.31.0.1 "$MB" || { node_logs; fail "(a) transfer bob -> alice"; }
pass "(a) $MB MiB TCP transfer over the relay, sha256 verified"
[ "$(node_peer_field alice 172.31.0.2 path)" = relay ] || fail "(a) the path changed during the transfer"
node_ctl alice peers

# --- (b) symmetric <-> full cone: direct
vpn_ping a 172.31.0.3 || { node_logs; fail "(b) alice cannot ping carol"; }
vpn_ping c 172.31.0.1 || { node_logs; fail "(b) carol cannot ping alice"; }
# Both sides check the relay pairs too; give the direct one its moment.
alice_carol_direct() { [ "$(node_peer_field alice 172.31.0.3 path)" = direct ]; }
lib_wait "$LIB_WAIT_S" alice_carol_direct
path=$(node_peer_field alice 172.31.0.3 path)
ep=$(node_peer_field alice 172.31.0.3 endpoint)
echo "alice -> carol: path=$path endpoint=$ep"
[ "$path" = direct ] && [ "$ep" = "198.51.100.130:$CAROL_PORT" ] ||
	{ node_ctl alice --json peers; fail "(b) alice->carol is '$path $ep', expected direct 198.51.100.130:$CAROL_PORT"; }
[ "$(node_peer_field carol 172.31.0.1 path)" = direct ] || fail "(b) carol does not see a direct path"
[ -z "$(node_peer_field alice 172.31.0.3 why_not_direct)" ] || fail "(b) a direct link has a why_not_direct"
vpn_xfer a c 172.31.0.3 "$MB" || { node_logs; fail "(b) transfer alice -> carol"; }
pass "(b) symmetric + full cone: direct (alice's fresh mapping reaches carol's srflx), $MB MiB verified"

# (a) again: once the first round of direct checks is over, the link says why.
srflx_timed_out() { [[ $(node_peer_field alice 172.31.0.2 why_not_direct) == *"srflx pairs timed out"* ]]; }
lib_wait 120 srflx_timed_out
why=$(node_peer_field alice 172.31.0.2 why_not_direct)
echo "alice -> bob: why_not_direct='$why'"
[[ $why == *"srflx pairs timed out"* ]] || fail "(a) why_not_direct is '$why', expected the srflx checks to have timed out"
pass "(a) ipopctl says why alice-bob is not direct: $why"

# --- (g) kill the TURN server carrying alice-bob
relay=$(node_peer_field alice 172.31.0.2 relay)
dead=${relay%:*}
other=192.0.2.1
[ "$dead" = 192.0.2.1 ] && other=192.0.2.3
echo "(g) killing the TURN server on $dead (alice-bob relay $relay)"
kill -KILL "${TURN_LAB_PID[$dead]}"
t0=$(lib_now_us)
failed_over() {
	ns_exec a ping -c 1 -W 0.5 172.31.0.2 >/dev/null 2>&1 && [[ $(node_peer_field alice 172.31.0.2 relay) == $other:* ]]
}
lib_wait 120 failed_over || { node_logs; fail "(g) no failover to $other within 120 s"; }
dt=$((($(lib_now_us) - t0) / 1000))
echo "(g) alice-bob relayed via $(node_peer_field alice 172.31.0.2 relay) after $dt ms"
figure relay_failover_ms "$dt" "<= 10000"
vpn_ping b 172.31.0.1 || fail "(g) bob cannot ping alice after the failover"
[ "$(node_peer_field bob 172.31.0.1 path)" = relay ] || fail "(g) bob's path is not relay"
vpn_xfer a b 172.31.0.2 "$MB" || { node_logs; fail "(g) transfer after the failover"; }
pass "(g) failover to the second TURN server in $dt ms; $MB MiB verified afterwards"
grep -h 'relay: allocation on .* lost' "$LIB_TMP"/*.log

# --- a relayed link when alice's NAT forgets its mappings (conntrack flush):
# the TURN server now sees her from another port, so her allocation is
# useless; her probe's answer shows it, she allocates anew and the link
# restarts ICE on the new relayed candidate.
if command -v conntrack >/dev/null; then
	ns_exec ra conntrack -F >/dev/null 2>&1
	t0=$(lib_now_us)
	pings_both() {
		ns_exec a ping -c 1 -W 0.5 172.31.0.2 >/dev/null 2>&1 && ns_exec b ping -c 1 -W 0.5 172.31.0.1 >/dev/null 2>&1
	}
	lib_wait 120 pings_both || { node_logs; fail "no ping within 120 s of alice's NAT being flushed"; }
	dt=$((($(lib_now_us) - t0) / 1000))
	echo "alice-bob answer pings again $dt ms after the flush; path $(node_peer_field alice 172.31.0.2 path)"
	figure relay_nat_flush_recovery_ms "$dt" "<= 10000"
	vpn_xfer b a 172.31.0.1 "$MB" || { node_logs; fail "transfer after the NAT flush"; }
	grep -h 'relay: allocation on .* lost (our address' "$LIB_TMP/alice.log" | tail -1
	pass "relayed link back $dt ms after alice's NAT flushed its mappings; $MB MiB verified"
else
	echo "conntrack not installed: NAT flush step not run"
fi
# ICE restarts re-signal the same addresses: their channels must be kept,
# not bound again under new numbers (a TURN server refuses that with 400).
# 403s are expected: ipop-turnserver refuses private peers (the nodes'
# 10.x host candidates, unreachable from the relay anyway) and its host's
# own addresses (both TURN servers share the srv namespace here).
if grep -h 'relay: channel for .* refused (400)' "$LIB_TMP"/*.log; then
	fail "a channel bind was refused"
fi
pass "no channel bind refused by the TURN servers"
