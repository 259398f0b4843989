#!/usr/bin/env bash
# `make demo ONCE=1` as a lab test: the demo's whole deployment (ejabberd
# from deploy/, ipop-turnserver, four nodes behind no NAT, two cone NATs
# and a symmetric NAT) must bring every pair up on its expected path, and
# leave no namespace or process behind.
set -u
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || skip "needs root"
pid=$(cat /run/ipop-demo.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null &&
	skip "a demo is running (pid $pid); not disturbing it"
# The demo waits until every pair is up, at most DEMO_WAIT seconds: a
# generous bound here, so that a busy machine is slow, not red. Its
# namespaces are named after its pid (ipop-demo-demo-PID-...): only those
# are this run's (another user's demo may start as soon as this one ends).
tmp=$(mktemp /tmp/ipop-demo-once.XXXXXX)
trap 'rm -f "$tmp"' EXIT
ONCE=1 DEMO_WAIT=${DEMO_WAIT:-300} bash "$ROOT/tests/demo.sh" >"$tmp" 2>&1 &
demo=$!
wait $demo
rc=$?
out=$(cat "$tmp")
grep -q '^another demo is running' <<<"$out" && skip "another demo started meanwhile; not disturbing it"
# the set-up first, the table last: a failure's tail shows the pairs
[ $rc -eq 0 ] || echo "$out" | sed -n '1,/== every pair/p' | head -60
echo "$out" | sed -n '/== every pair/,$p'
[ $rc -eq 0 ] || fail "the demo exited $rc"
grep -q 'result: every pair reached each other by its expected path' <<<"$out" || fail "no success line"
[ "$(grep -c '  ok$' <<<"$out")" -eq 6 ] || fail "not six ok rows"
left=$(ip netns list | grep -c "^ipop-demo-demo-$demo-")
[ "$left" -eq 0 ] || fail "$left namespaces of the demo (pid $demo) left behind"
[ "$(cat /run/ipop-demo.pid 2>/dev/null)" != "$demo" ] || fail "the demo left its pid file"
pass "make demo ONCE=1: six pairs on their expected paths, nothing left behind"
