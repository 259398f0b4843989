#!/usr/bin/env bash
# NAT traversal through plain Linux gateways (docs/nat.md). The routers NAT
# like node_nat.sh's (MASQUERADE, port-preserving, a cone), but without
# the INPUT drop rule of a home router: a Linux box set up as a router
# takes a peer's check that arrives before its own host sent anything for
# itself, and conntrack then gives the host's own check another port
# (the NAT behaves as if symmetric for that pair). ipopd primes its own NAT
# with low-TTL packets (TTL 2: through ra/rb, dead at inet) and the
# controlled side holds its checks until the controlling side's first
# check arrives, so the direct path works; failed direct pairs are checked
# again with back-off (2, 4, ... 32-40 s, above conntrack's 30 s) and
# primed meanwhile, so a relayed link moves to a direct path that opens.
#
#   a 10.0.1.2 --[ra: NAT]-- 198.51.100.2 --+
#   ipopd alice               .1            |
#   ipop0 172.31.0.1                     [inet]--- 192.0.2.254 --- srv 192.0.2.1
#                                           |                      prosody (TLS)
#   b 10.0.2.2 --[rb: NAT]-- 203.0.113.2 ---+                      ipop-turnserver (STUN, TURN)
#   ipopd bob                 .1
#   ipop0 172.31.0.2
#
# 1. Linux gateways on both sides: the link goes direct, and stays direct
#    over 70 s (more than twice the conntrack timeout for unreplied UDP).
# 2. Relayed -> direct, Linux gateways: inet drops UDP between the two
#    public subnets, the link comes up through TURN, the direct checks
#    fail; then the block is lifted and the link must move to a direct path.
# 3. The same with home routers (INPUT drop).
# The time to direct of 2 and 3 is printed (bench/node_relay measures it).
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_nat.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init natgw
need_cmd prosody prosodyctl python3 openssl ping ss iptables conntrack
need_root
node_bins
MB=${XFER_MB:-50}

nat_lab ""
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1
TURN='"turn": [{"server": "192.0.2.1:3478", "user": "u", "pass": "p"}],'
node_config alice 172.31.0.1 alice 192.0.2.1:3478 "$TURN"
node_config bob 172.31.0.2 bob 192.0.2.1:3478 "$TURN"

path_of() { node_peer_field "$1" "$2" path 2>/dev/null; }
both_direct() { [ "$(path_of alice 172.31.0.2)" = direct ] && [ "$(path_of bob 172.31.0.1)" = direct ]; }

nodes_start() {
	node_start a alice
	node_start b bob
	node_wait alice 'peer bob@.*-> up' 60 || { node_logs; fail "alice's link to bob did not come up"; }
	node_wait bob 'peer alice@.*-> up' 30 || { node_logs; fail "bob's link to alice did not come up"; }
}

nodes_stop() {
	local n pid i
	for n in alice bob; do
		pid=${NODE_PID[$n]}
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}

# ---- 1. Linux gateways: direct, and it stays direct
nodes_start
lib_wait 30 both_direct || { node_logs; node_ctl alice peers; fail "(1) not direct through two Linux gateways"; }
grep -hE 'ICE selected pair' "$LIB_TMP"/{alice,bob}.log
echo "alice -> bob: $(node_path_json alice 172.31.0.2)"
pass "(1) direct through two Linux-gateway NATs"
t0=$SECONDS
while ((SECONDS - t0 < 70)); do
	sleep 5
	both_direct || { node_logs; fail "(1) the link left the direct path after $((SECONDS - t0)) s"; }
done
vpn_ping a 172.31.0.2 || { node_logs; fail "(1) ping after 70 s"; }
vpn_xfer b a 172.31.0.1 "$MB" || { node_logs; fail "(1) transfer bob -> alice"; }
both_direct || fail "(1) not direct after the transfer"
pass "(1) still direct after 70 s; ping and $MB MiB verified"

# ---- 2, 3. relayed -> direct once the path opens, in both flavours
upgrade() { # FLAVOUR
	nodes_stop
	nat_flavour "$1"
	nat_flush
	nat_block on
	nodes_start
	[ "$(path_of alice 172.31.0.2)" = relay ] || { node_logs; fail "($1) not relayed while UDP is blocked"; }
	for ((k = 0; k < 300; k++)); do
		[[ $(node_peer_field bob 172.31.0.1 why_not_direct) == *"timed out"* ]] && break
		sleep 0.1
	done
	echo "($1) relayed; bob says why not direct: $(node_peer_field bob 172.31.0.1 why_not_direct)"
	sleep 40 # the direct pairs are in back-off now
	vpn_ping a 172.31.0.2 || { node_logs; fail "($1) no ping over the relay"; }
	nat_block off
	local t0; t0=$(date +%s%N)
	lib_wait 150 both_direct || { node_logs; fail "($1) still relayed 150 s after the direct path opened"; }
	UP_MS=$((($(date +%s%N) - t0) / 1000000))
	vpn_ping a 172.31.0.2 || { node_logs; fail "($1) ping after the upgrade"; }
	pass "($1) relayed -> direct $UP_MS ms after the direct path opened"
}
upgrade gateway
vpn_xfer a b 172.31.0.2 "$MB" || { node_logs; fail "(gateway) transfer after the upgrade"; }
upgrade home
pass "both flavours move from the relay to a direct path"
