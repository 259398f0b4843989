#!/usr/bin/env bash
# SocialVPN mode: alice, bob and carol all use 172.31.0.100 in their own
# address space. alice-bob and bob-carol are friends (mod_groups: mutual
# "both"); alice and carol are not.
#   - alice reaches bob at 172.31.0.101 (his address in her space); bob
#     reaches alice at .101 and carol at .110 (pinned in his config);
#     carol reaches bob at .101.
#   - alice cannot reach carol: no link, no address, drops counted.
#   - Every rewritten packet passes the kernel's checksum checks: a
#     sha256-verified TCP transfer each way, UDP echo each way (also with
#     datagrams that fragment), big pings (fragments), an ICMP port
#     unreachable that must reach the connected UDP socket (the quoted
#     header was translated), and no checksum errors in /proc/net/snmp.
#   - ipopctl peers --json shows each friend's mapped ip4.
#   - Broadcasts (255.255.255.255 and 172.31.0.255) cross between alice and
#     bob, who both set social_broadcast; carol, who does not, gets none
#     and counts bob's as untranslatable.
#   - Friends management: alice asks dave (no common group), dave sees the
#     request and accepts, they link and alice reaches dave at .102; dave
#     removes alice and both links end at once. dave asks carol, whose
#     auto_accept lets him in without her doing anything.
#   - ipopctl friends [--json] and hosts; alice's DNS responder answers
#     bob.ipop and dave.ipop on 172.31.0.100:53.
#   - Both alice and bob restart: the mappings stay the same.
#   - bob runs a second node (namespace e): it shares bob's address in
#     alice's space and takes it over when bob's first node stops.
#
#                      lan: bridge br0, 192.0.2.0/24
#     +---------------+---------------+---------------+
#   srv .1          a .11           b .12           c .13      d .14
#   prosody, STUN   alice           bob             carol      dave  (all 172.31.0.100)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ips}
lib_init social
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
[ -x "$IPOPCTL" ] || skip "ipopctl not built"
MB=${XFER_MB:-50}
ME=172.31.0.100

lab_lan a b c d e
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[ab]" alice bob
xmpp_groups "$XDIR" "[bc]" bob carol
for u in alice bob carol dave; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

node_config alice $ME alice 192.0.2.1:3478 '"mode": "social", "social_broadcast": true, "social_dns": true,'
node_config bob $ME bob 192.0.2.1:3478 '"mode": "social", "social_broadcast": true, "social_map": {"carol@example.test": "172.31.0.110"},'
node_config carol $ME carol 192.0.2.1:3478 '"mode": "social", "auto_accept": ["dave@example.test"],'
node_config dave $ME dave 192.0.2.1:3478 '"mode": "social",'
start_all() {
	node_start a alice
	node_start b bob
	node_start c carol
	local n
	for n in alice bob carol; do
		node_wait $n 'xmpp: online' || { node_logs; fail "$n did not log in"; }
	done
	node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
	node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
	node_wait bob 'peer carol@.*-> up' || { node_logs; fail "bob's link to carol did not come up"; }
	node_wait carol 'peer bob@.*-> up' || { node_logs; fail "carol's link to bob did not come up"; }
}
start_all
pass "all three on 172.31.0.100; friends linked"

# --- who has which address, as ipopctl says ---
peer_ip4() { # NAME BARE -> mapped ip4 of that friend from ipopctl peers --json
	node_ctl "$1" --json peers | python3 -c '
import json, sys
print(" ".join(p["ip4"] for p in json.load(sys.stdin) if p["jid"].split("/")[0] == sys.argv[1]) or "none")
' "$2"
}
check_map() { # NAME BARE WANT
	local got; got=$(peer_ip4 "$1" "$2@example.test")
	[ "$got" = "$3" ] || { node_ctl "$1" --json peers; fail "$1 sees $2 at '$got', expected $3"; }
}
check_maps() {
	check_map alice bob 172.31.0.101
	check_map bob alice 172.31.0.101
	check_map bob carol 172.31.0.110
	check_map carol bob 172.31.0.101
	[ "$(peer_ip4 alice carol@example.test)" = none ] || fail "alice has a link to carol"
	[ "$(peer_ip4 carol alice@example.test)" = none ] || fail "carol has a link to alice"
}
check_maps
pass "ipopctl peers --json: alice sees bob at .101; bob sees alice at .101 and carol at .110 (pinned); carol sees bob at .101; no alice-carol link"

vpn_ping a 172.31.0.101 || { node_logs; fail "alice cannot ping bob at .101"; }
vpn_ping b 172.31.0.101 || { node_logs; fail "bob cannot ping alice at .101"; }
vpn_ping b 172.31.0.110 || { node_logs; fail "bob cannot ping carol at .110"; }
vpn_ping c 172.31.0.101 || { node_logs; fail "carol cannot ping bob at .101"; }
pass "ping alice->bob, bob->alice, bob->carol, carol->bob at the mapped addresses"

# The source bob sees is alice's address in *his* space.
# Probes below start their receiver, wait until its socket is bound, then
# send; every inner wait is shorter than the outer `timeout`.
seen_src() { # RECV_NS SEND_NS DST -> source address the receiver saw for one UDP datagram
	local port=$((30000 + RANDOM % 1000))
	rm -f "$LIB_TMP/src.$$"
	ns_exec "$1" timeout 60 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1]))); s.settimeout(30)
try: print(s.recvfrom(100)[1][0])
except socket.timeout: print("none")' $port >"$LIB_TMP/src.$$" &
	local pid=$!
	wait_udp_port "$1" $port || { kill $pid 2>/dev/null; echo "no receiver"; return; }
	ns_exec "$2" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3): s.sendto(b"x", (sys.argv[1], int(sys.argv[2]))); time.sleep(0.2)' "$3" $port
	wait $pid
	cat "$LIB_TMP/src.$$"
}
s=$(seen_src b a 172.31.0.101)
[ "$s" = 172.31.0.101 ] || fail "bob saw alice's datagram from '$s', expected 172.31.0.101"
s=$(seen_src b c 172.31.0.101)
[ "$s" = 172.31.0.110 ] || fail "bob saw carol's datagram from '$s', expected 172.31.0.110"
s=$(seen_src a b 172.31.0.101)
[ "$s" = 172.31.0.101 ] || fail "alice saw bob's datagram from '$s', expected 172.31.0.101"
pass "receivers see senders at their own mapped addresses (bob: alice .101, carol .110; alice: bob .101)"

# --- alice cannot reach carol ---
before=$(node_ctl alice --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["no_route"])')
for ip in 172.31.0.102 172.31.0.110; do
	vpn_no_ping a $ip || fail "alice reached $ip (there is no friend there)"
done
no_route() { node_ctl alice --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["no_route"])'; }
six_more() { [ $(($(no_route) - before)) -ge 6 ]; }
lib_wait "$LIB_WAIT_S" six_more
after=$(no_route)
[ $((after - before)) -ge 6 ] || fail "alice's pings to non-friends were not counted as drops ($before -> $after)"
grep -q 'peer carol@' "$LIB_TMP/alice.log" && fail "alice has a peer carol"
grep -q 'peer alice@' "$LIB_TMP/carol.log" && fail "carol has a peer alice"
pass "alice cannot reach carol: no link, $((after - before)) packets dropped and counted"

# --- checksums: TCP, UDP, fragments, ICMP errors ---
csum_errors() { # NS -> sum of IP/TCP/UDP/ICMP checksum error counters
	ns_exec "$1" python3 -c '
rows = [l.split() for l in open("/proc/net/snmp")]
tot = 0
for i in range(0, len(rows) - 1, 2):
    h, v = rows[i], rows[i + 1]
    for k, x in zip(h[1:], v[1:]):
        if k in ("InCsumErrors", "InHdrErrors"): tot += int(x)
print(tot)'
}
XFER_BIND=$ME vpn_xfer a b 172.31.0.101 "$MB" || { node_logs; fail "TCP transfer alice -> bob"; }
XFER_BIND=$ME vpn_xfer b a 172.31.0.101 "$MB" || { node_logs; fail "TCP transfer bob -> alice"; }
pass "$MB MiB TCP each way alice <-> bob, sha256 verified"

# Each datagram is sent up to 3 times (UDP may be lost when a busy machine's
# socket buffers overflow); each must come back intact. Replies to an
# earlier try are skipped by their content.
udp_echo() { # SERVER_NS CLIENT_NS DST
	local port=$((31000 + RANDOM % 1000))
	ns_exec "$1" timeout 600 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    b, a = s.recvfrom(65535)
    if b == b"end": break
    s.sendto(b, a)' $port &
	local pid=$!
	wait_udp_port "$1" $port || { kill $pid 2>/dev/null; echo "no echo server"; return 1; }
	ns_exec "$2" timeout 540 python3 -c '
import os, socket, sys, time
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect((sys.argv[1], int(sys.argv[2])))
ok = tries = 0
sizes = [1, 100, 1000, 1200, 3000, 8000] * 20
give_up = time.monotonic() + 400  # below the outer timeout of 540 s
for n in sizes:
    if time.monotonic() > give_up: break
    b = os.urandom(n)
    for attempt in range(3):
        tries += 1
        c.send(b)
        end = time.monotonic() + 3
        got = False
        while not got and time.monotonic() < end:
            c.settimeout(max(0.01, end - time.monotonic()))
            try:
                got = c.recv(65535) == b
            except socket.timeout:
                break
        if got:
            ok += 1
            break
c.send(b"end")
print("udp echo: %d/%d datagrams back intact in %d sends (up to 8000 bytes: fragments)" % (ok, len(sizes), tries))
sys.exit(0 if ok == len(sizes) else 1)' "$3" $port
	local rc=$?
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	return $rc
}
udp_echo b a 172.31.0.101 || { node_logs; fail "UDP echo alice -> bob"; }
udp_echo a b 172.31.0.101 || { node_logs; fail "UDP echo bob -> alice"; }
udp_echo c b 172.31.0.110 || { node_logs; fail "UDP echo bob -> carol"; }
pass "UDP echo alice -> bob, bob -> alice, bob -> carol, fragmented datagrams included"

ns_exec a ping -c 3 -i 0.2 -W 5 -s 4000 172.31.0.101 >/dev/null || fail "4000-byte ping (fragments) alice -> bob"
ns_exec b ping -c 3 -i 0.2 -W 5 -s 4000 172.31.0.110 >/dev/null || fail "4000-byte ping (fragments) bob -> carol"
pass "fragmented pings alice -> bob and bob -> carol"

# An ICMP port unreachable is delivered to a connected UDP socket only if
# the header it quotes matches that socket: the quote must be translated.
refused() { # NS DST
	ns_exec "$1" python3 -c '
import socket, sys, time
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(3)
c.connect((sys.argv[1], 9))
for i in range(10):
    c.send(b"anyone?")
    try:
        c.recv(100)
    except ConnectionRefusedError:
        print("refused"); sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)' "$2"
}
refused a 172.31.0.101 >/dev/null || fail "alice got no port unreachable from bob (quoted header not translated?)"
refused b 172.31.0.101 >/dev/null || fail "bob got no port unreachable from alice"
refused b 172.31.0.110 >/dev/null || fail "bob got no port unreachable from carol"
pass "ICMP port unreachable (quoting the translated header) reaches the sender's socket, both ways"

for ns in a b c; do
	e=$(csum_errors $ns)
	[ "$e" = 0 ] || { ns_exec $ns cat /proc/net/snmp; fail "namespace $ns counted $e checksum/header errors"; }
done
x=$(node_ctl bob --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["untranslatable"])')
echo "bob: untranslatable packets dropped: $x"
pass "no checksum or header errors in any namespace's /proc/net/snmp"

# --- broadcast: only between nodes that both set social_broadcast ---
# The receiver waits WAIT seconds after the broadcasts were sent: long for
# one that must arrive (it returns at once when it does), and the time a
# refused one is given to show up anyway.
bcast_seen() { # RECV_NS SEND_NS DST [WAIT] -> "SRC" of the broadcast the receiver got, or "none"
	local port=$((32000 + RANDOM % 1000))
	rm -f "$LIB_TMP/bc.$$"
	ns_exec "$1" timeout $((${4:-30} + 30)) python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1]))); s.settimeout(float(sys.argv[2]))
try: print(s.recvfrom(100)[1][0])
except socket.timeout: print("none")' $port "${4:-30}" >"$LIB_TMP/bc.$$" &
	local pid=$!
	wait_udp_port "$1" $port || { kill $pid 2>/dev/null; echo "no receiver"; return; }
	ns_exec "$2" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"ipop0")
for i in range(3): s.sendto(b"hello all", (sys.argv[1], int(sys.argv[2])))' "$3" $port
	wait $pid
	cat "$LIB_TMP/bc.$$"
}
for dst in 255.255.255.255 172.31.0.255; do
	s=$(bcast_seen b a $dst)
	[ "$s" = 172.31.0.101 ] || fail "bob got alice's broadcast to $dst from '$s', expected 172.31.0.101"
	s=$(bcast_seen a b $dst)
	[ "$s" = 172.31.0.101 ] || fail "alice got bob's broadcast to $dst from '$s', expected 172.31.0.101"
done
u0=$(node_ctl carol --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["untranslatable"])')
s=$(bcast_seen c b 255.255.255.255 10)
[ "$s" = none ] || fail "carol (no social_broadcast) received bob's broadcast from $s"
u1=$(node_ctl carol --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["untranslatable"])')
[ $((u1 - u0)) -ge 3 ] || fail "carol did not count bob's broadcasts as untranslatable ($u0 -> $u1)"
pass "broadcasts (limited and subnet) cross alice <-> bob, from the mapped address; carol refuses and counts them"

# --- friends management ---
jq_friend() { # NAME BARE FIELD -> that field of the friend in ipopctl friends --json
	node_ctl "$1" --json friends | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    if f["jid"] == sys.argv[1]:
        v = f.get(sys.argv[2]); print("null" if v is None else str(v).lower()); break
else:
    print("absent")' "$2" "$3"
}
friend_is() { [ "$(jq_friend "$1" "$2" "$3")" = "$4" ]; }
wait_friend() { # NAME BARE FIELD WANT [SECONDS]
	lib_wait "${5:-$LIB_WAIT_S}" friend_is "$1" "$2" "$3" "$4" && return 0
	node_ctl "$1" --json friends
	return 1
}
node_start d dave
node_wait dave 'xmpp: online' || { node_logs; fail "dave did not log in"; }
[ "$(jq_friend alice dave@example.test jid)" = absent ] || fail "alice lists dave before anything happened"
# The socket's group (here: anyone, for the test) may read, not change.
chmod 666 "$LIB_TMP/alice/ctl.sock"
chmod 755 "$LIB_TMP/alice" "$LIB_TMP"
ns_exec a setpriv --reuid=65534 --regid=65534 --clear-groups "$IPOPCTL" -s "$LIB_TMP/alice/ctl.sock" friends >/dev/null ||
	fail "an unprivileged user cannot list friends"
out=$(ns_exec a setpriv --reuid=65534 --regid=65534 --clear-groups "$IPOPCTL" -s "$LIB_TMP/alice/ctl.sock" friend add dave@example.test 2>&1) &&
	fail "an unprivileged user could add a friend"
grep -q "permission denied" <<<"$out" || fail "unprivileged friend add: '$out'"
pass "SO_PEERCRED: an unprivileged user may list friends but not add one"
node_ctl alice friend add dave@example.test || fail "ipopctl friend add"
wait_friend dave alice@example.test request true || fail "dave does not see alice's request"
wait_friend alice dave@example.test asked true || fail "alice's friends list does not say she asked dave"
sleep 2
grep -q 'peer dave@' "$LIB_TMP/alice.log" && fail "alice linked dave before he accepted"
pass "friend add: dave sees alice's request; no link before he accepts"
node_ctl dave friend accept alice@example.test || fail "ipopctl friend accept"
node_wait alice 'peer dave@.*-> up' || { node_logs; fail "alice-dave link after accept"; }
node_wait dave 'peer alice@.*-> up' || { node_logs; fail "dave-alice link after accept"; }
wait_friend alice dave@example.test mutual true || fail "alice: dave not mutual"
wait_friend alice dave@example.test state up || fail "alice: dave's link not up in friends"
[ "$(jq_friend alice dave@example.test ip4)" = 172.31.0.102 ] || fail "alice: dave not at .102"
[ "$(jq_friend dave alice@example.test ip4)" = 172.31.0.101 ] || fail "dave: alice not at .101"
vpn_ping a 172.31.0.102 || { node_logs; fail "alice cannot ping dave at .102"; }
vpn_ping d 172.31.0.101 || { node_logs; fail "dave cannot ping alice at .101"; }
node_ctl alice friends
pass "friend accept: alice and dave linked; alice reaches dave at .102, dave alice at .101"

hosts=$(node_ctl alice hosts)
echo "$hosts"
grep -qx $'172.31.0.101\tbob.ipop' <<<"$hosts" || fail "ipopctl hosts: no bob line"
grep -qx $'172.31.0.102\tdave.ipop' <<<"$hosts" || fail "ipopctl hosts: no dave line"
pass "ipopctl hosts prints /etc/hosts lines for bob and dave"

dns_q() { # NAME -> "RCODE ADDRESS" from alice's responder
	ns_exec a python3 -c '
import random, socket, struct, sys
qid = random.randrange(65536)
q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
for l in sys.argv[1].split("."): q += bytes([len(l)]) + l.encode()
q += b"\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
for attempt in range(10):
    s.sendto(q, ("172.31.0.100", 53))
    try:
        r = s.recv(512)
        break
    except socket.timeout:
        pass
else:
    sys.exit("no DNS answer to 10 queries")
assert struct.unpack("!H", r[:2])[0] == qid
an = struct.unpack("!H", r[6:8])[0]
print(r[3] & 15, socket.inet_ntoa(r[-4:]) if an else "-")' "$1"
}
[ "$(dns_q bob.ipop)" = "0 172.31.0.101" ] || fail "DNS bob.ipop: '$(dns_q bob.ipop)'"
[ "$(dns_q DAVE.ipop)" = "0 172.31.0.102" ] || fail "DNS DAVE.ipop: '$(dns_q DAVE.ipop)'"
[ "$(dns_q nobody.ipop)" = "3 -" ] || fail "DNS nobody.ipop: '$(dns_q nobody.ipop)' (want NXDOMAIN)"
[ "$(dns_q example.com)" = "5 -" ] || fail "DNS example.com: '$(dns_q example.com)' (want REFUSED)"
vpn_ping a "$(dns_q bob.ipop | cut -d' ' -f2)" || fail "ping bob by the address DNS gave"
pass "alice's DNS responder: bob.ipop -> .101, dave.ipop -> .102, NXDOMAIN and REFUSED otherwise"

t0=$SECONDS
node_ctl dave friend remove alice@example.test || fail "ipopctl friend remove"
node_wait alice 'peer dave@.*link removed \(no longer a friend' || { node_logs; fail "alice kept the link to dave"; }
node_wait dave 'peer alice@.*link removed \(no longer a friend' || { node_logs; fail "dave kept the link to alice"; }
echo "links torn down $((SECONDS - t0)) s after the removal"
vpn_no_ping a 172.31.0.102 || fail "alice still reaches dave after the removal"
[ "$(peer_ip4 alice dave@example.test)" = none ] || fail "alice still lists dave as a peer"
wait_friend dave alice@example.test jid absent || fail "dave still lists alice"
pass "friend remove: both links end at once, no traffic"

node_ctl dave friend add carol@example.test || fail "dave: friend add carol"
node_wait carol 'friend request from dave@example.test accepted \(auto_accept\)' || { node_logs; fail "carol did not auto-accept dave"; }
node_wait dave 'peer carol@.*-> up' || { node_logs; fail "dave-carol link (auto_accept)"; }
[ "$(jq_friend carol dave@example.test ip4)" = 172.31.0.102 ] || fail "carol: dave not at .102"
vpn_ping c 172.31.0.102 || fail "carol cannot ping dave"
pass "auto_accept: carol accepted dave's request by herself; linked"

# --- restart both alice and bob: same addresses ---
cat "$LIB_TMP/alice/ipop0.social" "$LIB_TMP/bob/ipop0.social"
grep -q '^bob@example.test 172.31.0.101$' "$LIB_TMP/alice/ipop0.social" || fail "alice's saved map lacks bob"
grep -q '^alice@example.test 172.31.0.101$' "$LIB_TMP/bob/ipop0.social" || fail "bob's saved map lacks alice"
kill "${NODE_PID[alice]}" "${NODE_PID[bob]}"
wait "${NODE_PID[alice]}" "${NODE_PID[bob]}" 2>/dev/null
# bob restarts without carol's pin, and carol (still up) comes online for
# him before alice: from scratch she would get .101 and alice .102. The
# saved map must win.
node_config bob $ME bob 192.0.2.1:3478 '"mode": "social",'
node_start b bob
node_wait bob 'xmpp: online' || { node_logs; fail "bob did not come back"; }
node_wait bob 'peer carol@.*-> up' || { node_logs; fail "bob-carol after restart"; }
node_start a alice
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice-bob after restart"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob-alice after restart"; }
check_maps
vpn_ping a 172.31.0.101 || fail "alice -> bob after restart"
vpn_ping b 172.31.0.101 || fail "bob -> alice after restart"
vpn_ping b 172.31.0.110 || fail "bob -> carol after restart"
pass "after restarting alice and bob every friend has the same address"

# --- a second node of bob's: same address in alice's space, takes over ---
node_config bob2 $ME bob 192.0.2.1:3478 '"mode": "social",'
node_start e bob2
node_wait alice 'peer bob@example.test/ipop-.*-> up' || fail "alice-bob link"
two_bob_links() { [ "$(grep -c 'peer bob@example.test/ipop-.*-> up' "$LIB_TMP/alice.log")" -ge 2 ]; }
lib_wait 120 two_bob_links
[ "$(grep -c 'peer bob@example.test/ipop-.*-> up' "$LIB_TMP/alice.log")" -ge 2 ] || { node_logs; fail "alice did not link bob's second node"; }
[ "$(peer_ip4 alice bob@example.test)" = "172.31.0.101 172.31.0.101" ] || fail "bob's two nodes: '$(peer_ip4 alice bob@example.test)'"
kill "${NODE_PID[bob]}"
node_wait alice 'now carries this friend.s address' || { node_logs; fail "bob's second node did not take over .101"; }
vpn_ping a 172.31.0.101 || { node_logs; fail "alice cannot reach bob's second node at .101"; }
# bob2 has its own (fresh) map: alice is wherever it put her.
want=$(peer_ip4 bob2 alice@example.test)
s=$(seen_src e a 172.31.0.101)
[ "$s" = "$want" ] || fail "bob's second node saw alice from '$s', its map says '$want'"
pass "bob's second node shares his address and takes it over when the first stops"
