#!/usr/bin/env bash
# ipopd case (d): alice and bob are contacts (subscription both); carol is
# in nobody's roster. alice and bob link; carol gets no link, whatever she
# does, and cannot reach them over the overlay.
#
#                      lan: bridge br0, 192.0.2.0/24
#     +---------------+---------------+---------------+
#     |               |               |               |
#   srv .1          a .11           b .12           c .13
#   prosody         ipopd alice     ipopd bob       ipopd carol
#   STUN            172.31.0.1      172.31.0.2      172.31.0.3
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init roster
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
MB=${XFER_MB:-50}

lab_lan a b c
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob carol; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

node_config alice 172.31.0.1 alice 192.0.2.1:3478
node_config bob 172.31.0.2 bob 192.0.2.1:3478
node_config carol 172.31.0.3 carol 192.0.2.1:3478
node_start a alice
node_start b bob
node_start c carol
for n in alice bob carol; do
	node_wait $n 'xmpp: online' || { node_logs; fail "$n did not log in"; }
done
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
pass "contacts alice and bob linked"

vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "bob cannot ping alice"; }
pass "ping alice <-> bob"
vpn_xfer b a 172.31.0.1 "$MB" || { node_logs; fail "transfer bob -> alice"; }
pass "$MB MiB TCP transfer bob -> alice, sha256 verified"

# carol: no peer at all, and her packets to them are dropped for lack of a link.
vpn_no_ping c 172.31.0.1 || fail "carol reached alice over the overlay"
vpn_no_ping c 172.31.0.2 || fail "carol reached bob over the overlay"
vpn_no_ping a 172.31.0.3 || fail "alice reached carol over the overlay"
grep -q 'carol@' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log" && { node_logs; fail "carol shows up in alice's or bob's log"; }
grep -Eq 'peer (alice|bob)@' "$LIB_TMP/carol.log" && { node_logs; fail "carol has a peer"; }
pass "carol gets no link and cannot reach alice or bob"

if [ -x "$IPOPCTL" ]; then
	p=$(node_path_json alice 172.31.0.2)
	read -r st path ep <<<"$p"
	[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == 192.0.2.12:* ]] ||
		{ node_ctl alice --json peers; fail "alice -> bob: ipopctl says '$p'"; }
	n=$(node_ctl carol --json peers | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$n" = 0 ] || { node_ctl carol --json peers; fail "carol lists $n peers"; }
	no_route() { node_ctl carol --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["no_route"])'; }
	six_drops() { [ "$(no_route)" -ge 6 ]; }
	lib_wait "$LIB_WAIT_S" six_drops
	drops=$(no_route)
	echo "carol status: packets dropped for lack of a link: $drops"
	[ "$drops" -ge 6 ] || fail "carol's 6 pings were not counted as no-route drops ($drops)"
	pass "ipopctl: alice -> bob up direct ($ep); carol has no peers"
else
	pass "ipopctl not built; links checked by the logs only"
fi
