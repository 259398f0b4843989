#!/usr/bin/env bash
# A flood of valid-looking handshake initiations (20,000/s, random static
# keys, valid mac1, from 64 source ports on 16 addresses) at one node, and a member that
# reconnects to it meanwhile. The flooded node is under load: it answers
# with cookie replies instead of Diffie-Hellmans, the member's node sends
# its initiation again at once with mac2, and its link comes back up.
# Next to it, the benign case: the same reconnect without a flood.
# Prints the measured times (bench/node_flood holds the 2 s budget and
# compares with cookies off); asserts only generous bounds.
#
#                      lan: bridge br0, 192.0.2.0/24
#     +---------------+---------------+---------------+
#     |               |               |               |
#   srv .1          a .11           b .12           f .13
#   prosody         ipopd alice     ipopd bob       hs_flood
#   STUN            172.31.0.1      172.31.0.2      .100-.115 too:
#                   UDP 40000       UDP 40000       -> the node with the
#                                                      higher id, UDP 40000
#
# The node with the lower node id starts the handshake (it is ICE
# controlling), so it is the one that restarts; the other is flooded.
# Environment: COOKIE (1; 0 runs the flooded node with IPOP_COOKIE=0),
# RATE (20000), TRIALS (1: reconnects under the flood), WAIT (60 s for
# each reconnect).
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
COOKIE=${COOKIE:-1}
WAIT=${WAIT:-60}
RATE=${RATE:-20000}
TRIALS=${TRIALS:-1}
lib_init flood
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
FLOOD=$(dirname "$IPOPD")/tests/tools/hs_flood
[ -x "$FLOOD" ] || skip "$FLOOD not built (make tools)"

lab_lan a b f
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1
node_config alice 172.31.0.1 alice 192.0.2.1:3478
node_config bob 172.31.0.2 bob 192.0.2.1:3478
declare -A NS_OF=([alice]=a [bob]=b) IP_OF=([alice]=172.31.0.1 [bob]=172.31.0.2) LAN_OF=([alice]=192.0.2.11 [bob]=192.0.2.12)
node_start a alice -p 40000
node_start b bob -p 40000
node_wait alice 'peer bob@.*-> up' 30 || { node_logs; fail "the link did not come up"; }
node_wait bob 'peer alice@.*-> up' 10 || { node_logs; fail "the link did not come up"; }
status() { node_ctl "$1" --json status | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
id_a=$(status alice 'd["node_id"]')
id_b=$(status bob 'd["node_id"]')
if [[ $id_a > $id_b ]]; then target=alice init=bob; else target=bob init=alice; fi
key=$(status $target 'd["key"]')
echo "flooded: $target (higher node id); reconnecting: $init"

# The flooded node again, with cookies off for COOKIE=0.
node_ctl $target --json status >/dev/null || fail "no status"
kill -TERM "${NODE_PID[$target]}"; wait "${NODE_PID[$target]}" 2>/dev/null
tenv=
[ "$COOKIE" = 0 ] && tenv=IPOP_COOKIE=0
NODE_ENV=$tenv node_start "${NS_OF[$target]}" $target -p 40000
node_wait $init "peer (alice|bob)@.*-> up" 30 || { node_logs; fail "the link did not come back after restarting $target"; }

# ms from the restarted node's start to its "-> up", and from its first
# handshake initiation to "-> up", from its log's timestamps.
measure() { # LOG
	python3 - "$1" <<'PY'
import re, sys
def ms(line):
    h, m, s = line.split()[0].split(":")
    return (int(h) * 3600 + int(m) * 60) * 1000 + round(float(s) * 1000)
start = first_init = up = None
for l in open(sys.argv[1]):
    if start is None and "xmpp: offline -> connecting" in l: start = ms(l)
    if first_init is None and "handshake initiation sent to" in l: first_init = ms(l)
    if up is None and re.search(r"-> up \(", l): up = ms(l); break
if None in (start, first_init, up): print("none none"); sys.exit()
print(up - first_init, up - start)
PY
}

reconnect() { # LABEL: restart $init, wait for its link, print the times
	kill -TERM "${NODE_PID[$init]}"; wait "${NODE_PID[$init]}" 2>/dev/null
	node_start "${NS_OF[$init]}" $init -p 40000
	node_wait $init "peer (alice|bob)@.*-> up" "$WAIT" || { node_logs; fail "$1: $init did not link again within $WAIT s"; }
	read -r hs total <<<"$(measure "$LIB_TMP/$init.log")"
	echo "measure: $1 cookie=$COOKIE handshake_ms=$hs setup_ms=$total"
	vpn_ping "${NS_OF[$init]}" "${IP_OF[$target]}" || { node_logs; fail "$1: no ping after the reconnect"; }
}

reconnect "no flood"
pass "benign: $init reconnects without a flood (handshake ${hs} ms, setup ${total} ms)"

tip=${LAN_OF[$target]}
for ((i = 100; i < 116; i++)); do ns_exec f ip addr add 192.0.2.$i/24 dev eth0; done
# (ip netns exec runs hs_flood itself, so $! is its pid: SIGTERM makes it
# print its summary)
ip netns exec "$(ns_name f)" "$FLOOD" "$tip" 40000 "$key" "$RATE" $((40 + (WAIT + 10) * TRIALS)) 64 192.0.2.100 16 >"$LIB_TMP/flood.out" 2>&1 &
flood=$!
LIB_PIDS+=("$flood")
for ((i = 0; i < 100; i++)); do
	[ "$(status $target 'd["trust"]["under_load"]')" = True ] && break
	sleep 0.1
done
[ "$(status $target 'd["trust"]["under_load"]')" = True ] || { cat "$LIB_TMP/flood.out"; fail "$target is not under load"; }
for ((t = 1; t <= TRIALS; t++)); do
	reconnect "flood $RATE/s"
	if [ "$COOKIE" = 1 ]; then
		grep -q "is under load and sent a cookie; handshake initiation sent again" "$LIB_TMP/$init.log" ||
			{ node_logs; fail "$init never used a cookie"; }
	fi
	pass "trial $t: under a $RATE/s flood $init reconnects (handshake ${hs} ms, setup ${total} ms, cookies $([ "$COOKIE" = 1 ] && echo on || echo off))"
done
replies=$(status $target 'd["trust"]["cookie_replies"]')
kill -TERM $flood 2>/dev/null; wait $flood 2>/dev/null
cat "$LIB_TMP/flood.out"
echo "$target sent $replies cookie replies"
# cookie replies are limited per source address (20/s): the flood's 16
# addresses get few; the reconnecting member got its own
[ "$COOKIE" = 0 ] || [ "$replies" -gt 16 ] || fail "$target sent only $replies cookie replies"
