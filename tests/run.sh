#!/usr/bin/env bash
# Runs the test suites and ends with "N passed, N failed[, N skipped]".
#   tests/run.sh            unit + fuzz + net
#   tests/run.sh unit|fuzz|net [NAME...]
# A test program passes when it exits 0, is skipped when it exits 77 and
# says why (a line with "skip" in its log), and fails otherwise; a fuzzer's
# finding is a failure. The last lines of each failure's log are printed
# after the results, and the logs are kept.
# Lanes (LANES=3, the default; LANES=1 runs everything in one series) take
# jobs from one queue: the layers check, the unit tests, the labs, then the
# fuzzers, which fill the end. Labs that run ejabberd never run two at a
# time. Each lane has its own namespace prefix. Both cores stay busy, which
# the tests must bear anyway (make test-under-load).
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

# A failure's last log lines, printed after every lane is done.
fail_tail() { # name log
	{ echo "----- $1 (last 60 lines of $2)"; tail -n 60 "$2"; echo "-----"; } >>"$failtails"
}
failtails=/dev/stdout

run_one() { # name, command...
	local name=$1; shift
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
		fail_tail "$name" "$log"
	elif [ $rc -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS  %-40s %4ss\n' "$name" "$dt"
	elif [ $rc -eq 77 ] && [[ $name != fuzz/* ]] && grep -qi 'skip' "$log"; then
		skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(grep -m1 -i 'skip' "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-40s %4ss (exit %d%s)\n' "$name" "$dt" "$rc" \
			"$([ $rc -eq 77 ] && echo ": a skip that gives no reason, or a fuzzer's finding")"
		fail_tail "$name" "$log"
	fi
}

# Three lanes on any machine: a lab spends most of its time waiting for
# protocol timers (back-offs, keepalives, conntrack timeouts), so a third
# lane uses CPU the first two leave idle (docs/testing.md has the figures).
LANES=${LANES:-3}

# ---- the job queue: one line per job, "kind name path". Lanes take jobs
# from its head under a lock, so the work spreads over both lanes whatever
# each job costs; the fuzzers (FUZZ_SECONDS each) come last and fill the
# end. Labs that run ejabberd take the "ejabberd" token first: two of them
# never run at once (a lane that finds only such labs left while the other
# runs one waits), whatever else runs beside them.
queue=$logdir/queue
: >"$queue"
q_add() { wanted "$2" && echo "$1 $2 $3" >>"$queue"; }
if [[ $suites == all || $suites == unit ]]; then
	q_add layers check-layers tests/check_layers.sh
	for t in build/asan/tests/test_*; do
		[ -x "$t" ] && q_add unit "unit/$(basename "$t")" "$t"
	done
fi
if [[ $suites == all || $suites == net ]]; then
	for s in tests/net/*.sh; do
		case "$(basename "$s")" in lib*.sh) continue ;; esac
		[ -f "$s" ] && q_add net "net/$(basename "$s" .sh)" "$s"
	done
fi
if [[ $suites == all || $suites == fuzz ]]; then
	for f in build/fuzz/bin/fuzz_*; do
		[ -x "$f" ] && q_add fuzz "fuzz/$(basename "$f")" "$f"
	done
fi

exclusive() { # path: the lab's group that runs one at a time, or nothing
	[[ $1 == tests/net/* ]] && grep -q 'ejabberd' "$1" && echo ejabberd
}

# Prints the next job this lane may run and takes it off the queue;
# "wait" when only jobs of a busy group are left, nothing when it is empty.
q_take() {
	local kind name path g
	exec 9>"$logdir/queue.lock"
	flock 9
	local rest=() got=
	while read -r kind name path; do
		if [ -z "$got" ]; then
			g=$(exclusive "$path")
			if [ -z "$g" ] || [ ! -e "$logdir/busy.$g" ]; then
				got="$kind $name $path"
				[ -n "$g" ] && echo "$name" >"$logdir/busy.$g"
				continue
			fi
		fi
		rest+=("$kind $name $path")
	done <"$queue"
	printf '%s\n' "${rest[@]}" | grep -v '^$' >"$queue.new"
	mv "$queue.new" "$queue"
	if [ -n "$got" ]; then echo "$got"; elif [ ${#rest[@]} -gt 0 ]; then echo wait; fi
	flock -u 9
	exec 9>&-
}

run_job() { # kind name path
	local kind=$1 name=$2 path=$3
	case $kind in
	layers) run_one "$name" bash "$path" ;;
	unit) run_one "$name" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$path" ;;
	net) run_one "$name" timeout -k "$NET_KILL_AFTER" "$NET_TIMEOUT" bash "$path" ;;
	fuzz)
		local n corpus
		n=$(basename "$path")
		corpus="$logdir/corpus-$n"; mkdir -p "$corpus"
		[ -d "tests/fuzz/corpus/$n" ] && cp -r "tests/fuzz/corpus/$n/." "$corpus/"
		run_one "$name" "$path" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -error_exitcode=1 "$corpus"
		;;
	esac
	local g; g=$(exclusive "$path")
	[ -n "$g" ] && rm -f "$logdir/busy.$g"
}

run_lane() { # N: takes jobs until the queue is empty
	local job
	[ "$1" -gt 1 ] && export IPOP_NS_PREFIX=ipr$$l$1
	failtails=$logdir/failtails.$1
	: >"$failtails"
	while job=$(q_take) && [ -n "$job" ]; do
		if [ "$job" = wait ]; then sleep 1; continue; fi
		# shellcheck disable=SC2086
		run_job $job
	done
}

echo "== $(wc -l <"$queue") jobs in $LANES lane(s): layers, unit tests (ASan + UBSan), namespace labs, fuzzers (${FUZZ_SECONDS}s each)"
lane_pids=()
for l in $(seq 2 "$LANES"); do
	( run_lane "$l"
	  printf '%s %s %s %s\n' "$pass" "$fail" "$skip" "${failed[*]}" >"$logdir/lane$l.sum" ) &
	lane_pids+=($!)
done
[ ${#lane_pids[@]} -gt 0 ] && trap 'kill ${lane_pids[*]} 2>/dev/null' EXIT
run_lane 1
[ ${#lane_pids[@]} -gt 0 ] && wait "${lane_pids[@]}"
for l in $(seq 2 "$LANES"); do
	if read -r p2 f2 s2 names2 <"$logdir/lane$l.sum"; then
		pass=$((pass + p2)) fail=$((fail + f2)) skip=$((skip + s2))
		[ -n "$names2" ] && failed+=($names2)
	else
		fail=$((fail + 1)); failed+=("lane$l")
		echo "lane $l ended without a summary"
	fi
done
cat "$logdir"/failtails.* 2>/dev/null

if [ $fail -gt 0 ]; then
	rm -rf "$logdir"/corpus-* "$logdir"/queue*
	echo "logs kept in $logdir"
else
	rm -rf "$logdir"
fi
el=$((SECONDS - t_start))
printf 'total time %dm%02ds (load average now: %s)\n' $((el / 60)) $((el % 60)) "$(cut -d' ' -f1-3 /proc/loadavg)"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
