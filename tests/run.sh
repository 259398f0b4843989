#!/usr/bin/env bash
# Runs the test suites and ends with "N passed, N failed[, N skipped]".
#   tests/run.sh            unit + fuzz + net
#   tests/run.sh unit|fuzz|net [NAME...]
# A test program passes when it exits 0, is skipped when it exits 77 (and
# must say why), and fails otherwise. Logs of failures are printed.
# Two lanes run side by side (LANES=2, the default; LANES=1 runs everything
# in one): lane 1 has the layers check, the unit tests and the node's labs,
# lane 2 the fuzzers and the TURN server's labs, which share nothing with
# the node's (namespaces carry the lane in their prefix). Lane 2's report
# follows lane 1's. Both cores stay busy, which the tests must bear anyway
# (make test-under-load).
# A lab script that runs longer than NET_TIMEOUT seconds gets SIGTERM (its
# EXIT trap removes its namespaces and processes), SIGKILL 60 s later if it
# is still there, and is reported as TIMEOUT. Every lab script runs with
# this run's namespace prefix (IPOP_NS_PREFIX=ipr<pid>): whatever namespace
# it leaves behind is removed here, and the script fails.
set -u
cd "$(dirname "$0")/.."
suites=${1:-all}
shift || true
filter=("$@")
pass=0 fail=0 skip=0
failed=()
logdir=$(mktemp -d /tmp/ipop-tests.XXXXXX)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
NET_TIMEOUT=${NET_TIMEOUT:-900}
NET_KILL_AFTER=60
export IPOP_NS_PREFIX=ipr$$
t_start=$SECONDS

# Namespaces of this run still there: printed, and removed with whatever
# runs inside them.
ns_leftovers() {
	local n p out=""
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$IPOP_NS_PREFIX-"); do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
		out+="$n "
	done
	echo "$out"
}

wanted() {
	[ ${#filter[@]} -eq 0 ] && return 0
	local f
	for f in "${filter[@]}"; do [[ "$1" == *"$f"* ]] && return 0; done
	return 1
}

run_one() { # name, command...
	local name=$1; shift
	wanted "$name" || return 0
	in_lane "$name" || return 0
	local log="$logdir/${name//\//_}.log" t0=$SECONDS rc left
	"$@" >"$log" 2>&1
	rc=$?
	local dt=$((SECONDS - t0))
	if [[ $name == net/* ]]; then
		left=$(ns_leftovers)
		if [ -n "$left" ]; then
			echo "run.sh: $name left namespaces behind (removed now): $left" >>"$log"
			[ $rc -eq 0 ] && rc=1
		fi
	fi
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-40s %4ss (TIMEOUT: still running after NET_TIMEOUT=%ss%s)\n' "$name" "$dt" \
			"$NET_TIMEOUT" "$([ $rc -eq 137 ] && echo ", killed: it ignored SIGTERM for ${NET_KILL_AFTER}s")"
		echo "----- $name (last 60 lines of $log)"; tail -n 60 "$log"; echo "-----"
	elif [ $rc -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS  %-40s %4ss\n' "$name" "$dt"
	elif [ $rc -eq 77 ] && [[ $name != fuzz/* ]] && grep -qi 'skip' "$log"; then
		skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(grep -m1 -i 'skip' "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-40s %4ss (exit %d)\n' "$name" "$dt" "$rc"
		echo "----- $name (last 60 lines of $log)"; tail -n 60 "$log"; echo "-----"
	fi
}

LANES=${LANES:-2}
# lane 2: the fuzzers and the TURN server's labs
lane2_wants() { [[ $1 == fuzz/* || $1 == net/turnserver_* || $1 == net/turnclient_* ]]; }
lane=1

run_lane() { # 1|2: runs the suites, skipping what belongs to the other lane
	lane=$1
	if [ "$LANES" -gt 1 ] && [ "$lane" = 2 ]; then
		export IPOP_NS_PREFIX=ipr$$l2
	fi
	run_suites
}

in_lane() { # name: whether this lane runs it
	[ "$LANES" -le 1 ] && return 0
	if lane2_wants "$1"; then [ "$lane" = 2 ]; else [ "$lane" = 1 ]; fi
}

run_suites() {
if [[ $suites == all || $suites == unit ]] && { [ "$LANES" -le 1 ] || [ "$lane" = 1 ]; }; then
	echo "== layers"
	run_one "check-layers" bash tests/check_layers.sh
	echo "== unit tests (ASan + UBSan)"
	for t in build/asan/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$t"
	done
fi

if [[ $suites == all || $suites == fuzz ]] && { [ "$LANES" -le 1 ] || [ "$lane" = 2 ]; }; then
	echo "== fuzzers (${FUZZ_SECONDS}s each)"
	for f in build/fuzz/bin/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f")
		corpus="$logdir/corpus-$n"; mkdir -p "$corpus"
		[ -d "tests/fuzz/corpus/$n" ] && cp -r "tests/fuzz/corpus/$n/." "$corpus/"
		run_one "fuzz/$n" "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -error_exitcode=1 "$corpus"
	done
fi

if [[ $suites == all || $suites == net ]]; then
	echo "== namespace lab"
	for s in tests/net/*.sh; do
		[ -f "$s" ] || continue
		case "$(basename "$s")" in lib*.sh) continue ;; esac
		run_one "net/$(basename "$s" .sh)" timeout -k "$NET_KILL_AFTER" "$NET_TIMEOUT" bash "$s"
	done
fi

}

if [ "$LANES" -gt 1 ]; then
	lane2_out=$logdir/lane2.out
	( run_lane 2 >"$lane2_out" 2>&1
	  printf '%s %s %s %s\n' "$pass" "$fail" "$skip" "${failed[*]}" >"$logdir/lane2.sum" ) &
	lane2_pid=$!
	trap 'kill $lane2_pid 2>/dev/null' EXIT
	run_lane 1
	wait $lane2_pid
	echo "== lane 2 (fuzzers and the TURN server's labs, run beside lane 1)"
	cat "$lane2_out"
	if read -r p2 f2 s2 names2 <"$logdir/lane2.sum"; then
		pass=$((pass + p2)) fail=$((fail + f2)) skip=$((skip + s2))
		[ -n "$names2" ] && failed+=($names2)
	else
		fail=$((fail + 1)); failed+=("lane2")
		echo "lane 2 ended without a summary"
	fi
else
	run_lane 1
fi

rm -rf "$logdir"
el=$((SECONDS - t_start))
printf 'total time %dm%02ds (load average now: %s)\n' $((el / 60)) $((el % 60)) "$(cut -d' ' -f1-3 /proc/loadavg)"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
