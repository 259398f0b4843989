#!/usr/bin/env bash
# `make test-under-load`: the suite of `make test` (tests/run.sh, same
# arguments) while `stress-ng --cpu N` keeps every core busy (N = the
# number of CPUs, LOAD_CPUS overrides), as on a workstation that is doing
# something else. The load is started here and always stopped: on success,
# failure, Ctrl-C or SIGTERM. The last line is tests/run.sh's
# "N passed, N failed[, N skipped]", and so is the exit status.
#   tests/under-load.sh            the whole suite
#   tests/under-load.sh net node_social
set -u
cd "$(dirname "$0")/.."
command -v stress-ng >/dev/null ||
	{ echo "stress-ng not found (deploy/install-deps.sh installs it)" >&2; exit 1; }
cpus=${LOAD_CPUS:-$(nproc)}

load=""
stop_load() {
	[ -n "$load" ] || return 0
	# stress-ng leads its own process group (setsid): its workers go with it.
	kill -TERM -- "-$load" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$load" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- "-$load" 2>/dev/null
	wait "$load" 2>/dev/null
	load=""
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT
trap 'stop_load; exit 143' TERM

# A background job of a script is not a process group leader, so setsid
# makes it one without forking: $! is stress-ng itself.
setsid stress-ng --cpu "$cpus" --timeout 6h --quiet </dev/null >/dev/null 2>&1 &
load=$!
sleep 2
kill -0 "$load" 2>/dev/null || { echo "stress-ng did not start" >&2; exit 1; }
echo "under load: stress-ng --cpu $cpus (pid $load) keeps the cores busy; load average $(cut -d' ' -f1-3 /proc/loadavg)"
bash tests/run.sh "$@"
rc=$?
stop_load
exit $rc
