#!/usr/bin/env bash
# ipopd: a peer crashes and restarts while the XMPP server is down, so the
# other node never sees it leave and still holds a link with stale keys.
# When XMPP is back the link must be rebuilt: a restarted controlling node
# offers anew; a restarted controlled node says hello, which makes the
# controlling one offer anew. Node ids are random, so runs cover either.
#
#                      lan: bridge br0, 192.0.2.0/24
#        +--------------------+--------------------+
#        |                    |                    |
#   srv 192.0.2.1        a 192.0.2.11         b 192.0.2.12
#   prosody (stopped,    ipopd alice          ipopd bob (SIGKILL and
#   then restarted)      172.31.0.1           restarted during the outage)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init rsoff
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins

lab_lan a b
node_pair_start
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "link did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "link did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping"; }
role=$(grep -o 'we are [a-z]*' "$LIB_TMP/alice.log" | head -1)
pass "link up (alice: $role)"

xmpp_prosody_stop "$XDIR"
node_wait alice 'xmpp: online -> (offline|connecting)' || { node_logs; fail "alice did not notice XMPP going away"; }
kill -KILL "${NODE_PID[bob]}"
wait "${NODE_PID[bob]}" 2>/dev/null

node_start b bob
sleep 2
vpn_no_ping a 172.31.0.2 || fail "ping worked with the restarted bob before any signalling"
xmpp_lab_run
node_wait bob 'peer alice@.*-> up' 60 || { node_logs; fail "the link was not rebuilt after XMPP came back"; }
for ((k = 0; k < 20; k++)); do vpn_ping a 172.31.0.2 && break; sleep 0.5; done
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping after the rebuild"; }
vpn_xfer b a 172.31.0.1 5 || { node_logs; fail "transfer after the rebuild"; }
grep -hE 'hello (sent|received)|offer (sent|received)|says hello' "$LIB_TMP/alice.log" | tail -3
pass "bob restarted unseen during the XMPP outage: link rebuilt, ping, 5 MiB transfer"
