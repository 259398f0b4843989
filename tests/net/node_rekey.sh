#!/usr/bin/env bash
# ipopd: sessions rekey under traffic (every 2 minutes, Noise_IK again over
# the same path) without interrupting it. Slow by nature: ~2.5 minutes.
# Skipped unless IPOP_SLOW=1 (tests/run.sh runs it only when asked).
#
#                      lan: bridge br0, 192.0.2.0/24
#        +--------------------+--------------------+
#        |                    |                    |
#   srv 192.0.2.1        a 192.0.2.11         b 192.0.2.12
#   prosody, STUN        ipopd alice          ipopd bob
#                        172.31.0.1           172.31.0.2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init rekey
[ "${IPOP_SLOW:-0}" = 1 ] || skip "slow (150 s); run with IPOP_SLOW=1"
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins

lab_lan a b
node_pair_start
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "link did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "link did not come up"; }
pass "link up"

# 140 s of pings at 5/s across the 120 s rekey point: (almost) none lost.
out=$(ns_exec a ping -q -c 700 -i 0.2 -W 1 172.31.0.2)
echo "$out" | tail -2
recv=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
[ "${recv:-0}" -ge 695 ] || { node_logs; fail "only $recv of 700 pings answered across the rekey"; }
grep -h 'rekeyed' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log" | head -3
[ "$(grep -c 'rekeyed' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log" | awk -F: '{s += $2} END {print s}')" -ge 1 ] ||
	{ node_logs; fail "no rekey in 140 s of traffic"; }
pass "rekeyed under traffic; $recv of 700 pings answered"
