# Helpers shared by the ipop-turnserver lab tests (source after lib.sh).
#
#   turn_topology            # the namespaces below, routed through "router"
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#                           +--- router ------+
#     peer   203.0.113.2 ---+  .1 in each /24
#
#   turn_bin                 # path of ipop-turnserver (IPOP_BUILD overrides build/)
#   turn_start CONF          # start it in "server", wait for its UDP port; TURN_PID, TURN_LOG
#                            # (TURN_ARGS=(...) adds options, e.g. -d)
#                            # (TURN_VALGRIND=1 runs it under valgrind: any error or
#                            # leak makes turn_stop fail)
#   turn_stop [SIG]          # SIGTERM (or SIG) and wait; fails unless it exits 0 in 60 s
#   turn_stat NAME           # SIGUSR1, then the value of counter NAME in the stats it logs
#                            # (the workers' snapshots, refreshed about once a second)
#   turn_wait_stat NAME OP N # until [ counter OP N ] (e.g. -ge 1), within LIB_WAIT_S
#   uclient_run LOG ARGS...  # turnutils_uclient in "client" (timeout 300 s; it counts a
#                            # message lost only when it is not back 10 s after the
#                            # client's last send)
#   uclient_assert LOG WHAT  # sent > 0, received == sent, "Total lost packets 0"
#   stun_binding_stream PROTO(tcp|tls|udp) HOST PORT   # prints the XOR-MAPPED-ADDRESS "ip:port";
#                            # udp uses a connected socket, so the answer must come
#                            # from exactly HOST:PORT (sent up to 10 times, 3 s apart)
#   turn_peer_probe NS SERVER USER PASS ACTION...  # a TURN client (Python, UDP) in NS:
#                            # allocates, then per ACTION prints one line:
#                            #   perm IP              -> "perm IP: ok" / "perm IP: 403"
#                            #   bind IP:PORT         -> "bind IP:PORT: ok" / ": 403"
#                            #   send IP:PORT echo|allocate  -> a Send indication with
#                            #     a payload (or a STUN Allocate request); prints
#                            #     "send IP:PORT: answered N bytes" (a Data indication
#                            #     came back from that peer within 2 s) or ": silent"

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TURN_SERVER_IP=192.0.2.1
TURN_CLIENT_IP=198.51.100.2
TURN_PEER_IP=203.0.113.2

turn_bin() {
	local d=${IPOP_BUILD:-build}
	[[ $d == /* ]] || d="$REPO_ROOT/$d"
	local b="$d/ipop-turnserver"
	[ -x "$b" ] || skip "$b not built (run make, or set IPOP_BUILD)"
	echo "$b"
}

turn_topology() {
	ns_create router
	ns_create server
	ns_create client
	ns_create peer
	ns_forward router
	ns_link router rs 192.0.2.254/24 server eth0 192.0.2.1/24
	ns_link router rc 198.51.100.1/24 client eth0 198.51.100.2/24
	ns_link router rp 203.0.113.1/24 peer eth0 203.0.113.2/24
	ns_exec server ip route add default via 192.0.2.254
	ns_exec client ip route add default via 198.51.100.1
	ns_exec peer ip route add default via 203.0.113.1
}

# A turn.conf in the original TurnServer layout, plus the given lines
# (which must not repeat the keys written here).
turn_conf_write() { # FILE [LINE...]
	local f=$1; shift
	{
		echo "# written by $(basename "$0")"
		echo "listen_address = { \"$TURN_SERVER_IP\" }"
		echo "realm = \"ipop\""
		echo "max_relay_per_username = 100"
		echo "threads = 2"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$f"
}

turn_start() { # CONF [PORT]; TURN_PREFIX=(cmd...) runs the server under cmd
	local conf=$1 port=${2:-3478} bin
	bin=$(turn_bin) || exit 77
	TURN_LOG="$LIB_TMP/turnserver.$RANDOM.log"
	local wrap=("${TURN_PREFIX[@]}") wait_s=$LIB_WAIT_S
	if [ "${TURN_VALGRIND:-0}" = 1 ]; then
		need_cmd valgrind
		wrap+=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99)
		wait_s=$((LIB_WAIT_S * 3))
	fi
	ns_bg server "$TURN_LOG" "${wrap[@]}" "$bin" -f ${TURN_ARGS[@]+"${TURN_ARGS[@]}"} -c "$conf"
	TURN_PID=$LIB_PID
	if ! wait_udp_port server "$port" $wait_s; then
		cat "$TURN_LOG" >&2
		fail "ipop-turnserver did not open udp port $port"
	fi
	kill -0 "$TURN_PID" 2>/dev/null || { cat "$TURN_LOG" >&2; fail "ipop-turnserver exited"; }
}

turn_stop() { # [SIGNAL]
	kill -"${1:-TERM}" "$TURN_PID" 2>/dev/null || fail "ipop-turnserver was not running"
	local i
	lib_wait "$LIB_WAIT_S" turn_gone
	kill -0 "$TURN_PID" 2>/dev/null && fail "ipop-turnserver ignored SIG${1:-TERM} for $LIB_WAIT_S s"
	wait "$TURN_PID"
	local rc=$?
	[ $rc -eq 0 ] || { tail -20 "$TURN_LOG" >&2; fail "ipop-turnserver exited with $rc"; }
}

turn_gone() { ! kill -0 "$TURN_PID" 2>/dev/null; }

# Each SIGUSR1 logs two lines; the second starts "stats: udp_in=".
turn_stats_logged() { [ "$(grep -c 'stats: udp_in=' "$TURN_LOG")" -ge "$1" ]; }
turn_stat() { # NAME
	local n0
	sleep 1.1 # the workers publish their counters at least once a second
	n0=$(grep -c 'stats: udp_in=' "$TURN_LOG")
	kill -USR1 "$TURN_PID" 2>/dev/null || return 1
	lib_wait "$LIB_WAIT_S" turn_stats_logged $((n0 + 1)) || return 1
	grep -o " $1=[0-9]*" "$TURN_LOG" | tail -1 | cut -d= -f2
}
turn_stat_is() { local v; v=$(turn_stat "$1"); [ -n "$v" ] && [ "$v" "$2" "$3" ]; }
turn_wait_stat() { lib_wait "$LIB_WAIT_S" turn_stat_is "$@"; }

uclient_run() { # LOG ARGS...
	local log=$1; shift
	ns_exec client timeout 300 turnutils_uclient "$@" >"$log" 2>&1
}

# The summary of turnutils_uclient: "tot_send_msgs=N, tot_recv_msgs=M" and
# "Total lost packets L (...)"; all must say that everything came back.
uclient_assert() { # LOG WHAT
	local log=$1 what=$2 line sent recv lost
	line=$(grep -E 'start_mclient: tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+' "$log" | tail -1)
	sent=$(sed -nE 's/.*tot_send_msgs=([0-9]+).*/\1/p' <<<"$line")
	recv=$(sed -nE 's/.*tot_recv_msgs=([0-9]+).*/\1/p' <<<"$line")
	lost=$(sed -nE 's/.*Total lost packets ([0-9]+).*/\1/p' "$log" | tail -1)
	if [ -z "$sent" ] || [ -z "$lost" ] || [ "$sent" -eq 0 ] || [ "$lost" -ne 0 ] || [ "$recv" -ne "$sent" ]; then
		tail -25 "$log" >&2
		echo "--- server log:" >&2
		tail -20 "$TURN_LOG" >&2
		fail "$what: sent=${sent:-?} received=${recv:-?} lost=${lost:-?}"
	fi
	pass "$what: sent=$sent received=$recv lost=$lost"
}

# STUN Binding over TCP or TLS (turnutils_stunclient is UDP only), or over
# a connected UDP socket.
stun_binding_stream() { # PROTO HOST PORT
	# Inner bounds: udp 10 x 3 s; tcp/tls 20 s to connect, 20 s to shake
	# hands, 20 s per read (two at most); the outer bound is above their sum.
	ns_exec client timeout 120 python3 - "$1" "$2" "$3" <<'PY'
import os, socket, ssl, struct, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((host, port))
else:
    s = socket.create_connection((host, port), timeout=20)
if proto == "tls":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
tid = os.urandom(12)
req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
s.sendall(req)
buf = b""
if proto == "udp":
    # Retransmitted like a STUN client would (RFC 8489 7.2.1), same id.
    for attempt in range(10):
        try:
            buf = s.recv(2048)
            break
        except socket.timeout:
            s.sendall(req)
    else:
        sys.exit("no answer from %s:%d to 10 requests" % (host, port))
while len(buf) < 20 or len(buf) < 20 + struct.unpack("!H", buf[2:4])[0]:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("connection closed before the response")
    buf += chunk
mtype, mlen, cookie = struct.unpack("!HHI", buf[:8])
if mtype != 0x0101 or cookie != 0x2112A442 or buf[8:20] != tid:
    sys.exit("not a Binding success response: type 0x%04x" % mtype)
off = 20
while off + 4 <= 20 + mlen:
    at, al = struct.unpack("!HH", buf[off:off + 4])
    val = buf[off + 4:off + 4 + al]
    if at == 0x0020 and val[1] == 1:
        xport = struct.unpack("!H", val[2:4])[0] ^ 0x2112
        xip = struct.unpack("!I", val[4:8])[0] ^ 0x2112A442
        print("%s:%d" % (socket.inet_ntoa(struct.pack("!I", xip)), xport))
        sys.exit(0)
    off += 4 + ((al + 3) & ~3)
sys.exit("no IPv4 XOR-MAPPED-ADDRESS")
PY
}

turn_peer_probe() { # NS SERVER USER PASS ACTION...
	local ns=$1; shift
	ns_exec "$ns" timeout 60 python3 - "$@" <<'PY'
import hashlib, hmac, os, socket, struct, sys, time
server, user, pw = sys.argv[1], sys.argv[2], sys.argv[3]
acts = sys.argv[4:]
COOKIE = 0x2112A442
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((server, 3478))
realm = nonce = None

def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)

def xaddr(ip, port):
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + \
        struct.pack("!I", struct.unpack("!I", socket.inet_aton(ip))[0] ^ COOKIE)

def msg(mtype, attrs, auth):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if auth:
        body += attr(0x6, user.encode()) + attr(0x14, realm) + attr(0x15, nonce)
        key = hashlib.md5(("%s:%s:%s" % (user, realm.decode(), pw)).encode()).digest()
        hdr = struct.pack("!HHI", mtype, len(body) + 24, COOKIE) + tid
        body += attr(0x8, hmac.new(key, hdr + body, hashlib.sha1).digest())
    return struct.pack("!HHI", mtype, len(body), COOKIE) + tid + body, tid

def parse(b):
    mtype, mlen = struct.unpack("!HH", b[:4])
    out, off = {}, 20
    while off + 4 <= 20 + mlen:
        t, l = struct.unpack("!HH", b[off:off + 4])
        out.setdefault(t, b[off + 4:off + 4 + l])
        off += 4 + l + (4 - l % 4) % 4
    return mtype, b[8:20], out

def code(a):
    e = a.get(0x9)
    return e[2] * 100 + e[3] if e else 0

def request(mtype, attrs):
    global realm, nonce
    for _ in range(4):
        m, tid = msg(mtype, attrs, nonce is not None)
        s.send(m)
        end = time.time() + 3
        while time.time() < end:
            try:
                r = s.recv(2048)
            except socket.timeout:
                break
            rt, rtid, a = parse(r)
            if rtid != tid:
                continue
            if rt & 0x110 == 0x100:
                return 0
            c = code(a)
            if c in (401, 438) and 0x15 in a:
                realm, nonce = a.get(0x14, realm), a[0x15]
                break  # again with (new) credentials
            return c
    return -1

c = request(0x3, [attr(0x19, b"\x11\0\0\0")])  # Allocate, UDP
if c:
    sys.exit("allocate failed: %d" % c)
for a in acts:
    verb, arg = a.split(" ", 1) if " " in a else (a, "")
    if verb == "perm":
        c = request(0x8, [attr(0x12, xaddr(arg, 1))])
        print("perm %s: %s" % (arg, "ok" if c == 0 else c))
    elif verb == "bind":
        ip, port = arg.rsplit(":", 1)
        c = request(0x9, [attr(0xC, b"\x40\x01\0\0"), attr(0x12, xaddr(ip, int(port)))])
        print("bind %s: %s" % (arg, "ok" if c == 0 else c))
    elif verb == "send":
        peer, what = arg.split(" ")
        ip, port = peer.rsplit(":", 1)
        if what == "allocate":
            data = struct.pack("!HHI", 0x3, 8, COOKIE) + os.urandom(12) + attr(0x19, b"\x11\0\0\0")
        else:
            data = b"ipop-probe-" + os.urandom(8).hex().encode()
        ind = struct.pack("!HHI", 0x16, 0, COOKIE) + os.urandom(12)
        body = attr(0x12, xaddr(ip, int(port))) + attr(0x13, data)
        s.send(ind[:2] + struct.pack("!H", len(body)) + ind[4:] + body)
        got = None
        end = time.time() + 2
        while time.time() < end and got is None:
            try:
                r = s.recv(4096)
            except socket.timeout:
                break
            rt, _, at = parse(r)
            if rt == 0x17 and 0x13 in at:  # Data indication
                got = at[0x13]
        print("send %s: %s" % (peer, "answered %d bytes" % len(got) if got is not None else "silent"))
    sys.stdout.flush()
PY
}
