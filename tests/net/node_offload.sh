#!/usr/bin/env bash
# ipopd offloads (TUN TSO/USO/checksum, UDP GSO/GRO, TCP coalescing), end
# to end. Two nodes on one LAN, MTU 1420:
#   1. alice with offloads, bob with IPOP_OFFLOAD=0: both log what they use;
#      checksum-verified TCP both ways (a node with offloads talks to one
#      without: the wire is the same); bob's TUN sees only MTU-sized TCP
#      packets, alice's sees merged ones (coalescing within a receive batch).
#   2. bob restarted with offloads: a transfer to him arrives as merged
#      super-packets on his TUN; a UDP_SEGMENT (USO) send of 20 x 1000 bytes
#      from alice arrives at bob as 20 intact datagrams.
#
#   srv 192.0.2.1 (prosody)   a 192.0.2.11 alice 172.31.0.1   b 192.0.2.12 bob 172.31.0.2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init offload
need_cmd prosody prosodyctl python3 openssl ping ss tcpdump
need_root
node_bins
MB=${XFER_MB:-20}

lab_lan a b
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
node_config alice 172.31.0.1 alice "" '"mtu": 1420,'
node_config bob 172.31.0.2 bob "" '"mtu": 1420,'
node_start a alice
IPOP_OFFLOAD=0 node_start b bob
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "link did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's side of the link did not come up"; }

grep -Eq 'offloads: tun vnet \(0x[0-9a-f]+\), udp gso on, udp gro on' "$LIB_TMP/alice.log" ||
	{ node_logs; fail "alice does not log tun vnet + udp gso + udp gro"; }
grep -q 'offloads:' "$LIB_TMP/bob.log" && fail "bob (IPOP_OFFLOAD=0) logged offloads"
pass "alice uses TUN and UDP offloads, bob (IPOP_OFFLOAD=0) none"

# Largest TCP payload tcpdump saw on NS's ipop0 while CMD ran. CMD starts
# once tcpdump says it listens; tcpdump stops once it printed 100 packets
# of it (or 60 s passed): a busy machine may run it late.
tcp_lines() { [ "$(grep -c 'tcp [0-9]' "$1")" -ge 100 ]; }
largest_tcp() { # NS CMD...
	local ns=$1 f="$LIB_TMP/dump.$RANDOM"; shift
	ns_bg "$ns" "$f" tcpdump -i ipop0 -nn -q -l tcp
	local pid=$LIB_PID
	lib_wait "$LIB_WAIT_S" grep -q 'listening on' "$f" || { kill "$pid"; echo "tcpdump did not start" >&2; return 1; }
	"$@" >&2 || { kill "$pid"; return 1; }
	lib_wait "$LIB_WAIT_S" tcp_lines "$f"
	sleep 0.5
	kill "$pid"
	wait "$pid" 2>/dev/null
	grep -o 'tcp [0-9]*' "$f" | awk '$2 > m { m = $2 } END { print m + 0 }'
}

big=$(largest_tcp b vpn_xfer a b 172.31.0.2 "$MB") || { node_logs; fail "transfer alice (offloads) -> bob (none)"; }
[ "$big" -gt 0 ] && [ "$big" -le 1380 ] || fail "bob's TUN saw a TCP payload of $big bytes (expected 1..1380)"
pass "$MB MiB alice (offloads) -> bob (none), sha256 verified; bob's TUN saw TCP payloads <= 1380 ($big)"
big=$(largest_tcp a vpn_xfer b a 172.31.0.1 "$MB") || { node_logs; fail "transfer bob (none) -> alice (offloads)"; }
[ "$big" -gt 1380 ] || fail "alice's TUN saw no merged TCP packet (largest payload $big)"
pass "$MB MiB bob -> alice, sha256 verified; alice's TUN got merged segments (largest payload $big)"

kill "${NODE_PID[bob]}"
wait "${NODE_PID[bob]}" 2>/dev/null
node_start b bob
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "link did not come back with bob's offloads on"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping after bob's restart"; }
big=$(largest_tcp b vpn_xfer a b 172.31.0.2 "$MB") || { node_logs; fail "transfer alice -> bob, both with offloads"; }
[ "$big" -gt 1380 ] || fail "bob's TUN saw no merged TCP packet (largest payload $big)"
pass "$MB MiB alice -> bob, both with offloads, sha256 verified; bob's TUN got super-packets (largest payload $big)"

# USO: one sendmsg of 20 x 1000 bytes with UDP_SEGMENT through alice's TUN.
ns_exec b timeout 60 python3 -c '
import socket, sys
import time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("172.31.0.2", 5555))
got = []
end = time.monotonic() + 30  # all 20 within 30 s; the outer timeout is 60 s
try:
    while len(got) < 20 and time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        got.append(s.recv(4096))
except socket.timeout: pass
ok = all(len(g) == 1000 and g == bytes([i % 251]) * 1000 for i, g in enumerate(got))
open(sys.argv[1], "w").write("%d %s\n" % (len(got), ok))
' "$LIB_TMP/uso.got" &
rpid=$!
wait_udp_port b 5555 || fail "the USO receiver did not bind"
ns_exec a python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 103, 1000)  # UDP_SEGMENT
s.sendto(b"".join(bytes([i % 251]) * 1000 for i in range(20)), ("172.31.0.2", 5555))
' || fail "UDP_SEGMENT send on alice failed"
wait $rpid
read -r cnt ok <"$LIB_TMP/uso.got"
[ "$cnt" = 20 ] && [ "$ok" = True ] || { node_logs; fail "USO: bob got $cnt datagrams (intact: $ok), expected 20"; }
pass "UDP_SEGMENT send of 20 x 1000 bytes through alice's TUN arrived as 20 intact datagrams"
