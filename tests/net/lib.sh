# Shared helpers for the namespace lab (source it; bash only).
#
#   source "$(dirname "$0")/lib.sh"
#   lib_init NAME            # prefix "ipts-NAME-$$" (IPOP_NS_PREFIX overrides "ipts"),
#                            # temp dir $LIB_TMP, EXIT trap that cleans everything
#   ns_create NAME           # namespace "$LIB_PREFIX-NAME" with lo up; echo-free
#   ns_name NAME             # the full namespace name
#   ns_link NS1 IF1 IP1/LEN NS2 IF2 IP2/LEN   # veth pair between two namespaces; each
#                            # side's neighbour entry for the other is pinned (below)
#   ns_neigh_pin NS IF IP MAC   # a permanent neighbour entry IP -> MAC on IF in NS
#   lib_mac                  # a random locally administered unicast MAC address
#   ns_route NS DEST VIA     # ip route add DEST via VIA in NS
#   ns_forward NS            # enable IPv4 forwarding in NS (a router)
#   ns_exec NS CMD...        # run CMD inside NS
#   ns_bg NS LOG CMD...      # start CMD in NS in the background, output to LOG;
#                            # sets LIB_PID and registers it for cleanup
#   wait_udp_port NS PORT [SECONDS] / wait_tcp_port NS PORT [SECONDS]
#   wait_no_port NS PROTO PORT [SECONDS]      # until nothing listens on it
#   lib_wait SECONDS CMD...  # until CMD succeeds (polled every 0.1 s) or SECONDS pass
#                            # (wall clock); the waits above default to LIB_WAIT_S
#   stun_udp_client NS HOST [PORT]   # turnutils_stunclient's output once it printed a
#                            # reflexive address (tried up to 6 times, 10 s each: it
#                            # hangs when nobody answers)
#   lib_on_exit CMD...       # extra cleanup, run first
#   pass MSG / fail MSG / skip REASON         # fail exits 1, skip exits 77
#   figure NAME VALUE BUDGET # prints "figure: NAME VALUE (budget BUDGET)": a timing the
#                            # test saw; it is never asserted here (bench/recovery
#                            # collects these lines and compares them with the budget)
#   need_cmd CMD...          # skip unless every command exists
#   need_root                # skip unless we may create namespaces
#   need_chromium            # skip unless Debian's chromium is installed and renders a
#                            # page headless here; LIB_CHROMIUM_ARGS: the flags it ran with
#                            # (add --user-data-dir=DIR under $LIB_TMP)
#
# Namespaces and processes are removed on EXIT whatever happened, also when
# the script is stopped by SIGTERM or SIGINT (tests/run.sh's timeout).
#
# Waits return as soon as the event happens; their bounds are generous
# (LIB_WAIT_S, 60 s) so that a test fails only when the event never comes,
# not when a busy machine is slow. Budgets are measured in bench/.
#
# The kernel's IPv4 neighbour (ARP) table is one table for every namespace
# on the host, and its limit (net.ipv4.neigh.default.gc_thresh3, 1024
# dynamic entries) exists only in the initial namespace. A lab's ARP entries
# would count against every other namespace's, so the lab pins the entries of
# the links it draws: permanent entries are not counted (docs/testing.md).

LIB_PREFIX=""
LIB_TMP=""
LIB_NS=()
LIB_PIDS=()
LIB_HOOKS=()
LIB_FAILS=0
LIB_WAIT_S=${LIB_WAIT_S:-60}

lib_cleanup() {
	local rc=$? h p n
	# A second TERM (or Ctrl-C) must not cut the cleanup short.
	trap - EXIT
	trap '' INT TERM
	for h in "${LIB_HOOKS[@]}"; do eval "$h" >/dev/null 2>&1 || true; done
	for p in "${LIB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${LIB_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null || true
	done
	for n in "${LIB_NS[@]}"; do
		# Anything still running inside (e.g. children we did not track).
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		ip netns del "$n" 2>/dev/null || true
	done
	[ -n "$LIB_TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$LIB_TMP"
	[ -n "${KEEP_TMP:-}" ] && echo "kept $LIB_TMP"
	exit "$rc"
}

lib_init() {
	LIB_PREFIX="${IPOP_NS_PREFIX:-ipts}-$1-$$"
	LIB_TMP=$(mktemp -d "/tmp/$LIB_PREFIX.XXXXXX")
	trap lib_cleanup EXIT
	trap 'echo "interrupted (SIGINT): cleaning up" >&2; exit 130' INT
	trap 'echo "terminated (SIGTERM, e.g. a timeout): cleaning up" >&2; exit 143' TERM
}

pass() { echo "PASS: $*"; }
figure() { echo "figure: $1 $2 (budget $3)"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "command '$c' not found"; done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
	ip netns add "${LIB_PREFIX}-probe" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "${LIB_PREFIX}-probe"
}

# Headless, as root (no sandbox), no GPU, and nothing fetched on its own.
LIB_CHROMIUM_ARGS=(--headless --no-sandbox --disable-gpu --no-first-run
	--disable-background-networking --disable-component-update --disable-sync)
need_chromium() {
	command -v chromium >/dev/null || skip "chromium is not installed (deploy/install-deps.sh installs it)"
	# Chromium must be able to start here at all; say why when it cannot.
	if ! timeout 60 chromium "${LIB_CHROMIUM_ARGS[@]}" --user-data-dir="$LIB_TMP/probe-profile" \
		--dump-dom 'data:text/html,<p id=x>ok</p>' >"$LIB_TMP/probe.html" 2>"$LIB_TMP/probe.err" ||
		! grep -q 'id="x"' "$LIB_TMP/probe.html"; then
		tail -5 "$LIB_TMP/probe.err"
		skip "headless chromium cannot render a page on this machine"
	fi
}

lib_on_exit() { LIB_HOOKS+=("$*"); }

ns_name() { echo "$LIB_PREFIX-$1"; }

ns_create() {
	local n; n=$(ns_name "$1")
	ip netns add "$n" || fail "ip netns add $n"
	LIB_NS+=("$n")
	ip -n "$n" link set lo up
}

ns_exec() {
	local n; n=$(ns_name "$1"); shift
	ip netns exec "$n" "$@"
}

# Interface names are local to each namespace, so short fixed names are fine.
# The MAC addresses are chosen here, so that both neighbour entries can be
# pinned without asking the kernel.
ns_link() {
	local ns1=$1 if1=$2 ip1=$3 ns2=$4 if2=$5 ip2=$6
	local n1 n2; n1=$(ns_name "$ns1"); n2=$(ns_name "$ns2")
	local tmp="v$$x$RANDOM" m1 m2
	m1=$(lib_mac)
	m2=$(lib_mac)
	ip link add "${tmp}a" address "$m1" type veth peer name "${tmp}b" address "$m2" || fail "veth"
	ip link set "${tmp}a" netns "$n1" && ip link set "${tmp}b" netns "$n2" || fail "veth move"
	ip -n "$n1" link set "${tmp}a" name "$if1" && ip -n "$n2" link set "${tmp}b" name "$if2"
	ip -n "$n1" addr add "$ip1" dev "$if1" && ip -n "$n2" addr add "$ip2" dev "$if2"
	ip -n "$n1" link set "$if1" up && ip -n "$n2" link set "$if2" up
	ns_neigh_pin "$ns1" "$if1" "${ip2%/*}" "$m2"
	ns_neigh_pin "$ns2" "$if2" "${ip1%/*}" "$m1"
}

lib_mac() {
	printf '02:%02x:%02x:%02x:%02x:%02x\n' $((RANDOM % 256)) $((RANDOM % 256)) \
		$((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256))
}

# A permanent entry needs no ARP and does not count against the host-wide
# gc_thresh3 limit (a link going down removes it; ARP then works as usual).
ns_neigh_pin() { # NS IF IP MAC
	ip -n "$(ns_name "$1")" neigh replace "$3" lladdr "$4" dev "$2" nud permanent ||
		fail "cannot pin the neighbour entry $3 on $2 in $1"
}

ns_route() { ip -n "$(ns_name "$1")" route add "$2" via "$3"; }

ns_forward() { ns_exec "$1" sysctl -qw net.ipv4.ip_forward=1; }

ns_bg() {
	local ns=$1 log=$2; shift 2
	ip netns exec "$(ns_name "$ns")" "$@" >"$log" 2>&1 &
	LIB_PID=$!
	LIB_PIDS+=("$LIB_PID")
}

# ss filters: sport = :PORT; -H drops the header so any output means found.
lib_port_open() { # NS PROTO(u|t) PORT
	local flag=-uan
	[ "$2" = t ] && flag=-tln
	[ -n "$(ns_exec "$1" ss -H $flag "sport = :$3" 2>/dev/null)" ]
}

lib_now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "${t:-$(date +%s%6N)}"; }

lib_wait() { # SECONDS CMD...
	local t=$1 end; shift
	end=$(($(lib_now_us) + t * 1000000))
	while :; do
		"$@" && return 0
		[ "$(lib_now_us)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

wait_udp_port() { lib_wait "${3:-$LIB_WAIT_S}" lib_port_open "$1" u "$2"; }
wait_tcp_port() { lib_wait "${3:-$LIB_WAIT_S}" lib_port_open "$1" t "$2"; }
lib_port_closed() { ! lib_port_open "$@"; }
wait_no_port() { lib_wait "${4:-$LIB_WAIT_S}" lib_port_closed "$1" "$2" "$3"; }

stun_udp_client() { # NS HOST [PORT]
	local out="" k
	for ((k = 0; k < 6; k++)); do
		out=$(ns_exec "$1" timeout 10 turnutils_stunclient ${3:+-p "$3"} "$2" 2>&1)
		grep -q 'reflexive addr: ' <<<"$out" && break
	done
	echo "$out"
}
