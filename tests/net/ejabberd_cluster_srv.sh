#!/usr/bin/env bash
# ipopd finds the members of an ejabberd cluster through DNS SRV records
# (no "xmpp_host": _xmpp-client._tcp.example.test), and a link survives the
# clean stop of the peer's XMPP server. ~2 minutes.
#
#                         lan: bridge br0, 198.51.100.0/24
#   +------------+------------+------------+------------+------------+
#   |            |            |            |            |            |
#  x1 .2        x2 .3        dns .4       a .11        b .12        c .13
#  ejabberd     ejabberd     dnsmasq      alice        bob          carol
#  member 1     member 2                  172.31.0.1   172.31.0.2   172.31.0.3
#  m1.example.  m2.example.               "xmpp_host": no xmpp_host,  no xmpp_host,
#  test         test                      "198.51.100.2" SRV via .4    SRV via .4
#
#  SRV _xmpp-client._tcp.example.test: m2.example.test:5222 priority 10,
#                                      m1.example.test:5222 priority 20
#
# 1. bob looks up the SRV records and logs in on m2 (the lower priority);
#    alice (the original single-host form) is on member 1; they link.
# 2. member 2 stops cleanly during a transfer from alice to bob: alice hears
#    bob go "unavailable" and keeps the link (its data path works), bob
#    looks the records up again and logs in on m1 (the member that dropped
#    him goes last), alice sees him back without a restart of the link;
#    the transfer completes (sha256), no link goes down.
# 3. carol starts with member 2 gone: m2 refuses, she moves on to m1 and
#    links with bob (signalling works for bob after the failover).
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_ejabberd.sh"
source "$(dirname "$0")/lib_dns.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipej}
lib_init ejsrv
need_cmd ejabberdctl dnsmasq python3 openssl ping ss
need_root
node_bins
MB=${XFER_MB:-60}
RATE=${XFER_RATE:-2} # MiB/s: the transfer lasts ~MB/RATE seconds
M1=198.51.100.2 M2=198.51.100.3 DNS=198.51.100.4
SRV=_xmpp-client._tcp.$XMPP_DOMAIN

lan_create lan
for n in x1:$M1 x2:$M2 dns:$DNS a:198.51.100.11 b:198.51.100.12 c:198.51.100.13; do
	ns_create "${n%%:*}"
	lan_attach lan "${n%%:*}" eth0 "${n#*:}/24"
done
dns_lab_start dns $DNS --srv-host="$SRV,m2.$XMPP_DOMAIN,5222,10,0" --srv-host="$SRV,m1.$XMPP_DOMAIN,5222,20,0" \
	--host-record="m1.$XMPP_DOMAIN,$M1" --host-record="m2.$XMPP_DOMAIN,$M2"
ns_resolver b $DNS
ns_resolver c $DNS
ans=$(ns_exec b python3 -c 'import socket, sys; print(socket.gethostbyname(sys.argv[1]))' "m2.$XMPP_DOMAIN") ||
	fail "bob's namespace does not resolve through dnsmasq"
[ "$ans" = $M2 ] || fail "m2.$XMPP_DOMAIN resolves to '$ans' in bob's namespace"

ejabberd_cluster_start x1 $M1 x2 $M2
cat >"$LIB_TMP/accounts.txt" <<ACC
user alice pw-alice
user bob pw-bob
user carol pw-carol
group lab alice bob carol
ACC
ejabberd_accounts "$LIB_TMP/accounts.txt" || fail "deploy/ipop-accounts.sh failed on member 1"
pass "cluster of two, SRV records for $SRV in dnsmasq"

# 1. bob through SRV on m2, alice on member 1
NODE_XMPP_HOST="\"$M1\"" node_config alice 172.31.0.1 alice
NODE_XMPP_HOST="" node_config bob 172.31.0.2 bob
NODE_XMPP_HOST="" node_config carol 172.31.0.3 carol
grep -q xmpp_host "$LIB_TMP/bob/config.json" && fail "bob's config has an xmpp_host"
node_start a alice
node_start b bob
node_wait bob "xmpp: logged in as bob@.* on m2\\.$XMPP_DOMAIN port 5222" 40 || { node_logs; fail "bob did not log in on m2 through SRV"; }
grep "xmpp: SRV" "$LIB_TMP/bob.log" | head -2
grep -q "query\\[SRV\\] $SRV from 198.51.100.12" "$LIB_TMP/dnsmasq.log" || { cat "$LIB_TMP/dnsmasq.log"; fail "dnsmasq saw no SRV query from bob"; }
node_wait alice "xmpp: logged in as alice@.* on $M1 port 5222" 40 || { node_logs; fail "alice did not log in on member 1"; }
node_wait alice 'peer bob@.*-> up' 60 || { node_logs; fail "alice's link to bob did not come up"; }
node_wait bob 'peer alice@.*-> up' 20 || { node_logs; fail "bob's link to alice did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping from alice to bob"; }
pass "bob found m2 through SRV (priority 10), alice on member 1: linked"

# 2. member 2 stops cleanly under bob
ups_alice=$(grep -c -- 'peer bob@.*-> up (' "$LIB_TMP/alice.log")
vpn_xfer a b 172.31.0.2 "$MB" "$RATE" >"$LIB_TMP/xfer.out" 2>&1 &
XFER=$!
sleep 3
ejabberd_member_stop 2 || fail "member 2 did not stop"
echo "member 2 stopped at $(date +%T)"
node_wait alice 'peer bob@.*offline in XMPP; the link stays while its data path works' 30 ||
	{ node_logs; fail "alice did not hear bob go offline (or did not keep the link)"; }
node_wait bob "xmpp: m2\\.$XMPP_DOMAIN port 5222: disconnected" 30 || { node_logs; fail "bob did not notice m2 stop"; }
node_wait bob "xmpp: logged in as bob@.* on m1\\.$XMPP_DOMAIN port 5222" 60 || { node_logs; fail "bob did not move to m1"; }
echo "bob logged in again $(xmpp_failover_s "$LIB_TMP/bob.log") s after his session ended"
node_wait alice 'peer bob@.*back online after [0-9]* ms; its data path kept working, link kept' 30 ||
	{ node_logs; fail "alice did not see bob back"; }
grep -E "xmpp: (m2|m1|SRV|logged)" "$LIB_TMP/bob.log" | tail -4
kill -0 $XFER 2>/dev/null || { cat "$LIB_TMP/xfer.out"; fail "the transfer ended before bob was back (lower XFER_RATE)"; }
wait $XFER
rc=$?
cat "$LIB_TMP/xfer.out"
[ $rc -eq 0 ] || { node_logs; fail "the transfer across member 2's stop failed"; }
grep -q 'link removed' "$LIB_TMP/alice.log" "$LIB_TMP/bob.log" && { node_logs; fail "a link was torn down"; }
[ "$(grep -c -- 'peer bob@.*-> up (' "$LIB_TMP/alice.log")" = "$ups_alice" ] ||
	{ node_logs; fail "alice's link to bob went through setup again"; }
pass "member 2 stopped: alice kept the link through bob's unavailable presence, bob moved to m1, $MB MiB sha256-verified"

# 3. carol: m2 (first by priority) refuses, m1 takes her
node_start c carol
node_wait carol "xmpp: m2\\.$XMPP_DOMAIN port 5222: connection failed \\(Connection refused\\); trying the next server" 40 ||
	{ node_logs; fail "carol did not fail over from m2"; }
node_wait carol "xmpp: logged in as carol@.* on m1\\.$XMPP_DOMAIN port 5222" 40 || { node_logs; fail "carol did not log in on m1"; }
node_wait carol 'peer bob@.*-> up' 60 || { node_logs; fail "carol did not link with bob"; }
for ((k = 0; k < 20; k++)); do vpn_ping c 172.31.0.2 && break; sleep 0.5; done
vpn_ping c 172.31.0.2 || { node_logs; fail "no ping from carol to bob"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping from alice to bob at the end"; }
pass "carol: m2 refused, m1 next (SRV order); linked with bob"
