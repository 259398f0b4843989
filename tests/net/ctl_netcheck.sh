#!/usr/bin/env bash
# ipopctl netcheck (issue 4 part 4) against real NATs and two real
# ipop-turnserver instances: a node behind a cone NAT, one behind a
# symmetric NAT (--random-fully), the cone node once its router also
# forwards every inbound UDP datagram to it (a full cone), and the cone
# node again once its router drops all UDP (only TCP/TLS to the relay
# remain). Turnserver 1 offers RFC 5780 (alt_listen_address 192.0.2.3),
# so mapping and filtering are measured as RFC 5780 4.3/4.4 say, and the
# direct-link predictions follow from them.
#
#   a 10.0.1.2 --[ra: MASQUERADE]--------------- 198.51.100.2 --+
#                                                                [inet]-- 192.0.2.254 -- srv
#   b 10.0.2.2 --[rb: MASQUERADE --random-fully]- 203.0.113.2 ---+         192.0.2.1: turnserver 1
#                                                                          (udp/tcp 3478, tls 5349;
#                                                                           alternate 192.0.2.3, 3479)
#                                                                          192.0.2.2: turnserver 2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init netcheck
need_cmd python3 openssl iptables
need_root
node_bins
[ -x "$IPOPCTL" ] || skip "$IPOPCTL not built"

for n in inet srv ra rb a b; do ns_create $n; done
ns_forward inet
ns_link inet eth0 192.0.2.254/24 srv eth0 192.0.2.1/24
ns_exec srv ip addr add 192.0.2.2/24 dev eth0
ns_exec srv ip addr add 192.0.2.3/24 dev eth0
ns_link inet eth1 198.51.100.1/24 ra wan 198.51.100.2/24
ns_link inet eth2 203.0.113.1/24 rb wan 203.0.113.2/24
ns_exec srv ip route add default via 192.0.2.254
ns_forward ra
ns_forward rb
ns_exec ra iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables"
ns_exec rb iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully || fail "iptables"
ns_exec ra ip route add default via 198.51.100.1
ns_exec rb ip route add default via 203.0.113.1
ns_link ra lan 10.0.1.1/24 a eth0 10.0.1.2/24
ns_link rb lan 10.0.2.1/24 b eth0 10.0.2.2/24
ns_exec a ip route add default via 10.0.1.1
ns_exec b ip route add default via 10.0.2.1

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=relay.test \
	-addext subjectAltName=IP:192.0.2.1 -keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" \
	>/dev/null 2>&1 || fail "openssl req"
chmod 600 "$LIB_TMP/key.pem"
cat >"$LIB_TMP/turn1.conf" <<CONF
listen_address = { "192.0.2.1" }
alt_listen_address = { "192.0.2.3" }
realm = "ipop"
users = { "u:p" }
tls = true
tls_port = 5349
cert_file = "$LIB_TMP/cert.pem"
private_key_file = "$LIB_TMP/key.pem"
CONF
cat >"$LIB_TMP/turn2.conf" <<CONF
listen_address = { "192.0.2.2" }
realm = "ipop"
users = { "u:p" }
CONF
ns_bg srv "$LIB_TMP/turn1.log" "$TURNSRV" -f -c "$LIB_TMP/turn1.conf"
ns_bg srv "$LIB_TMP/turn2.log" "$TURNSRV" -f -c "$LIB_TMP/turn2.conf"
wait_tcp_port srv 5349 10 || { cat "$LIB_TMP"/turn*.log; fail "turnserver 1 did not start"; }
wait_udp_port srv 3478 10 || fail "no STUN listener"

cat >"$LIB_TMP/config.json" <<JSON
{
    "ip4": "172.31.0.1",
    "xmpp_username": "alice@example.test",
    "xmpp_password": "pw",
    "xmpp_host": "192.0.2.1",
    "stun": ["192.0.2.1:3478", "192.0.2.2:3478"],
    "turn": [
        {"server": "192.0.2.1:3478", "user": "u", "pass": "p"},
        {"server": "turns:192.0.2.1:5349", "user": "u", "pass": "p", "ca_file": "$LIB_TMP/cert.pem"}
    ]
}
JSON
chmod 600 "$LIB_TMP/config.json"

netcheck() { # NS -> JSON on stdout
	ns_exec "$1" "$IPOPCTL" netcheck -c "$LIB_TMP/config.json" --json
}
field() { # JSON-FILE PYTHON-EXPR
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
relay() { # JSON-FILE TRANSPORT -> "ok mapped-or-error"
	field "$1" "' '.join(str(r['ok']) + ' ' + str(r['mapped'] or r['error']) for r in d['relays'] if r['transport'] == '$2')"
}

echo "== a: cone NAT"
netcheck a >"$LIB_TMP/a.json" || { cat "$LIB_TMP/a.json"; fail "netcheck in a failed"; }
cat "$LIB_TMP/a.json"
[ "$(field "$LIB_TMP/a.json" "d['udp']")" = True ] || fail "a: UDP should work"
[ "$(field "$LIB_TMP/a.json" "d['mapping']")" = endpoint-independent ] || fail "a: mapping should be endpoint-independent"
[ "$(field "$LIB_TMP/a.json" "d['hard_nat']")" = False ] || fail "a: not a hard NAT"
[[ $(field "$LIB_TMP/a.json" "d['public']") == 198.51.100.2:* ]] || fail "a: public address should be on 198.51.100.2"
[[ $(field "$LIB_TMP/a.json" "d['local']") == 10.0.1.2:* ]] || fail "a: local address should be 10.0.1.2"
[[ $(relay "$LIB_TMP/a.json" tcp) == "True 198.51.100.2:"* ]] || fail "a: TCP to the relay: $(relay "$LIB_TMP/a.json" tcp)"
[[ $(relay "$LIB_TMP/a.json" tls) == "True 198.51.100.2:"* ]] || fail "a: TLS to the relay: $(relay "$LIB_TMP/a.json" tls)"
ns_exec a "$IPOPCTL" netcheck -c "$LIB_TMP/config.json"
[ "$(field "$LIB_TMP/a.json" "d['rfc5780']")" = 192.0.2.1:3478 ] || fail "a: RFC 5780 should have been measured against 192.0.2.1:3478"
[ "$(field "$LIB_TMP/a.json" "d['filtering']")" = address-and-port-dependent ] ||
	fail "a: MASQUERADE filters by address and port"
direct() { # JSON-FILE -> the predictions, "kind=yes/no/None ..."
	field "$1" "' '.join(k + '=' + {True: 'yes', False: 'no', None: '?'}[v] for k, v in d['direct_with'].items())"
}
[ "$(direct "$LIB_TMP/a.json")" = "no-nat=yes full-cone=yes restricted-cone=yes port-restricted-cone=yes symmetric=no" ] ||
	fail "a: predictions: $(direct "$LIB_TMP/a.json")"
pass "cone NAT: UDP, public 198.51.100.2, endpoint-independent mapping, address-and-port-dependent filtering (RFC 5780); relay over TCP and TLS ok; direct: $(direct "$LIB_TMP/a.json")"

echo "== b: symmetric NAT"
netcheck b >"$LIB_TMP/b.json" || { cat "$LIB_TMP/b.json"; fail "netcheck in b failed"; }
cat "$LIB_TMP/b.json"
# --random-fully picks a new port for every destination address and port.
[ "$(field "$LIB_TMP/b.json" "d['mapping']")" = address-and-port-dependent ] ||
	fail "b: mapping should be address-and-port-dependent"
[ "$(field "$LIB_TMP/b.json" "d['filtering']")" = address-and-port-dependent ] || fail "b: filtering"
[ "$(field "$LIB_TMP/b.json" "d['hard_nat']")" = True ] || fail "b: a hard NAT"
[[ $(field "$LIB_TMP/b.json" "d['public']") == 203.0.113.2:* ]] || fail "b: public address should be on 203.0.113.2"
[ "$(direct "$LIB_TMP/b.json")" = "no-nat=yes full-cone=yes restricted-cone=yes port-restricted-cone=no symmetric=no" ] ||
	fail "b: predictions: $(direct "$LIB_TMP/b.json")"
pass "symmetric NAT: address-and-port-dependent mapping and filtering (hard NAT); direct: $(direct "$LIB_TMP/b.json")"

echo "== a behind a full cone: ra forwards every inbound UDP datagram to a"
ns_exec ra iptables -t nat -A PREROUTING -i wan -p udp -j DNAT --to-destination 10.0.1.2 || fail "iptables DNAT"
netcheck a >"$LIB_TMP/a1.json" || { cat "$LIB_TMP/a1.json"; fail "netcheck in a failed"; }
[ "$(field "$LIB_TMP/a1.json" "d['mapping']")" = endpoint-independent ] || fail "a (full cone): mapping"
[ "$(field "$LIB_TMP/a1.json" "d['filtering']")" = endpoint-independent ] ||
	{ cat "$LIB_TMP/a1.json"; fail "a (full cone): filtering should be endpoint-independent"; }
[ "$(direct "$LIB_TMP/a1.json")" = "no-nat=yes full-cone=yes restricted-cone=yes port-restricted-cone=yes symmetric=yes" ] ||
	fail "a (full cone): predictions: $(direct "$LIB_TMP/a1.json")"
ns_exec ra iptables -t nat -D PREROUTING -i wan -p udp -j DNAT --to-destination 10.0.1.2
pass "full cone: endpoint-independent mapping and filtering; direct: $(direct "$LIB_TMP/a1.json")"

echo "== a again: its router drops UDP"
ns_exec ra iptables -A FORWARD -p udp -j DROP
netcheck a >"$LIB_TMP/a2.json" || { cat "$LIB_TMP/a2.json"; fail "netcheck in a failed"; }
cat "$LIB_TMP/a2.json"
[ "$(field "$LIB_TMP/a2.json" "d['udp']")" = False ] || fail "a: UDP is blocked"
[ "$(field "$LIB_TMP/a2.json" "d['mapping']")" = unknown ] || fail "a: mapping unknown without UDP"
[[ $(relay "$LIB_TMP/a2.json" udp) == False* ]] || fail "a: the UDP relay row should fail"
[[ $(relay "$LIB_TMP/a2.json" tcp) == True* ]] || fail "a: TCP to the relay should still work"
[[ $(relay "$LIB_TMP/a2.json" tls) == True* ]] || fail "a: TLS to the relay should still work"
pass "UDP blocked: reported, relay over TCP and TLS still ok"

echo "== a: wrong CA for the TLS relay"
sed "s#\"ca_file\": \"$LIB_TMP/cert.pem\"#\"ca_file\": \"/etc/ssl/certs/ca-certificates.crt\"#" \
	"$LIB_TMP/config.json" >"$LIB_TMP/config2.json"
chmod 600 "$LIB_TMP/config2.json"
ns_exec a "$IPOPCTL" netcheck -c "$LIB_TMP/config2.json" --json >"$LIB_TMP/a3.json"
[[ $(relay "$LIB_TMP/a3.json" tls) == "False TLS: certificate not accepted"* ]] ||
	fail "a: a certificate from another CA must be refused: $(relay "$LIB_TMP/a3.json" tls)"
pass "TLS relay with a certificate the CA did not sign: refused ($(relay "$LIB_TMP/a3.json" tls))"
