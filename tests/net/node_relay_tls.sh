#!/usr/bin/env bash
# ipopd NAT traversal with TURN, issue 4 cases (c) and (d), in one lab:
#
#   alice 10.0.1.2 --[ra: NAT + firewall: only TCP 443 out]-- 198.51.100.2   --+
#   bob   10.0.2.2 --[rb: NAT]----------------------------- 203.0.113.2      --+--[inet]-- srv
#   carol 10.0.3.2 --[rc: NAT]----------------------------- 198.51.100.130   --+
#
#   srv 192.0.2.1: prosody :5222, ipop-turnserver udp :3478 and TLS :443
#       192.0.2.2:443 is DNATed to prosody, so alice can log in through her firewall
#
# (c) alice's UDP is blocked. Her configuration lists the TURN server as
#     plain "192.0.2.1:3478" (UDP); she finds no STUN answer, no UDP
#     allocation, and falls back to TLS on 443 (tried before TCP on 3478),
#     verifying the server certificate with ca_file. ipopctl says
#     "UDP blocked".
# (d) bob and carol are behind ordinary NATs, but UDP between their
#     networks is dropped in inet at first: the link comes up relayed.
#     Then the block is lifted during a paced TCP transfer: the link
#     upgrades to direct and the transfer completes intact. Blocked again,
#     the link falls back to the relay. (The times are printed as figures;
#     their budgets, 5 s and 20 s, are bench/'s: the test waits up to 120 s.)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_nat.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init relaytls
need_cmd prosody prosodyctl python3 openssl ping ss iptables
need_root
node_bins
MB=${XFER_MB:-50}

nat_lab3 192.0.2.2
for r in ra rb rc; do
	ns_exec $r iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables in $r"
	ns_exec $r iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
done
# alice's firewall: only TCP 443 goes out (and what answers it comes back)
ns_exec ra iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ns_exec ra iptables -A FORWARD -i lan -p tcp --dport 443 -j ACCEPT
ns_exec ra iptables -A FORWARD -i lan -j DROP
ns_exec srv iptables -t nat -A PREROUTING -d 192.0.2.2 -p tcp --dport 443 -j DNAT --to-destination 192.0.2.1:5222
# (d): no UDP between bob's and carol's networks, for now
block() { # -A|-D
	ns_exec inet iptables "$1" FORWARD -s 203.0.113.0/24 -d 198.51.100.128/25 -p udp -j DROP
	ns_exec inet iptables "$1" FORWARD -s 198.51.100.128/25 -d 203.0.113.0/24 -p udp -j DROP
}
block -A

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=turn.example.test \
	-addext subjectAltName=IP:192.0.2.1 \
	-keyout "$LIB_TMP/turn-key.pem" -out "$LIB_TMP/turn-cert.pem" >/dev/null 2>&1 || fail "openssl req"
chmod 600 "$LIB_TMP/turn-key.pem"

xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob carol
for u in alice bob carol; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
turn_lab_server srv 192.0.2.1 'tls = true' 'tls_port = 443' "cert_file = \"$LIB_TMP/turn-cert.pem\"" \
	"private_key_file = \"$LIB_TMP/turn-key.pem\""
wait_tcp_port srv 443 10 || fail "no TLS listener on 443"

TURN="\"turn\": [{\"server\": \"192.0.2.1:3478\", \"user\": \"u\", \"pass\": \"p\", \"ca_file\": \"$LIB_TMP/turn-cert.pem\"}],"
XMPP_IP=192.0.2.2 node_config alice 172.31.0.1 alice "" "$TURN \"xmpp_port\": 443,"
node_config bob 172.31.0.2 bob "" "$TURN"
node_config carol 172.31.0.3 carol "" "$TURN"
node_start a alice
node_start b bob
node_start c carol
# dave sits behind alice's firewall too (same namespace, its own TUN) but
# trusts another CA: the TLS relay must be refused, not used unverified.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
	-keyout "$LIB_TMP/other-key.pem" -out "$LIB_TMP/other-ca.pem" >/dev/null 2>&1 || fail "openssl req"
XMPP_IP=192.0.2.2 node_config dave 172.31.0.4 dave "" \
	"\"turn\": [{\"server\": \"192.0.2.1:3478\", \"user\": \"u\", \"pass\": \"p\", \"ca_file\": \"$LIB_TMP/other-ca.pem\"}], \"xmpp_port\": 443, \"interface\": \"ipop1\","
node_start a dave

# --- (c)
node_wait alice 'relay: TLS with 192\.0\.2\.1:443 .*established' || { node_logs; fail "(c) no TLS to 443"; }
node_wait alice 'relay: relayed candidate 192\.0\.2\.1:[0-9]+ on 192\.0\.2\.1:443 \(tls' ||
	{ node_logs; fail "(c) alice got no relayed candidate over TLS"; }
grep -E 'relay: (allocating|192|TLS|relayed)' "$LIB_TMP/alice.log"
pass "(c) alice's UDP is blocked: she fell back to TLS on 443 with the certificate verified"
node_wait dave 'relay: .*192\.0\.2\.1:443 \(tls, UDP fallback\): TLS handshake: certificate' ||
	{ node_logs; fail "(c) dave did not refuse the TLS server whose certificate his CA did not sign"; }
grep -q 'relay: relayed candidate' "$LIB_TMP/dave.log" && fail "(c) dave used a relay he could not verify"
grep -h 'TLS handshake' "$LIB_TMP/dave.log" | head -2
pass "(c) with another CA in ca_file the TLS relay is refused (no relayed candidate)"
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "(c) alice's link to bob did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "(c) alice cannot ping bob"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "(c) bob cannot ping alice"; }
path=$(node_peer_field alice 172.31.0.2 path)
relay=$(node_peer_field alice 172.31.0.2 relay)
why=$(node_peer_field alice 172.31.0.2 why_not_direct)
echo "alice -> bob: path=$path relay=$relay why_not_direct='$why'"
[ "$path" = relay ] && [ "$relay" = 192.0.2.1:443 ] ||
	{ node_ctl alice --json peers; fail "(c) alice->bob is '$path via $relay', expected relay via 192.0.2.1:443"; }
[[ $why == "UDP blocked"* ]] || fail "(c) why_not_direct is '$why', expected UDP blocked"
st=$(node_ctl alice --json status | python3 -c 'import json, sys; r = json.load(sys.stdin)["relay"]; print(r["server"], r["transport"], r["address"])')
echo "alice's ipopctl status relay: $st"
[[ $st == "192.0.2.1:443 tls 192.0.2.1:"* ]] || fail "(c) ipopctl status shows relay '$st', expected 192.0.2.1:443 over tls"
node_ctl alice status | grep -E '^ *relay:'
[ "$(node_peer_field bob 172.31.0.1 path)" = relay ] || fail "(c) bob does not see a relayed path"
vpn_xfer a b 172.31.0.2 "$MB" || { node_logs; fail "(c) transfer alice -> bob"; }
pass "(c) relayed over TLS on 443: ping, $MB MiB verified, ipopctl says '$why'"

# --- (d)
node_wait bob 'peer carol@.*-> up' || { node_logs; fail "(d) bob's link to carol did not come up"; }
vpn_ping b 172.31.0.3 || { node_logs; fail "(d) bob cannot ping carol"; }
[ "$(node_peer_field bob 172.31.0.3 path)" = relay ] || { node_ctl bob --json peers; fail "(d) bob-carol is not relayed while UDP between them is blocked"; }
direct_timed_out() { [[ $(node_peer_field bob 172.31.0.3 why_not_direct) == *"timed out"* ]]; }
lib_wait 120 direct_timed_out
why=$(node_peer_field bob 172.31.0.3 why_not_direct)
echo "bob -> carol before: $(node_peer_field bob 172.31.0.3 path) why='$why'"
[[ $why == *"timed out"* ]] || { node_ctl bob --json peers; fail "(d) why_not_direct does not say the direct checks timed out: '$why'"; }
pass "(d) bob-carol relayed first, the direct checks timed out"
# Paced; half way it keeps going (the data again) until the upgrade has
# been seen, so it spans the switch however slow the machine is.
XMB=$((MB < 30 ? MB : 30))
hold="$LIB_TMP/hold-d"
XFER_HOLD=$hold vpn_xfer b c 172.31.0.3 "$XMB" 3 >"$LIB_TMP/xfer-d.log" 2>&1 &
xpid=$!
xfer_half "$hold" || { cat "$LIB_TMP/xfer-d.log"; fail "(d) the transfer did not get going"; }
block -D
t0=$(lib_now_us)
both_direct() { [ "$(node_peer_field bob 172.31.0.3 path)" = direct ] && [ "$(node_peer_field carol 172.31.0.2 path)" = direct ]; }
lib_wait 120 both_direct || { node_logs; fail "(d) no upgrade to direct within 120 s of lifting the block"; }
dt=$((($(lib_now_us) - t0) / 1000))
touch "$hold"
echo "bob -> carol after: $(node_peer_field bob 172.31.0.3 path) $(node_peer_field bob 172.31.0.3 endpoint) after $dt ms"
figure relay_tls_upgrade_ms "$dt" "<= 5000"
[[ $(node_peer_field bob 172.31.0.3 endpoint) == 198.51.100.130:* ]] || fail "(d) the direct endpoint is not carol's NAT"
wait $xpid || { cat "$LIB_TMP/xfer-d.log"; node_logs; fail "(d) the TCP transfer across the switch failed"; }
cat "$LIB_TMP/xfer-d.log"
pass "(d) upgraded to direct $dt ms after the block was lifted; $XMB MiB TCP transfer across the switch verified"
vpn_xfer c b 172.31.0.2 "$MB" || { node_logs; fail "(d) transfer carol -> bob on the direct path"; }
pass "(d) $MB MiB verified on the direct path"

# --- (d) the other way: the direct path dies, the link falls back to the relay
# (12 s of silence on the direct pair while the relay pair had worked).
block -A
t0=$(lib_now_us)
relayed_and_pings() { [ "$(node_peer_field bob 172.31.0.3 path)" = relay ] && ns_exec b ping -c 1 -W 1 172.31.0.3 >/dev/null 2>&1; }
lib_wait 120 relayed_and_pings || { node_logs; fail "(d) no fallback to the relay within 120 s of the direct path dying"; }
dt=$((($(lib_now_us) - t0) / 1000))
figure relay_fallback_ms "$dt" "<= 20000 (12 s of silence + a consent interval + checks)"
echo "bob -> carol: back on the relay after $dt ms: $(node_peer_field bob 172.31.0.3 endpoint)"
vpn_ping c 172.31.0.2 || fail "(d) carol cannot ping bob after the fallback"
vpn_xfer c b 172.31.0.2 "$MB" || { node_logs; fail "(d) transfer after the fallback"; }
pass "(d) direct path blocked again: back on the relay after $dt ms, $MB MiB verified"
