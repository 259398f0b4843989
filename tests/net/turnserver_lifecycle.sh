#!/usr/bin/env bash
# ipop-turnserver process lifecycle: SIGHUP re-reads the account file (a
# user added to it can allocate after the HUP and not before); SIGTERM with
# live allocations and connections exits 0 and leaves no socket behind.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_uclient)   +--- router ------+
#     peer   203.0.113.2 ---+  .1 in each /24
#     (turnutils_peer :3480)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tslife
need_cmd turnutils_uclient turnutils_peer ss
need_root
turn_bin >/dev/null || exit 77
turn_topology

acc="$LIB_TMP/accounts"
echo "svpnjingle:1234567890:ipop:authorized" >"$acc"
conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'account_method = "file"' \
	"account_file = \"$acc\"" 'min_port = 50000' 'max_port = 50999'
turn_start "$conf"
grep -q 'open file limit: [0-9]' "$TURN_LOG" || fail "RLIMIT_NOFILE not logged"
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"
PEER=(-e "$TURN_PEER_IP" -r 3480)
# A TCP client that connects and never speaks: closed after 10 s.
ns_bg client "$LIB_TMP/silent.log" bash -c "exec 3<>/dev/tcp/$TURN_SERVER_IP/3478; sleep 60"

# --- SIGHUP
uclient_run "$LIB_TMP/new-before.log" -n 5 -m 1 -l 170 -c -X -u newuser -w newpass "${PEER[@]}" "$TURN_SERVER_IP"
grep -q 'tot_recv_msgs=[1-9]' "$LIB_TMP/new-before.log" && fail "newuser relayed before being added"
pass "newuser is refused before the reload"
echo "newuser:newpass:ipop:authorized" >>"$acc"
kill -HUP "$TURN_PID"
lib_wait "$LIB_WAIT_S" grep -q 'accounts reloaded, 2 accounts' "$TURN_LOG" || { tail "$TURN_LOG"; fail "no reload logged"; }
# The refused attempts above were failed guesses of newuser from this IP:
# its bucket (10, refilled at 5/s, docs/security.md) holds it back for up
# to 2 s more.
sleep 2.5
uclient_run "$LIB_TMP/new-after.log" -n 20 -m 2 -l 170 -c -X -u newuser -w newpass "${PEER[@]}" "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/new-after.log" "newuser allocates after SIGHUP"
kill -0 "$TURN_PID" || fail "the server died on SIGHUP"

# --- SIGTERM with live allocations (udp and tcp clients that hang on)
ns_bg client "$LIB_TMP/hang-udp.log" turnutils_uclient -h -n 5 -m 5 -l 170 -c -X \
	-u svpnjingle -w 1234567890 "${PEER[@]}" "$TURN_SERVER_IP"
ns_bg client "$LIB_TMP/hang-tcp.log" turnutils_uclient -h -t -n 5 -m 5 -l 170 -c -X \
	-u svpnjingle -w 1234567890 "${PEER[@]}" "$TURN_SERVER_IP"
relay_ports() { ns_exec server ss -H -uan 'sport >= :50000 and sport <= :50999' | wc -l; }
has_allocs() { [ "$(relay_ports)" -ge 10 ]; }
lib_wait "$LIB_WAIT_S" has_allocs || { tail "$LIB_TMP"/hang-*.log; fail "only $(relay_ports) relay sockets open"; }
pass "$(relay_ports) relay sockets open, $(ns_exec server ss -H -tn state established 'sport = :3478' | wc -l) tcp connections"
turn_wait_stat conns_idle_closed -ge 1 || fail "the silent TCP connection was not closed"
pass "a TCP connection that sent nothing was closed (conns_idle_closed=$(turn_stat conns_idle_closed))"
turn_stop
left_udp=$(ns_exec server ss -H -uan)
left_tcp=$(ns_exec server ss -H -tln)
[ -z "$left_udp$left_tcp" ] || { echo "$left_udp$left_tcp"; fail "sockets left after SIGTERM"; }
pass "SIGTERM: exit 0, no udp socket and no listener left"
grep -q 'final: .* relays_open=0 ' "$TURN_LOG" || { tail "$TURN_LOG"; fail "allocations left at shutdown"; }
pass "every allocation released at shutdown"

# --- SIGINT stops it as cleanly as SIGTERM (even when started from a script,
# whose background jobs inherit SIGINT ignored)
turn_start "$conf"
turn_stop INT
pass "SIGINT: exit 0"

# --- out of descriptors: accepting pauses instead of spinning, UDP still
# answers, and accepting resumes once descriptors are free again
TURN_PREFIX=(prlimit --nofile=48:48)
conf4="$LIB_TMP/turn4.conf"
turn_conf_write "$conf4" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "svpnjingle:1234567890" }' \
	'threads = 1'
sed -i 's/^threads = 2$//' "$conf4"
turn_start "$conf4"
TURN_PREFIX=()
# The flood holds its connections until the test is done looking.
ns_bg client "$LIB_TMP/flood.log" python3 -c "
import os, socket, time
socks = []
for i in range(100):
    try:
        socks.append(socket.create_connection(('$TURN_SERVER_IP', 3478), timeout=10))
    except OSError:
        pass
print('open', len(socks), flush=True)
end = time.monotonic() + 600
while not os.path.exists('$LIB_TMP/flood.stop') and time.monotonic() < end:
    time.sleep(0.1)
"
flood=$LIB_PID
lib_wait "$LIB_WAIT_S" grep -q '^open' "$LIB_TMP/flood.log" || fail "the flood did not open its connections"
cat "$LIB_TMP/flood.log"
got=$(stun_binding_stream udp "$TURN_SERVER_IP" 3478 2>&1) || fail "no udp answer while out of fds: $got"
turn_wait_stat accept_paused -ge 1 || { tail "$TURN_LOG"; fail "accept never paused"; }
# A paused listener is watched again at the next sweep (about once a
# second), so the count grows by about one a second; a loop that spins on
# EMFILE would add thousands. A slow machine only makes it grow slower.
p1=$(turn_stat accept_paused)
t1=$(lib_now_us)
sleep 2
p2=$(turn_stat accept_paused)
secs=$((($(lib_now_us) - t1) / 1000000 + 1))
echo "accept_paused $p1 -> $p2 in about $secs s"
[ $((p2 - p1)) -le $((2 * secs + 5)) ] || fail "accept_paused grew by $((p2 - p1)) in $secs s: the loop spins"
touch "$LIB_TMP/flood.stop"
wait "$flood"
resumed() { stun_binding_stream tcp "$TURN_SERVER_IP" 3478 >/dev/null 2>&1; }
lib_wait "$LIB_WAIT_S" resumed || fail "tcp not accepted again after the flood"
pass "out of fds: accept paused ($p2 times), udp answered, tcp resumed"
turn_stop

# --- daemon = true and unpriv_user: detaches, runs as nobody, still relays
id nobody >/dev/null 2>&1 || skip "no user nobody"
conf3="$LIB_TMP/turn3.conf"
turn_conf_write "$conf3" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "svpnjingle:1234567890" }' \
	'daemon = true' 'unpriv_user = "nobody"'
ns_exec server "$(turn_bin)" -c "$conf3" || fail "daemon start exited non-zero"
wait_udp_port server 3478 || fail "the daemon does not listen"
dpid=$(ns_exec server ss -H -uapn 'sport = :3478' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$dpid" ] || fail "no daemon pid"
LIB_PIDS+=("$dpid")
duid=$(awk '/^Uid:/ {print $2}' "/proc/$dpid/status")
[ "$duid" = "$(id -u nobody)" ] || fail "the daemon runs as uid $duid, not nobody"
[ "$(readlink "/proc/$dpid/fd/0")" = /dev/null ] || fail "the daemon's stdin is not /dev/null"
[ "$(awk '{print $6}' "/proc/$dpid/stat")" != "$(awk '{print $6}' /proc/$$/stat)" ] ||
	fail "the daemon did not start a new session"
pass "daemon: detached (pid $dpid, new session, stdin /dev/null), running as nobody"
uclient_run "$LIB_TMP/daemon.log" -n 20 -m 2 -l 170 -c -X -u svpnjingle -w 1234567890 "${PEER[@]}" "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/daemon.log" "relaying as nobody"
kill -TERM "$dpid"
wait_no_port server u 3478 || fail "the daemon did not stop on SIGTERM"
lib_wait "$LIB_WAIT_S" bash -c "! kill -0 $dpid 2>/dev/null" || fail "the daemon process is still alive"
pass "daemon stopped on SIGTERM"
