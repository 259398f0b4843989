#!/usr/bin/env bash
# ipopd: the path between two linked nodes breaks (UDP dropped both ways)
# while XMPP stays up. ICE consent freshness notices (30 s), the link
# fails, and once the path works again the controlling node's re-offer
# brings the link back. ~1.5 minutes.
#
#                      lan: bridge br0, 192.0.2.0/24
#        +--------------------+--------------------+
#        |                    |                    |
#   srv 192.0.2.1        a 192.0.2.11         b 192.0.2.12
#   prosody, STUN        ipopd alice          ipopd bob; iptables drops
#                        172.31.0.1           UDP to/from a for a while
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init linkfail
need_cmd prosody prosodyctl python3 openssl ping ss iptables
need_root
node_bins

lab_lan a b
node_pair_start
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "link did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "link did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping"; }
pass "link up"

ns_exec b iptables -A INPUT -p udp -s 192.0.2.11 -j DROP
ns_exec b iptables -A OUTPUT -p udp -d 192.0.2.11 -j DROP
node_wait alice 'peer bob@.*ICE failed' 60 || { node_logs; fail "alice did not notice the broken path"; }
node_wait bob 'peer alice@.*ICE failed' || { node_logs; fail "bob did not notice the broken path"; }
vpn_no_ping a 172.31.0.2 || fail "ping crossed a path that drops UDP"
if [ -x "$IPOPCTL" ]; then
	p=$(node_path_json alice 172.31.0.2)
	read -r st _ <<<"$p"
	[ "$st" != up ] || { node_ctl alice --json peers; fail "ipopctl still says up: $p"; }
	pass "broken path: ICE failed on both sides, ipopctl state '$st'"
else
	pass "broken path: ICE failed on both sides"
fi

n0=$(grep -c -- '-> up (' "$LIB_TMP/alice.log")
ns_exec b iptables -F
up_again() { [ "$(grep -c -- '-> up (' "$LIB_TMP/alice.log")" -gt "$n0" ]; }
# The controlling node retries after a failure with a backoff that doubles
# from 5 s up to 60 s, and each try runs its ICE checks first.
lib_wait 300 up_again || { node_logs; fail "the link did not come back"; }
for ((k = 0; k < 20; k++)); do vpn_ping a 172.31.0.2 && break; sleep 0.5; done
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping after the path came back"; }
vpn_xfer a b 172.31.0.2 5 || { node_logs; fail "transfer after recovery"; }
pass "path restored: link up again, ping, 5 MiB transfer"
