#!/usr/bin/env bash
# ipopd case (c): three machines share one XMPP account (GroupVPN): every
# ipop resource of the same bare JID links with every other one.
#
#                      lan: bridge br0, 192.0.2.0/24
#     +---------------+---------------+---------------+
#     |               |               |               |
#   srv .1          a .11           b .12           c .13
#   prosody         alice/ipop-<A>  alice/ipop-<B>  alice/ipop-<C>
#   STUN            172.31.0.1      172.31.0.2      172.31.0.3
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init shared
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
MB=${XFER_MB:-50}

lab_lan a b c
xmpp_lab_start srv 192.0.2.1
xmpp_register "$XDIR" alice pw-alice
xmpp_lab_run
stun_lab_start srv 192.0.2.1

i=1
for n in a b c; do
	node_config $n 172.31.0.$i alice 192.0.2.1:3478
	node_start $n $n
	i=$((i + 1))
done
for n in a b c; do
	node_wait $n 'xmpp: online' || { node_logs; fail "$n did not log in"; }
done
for n in a b c; do
	# two links each: the other two resources of the same account
	two_links() { [ "$(grep -c -- '-> up (' "$LIB_TMP/$1.log")" -ge 2 ]; }
	lib_wait 120 two_links $n || { node_logs; fail "$n does not have 2 links up"; }
done
pass "three resources of one account: every pair linked"

for s in 1 2 3; do
	for d in 1 2 3; do
		[ $s = $d ] && continue
		ns=$(echo "a b c" | cut -d' ' -f$s)
		vpn_ping "$ns" 172.31.0.$d || { node_logs; fail "$ns cannot ping 172.31.0.$d"; }
	done
done
pass "ping between all three pairs, both ways"

vpn_xfer a c 172.31.0.3 "$MB" || { node_logs; fail "transfer a -> c"; }
pass "$MB MiB TCP transfer a -> c, sha256 verified"

if [ -x "$IPOPCTL" ]; then
	for pair in "a 172.31.0.2 192.0.2.12" "a 172.31.0.3 192.0.2.13" "b 172.31.0.3 192.0.2.13"; do
		read -r n ip ep_ip <<<"$pair"
		p=$(node_path_json $n "$ip")
		read -r st path ep <<<"$p"
		[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == $ep_ip:* ]] ||
			{ node_ctl $n --json peers; fail "$n -> $ip: ipopctl says '$p'"; }
	done
	[ "$(node_ctl a --json peers | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] ||
		fail "a does not list exactly 2 peers"
	pass "ipopctl peers --json: 2 peers each, up, direct"
else
	pass "ipopctl not built; paths checked by the link logs only"
fi
