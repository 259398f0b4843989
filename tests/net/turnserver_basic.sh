#!/usr/bin/env bash
# ipop-turnserver basics: listening sockets, STUN Binding over UDP/TCP/TLS,
# the command line (-h, -v, -n on good and bad files), account file users.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#                           +--- router ------+
#     peer   203.0.113.2 ---+  .1 in each /24
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tsbasic
need_cmd turnutils_stunclient ss python3 openssl
need_root
BIN=$(turn_bin) || exit 77

# --- command line
"$BIN" -h | grep -q -- '-n, --check' || fail "-h does not document -n"
"$BIN" --help | grep -q 'SIGHUP' || fail "--help does not document signals"
"$BIN" -v | grep -Eq '^ipop-turnserver [0-9]' || fail "-v prints no version"
"$BIN" --bogus >/dev/null 2>&1 && fail "an unknown option was accepted"
pass "command line: -h, --help, -v, unknown option refused"

# --- -n on a good and a broken file
good="$LIB_TMP/good.conf"
turn_conf_write "$good" 'udp_port = 19302' 'users = { "svpnjingle:1234567890" }'
out=$("$BIN" -n -c "$good" 2>&1) || fail "-n on a good file failed: $out"
pass "-n accepts a good file"
bad="$LIB_TMP/bad.conf"
cat >"$bad" <<'CONF'
listen_address = { "192.0.2.1" }
udp_port = 99999
min_port = 60000
max_port = 50000
no_such_option = 1
relay_address = { "not-an-address" }
CONF
out=$("$BIN" -n -c "$bad" 2>&1)
rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "-n on a broken file exited 0"
nerr=$(grep -c "bad.conf:[0-9]\+" <<<"$out")
[ "$nerr" -ge 2 ] || fail "-n printed $nerr file:line errors, expected several"
pass "-n rejects a broken file with $nerr file:line errors (exit $rc)"
"$BIN" -n -c "$LIB_TMP/missing.conf" >/dev/null 2>&1 && fail "-n on a missing file exited 0"
pass "-n on a missing file fails"

# --- the original layout: udp_port 19302, user from turn.conf
turn_topology
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=turn.test \
	-keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" >/dev/null 2>&1 || fail "openssl req"
conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 19302' 'tcp_port = 19302' 'tls = true' 'tls_port = 19303' \
	"cert_file = \"$LIB_TMP/cert.pem\"" "private_key_file = \"$LIB_TMP/key.pem\"" \
	'users = { "svpnjingle:1234567890" }'
turn_start "$conf" 19302
# The owner is matched by PID too: under TURN_VALGRIND=1 ss names the
# process "memcheck-amd64-" (valgrind keeps the PID).
owner="(ipop-turnserver|pid=$TURN_PID,)"
ns_exec server ss -aupn | grep -Eq "192.0.2.1:19302 .*$owner" ||
	{ ns_exec server ss -aupn; fail "ss -aupn does not show udp 192.0.2.1:19302"; }
pass "ss -aupn shows udp 192.0.2.1:19302"
ns_exec server ss -atpn | grep -Eq "LISTEN.*192.0.2.1:19302 .*$owner" || fail "no tcp listener"
ns_exec server ss -atpn | grep -Eq "LISTEN.*192.0.2.1:19303 .*$owner" || fail "no tls listener"
pass "tcp 19302 and tls 19303 listen"
for want in "udp 192.0.2.1:19302" "tcp 192.0.2.1:19302" "tls 192.0.2.1:19303" "relay address 192.0.2.1 ports"; do
	grep -q "$want" "$TURN_LOG" || { cat "$TURN_LOG"; fail "the log does not say '$want'"; }
done
pass "the server prints what it listens on"

# --- STUN Binding over UDP, TCP, TLS
out=$(stun_udp_client client "$TURN_SERVER_IP" 19302)
grep -q "UDP reflexive addr: $TURN_CLIENT_IP:" <<<"$out" || { echo "$out"; fail "udp binding"; }
pass "udp binding: $(grep -m1 -o 'reflexive addr: [0-9.:]*' <<<"$out")"
for proto in tcp tls; do
	port=19302; [ $proto = tls ] && port=19303
	got=$(stun_binding_stream $proto "$TURN_SERVER_IP" $port 2>&1) || fail "$proto binding: $got"
	[[ $got == "$TURN_CLIENT_IP":* ]] || fail "$proto binding returned '$got'"
	pass "$proto binding: reflexive address $got"
done

# --- an allocation with the turn.conf user, over UDP on 19302
need_cmd turnutils_uclient turnutils_peer
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"
uclient_run "$LIB_TMP/uc1.log" -n 20 -m 2 -l 170 -c -e "$TURN_PEER_IP" -r 3480 -X \
	-u svpnjingle -w 1234567890 -p 19302 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc1.log" "users = {...} in turn.conf: udp relay"
turn_stop

# --- the same user from an account file instead
cat >"$LIB_TMP/accounts" <<'ACC'
svpnjingle:1234567890:ipop:authorized
ACC
conf2="$LIB_TMP/turn2.conf"
turn_conf_write "$conf2" 'udp_port = 19302' 'tcp_port = 19302' 'account_method = "file"' \
	"account_file = \"$LIB_TMP/accounts\""
turn_start "$conf2" 19302
uclient_run "$LIB_TMP/uc2.log" -n 20 -m 2 -l 170 -c -e "$TURN_PEER_IP" -r 3480 -X \
	-u svpnjingle -w 1234567890 -p 19302 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc2.log" "account file user: udp relay"
uclient_run "$LIB_TMP/uc3.log" -n 5 -m 1 -l 170 -c -e "$TURN_PEER_IP" -r 3480 -X \
	-u svpnjingle -w wrongpassword -p 19302 "$TURN_SERVER_IP"
grep -q 'tot_recv_msgs=[1-9]' "$LIB_TMP/uc3.log" && fail "a wrong password relayed data"
pass "a wrong password relays nothing"
turn_stop
# --- a wildcard listen address: answers leave from the address asked
# (IP_PKTINFO), checked with connected sockets that accept nothing else.
ns_exec server ip addr add 192.0.2.2/24 dev eth0
conf3="$LIB_TMP/turn3.conf"
{
	echo 'listen_address = { "0.0.0.0" }'
	echo 'relay_address = { "192.0.2.1" }'
	echo 'users = { "svpnjingle:1234567890" }'
	echo 'threads = 1'
} >"$conf3"
turn_start "$conf3"
for ip in 192.0.2.1 192.0.2.2; do
	got=$(stun_binding_stream udp $ip 3478 2>&1) || fail "udp binding to $ip on a wildcard listener: $got"
	[[ $got == "$TURN_CLIENT_IP":* ]] || fail "udp binding to $ip returned '$got'"
	got=$(stun_binding_stream tcp $ip 3478 2>&1) || fail "tcp binding to $ip on a wildcard listener: $got"
done
pass "wildcard listener answers from 192.0.2.1 and 192.0.2.2 alike"
uclient_run "$LIB_TMP/uc4.log" -n 20 -m 2 -l 170 -c -e "$TURN_PEER_IP" -r 3480 -X \
	-u svpnjingle -w 1234567890 192.0.2.2
uclient_assert "$LIB_TMP/uc4.log" "wildcard listener, client on 192.0.2.2: udp relay"
turn_stop
echo "all turnserver_basic checks passed"
