#!/usr/bin/env bash
# coturn's turnutils_uclient in its DEFAULT invocation (no -c): every client
# allocates an RTP/RTCP pair, the first Allocate with EVEN-PORT R=1 and the
# second with the RESERVATION-TOKEN it got (RFC 8656 7.2), usually through
# another worker. Over UDP and TCP, with and without -g (DONT-FRAGMENT),
# with channels and with Send indications (-s), to a peer and client to
# client (-y); every case must lose nothing. Then the reservation rules
# themselves: the reserved port is port+1 of an even port on the same
# relay address, a token works once, and an unknown token gets 508. Last,
# that DF is really set: 1600-byte payloads cross the 1500-byte link to
# the peer fragmented without -g, and not at all with it.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_uclient)   +--- router ------+
#     peer   203.0.113.2 ---+  .1 in each /24
#     (turnutils_peer :3480)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tsuc
need_cmd turnutils_uclient turnutils_peer ss python3
need_root
turn_bin >/dev/null || exit 77
turn_topology

conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "svpnjingle:1234567890" }'
turn_start "$conf"
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"

AUTH=(-u svpnjingle -w 1234567890)
failed=()
n=0
for transport in udp tcp; do
	for df in nodf df; do
		for method in channel send; do
			for target in peer c2c; do
				args=(-n 30 -m 4 -l 170 -X "${AUTH[@]}")
				[ $transport = tcp ] && args+=(-t)
				[ $df = df ] && args+=(-g)
				[ $method = send ] && args+=(-s)
				if [ $target = peer ]; then args+=(-e "$TURN_PEER_IP" -r 3480); else args+=(-y); fi
				n=$((n + 1))
				log="$LIB_TMP/uc-$transport-$df-$method-$target.log"
				uclient_run "$log" "${args[@]}" "$TURN_SERVER_IP"
				(uclient_assert "$log" "default invocation: $transport $df $method $target") ||
					failed+=("$transport/$df/$method/$target")
			done
		done
	done
done
[ ${#failed[@]} -eq 0 ] || fail "uclient cases failed: ${failed[*]}"
grep -Eqi 'error 508|error 420' "$LIB_TMP"/uc-*.log && fail "a client saw 508 or 420"
# Every RTCP allocation sits on the port after its RTP allocation's.
pairs=$(sed -nE 's/.*allocation created: .* relay [0-9.]+:([0-9]+)$/\1/p' "$TURN_LOG" | sort -n |
	awk '{ seen[$1] = 1 } END { n = 0; for (p in seen) if (p % 2 == 1 && ((p - 1) in seen)) n++; print n }')
[ "$pairs" -ge $n ] || fail "only $pairs RTP/RTCP port pairs in the server log for $n runs"
pass "$n default-invocation runs, 0 lost; $pairs RTP/RTCP relay port pairs (EVEN-PORT R=1 + RESERVATION-TOKEN)"

# The reservation itself, with a client of our own (python, stdlib only).
ns_exec client timeout 60 python3 - "$TURN_SERVER_IP" 3478 svpnjingle 1234567890 <<'PY' || fail "reservation checks"
import hashlib, hmac, os, socket, struct, sys, zlib
srv = (sys.argv[1], int(sys.argv[2])); user, pw = sys.argv[3], sys.argv[4]
COOKIE = 0x2112A442

def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)

def msg(mtype, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key:
        hdr = struct.pack("!HHI", mtype, len(body) + 24, COOKIE) + tid
        mi = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += attr(0x0008, mi)
    return struct.pack("!HHI", mtype, len(body), COOKIE) + tid + body, tid

def parse(b):
    mtype, mlen = struct.unpack("!HH", b[:4])
    out, off = {}, 20
    while off < 20 + mlen:
        t, l = struct.unpack("!HH", b[off:off + 4])
        out.setdefault(t, b[off + 4:off + 4 + l])
        off += 4 + ((l + 3) & ~3)
    return mtype, out

def xaddr(v):
    port = struct.unpack("!H", v[2:4])[0] ^ 0x2112
    ip = struct.unpack("!I", v[4:8])[0] ^ COOKIE
    return socket.inet_ntoa(struct.pack("!I", ip)), port

def err(a):
    v = a.get(0x0009)
    return v[2] * 100 + v[3] if v else 0

def allocate(extra):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    rt = attr(0x0019, bytes([17, 0, 0, 0]))
    m, _ = msg(0x0003, [rt])
    s.sendto(m, srv)
    _, a = parse(s.recv(2048))
    realm, nonce = a[0x0014], a[0x0015]
    key = hashlib.md5(user.encode() + b":" + realm + b":" + pw.encode()).digest()
    m, _ = msg(0x0003, [rt] + extra + [attr(0x0006, user.encode()), attr(0x0014, realm), attr(0x0015, nonce)], key)
    s.sendto(m, srv)
    t, a = parse(s.recv(2048))
    return s, t, a

s1, t, a = allocate([attr(0x0018, b"\x80")])
assert t == 0x0103, "EVEN-PORT R=1: error %d" % err(a)
ip1, p1 = xaddr(a[0x0016])
tok = a.get(0x0022)
assert p1 % 2 == 0, "relay port %d is odd" % p1
assert tok and len(tok) == 8, "no RESERVATION-TOKEN"
print("PASS: EVEN-PORT R=1: relay %s:%d, token %s" % (ip1, p1, tok.hex()))
s2, t, a = allocate([attr(0x0022, tok)])
assert t == 0x0103, "RESERVATION-TOKEN: error %d" % err(a)
ip2, p2 = xaddr(a[0x0016])
assert (ip2, p2) == (ip1, p1 + 1), "token gave %s:%d, expected %s:%d" % (ip2, p2, ip1, p1 + 1)
print("PASS: RESERVATION-TOKEN: relay %s:%d = the reserved port+1" % (ip2, p2))
s3, t, a = allocate([attr(0x0022, tok)])
assert t == 0x0113 and err(a) == 508, "a used token: expected 508, got type %#x error %d" % (t, err(a))
s4, t, a = allocate([attr(0x0022, os.urandom(8))])
assert t == 0x0113 and err(a) == 508, "an unknown token: expected 508, got %d" % err(a)
s5, t, a = allocate([attr(0x0022, os.urandom(8)), attr(0x0018, b"\x00")])
assert t == 0x0113 and err(a) == 400, "token + EVEN-PORT: expected 400, got %d" % err(a)
print("PASS: a used token and an unknown token get 508; token with EVEN-PORT gets 400")
s6, t, a = allocate([attr(0x001A, b"")])
assert t == 0x0103, "DONT-FRAGMENT: error %d" % err(a)
print("PASS: Allocate with DONT-FRAGMENT succeeds")
PY

# DONT-FRAGMENT is honoured, not just accepted: 1600-byte payloads reach the
# relay over TCP (no DF there) and leave towards the peer over a 1500-byte
# link. Without -g the kernel fragments them and all come back; with -g
# the relay socket has DF set (IP_PMTUDISC_DO), the sends fail with
# EMSGSIZE and nothing reaches the peer.
big=(-n 5 -m 1 -l 1600 -t -X "${AUTH[@]}" -e "$TURN_PEER_IP" -r 3480)
uclient_run "$LIB_TMP/uc-big.log" "${big[@]}" "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc-big.log" "1600-byte payloads without DONT-FRAGMENT: fragmented, delivered"
uclient_run "$LIB_TMP/uc-big-df.log" -g "${big[@]}" "$TURN_SERVER_IP"
recv=$(sed -nE 's/.*tot_recv_msgs=([0-9]+).*/\1/p' "$LIB_TMP/uc-big-df.log" | tail -1)
sent=$(sed -nE 's/.*tot_send_msgs=([0-9]+).*/\1/p' "$LIB_TMP/uc-big-df.log" | tail -1)
[ "${sent:-0}" -gt 0 ] && [ "${recv:-1}" -eq 0 ] ||
	{ tail -20 "$LIB_TMP/uc-big-df.log"; fail "with -g, 1600-byte payloads should not cross a 1500-byte link (sent=$sent received=$recv)"; }
pass "1600-byte payloads with DONT-FRAGMENT: not fragmented, none delivered (sent=$sent received=$recv)"

turn_stop
grep -q 'final: .* relays_open=0 ' "$TURN_LOG" || { tail "$TURN_LOG"; fail "relays left at shutdown"; }
pass "clean shutdown: no relay socket left"
