#!/usr/bin/env bash
# ipopd on an ejabberd cluster of two members, with an "xmpp_host" list
# (both members, tried in random order, the next on failure). ~2 minutes.
#
#                         lan: bridge br0, 198.51.100.0/24
#   +--------------+--------------+-------------+-------------+
#   |              |              |             |             |
#  x1 .2          x2 .3          a .11         b .12         c .13
#  ejabberd       ejabberd       alice         bob           carol
#  member 1       member 2       172.31.0.1    172.31.0.2    172.31.0.3
#  ejabberd@      (join_cluster  every node: "xmpp_host": ["198.51.100.2", "198.51.100.3"]
#  198.51.100.2   member 1)      group lab: alice bob carol
#
# 1. member 2 joins member 1; users and the group made on member 1 are
#    seen on member 2.
# 2. alice starts while her namespace refuses member 2, bob while his
#    refuses member 1: alice is on member 1, bob on member 2, and they link
#    across the cluster.
# 3. carol starts while both members refuse her: every server of the round
#    fails, then the backoff; once member 1 lets her through she logs in
#    there and links with both.
# 4. member 2 is killed (SIGKILL) during a transfer from alice to bob and a
#    ping loop: bob's session ends, he logs in on member 1 (the member that
#    dropped him goes last), no link goes down, the transfer completes
#    (sha256) and the pings are answered across the outage.
# 5. signalling works after the failover: carol restarts and links with
#    bob again.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_ejabberd.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipej}
lib_init ejcluster
need_cmd ejabberdctl python3 openssl ping ss iptables
need_root
node_bins
MB=${XFER_MB:-60}
RATE=${XFER_RATE:-2} # MiB/s: the transfer lasts ~MB/RATE seconds
M1=198.51.100.2 M2=198.51.100.3

lan_create lan
for n in x1:$M1 x2:$M2 a:198.51.100.11 b:198.51.100.12 c:198.51.100.13; do
	ns_create "${n%%:*}"
	lan_attach lan "${n%%:*}" eth0 "${n#*:}/24"
done

# 1. the cluster
ejabberd_cluster_start x1 $M1 x2 $M2
cat >"$LIB_TMP/accounts.txt" <<ACC
user alice pw-alice
user bob pw-bob
user carol pw-carol
group lab alice bob carol
ACC
ejabberd_accounts "$LIB_TMP/accounts.txt" || fail "deploy/ipop-accounts.sh failed on member 1"
seen_on_2() {
	ejabberd_member_ctl 2 registered_users "$XMPP_DOMAIN" | grep -qx carol &&
		[ "$(ejabberd_member_ctl 2 srg_get_members lab "$XMPP_DOMAIN" | wc -l)" = 3 ]
}
lib_wait 20 seen_on_2 || fail "member 2 does not see the users and the group made on member 1"
pass "cluster: ejabberd@$M2 joined ejabberd@$M1; users and group lab seen on both"

export NODE_XMPP_HOST="[\"$M1\", \"$M2\"]"
node_config alice 172.31.0.1 alice
node_config bob 172.31.0.2 bob
node_config carol 172.31.0.3 carol

refuse() { ns_exec "$1" iptables -A OUTPUT -p tcp -d "$2" --dport 5222 -j REJECT --reject-with tcp-reset; }
allow() { ns_exec "$1" iptables -D OUTPUT -p tcp -d "$2" --dport 5222 -j REJECT --reject-with tcp-reset; }
logins() { grep -c "xmpp: logged in as $1@" "$LIB_TMP/$1.log"; }

# 2. alice on member 1, bob on member 2
refuse a $M2
refuse b $M1
node_start a alice
node_start b bob
node_wait alice "xmpp: logged in as alice@.* on $M1 port 5222" 40 || { node_logs; fail "alice did not log in on member 1"; }
node_wait bob "xmpp: logged in as bob@.* on $M2 port 5222" 40 || { node_logs; fail "bob did not log in on member 2"; }
allow a $M2
allow b $M1
node_wait alice 'peer bob@.*-> up' 60 || { node_logs; fail "alice's link to bob did not come up"; }
node_wait bob 'peer alice@.*-> up' 20 || { node_logs; fail "bob's link to alice did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping from alice to bob"; }
pass "alice on member 1 and bob on member 2 linked across the cluster"

# 3. carol: both members refuse, then member 1 lets her in
refuse c $M1
refuse c $M2
node_start c carol
node_wait carol 'every server of this round failed' 40 || { node_logs; fail "carol did not go through her list"; }
grep -q "$M1 port 5222: connection failed" "$LIB_TMP/carol.log" && grep -q "$M2 port 5222: connection failed" "$LIB_TMP/carol.log" ||
	{ node_logs; fail "carol did not try both members"; }
grep -E "trying the next server|next attempt in" "$LIB_TMP/carol.log" | head -3
allow c $M1
node_wait carol "xmpp: logged in as carol@.* on $M1 port 5222" 90 || { node_logs; fail "carol did not log in on member 1"; }
allow c $M2
node_wait carol 'peer bob@.*-> up' 60 || { node_logs; fail "carol's link to bob did not come up"; }
node_wait carol 'peer alice@.*-> up' 60 || { node_logs; fail "carol's link to alice did not come up"; }
pass "carol: both members refused (each tried once per round, then the backoff), then logged in on member 1"

# 4. member 2 dies under bob
ups_alice=$(grep -c -- 'peer bob@.*-> up (' "$LIB_TMP/alice.log")
ups_bob=$(grep -c -- 'peer alice@.*-> up (' "$LIB_TMP/bob.log")
vpn_xfer a b 172.31.0.2 "$MB" "$RATE" >"$LIB_TMP/xfer.out" 2>&1 &
XFER=$!
# not through ns_exec: $! must be ping itself, which prints its summary on SIGINT
ip netns exec "$(ns_name b)" ping -i 0.2 -W 1 172.31.0.1 >"$LIB_TMP/ping.out" 2>&1 &
PING=$!
LIB_PIDS+=("$PING")
sleep 3
ejabberd_member_kill 2
echo "member 2 killed at $(date +%T)"
node_wait bob 'xmpp: .*(disconnected|connection failed)' 30 || { node_logs; fail "bob did not notice member 2 die"; }
for ((k = 0; k < 600; k++)); do [ "$(logins bob)" -ge 2 ] && break; sleep 0.1; done
echo "bob logged in again $(xmpp_failover_s "$LIB_TMP/bob.log") s after his session ended"
grep "xmpp: logged in as bob@" "$LIB_TMP/bob.log" | tail -1 | grep -q " on $M1 port 5222" ||
	{ node_logs; fail "bob did not log in again on member 1"; }
grep -E 'xmpp: .*(disconnected|connection failed|connecting to)' "$LIB_TMP/bob.log" | tail -3
kill -0 $XFER 2>/dev/null || { cat "$LIB_TMP/xfer.out"; fail "the transfer ended before bob was back (lower XFER_RATE)"; }
wait $XFER
rc=$?
cat "$LIB_TMP/xfer.out"
[ $rc -eq 0 ] || { node_logs; fail "the transfer across member 2's death failed"; }
kill -INT $PING
wait $PING 2>/dev/null
tail -2 "$LIB_TMP/ping.out"
loss=$(grep -o '[0-9.]*% packet loss' "$LIB_TMP/ping.out" | cut -d% -f1)
[ -n "$loss" ] && python3 -c "import sys; sys.exit(0 if float('$loss') <= 5 else 1)" ||
	fail "pings from bob to alice lost ${loss:-?}% across the outage"
grep -q 'link removed' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log" && { node_logs; fail "a link was torn down"; }
[ "$(grep -c -- 'peer bob@.*-> up (' "$LIB_TMP/alice.log")" = "$ups_alice" ] &&
	[ "$(grep -c -- 'peer alice@.*-> up (' "$LIB_TMP/bob.log")" = "$ups_bob" ] ||
	{ node_logs; fail "the alice-bob link went through setup again"; }
pass "member 2 killed: bob back on member 1, $MB MiB sha256-verified and ${loss}% ping loss across it, no link down"

# 5. signalling through member 1 for bob: carol restarts and links again
kill -TERM "${NODE_PID[carol]}"
wait "${NODE_PID[carol]}" 2>/dev/null
node_wait bob 'peer carol@.*link removed \(bye received\)' 20 || { node_logs; fail "bob did not get carol's bye"; }
node_start c carol
node_wait carol 'peer bob@.*-> up' 60 || { node_logs; fail "restarted carol did not link with bob"; }
for ((k = 0; k < 20; k++)); do vpn_ping c 172.31.0.2 && break; sleep 0.5; done
vpn_ping c 172.31.0.2 || { node_logs; fail "no ping from the restarted carol to bob"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping from alice to bob at the end"; }
pass "after the failover carol restarted and linked with bob through member 1"
