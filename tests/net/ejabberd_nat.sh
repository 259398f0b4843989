#!/usr/bin/env bash
# ipopd against a real ejabberd 23.01, set up by the deploy/ kit exactly as
# docs/deploy.md describes: deploy/ejabberd/make-config.sh writes its config
# (STARTTLS required, SCRAM-SHA-256 only, built-in STUN listener) and
# deploy/ipop-accounts.sh creates the users, a GroupVPN shared roster group
# and a SocialVPN friendship with ejabberdctl.
#
#   a 10.0.1.2 --[ra: NAT]-- 198.51.100.2 --+
#   alice (group lab, friend of carol)      |
#   172.31.0.1                           [inet]--- 192.0.2.254 ---+--- srv 192.0.2.1
#   b 10.0.2.2 --[rb: NAT]-- 203.0.113.2 ---+                     |    ejabberd: c2s 5222,
#   bob (group lab)                                               |    STUN 3478 (only STUN)
#   172.31.0.2                                                    +--- c 192.0.2.3
#                                                                      carol (friend of alice)
#                                                                      172.31.0.3
# Expected: alice<->bob direct through both cone NATs (group), alice<->carol
# direct (friends), bob and carol no link (no relationship).
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_ejabberd.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipej}
lib_init ejnat
need_cmd ejabberdctl python3 openssl ping ss iptables
need_root
node_bins
[ -x "$IPOPCTL" ] || skip "$IPOPCTL not built"
MB=${XFER_MB:-20}

for n in inet lan srv ra rb a b c; do ns_create $n; done
ns_forward inet
ns_exec lan ip link add br0 type bridge && ns_exec lan ip link set br0 up
lan_attach lan inet eth0 192.0.2.254/24
lan_attach lan srv eth0 192.0.2.1/24
lan_attach lan c eth0 192.0.2.3/24
ns_link inet eth1 198.51.100.1/24 ra wan 198.51.100.2/24
ns_link inet eth2 203.0.113.1/24 rb wan 203.0.113.2/24
ns_exec srv ip route add default via 192.0.2.254
ns_exec c ip route add default via 192.0.2.254
for r in ra rb; do
	ns_forward $r
	ns_exec $r iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables in $r"
	ns_exec $r iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
done
ns_exec ra ip route add default via 198.51.100.1
ns_exec rb ip route add default via 203.0.113.1
ns_link ra lan 10.0.1.1/24 a eth0 10.0.1.2/24
ns_link rb lan 10.0.2.1/24 b eth0 10.0.2.2/24
ns_exec a ip route add default via 10.0.1.1
ns_exec b ip route add default via 10.0.2.1

ejabberd_lab_start srv 192.0.2.1
pass "ejabberd started from deploy/ejabberd/make-config.sh's config"

# Its own STUN service answers before any node relies on it.
out=$(stun_udp_client a 192.0.2.1)
grep -q 'reflexive addr: 198\.51\.100\.2:' <<<"$out" ||
	{ echo "$out"; fail "ejabberd's STUN did not give alice's NAT address"; }
pass "ejabberd_stun answers a Binding request through the NAT: 198.51.100.2"

cat >"$LIB_TMP/accounts.txt" <<ACC
# the lab's users and relationships
user alice pw-alice
user bob pw-bob
user carol pw-carol
user dave pw-dave
group lab alice bob
friends alice carol
ACC
ejabberd_accounts "$LIB_TMP/accounts.txt" || fail "deploy/ipop-accounts.sh failed"
# Applying the same file again changes nothing and still succeeds.
ejabberd_accounts "$LIB_TMP/accounts.txt" >/dev/null || fail "deploy/ipop-accounts.sh is not repeatable"
roster=$(ejabberd_ctl get_roster carol "$XMPP_DOMAIN")
grep -Eq "^alice@$XMPP_DOMAIN.*both" <<<"$roster" || { echo "$roster"; fail "carol's roster lacks alice with subscription both"; }
members=$(ejabberd_ctl srg_get_members lab "$XMPP_DOMAIN" | sort | tr '\n' ' ')
[ "$members" = "alice@$XMPP_DOMAIN bob@$XMPP_DOMAIN " ] || fail "group lab has '$members'"
# A bad statement is reported with its line and fails the script.
printf 'user alice pw-alice\nfriends alice\n' >"$LIB_TMP/bad.txt"
out=$(ejabberd_accounts "$LIB_TMP/bad.txt" 2>&1) && fail "a bad accounts file was accepted"
grep -q 'bad.txt:2: usage: friends' <<<"$out" || { echo "$out"; fail "no line-numbered error"; }
pass "ipop-accounts.sh: users, group lab, friends alice+carol (repeatable; bad lines reported)"

node_config alice 172.31.0.1 alice 192.0.2.1:3478
node_config bob 172.31.0.2 bob 192.0.2.1:3478
node_config carol 172.31.0.3 carol 192.0.2.1:3478
for n in alice bob carol; do
	grep -q '"xmpp_tls"' "$LIB_TMP/$n/config.json" && fail "test assumes the default xmpp_tls"
done
node_start a alice
node_start b bob
node_start c carol

for n in alice bob carol; do
	node_wait $n "xmpp: logged in as $n@$XMPP_DOMAIN/.*\(TLS\)" 30 || { node_logs; fail "$n did not log in over TLS"; }
done
for n in alice bob carol; do
	# ejabberd writes its log a moment later.
	lib_wait "$LIB_WAIT_S" grep -q "Accepted c2s SCRAM-SHA-256 authentication for $n@$XMPP_DOMAIN" "$XDIR/log/ejabberd.log" ||
		{ grep -i auth "$XDIR/log/ejabberd.log"; fail "ejabberd did not log a SCRAM-SHA-256 login for $n"; }
done
pass "alice, bob, carol logged in over STARTTLS with SCRAM-SHA-256 (ejabberd's log)"

node_wait alice 'server-reflexive candidate 198\.51\.100\.2:' || { node_logs; fail "alice learned no srflx from ejabberd's STUN"; }
node_wait bob 'server-reflexive candidate 203\.0\.113\.2:' || { node_logs; fail "bob learned no srflx from ejabberd's STUN"; }
pass "nodes learned their NAT's public address from ejabberd's STUN (the only STUN server)"

node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
node_wait alice 'peer carol@.*-> up' || { node_logs; fail "alice's link to carol did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
node_wait carol 'peer alice@.*-> up' || { node_logs; fail "carol's link to alice did not come up"; }

vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "bob cannot ping alice"; }
vpn_ping c 172.31.0.1 || { node_logs; fail "carol cannot ping alice"; }
pass "ping alice<->bob (group) and carol->alice (friends) across the VPN"

vpn_xfer b a 172.31.0.1 "$MB" || { node_logs; fail "transfer bob -> alice"; }
pass "$MB MiB bob -> alice through both NATs, sha256 verified"

check_path() { # NODE PEER_IP ENDPOINT_PREFIX
	local p st path ep
	p=$(node_path_json "$1" "$2")
	read -r st path ep <<<"$p"
	echo "$1 sees $2: $p"
	[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == "$3"* ]] ||
		{ node_ctl "$1" --json peers; fail "$1 -> $2: '$p', expected up direct $3*"; }
}
check_path alice 172.31.0.2 203.0.113.2:
check_path bob 172.31.0.1 198.51.100.2:
check_path alice 172.31.0.3 192.0.2.3:
check_path carol 172.31.0.1 198.51.100.2:
pass "ipopctl peers --json: every link direct, through the NATs' public addresses"

# No relationship, no link: bob and carol do not see each other.
for pair in "bob 172.31.0.3" "carol 172.31.0.2"; do
	set -- $pair
	[ -z "$(node_path_json "$1" "$2")" ] || fail "$1 lists $2 as a peer without a relationship"
done
ns_exec b ping -c 2 -i 0.2 -W 1 172.31.0.3 >/dev/null 2>&1 && fail "bob reaches carol without a relationship"
pass "bob and carol (no group, not friends) have no link"

# A wrong password: ejabberd refuses it (SCRAM); the node says it cannot
# authenticate, keeps running and retries.
node_config dave 172.31.0.4 dave 192.0.2.1:3478
sed -i 's/"xmpp_password": "pw-dave"/"xmpp_password": "wrong"/' "$LIB_TMP/dave/config.json"
ns_create d
lan_attach lan d eth0 192.0.2.4/24
node_start d dave
lib_wait "$LIB_WAIT_S" grep -q "Failed c2s SCRAM-SHA-256 authentication for dave@$XMPP_DOMAIN" "$XDIR/log/ejabberd.log" ||
	{ grep -i dave "$XDIR/log/ejabberd.log"; fail "ejabberd did not log dave's failed SCRAM login"; }
node_wait dave 'xmpp\(auth\): Cannot authenticate' || { node_logs; fail "dave's node did not report the failed login"; }
node_wait dave 'xmpp: .*next attempt in' || { node_logs; fail "dave's node does not retry"; }
grep -hE 'xmpp\(auth\)|next attempt' "$LIB_TMP/dave.log" | head -2
kill -0 "${NODE_PID[dave]}" || fail "a wrong password stopped the node"
grep -q 'logged in' "$LIB_TMP/dave.log" && fail "dave logged in with a wrong password"
! grep -q 'wrong' "$LIB_TMP/dave.log" || fail "the node logged the password"
pass "a wrong password: ejabberd refuses it (SCRAM), the node says so without the password, stays up, retries"

