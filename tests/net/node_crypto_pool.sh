#!/usr/bin/env bash
# ipopd with crypto worker threads ("crypto_threads": 2 on both nodes; on
# this 2-core machine the default would be none). Two nodes on one LAN,
# MTU 1420, offloads on, so a TSO read gives ~46 segments per batch and
# the pool is really used:
#   both log 2 workers; ping both ways; sha256-verified 50 MiB TCP both
#   ways; the path from `ipopctl --json peers` is direct; on shutdown both
#   report batches that went through the workers.
#
#   srv 192.0.2.1 (prosody)   a 192.0.2.11 alice 172.31.0.1   b 192.0.2.12 bob 172.31.0.2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipc}
lib_init cpool
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
MB=${XFER_MB:-50}

lab_lan a b
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
node_config alice 172.31.0.1 alice "" '"mtu": 1420, "crypto_threads": 2,'
node_config bob 172.31.0.2 bob "" '"mtu": 1420, "crypto_threads": 2,'
node_start a alice
node_start b bob
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "link did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's side of the link did not come up"; }
for n in alice bob; do
	grep -q 'crypto: 2 worker threads (crypto_threads 2' "$LIB_TMP/$n.log" ||
		{ node_logs; fail "$n does not log 2 crypto worker threads"; }
done
pass "both nodes started 2 crypto worker threads"

vpn_ping a 172.31.0.2 || { node_logs; fail "no ping alice -> bob"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "no ping bob -> alice"; }
pass "ping both ways"

out=$(vpn_xfer a b 172.31.0.2 "$MB") || { echo "$out"; node_logs; fail "transfer alice -> bob"; }
pass "$MB MiB alice -> bob, sha256 verified (${out#transfer: })"
out=$(vpn_xfer b a 172.31.0.1 "$MB") || { echo "$out"; node_logs; fail "transfer bob -> alice"; }
pass "$MB MiB bob -> alice, sha256 verified (${out#transfer: })"

p=$(node_path_json alice 172.31.0.2)
case "$p" in
"up direct "*) pass "ipopctl --json peers on alice: $p" ;;
*) node_logs; fail "alice's path to bob: '$p' (expected up direct)" ;;
esac

for n in alice bob; do
	kill "${NODE_PID[$n]}"
	wait "${NODE_PID[$n]}" 2>/dev/null
	line=$(grep -o 'crypto: [0-9]* batches ([0-9]* packets) went through the 2 workers' "$LIB_TMP/$n.log") ||
		{ node_logs; fail "$n did not report its crypto batches at shutdown"; }
	b=$(echo "$line" | awk '{ print $2 }')
	[ "$b" -gt 100 ] || { node_logs; fail "$n: only $b batches went through the workers"; }
	pass "$n: $line"
done
