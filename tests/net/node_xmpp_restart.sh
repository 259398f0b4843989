#!/usr/bin/env bash
# ipopd case (e): the XMPP server is stopped and restarted in the middle of
# a transfer. Links do not depend on XMPP once up: the transfer goes on
# (checksum verified), no link is torn down, and both nodes log in again.
#
#                      lan: bridge br0, 192.0.2.0/24
#        +--------------------+--------------------+
#        |                    |                    |
#   srv 192.0.2.1        a 192.0.2.11         b 192.0.2.12
#   prosody (stopped,    ipopd alice          ipopd bob
#   then restarted)      172.31.0.1           172.31.0.2
#   STUN
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init xrestart
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
MB=${XFER_MB:-50}
RATE=${XFER_RATE:-4} # MiB/s, paced

lab_lan a b
node_pair_start
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping before the restart"; }
pass "link up"

# Held: the sender keeps going (the data again) until XMPP is back, however
# long the outage takes on a busy machine.
hold="$LIB_TMP/hold"
XFER_HOLD=$hold vpn_xfer a b 172.31.0.2 "$MB" "$RATE" >"$LIB_TMP/xfer.out" 2>&1 &
XFER=$!
xfer_started "$hold" || { cat "$LIB_TMP/xfer.out"; fail "the transfer did not get going"; }
xmpp_prosody_stop "$XDIR"
echo "prosody stopped at $(date +%T)"
node_wait alice 'xmpp: online -> (offline|connecting)' || { node_logs; fail "alice did not notice XMPP going away"; }
node_wait bob 'xmpp: online -> (offline|connecting)' || { node_logs; fail "bob did not notice XMPP going away"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "no ping while XMPP is down"; }
pass "XMPP down: both nodes noticed, the link still carries pings"
sleep 3
kill -0 $XFER 2>/dev/null || { cat "$LIB_TMP/xfer.out"; fail "the transfer stopped while XMPP was down"; }
xmpp_lab_run
echo "prosody restarted at $(date +%T)"
touch "$hold"
wait $XFER
rc=$?
cat "$LIB_TMP/xfer.out"
[ $rc -eq 0 ] || { node_logs; fail "the transfer across the XMPP outage failed"; }
pass "$MB MiB transfer across the XMPP outage, sha256 verified"

# The reconnect backoff grows to 60 s (+-25%) during a long outage.
logged_in_again() { [ "$(grep -c 'xmpp: online$' "$LIB_TMP/$1.log")" -ge 2 ]; }
for n in alice bob; do
	lib_wait 180 logged_in_again $n || { node_logs; fail "$n did not log in again"; }
done
pass "both nodes logged in again"
grep -q 'link removed' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log" && { node_logs; fail "a link was torn down"; }
[ "$(grep -c -- '-> up (' "$LIB_TMP/alice.log")" = 1 ] || { node_logs; fail "alice's link went through setup again"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping after the restart"; }
pass "the link survived the outage untouched"

if [ -x "$IPOPCTL" ]; then
	p=$(node_path_json alice 172.31.0.2)
	read -r st path ep <<<"$p"
	[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == 192.0.2.12:* ]] ||
		{ node_ctl alice --json peers; fail "alice -> bob: ipopctl says '$p'"; }
	x=$(node_ctl alice --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["xmpp"])')
	[ "$x" = online ] || fail "ipopctl status says xmpp '$x'"
	pass "ipopctl: alice -> bob up direct ($ep), xmpp $x"
fi
