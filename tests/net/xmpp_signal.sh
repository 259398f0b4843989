#!/usr/bin/env bash
# XMPP signalling against a real Prosody over STARTTLS with certificate
# verification and SASL: who gets to link, and messages in our namespace.
#
#   netns ipxs-$$: lo 192.0.2.10
#   +-----------------------------------------------------------+
#   | prosody (example.test, 192.0.2.10:5222, TLS required)     |
#   | alice/ipop-a1, alice/ipop-a2   (one shared account)       |
#   | bob/ipop-b1                    (alice's contact, "both")  |
#   | carol/ipop-c1                  (in nobody's roster)       |
#   +-----------------------------------------------------------+
set -eu
cd "$(dirname "$0")/../.."
B=${IPOP_BUILD:-build}
PROBE=$B/tests/tools/xmpp_probe
NS=ipxs-$$
DIR=$(mktemp -d /tmp/ipxs.XXXXXX)
. tests/net/lib_xmpp.sh
cleanup() {
	set +e
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	xmpp_prosody_stop "$DIR"
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$DIR"/*.out; do echo "== $f"; cat "$f"; done; exit 1; }

[ -x "$PROBE" ] || fail "$PROBE not built"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 192.0.2.10/32 dev lo

xmpp_prosody_config "$DIR" 192.0.2.10 tls
xmpp_groups "$DIR" "[friends]" alice bob
for u in alice bob carol; do xmpp_register "$DIR" $u pw-$u; done
xmpp_prosody_start "$NS" 192.0.2.10 "$DIR" || fail "prosody"

# Each probe runs until $DIR/stop exists (at most 300 s): the script stops
# them once every event it checks has happened, or 120 s have passed.
export XMPP_PROBE_STOP=$DIR/stop
probe() { # name jid pass resource [body]
	local name=$1; shift
	ip netns exec "$NS" env ${DEBUG:+DEBUG=1} "$PROBE" "$1" "$2" 192.0.2.10 5222 "$3" required \
		"$DIR/certs/example.test.crt" 300 ${4:+"$4"} >"$DIR/$name.out" 2>&1 &
	PROBES+=($!)
}
has() { grep -q "$2" "$DIR/$1.out" 2>/dev/null; }
wait_for() { # SECONDS CHECK...: until the function CHECK succeeds
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
PROBES=()
DEBUG=1 probe a1 alice@example.test pw-alice ipop-a1 "hello-from-a1"
probe b1 bob@example.test pw-bob ipop-b1 "hello-from-b1"
probe c1 carol@example.test pw-carol ipop-c1 "hello-from-c1"
# A wrong password must not log in.
probe bad alice@example.test wrong ipop-x
# a2 comes after a1 is online: a1 sees it arrive.
wait_for 120 has a1 '^state online' || fail "alice did not log in"
probe a2 alice@example.test pw-alice ipop-a2
all_seen() {
	has a1 '^up alice@example.test/ipop-a2' && has a1 '^up bob@example.test/ipop-b1' &&
		has b1 '^up alice@example.test/ipop-a1' && has a1 'msg bob@example.test/ipop-b1 hello-from-b1' &&
		has a2 'msg alice@example.test/ipop-a1 hello-from-a1' && has c1 '^state online' &&
		has bad '^state offline'
}
wait_for 120 all_seen || true
touch "$XMPP_PROBE_STOP"
wait "${PROBES[@]}"

grep -q '^state online' "$DIR/a1.out" || fail "alice did not log in"
grep -q 'logged in as .* (TLS)' "$DIR/a1.out" || fail "login was not over TLS"
grep -q '^up alice@example.test/ipop-a2' "$DIR/a1.out" || fail "a1 did not see its own second resource"
grep -q '^up bob@example.test/ipop-b1' "$DIR/a1.out" || fail "a1 did not see contact bob"
grep -q '^up alice@example.test/ipop-a1' "$DIR/b1.out" || fail "bob did not see alice"
grep -q 'msg bob@example.test/ipop-b1 hello-from-b1' "$DIR/a1.out" || fail "a1 got no message from bob"
grep -q 'msg alice@example.test/ipop-a1 hello-from-a1' "$DIR/a2.out" || fail "a2 got no message from a1"
grep -q '^state online' "$DIR/c1.out" || fail "carol did not log in (so the checks below would prove nothing)"
grep -q 'carol' "$DIR/a1.out" "$DIR/a2.out" "$DIR/b1.out" && fail "carol reached someone"
grep -q '^up ' "$DIR/c1.out" && fail "carol got a peer"
grep -q '^state online' "$DIR/bad.out" && fail "a wrong password logged in"
echo "PASS: roster/presence decide links; messages flow only between authorized peers"

# a1 logged at debug level: libstrophe's stanzas are there, the SASL
# exchange (SCRAM's messages, enough for offline guessing) is not.
grep -q 'SENT: <presence' "$DIR/a1.out" || fail "a1's debug log shows no stanzas at all"
grep -q 'SENT: <auth> (authentication; not logged)' "$DIR/a1.out" || fail "a1's debug log shows no (redacted) SASL auth"
grep -q 'RECV: <challenge> (authentication; not logged)' "$DIR/a1.out" || fail "no (redacted) SCRAM challenge in a1's log"
grep -n 'xmpp-sasl\|biws\|pw-alice' "$DIR/a1.out" && fail "a1's debug log holds SASL data"
echo "PASS: debug log: stanzas logged, the SCRAM exchange is not"
