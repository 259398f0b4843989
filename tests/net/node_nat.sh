#!/usr/bin/env bash
# ipopd case (b): each node behind its own NAT (iptables MASQUERADE in a
# router namespace). Host candidates cannot reach each other; the nodes
# learn their server-reflexive addresses from ipop-turnserver (STUN) and
# link directly through the NATs.
#
#   a 10.0.1.2 --[ra: NAT]-- 198.51.100.2 --+
#   ipopd alice               .1            |
#   ipop0 172.31.0.1                     [inet]--- 192.0.2.254 --- srv 192.0.2.1
#                                           |                      prosody (TLS)
#   b 10.0.2.2 --[rb: NAT]-- 203.0.113.2 ---+                      ipop-turnserver (STUN)
#   ipopd bob                 .1
#   ipop0 172.31.0.2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_nat.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init nat
need_cmd prosody prosodyctl python3 openssl ping ss iptables
need_root
node_bins
MB=${XFER_MB:-50}

nat_lab
node_pair_start

node_wait alice 'server-reflexive candidate 198\.51\.100\.2:' || { node_logs; fail "alice learned no srflx"; }
node_wait bob 'server-reflexive candidate 203\.0\.113\.2:' || { node_logs; fail "bob learned no srflx"; }
pass "both nodes learned their NAT's public address by STUN"
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
grep -E 'ICE selected pair' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log"
pass "link up through both NATs"

vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob over the VPN"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "bob cannot ping alice over the VPN"; }
pass "ping both ways across the VPN"

vpn_xfer b a 172.31.0.1 "$MB" || { node_logs; fail "transfer bob -> alice"; }
pass "$MB MiB TCP transfer bob -> alice, sha256 verified"

# The relay is not involved: the endpoint is the other NAT's public side.
if [ -x "$IPOPCTL" ]; then
	p=$(node_path_json alice 172.31.0.2)
	echo "alice sees bob: $p"
	read -r st path ep <<<"$p"
	[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == 203.0.113.2:* ]] ||
		{ node_ctl alice --json peers; fail "ipopctl path is '$p', expected up direct 203.0.113.2:*"; }
	p=$(node_path_json bob 172.31.0.1)
	echo "bob sees alice: $p"
	read -r st path ep <<<"$p"
	[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == 198.51.100.2:* ]] ||
		{ node_ctl bob --json peers; fail "ipopctl path is '$p', expected up direct 198.51.100.2:*"; }
	pass "ipopctl peers --json: direct through the NATs on both sides"
else
	grep -Eq 'bob@.*handshake complete, path direct .* -> 203\.0\.113\.2:' "$LIB_TMP/alice.log" ||
		fail "log shows no direct path to bob's NAT"
	pass "path from the ipopd log (ipopctl not built): direct to 203.0.113.2"
fi
