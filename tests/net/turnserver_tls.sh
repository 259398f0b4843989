#!/usr/bin/env bash
# ipop-turnserver over TLS (a certificate made here with openssl), and the
# TURN REST API (static_auth_secret; turnutils_uclient -W).
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_uclient)   +--- router ------+   tls :5349, udp/tcp :3478
#     peer   203.0.113.2 ---+  .1 in each /24
#     (turnutils_peer :3480)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tstls
need_cmd turnutils_uclient turnutils_peer openssl python3
need_root
turn_bin >/dev/null || exit 77
turn_topology

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=turn.test \
	-addext subjectAltName=DNS:turn.test \
	-keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" >/dev/null 2>&1 || fail "openssl req"
chmod 600 "$LIB_TMP/key.pem"
conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'tls = true' 'tls_port = 5349' \
	"cert_file = \"$LIB_TMP/cert.pem\"" "private_key_file = \"$LIB_TMP/key.pem\"" \
	'users = { "svpnjingle:1234567890" }' 'static_auth_secret = "labsecret"'
turn_start "$conf"
wait_tcp_port server 5349 || fail "no tls listener"
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"

# The handshake itself: TLS 1.2 and 1.3 accepted, 1.1 refused.
for v in tls1_2 tls1_3; do
	ns_exec client timeout 60 openssl s_client -connect "$TURN_SERVER_IP:5349" -$v </dev/null \
		>"$LIB_TMP/s_client-$v.log" 2>&1
	grep -q 'BEGIN CERTIFICATE\|Server certificate' "$LIB_TMP/s_client-$v.log" || fail "no $v handshake"
done
ns_exec client timeout 60 openssl s_client -connect "$TURN_SERVER_IP:5349" -tls1_1 </dev/null \
	>"$LIB_TMP/s_client-tls1_1.log" 2>&1
grep -q 'Server certificate' "$LIB_TMP/s_client-tls1_1.log" && fail "TLS 1.1 was accepted"
pass "TLS 1.2 and 1.3 handshakes, TLS 1.1 refused"
got=$(stun_binding_stream tls "$TURN_SERVER_IP" 5349 2>&1) || fail "tls binding: $got"
pass "tls binding: $got"

uclient_run "$LIB_TMP/uc-tls.log" -t -S -n 100 -m 10 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-e "$TURN_PEER_IP" -r 3480 -p 5349 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-tls.log" "tls channel peer (10 clients x 100 messages)"
uclient_run "$LIB_TMP/uc-tls-s.log" -t -S -s -y -n 100 -m 10 -l 170 -c -X -u svpnjingle -w 1234567890 \
	-p 5349 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-tls-s.log" "tls send c2c (10 clients x 100 messages)"

# REST: the username is "expiry:user", the password HMAC(secret, username).
uclient_run "$LIB_TMP/uc-rest.log" -n 50 -m 5 -l 170 -c -X -u restuser -W labsecret \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-rest.log" "udp REST secret"
uclient_run "$LIB_TMP/uc-rest-tls.log" -t -S -n 50 -m 5 -l 170 -c -X -u restuser -W labsecret \
	-e "$TURN_PEER_IP" -r 3480 -p 5349 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-rest-tls.log" "tls REST secret"
uclient_run "$LIB_TMP/uc-rest-bad.log" -n 5 -m 1 -l 170 -c -X -u restuser -W wrongsecret \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
grep -q 'tot_recv_msgs=[1-9]' "$LIB_TMP/uc-rest-bad.log" && fail "a wrong REST secret relayed data"
pass "a wrong REST secret relays nothing"

turn_stop
grep -q 'tls_failed=' "$TURN_LOG" || fail "no final counters"
pass "clean shutdown"
