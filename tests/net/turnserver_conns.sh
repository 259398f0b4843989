#!/usr/bin/env bash
# ipop-turnserver against TCP/TLS slowloris: one attacker opens 200
# connections (max_client = 100, so the server takes 200 in all), each
# sends one STUN Binding and then idles. The server must
#   - keep at most max_connections_per_ip (64) of them: legitimate TCP and
#     TLS clients from another IP (coturn's turnutils_uclient -t, -t -S)
#     still allocate and relay while the attacker holds its connections;
#   - close each one 30 s after it was accepted, since none holds an
#     allocation (a Binding does not count), within 3 x 30 s;
#   - keep a TCP client that does hold an allocation for longer than that.
# Then the same attack with max_connections_per_ip = 0 (no per-IP cap):
# the 200 connections take every slot and lock a legitimate TCP client
# out, until the idle close gives the slots back.
# The write-queue budget and slow readers are a unit test (test_turn_stream).
#
#     client  198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (attacker)             +--- router ------+   tcp :3478, tls :5349
#     client2 198.51.100.130 +  .1 in each /24 +-- peer 203.0.113.2 (turnutils_peer :3480)
#     (legitimate clients)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tsconns
need_cmd turnutils_uclient turnutils_peer ss python3 openssl
need_root
turn_bin >/dev/null || exit 77
turn_topology
ns_create client2
ns_link router rc2 198.51.100.129/25 client2 eth0 198.51.100.130/25
ns_exec client2 ip route add default via 198.51.100.129
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=turn.test \
	-keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" >/dev/null 2>&1 || fail "openssl req"
chmod 600 "$LIB_TMP/key.pem"

conf_with() { # [LINE...]
	turn_conf_write "$LIB_TMP/turn.conf" 'udp_port = 3478' 'tcp_port = 3478' 'tls = true' \
		'tls_port = 5349' "cert_file = \"$LIB_TMP/cert.pem\"" \
		"private_key_file = \"$LIB_TMP/key.pem\"" 'users = { "svpnjingle:1234567890" }' \
		'max_client = 100' "$@"
}

# 200 connections that each send one Binding, then idle. Prints
# "answered N" once they are open, then "closed N first F last L" (seconds
# after its Binding was answered) when every answered one was closed, or
# when 100 s passed.
cat >"$LIB_TMP/attack.py" <<'PY'
import os, select, socket, struct, sys, time
server = sys.argv[1]
conns = []
for i in range(200):
    try:
        s = socket.create_connection((server, 3478), timeout=5)
        s.sendall(struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12))
        conns.append(s)
    except OSError:
        pass
answered = {}
for s in conns:
    try:
        s.settimeout(3)
        if len(s.recv(2048)) >= 20:
            answered[s] = time.time()
    except OSError:
        pass
print("opened %d answered %d" % (len(conns), len(answered)))
open_ = dict(answered)
closed = []
end = time.time() + 100
while open_ and time.time() < end:
    r, _, _ = select.select(list(open_), [], [], 1)
    for s in r:
        try:
            data = s.recv(2048)
        except OSError:
            data = b""
        if not data:
            closed.append(time.time() - open_.pop(s))
if closed:
    print("closed %d first %.1f last %.1f" % (len(closed), min(closed), max(closed)))
print("still open %d" % len(open_))
time.sleep(1)
PY
attack() { # LOG
	ns_bg client "$1" python3 -u "$LIB_TMP/attack.py" "$TURN_SERVER_IP"
}

uc2() { # LOG ARGS...: turnutils_uclient from client2
	local log=$1; shift
	ns_exec client2 timeout 90 turnutils_uclient "$@" >"$log" 2>&1
}

# --- with the per-IP cap (the default, 64)
conf_with
turn_start "$LIB_TMP/turn.conf"
wait_tcp_port server 5349 || fail "no TLS listener"
attack "$LIB_TMP/attack1.log"
att=$LIB_PID
lib_wait 30 grep -q '^opened' "$LIB_TMP/attack1.log" || fail "the attacker did not get going"
cat "$LIB_TMP/attack1.log"
answered=$(sed -n 's/^opened [0-9]* answered \([0-9]*\)/\1/p' "$LIB_TMP/attack1.log")
[ "$answered" -le 64 ] || fail "$answered connections of one IP were served (max_connections_per_ip = 64)"
[ "$answered" -ge 32 ] || fail "only $answered connections were served: is the attack real?"
limited=$(turn_stat conns_ip_limited)
[ "$limited" -ge $((200 - answered)) ] || fail "conns_ip_limited=$limited"
pass "one IP: $answered of 200 connections served, $limited refused (conns_ip_limited)"
# A client with an allocation over TCP for 40 s: longer than the 30 s a
# connection may spend without one.
ns_bg client2 "$LIB_TMP/uc-long.log" timeout 120 turnutils_uclient -t -n 40 -m 1 -l 170 -z 1000 -c -X \
	-u svpnjingle -w 1234567890 -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
long=$LIB_PID
uc2 "$LIB_TMP/uc-tcp.log" -t -n 50 -m 5 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
uc2 "$LIB_TMP/uc-tls.log" -t -S -n 50 -m 5 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-e "$TURN_PEER_IP" -r 3480 -p 5349 "$TURN_SERVER_IP"
grep -q '^closed' "$LIB_TMP/attack1.log" && fail "the attacker's connections closed before the legitimate clients were done"
uclient_assert "$LIB_TMP/uc-tcp.log" "TCP client from another IP while the attacker holds its connections"
uclient_assert "$LIB_TMP/uc-tls.log" "TLS client from another IP while the attacker holds its connections"

# --- the idle ones go, the one with an allocation stays
wait "$att"
cat "$LIB_TMP/attack1.log"
grep -q '^still open 0$' "$LIB_TMP/attack1.log" || fail "connections without an allocation were still open after 100 s"
read -r nclosed first last < <(sed -n 's/^closed \([0-9]*\) first \([0-9.]*\) last \([0-9.]*\)/\1 \2 \3/p' "$LIB_TMP/attack1.log")
[ "$nclosed" -eq "$answered" ] || fail "$nclosed of $answered closed"
python3 -c "import sys; sys.exit(not ($first >= 25 and $last <= 90))" ||
	fail "closed after $first..$last s: expected after 30 s (TURN_WORKER_NOALLOC_S), within 90 s"
pass "every connection without an allocation closed, $first..$last s after its Binding"
wait "$long"
uclient_assert "$LIB_TMP/uc-long.log" "a TCP client holding an allocation for 40 s is not cut off"
turn_stop

# --- without the per-IP cap, the same attack locks a legitimate client out
conf_with 'max_connections_per_ip = 0'
turn_start "$LIB_TMP/turn.conf"
attack "$LIB_TMP/attack2.log"
att=$LIB_PID
lib_wait 30 grep -q '^opened' "$LIB_TMP/attack2.log" || fail "the attacker did not get going"
cat "$LIB_TMP/attack2.log"
uc2 "$LIB_TMP/uc-tcp2.log" -t -n 10 -m 1 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
grep -q 'tot_recv_msgs=[1-9]' "$LIB_TMP/uc-tcp2.log" &&
	fail "a legitimate client got through although the attacker held all 200 slots"
rejected=$(turn_stat conns_rejected)
[ "$rejected" -ge 1 ] || fail "conns_rejected=$rejected"
pass "max_connections_per_ip = 0: 200 idle connections take every slot, a TCP client is refused (conns_rejected=$rejected)"
wait "$att"
grep -q '^still open 0$' "$LIB_TMP/attack2.log" || fail "idle connections were not closed"
uc2 "$LIB_TMP/uc-tcp3.log" -t -n 20 -m 2 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-tcp3.log" "once the idle connections are closed, the slots serve a TCP client again"
turn_stop
