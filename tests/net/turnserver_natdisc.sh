#!/usr/bin/env bash
# ipop-turnserver's NAT behaviour discovery (RFC 5780) and classic STUN
# (RFC 3489), checked with three independent clients: Debian's `stun`
# (RFC 3489, stun-client), coturn's turnutils_natdiscovery (RFC 5780) and
# pion's stun-nat-behaviour (RFC 5780; built here, offline, from Debian's
# golang-github-pion-stun-dev with Debian's Go). First without the second
# address (classic Binding answered, discovery refused), then with
# alt_listen_address, from a host with no NAT and from one behind a
# MASQUERADE NAT (endpoint-independent mapping, address-and-port-dependent
# filtering).
#
#                                      +-- srv 192.0.2.1 (listen_address)
#   pub 198.51.100.2 ---+              |       192.0.2.2 (alt_listen_address)
#                       +--- inet -----+   udp 3478 and 3479 on both
#   nat 203.0.113.2 ----+  .254/.1
#    | MASQUERADE
#   host 10.0.1.2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tsnat
need_cmd stun turnutils_natdiscovery python3 iptables ss
need_root
BIN=$(turn_bin) || exit 77

for n in inet srv pub nat host; do ns_create $n; done
ns_forward inet
ns_link inet eth0 192.0.2.254/24 srv eth0 192.0.2.1/24
ns_exec srv ip addr add 192.0.2.2/24 dev eth0
ns_link inet eth1 198.51.100.1/24 pub eth0 198.51.100.2/24
ns_link inet eth2 203.0.113.1/24 nat wan 203.0.113.2/24
ns_link nat lan 10.0.1.1/24 host eth0 10.0.1.2/24
ns_exec srv ip route add default via 192.0.2.254
ns_exec pub ip route add default via 198.51.100.1
ns_exec nat ip route add default via 203.0.113.1
ns_exec host ip route add default via 10.0.1.1
ns_forward nat
ns_exec nat iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables"

# pion's example, built from Debian's packages only (GOPATH mode: no
# module download). Without Go the pion checks are skipped, loudly.
PION=""
if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/pion/stun/cmd/stun-nat-behaviour ]; then
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$LIB_TMP/gocache" GOFLAGS= \
		go build -o "$LIB_TMP/stun-nat-behaviour" github.com/pion/stun/cmd/stun-nat-behaviour \
		>"$LIB_TMP/go.log" 2>&1 || { cat "$LIB_TMP/go.log"; fail "building pion's stun-nat-behaviour"; }
	PION="$LIB_TMP/stun-nat-behaviour"
	pass "built pion's stun-nat-behaviour offline from golang-github-pion-stun-dev"
else
	echo "NOTE: pion checks skipped: needs golang-go and golang-github-pion-stun-dev (deploy/install-deps.sh)"
fi

start() { # CONF-LINES...
	local conf="$LIB_TMP/turn.$RANDOM.conf"
	{
		echo 'listen_address = { "192.0.2.1" }'
		echo 'users = { "u:p" }'
		echo 'threads = 2'
		local l
		for l in "$@"; do echo "$l"; done
	} >"$conf"
	ns_bg srv "$LIB_TMP/turn.log" "$BIN" -f -c "$conf"
	TURN_PID=$LIB_PID
	TURN_LOG="$LIB_TMP/turn.log"
	wait_udp_port srv 3478 10 || { cat "$TURN_LOG"; fail "ipop-turnserver did not start"; }
}

stop() {
	kill -TERM "$TURN_PID"
	wait "$TURN_PID" || { tail "$TURN_LOG"; fail "ipop-turnserver exited with $?"; }
}

pion() { # NS -> its output
	ns_exec "$1" timeout 60 "$PION" -server 192.0.2.1:3478 -timeout 2 2>&1
}

echo "== without a second address"
start
out=$(ns_exec pub timeout 60 stun 192.0.2.1 -v 2>&1)
grep -q 'Blocked' <<<"$out" && { echo "$out" | tail -20; fail "stun (RFC 3489) says Blocked"; }
grep -Eq 'MappedAddress = 198\.51\.100\.2:[0-9]+' <<<"$out" ||
	{ echo "$out" | tail -20; fail "stun (RFC 3489) printed no mapped address"; }
pass "stun (RFC 3489): answered, $(grep -m1 -Eo 'MappedAddress = [0-9.:]+' <<<"$out"), verdict: $(grep -E '^Primary' <<<"$out")"
# Behind the NAT the changed-address tests go unanswered (a 420 would read
# as "got through" to an RFC 3489 client), so it must not claim an open filter.
out=$(ns_exec host timeout 60 stun 192.0.2.1 -v 2>&1)
grep -Eq 'MappedAddress = 203\.0\.113\.2:[0-9]+' <<<"$out" || { echo "$out" | tail -20; fail "stun behind NAT: no mapped address"; }
grep -Eq '^Primary: .*(Independent Filter|Open)' <<<"$out" && { echo "$out" | tail -12; fail "stun behind NAT claims an open filter"; }
pass "stun behind MASQUERADE, no second address: $(grep -E '^Primary' <<<"$out")"
if [ -n "$PION" ]; then
	out=$(pion pub)
	grep -q 'NAT discovery feature not supported' <<<"$out" ||
		{ echo "$out"; fail "pion: a server without a second address must say so (no OTHER-ADDRESS)"; }
	pass "pion: without alt_listen_address the server offers no RFC 5780 (no OTHER-ADDRESS)"
fi
stop

echo "== with alt_listen_address 192.0.2.2 (udp 3478 and 3479)"
start 'alt_listen_address = { "192.0.2.2" }'
for a in 192.0.2.1:3479 192.0.2.2:3478 192.0.2.2:3479; do
	wait_udp_port srv "${a##*:}" 10 || fail "no listener on $a"
	ns_exec srv ss -uan | grep -q " $a " || { ns_exec srv ss -uan; fail "no listener on $a"; }
done
pass "listeners on all four RFC 5780 addresses"

# Debian's stun: RFC 3489 tests I, II (change IP and port), III (change port), I(2).
out=$(ns_exec pub timeout 60 stun 192.0.2.1 -v 2>&1)
grep -q 'Blocked' <<<"$out" && { echo "$out" | tail -20; fail "stun says Blocked"; }
grep -Eq 'ChangedAddress = 192\.0\.2\.2:3479' <<<"$out" || { echo "$out" | tail -30; fail "stun saw no CHANGED-ADDRESS 192.0.2.2:3479"; }
grep -Eq '^Primary: Open' <<<"$out" || { echo "$out" | tail -12; fail "stun from a public host: expected 'Open'"; }
pass "stun, no NAT: $(grep -E '^Primary' <<<"$out")"
out=$(ns_exec host timeout 60 stun 192.0.2.1 -v 2>&1)
grep -Eq 'MappedAddress = 203\.0\.113\.2:' <<<"$out" || { echo "$out" | tail -20; fail "stun behind NAT: no mapped address"; }
grep -Eq '^Primary: Independent Mapping, Port Dependent Filter' <<<"$out" ||
	{ echo "$out" | tail -12; fail "stun behind MASQUERADE: expected independent mapping, port dependent filter"; }
pass "stun, behind MASQUERADE: $(grep -E '^Primary' <<<"$out")"

# coturn's RFC 5780 client: mapping (-m) and filtering (-f) discovery.
out=$(ns_exec host timeout 60 turnutils_natdiscovery -m -f 192.0.2.1 2>&1)
echo "$out" | grep -E 'NAT|behavior|Mapping|Filtering' | head -10
grep -q 'NAT with Endpoint Independent Mapping' <<<"$out" ||
	{ echo "$out" | tail -30; fail "natdiscovery: expected endpoint-independent mapping"; }
grep -q 'NAT with Address and Port Dependent Filtering' <<<"$out" ||
	{ echo "$out" | tail -30; fail "natdiscovery: expected address and port dependent filtering"; }
pass "turnutils_natdiscovery behind MASQUERADE: endpoint-independent mapping, address-and-port-dependent filtering"

if [ -n "$PION" ]; then
	out=$(pion pub)
	# pion compares with its wildcard-bound local address, so "(no NAT)" never shows.
	grep -q 'mapping behavior: endpoint independent' <<<"$out" || { echo "$out"; fail "pion, no NAT: mapping"; }
	grep -q 'filtering behavior: endpoint independent' <<<"$out" || { echo "$out"; fail "pion, no NAT: filtering"; }
	pass "pion, no NAT: $(grep -Eo 'NAT (mapping|filtering) behavior: [a-z ()]*' <<<"$out" | paste -sd';')"
	out=$(pion host)
	grep -q 'mapping behavior: endpoint independent$' <<<"$out" || { echo "$out"; fail "pion, MASQUERADE: mapping"; }
	grep -q 'filtering behavior: address and port dependent' <<<"$out" || { echo "$out"; fail "pion, MASQUERADE: filtering"; }
	pass "pion, MASQUERADE: $(grep -Eo 'NAT (mapping|filtering) behavior: [a-z ()]*' <<<"$out" | paste -sd';')"
fi
stop
echo "all turnserver_natdisc checks passed"
