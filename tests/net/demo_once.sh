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
# generous bound here, so that a busy machine is slow, not red.
out=$(ONCE=1 DEMO_WAIT=${DEMO_WAIT:-300} bash "$ROOT/tests/demo.sh" 2>&1)
rc=$?
echo "$out" | sed -n '/== every pair/,$p'
[ $rc -eq 0 ] || { echo "$out" | head -60; fail "the demo exited $rc"; }
grep -q 'result: every pair reached each other by its expected path' <<<"$out" || fail "no success line"
[ "$(grep -c '  ok$' <<<"$out")" -eq 6 ] || fail "not six ok rows"
left=$(ip netns list | grep -c '^ipop-demo-demo-')
[ "$left" -eq 0 ] || fail "$left demo namespaces left behind"
[ ! -e /run/ipop-demo.pid ] || fail "the demo left its pid file"
pass "make demo ONCE=1: six pairs on their expected paths, nothing left behind"
