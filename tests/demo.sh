#!/usr/bin/env bash
# `make demo`: ipop-turnserver in a lab of network namespaces, queried with
# coturn's clients.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_*client)   +--- router ------+
#     peer   203.0.113.2 ---+  .1 in each /24
#     (turnutils_peer :3480)
#
# ONCE=1: one round (STUN Binding + a relay session), exit 0 only if both
# worked. Otherwise the server keeps running and its counters are printed
# every 5 s until Ctrl-C; everything is torn down on exit.
set -u
cd "$(dirname "$0")/.."
source tests/net/lib.sh
source tests/net/lib_turn.sh
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipop} lib_init demo
need_cmd turnutils_stunclient turnutils_uclient turnutils_peer ss
need_root
turn_bin >/dev/null || exit 77

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }

say "lab: client 198.51.100.2, peer 203.0.113.2, server 192.0.2.1 (via a router)"
turn_topology
conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "demo:demopass" }'
echo "turn.conf:"; sed 's/^/    /' "$conf"
turn_start "$conf"
say "ipop-turnserver started (pid $TURN_PID)"
grep -E 'listening on|relay address|worker thread|open file limit' "$TURN_LOG" | sed 's/^/    /'

ok=0
say "STUN Binding from the client (turnutils_stunclient 192.0.2.1)"
out=$(ns_exec client timeout 5 turnutils_stunclient "$TURN_SERVER_IP" 2>&1)
if grep -q "reflexive addr: $TURN_CLIENT_IP:" <<<"$out"; then
	echo "    OK: $(grep -m1 -o 'UDP reflexive addr: [0-9.:]*' <<<"$out")"
else
	echo "    FAILED:"; sed 's/^/    /' <<<"$out"; ok=1
fi

say "TURN relay session: 5 clients x 50 messages via the relay to turnutils_peer"
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"
log="$LIB_TMP/uclient.log"
uclient_run "$log" -n 50 -m 5 -l 170 -c -X -u demo -w demopass -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
grep -E 'start_mclient: tot_send_msgs=|Total lost packets|Average round trip' "$log" | sed 's/^[0-9]*: : /    /'
if (uclient_assert "$log" "relay session") >/dev/null 2>&1; then
	echo "    OK: every message came back through the relay"
else
	echo "    FAILED: see above"; ok=1
fi

kill -USR1 "$TURN_PID"; sleep 0.3
say "server counters"
grep 'stats:' "$TURN_LOG" | tail -2 | sed 's/.*stats: /    /'

if [ "${ONCE:-0}" = 1 ]; then
	turn_stop
	say "result: $([ $ok -eq 0 ] && echo 'all worked' || echo FAILED)"
	exit $ok
fi
say "server keeps running; counters every 5 s, Ctrl-C to stop and tear down"
# Ctrl-C reaches the server too (same process group); it stops on SIGINT.
demo_stop() {
	kill -TERM "$TURN_PID" 2>/dev/null
	wait "$TURN_PID"
	local rc=$?
	echo; grep -E 'final:|stopped' "$TURN_LOG" | sed 's/^/    /'
	say "ipop-turnserver exited with status $rc; removing the lab"
	exit 0
}
trap demo_stop INT TERM
while kill -0 "$TURN_PID" 2>/dev/null; do
	sleep 5
	kill -USR1 "$TURN_PID"; sleep 0.2
	grep 'stats:' "$TURN_LOG" | tail -2 | sed "s/.*stats: /    $(date +%T) /"
done
