#!/usr/bin/env bash
# ipop-turnserver refuses peers that an internet client must not reach
# through it, and still relays to the ones it may:
#   - a UDP service on the relay host that its firewall hides from the
#     outside, on the server's own address and on another host address;
#   - the server's own listening port (an allocation made through an
#     allocation would hide the real client);
#   - a private range (10.9.0.0/24) unless allowed_address names it.
# Benign cases next to them: an echo peer on a public address, client to
# client through two allocations (relay to relay), the private peer once
# allowed. The IPv6 spellings (mapped, NAT64, 6to4, Teredo) are unit tests
# (test_turn_policy, test_turn_self).
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 ipop-turnserver :3478
#     (probes, uclient)     |                 |          192.0.2.5 (another host address)
#                           +--- router ------+   udp echo :7777 on both, dropped from eth0
#     peer   203.0.113.2 ---+  .1 in each /24 |
#     (turnutils_peer :3480)                  +-- lan 10.9.0.2 (turnutils_peer :3480)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tspeers
need_cmd turnutils_uclient turnutils_peer ss python3 iptables
need_root
turn_bin >/dev/null || exit 77
turn_topology
ns_create lan
ns_link router rl 10.9.0.1/24 lan eth0 10.9.0.2/24
ns_exec lan ip route add default via 10.9.0.1

# The host's echo service, firewalled from outside (not from the host).
ns_exec server ip addr add 192.0.2.5/24 dev eth0
ns_exec server iptables -A INPUT -i eth0 -p udp --dport 7777 -j DROP || fail "iptables"
for ip in 192.0.2.1 192.0.2.5; do
	ns_bg server "$LIB_TMP/echo-$ip.log" turnutils_peer -L $ip -p 7777
done
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
ns_bg lan "$LIB_TMP/lan.log" turnutils_peer -L 10.9.0.2 -p 3480
wait_udp_port server 7777 && wait_udp_port peer 3480 && wait_udp_port lan 3480 || fail "echo peers did not start"
echo_from() { # NS IP PORT: 0 when a datagram sent there comes back
	ns_exec "$1" timeout 10 python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
for _ in range(3):
    s.sendto(b'hello', ('$2', $3))
    try:
        s.recv(100); sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)"
}
echo_from server 192.0.2.1 7777 || fail "the echo service does not answer on the host itself"
echo_from client 192.0.2.1 7777 && fail "the host firewall lets the echo service be reached from outside"
pass "the host's echo service answers locally and is firewalled from outside"

conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "svpnjingle:1234567890" }'
turn_start "$conf"
pol0=$(turn_stat dropped_policy)

out=$(turn_peer_probe client "$TURN_SERVER_IP" svpnjingle 1234567890 \
	"perm $TURN_PEER_IP" "send $TURN_PEER_IP:3480 echo" \
	"perm 192.0.2.1" "send 192.0.2.1:7777 echo" "bind 192.0.2.1:7777" \
	"perm 192.0.2.5" \
	"send 192.0.2.1:3478 allocate" "bind 192.0.2.1:3478") || { echo "$out"; fail "probe failed"; }
echo "$out"
want() { grep -qxF "$1" <<<"$out" || fail "expected '$1'"; }
want "send $TURN_PEER_IP:3480: answered 27 bytes"
pass "a public echo peer is relayed to and answers"
want "perm 192.0.2.1: ok"
want "send 192.0.2.1:7777: silent"
want "bind 192.0.2.1:7777: 403"
pass "the host's firewalled echo service on the relay address is not reached (Send dropped, ChannelBind 403)"
want "perm 192.0.2.5: 403"
pass "another address of the host (192.0.2.5) is refused (403)"
want "send 192.0.2.1:3478: silent"
want "bind 192.0.2.1:3478: 403"
pass "no allocation through an allocation: the listening port 3478 is not reached"
pol1=$(turn_stat dropped_policy)
[ "$pol1" -ge $((pol0 + 5)) ] || fail "dropped_policy $pol0 -> $pol1, expected 5 more"
pass "dropped_policy $pol0 -> $pol1"

# Relay to relay (two allocations of this server): still works.
uclient_run "$LIB_TMP/uc-c2c.log" -n 50 -m 5 -l 170 -c -y -X -u svpnjingle -w 1234567890 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-c2c.log" "client to client through two allocations (relay to relay)"

# A private range: refused by default ...
log="$LIB_TMP/uc-lan.log"
uclient_run "$log" -n 10 -m 1 -l 170 -c -X -u svpnjingle -w 1234567890 -e 10.9.0.2 -r 3480 "$TURN_SERVER_IP"
grep -q 'tot_recv_msgs=[1-9]' "$log" && { tail "$log"; fail "data came back from 10.9.0.2"; }
grep -Eqi '403|forbidden' "$log" || { tail -20 "$log"; fail "the client saw no 403 for 10.9.0.2"; }
pass "peer 10.9.0.2 (private) refused by default: 403"
turn_stop
# ... and relayed once allowed_address names it.
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "svpnjingle:1234567890" }' \
	'allowed_address {' 'address = "10.9.0.0"' 'mask = "24"' '}'
turn_start "$conf"
uclient_run "$LIB_TMP/uc-lan2.log" -n 50 -m 5 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-e 10.9.0.2 -r 3480 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-lan2.log" "peer 10.9.0.2 with allowed_address 10.9.0.0/24"
out=$(turn_peer_probe client "$TURN_SERVER_IP" svpnjingle 1234567890 "perm 10.9.1.2" "perm 192.168.1.1")
grep -qxF "perm 10.9.1.2: 403" <<<"$out" && grep -qxF "perm 192.168.1.1: 403" <<<"$out" ||
	{ echo "$out"; fail "allowed_address 10.9.0.0/24 opened more than itself"; }
pass "allowed_address opens only what it names (10.9.1.2, 192.168.1.1 still 403)"
turn_stop
