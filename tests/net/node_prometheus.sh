#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes our TURN relay and three ipopd nodes
# every second over a management LAN; the nodes' /metrics must say what
# ipopctl says, and PromQL through Prometheus's HTTP API must agree with
# the lab: the relay holds one allocation per node, the links up are the
# group's pairs (one relayed, two direct), bytes grow by the size of a
# transfer, every link has a measured RTT; the endpoint answers 404/405/400
# to bad requests while the tunnel carries traffic; deploy/prometheus's
# rules pass promtool and load, and a node that stops raises IpopNodeDown
# and takes its links off the others' pages.
#
#                      +-- 203.0.113.2 [r1 sym NAT]  -- h1 alice 172.31.0.1
#   srv 192.0.2.1 --[inet]- 203.0.113.6 [r2 sym NAT]  -- h2 bob   172.31.0.2
#   prosody, TURN      +-- 203.0.113.10 [r3 cone NAT] -- h3 carol 172.31.0.3
#   mgmt LAN 10.250.0.0/24: mon .100 (prometheus), srv .1 (:9641), h1-h3 .11-.13 (:9642)
#
# alice-bob: two symmetric NATs, relayed; alice-carol, bob-carol: direct.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_metrics.sh"
source "$(dirname "$0")/lib_obs.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init nprom
need_cmd prosody prosodyctl prometheus promtool curl python3 iptables ss ping
need_root
node_bins
DEPLOY="$NODE_REPO_ROOT/deploy/prometheus"
MB=${XFER_MB:-8}

promtool check rules "$DEPLOY/ipop-alerts.yml" >"$LIB_TMP/promtool.log" 2>&1 ||
	{ cat "$LIB_TMP/promtool.log"; fail "promtool check rules rejects deploy/prometheus/ipop-alerts.yml"; }
promtool check config "$DEPLOY/prometheus.yml" >>"$LIB_TMP/promtool.log" 2>&1 ||
	{ cat "$LIB_TMP/promtool.log"; fail "promtool check config rejects deploy/prometheus/prometheus.yml"; }
pass "promtool: deploy/prometheus config and rules (relay and node) are valid"

obs_lab sym sym cone
obs_nodes
obs_links_up 90
pass "three nodes linked: alice-bob through the relay, the others direct"

# --- the endpoint itself, and the text format promtool accepts
URL=http://10.250.0.11:9642/metrics
page=$(metrics_fetch mon "$URL") || fail "GET $URL: not 200 text/plain 0.0.4"
promtool check metrics <<<"$page" >"$LIB_TMP/lint.log" 2>&1 || true
if grep -qiE 'error|duplicate' "$LIB_TMP/lint.log"; then cat "$LIB_TMP/lint.log"; fail "promtool check metrics: errors"; fi
s=$(http_status mon "http://10.250.0.11:9642/"); [ "$s" = 404 ] || fail "GET / gave $s, not 404"
s=$(http_status mon "$URL" -X POST -d x); [ "$s" = 405 ] || fail "POST gave $s, not 405"
line=$(http_raw mon 10.250.0.11 9642 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n')
[[ $line == *" 400 "* ]] || fail "a header line without a colon got '$line', not 400"
vpn_ping h1 172.31.0.3 || fail "the tunnel does not carry pings after the bad requests"
pass "node /metrics: 200 text format (promtool lint clean), 404, 405, 400; the tunnel unaffected"

# --- one metric page equals ipopctl at the same moment (a few tries: the
# two requests are some milliseconds apart, and the links' counters move)
same_as_ctl() { # NAME INDEX
	local st peers page
	st=$(node_ctl "$1" --json status) && peers=$(node_ctl "$1" --json peers) &&
		page=$(metrics_fetch mon "http://10.250.0.$((10 + $2)):9642/metrics") || return 1
	python3 - "$st" "$peers" "$page" <<'PY'
import json, re, sys
st, peers, page = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
m = {}
for line in page.splitlines():
    if line.startswith("#") or not line.strip():
        continue
    k, v = line.rsplit(" ", 1)
    m[k] = float(v)
def lab(**kv):
    return "{" + ",".join('%s="%s"' % (k, v) for k, v in kv.items()) + "}"
errs = []
def eq(key, want):
    got = m.get(key)
    if got is None or abs(got - want) > 1e-9:
        errs.append("%s: metrics %s, ipopctl %s" % (key, got, want))
states = ["down", "connecting", "checking", "handshake", "up"]
for s in states:
    eq("ipop_node_links" + lab(state=s), sum(1 for p in peers if p["state"] == s))
eq("ipop_node_xmpp_state" + lab(state=st["xmpp"]), 1)
eq("ipop_node_relay_allocated", 1 if st["relay"] else 0)
for r in ["no_route", "bad_source", "untranslatable", "link_local"]:
    eq("ipop_node_dropped_packets_total" + lab(reason=r), st["drops"][r])
for p in peers:
    l = dict(jid=p["jid"].split("/")[0], addr=p["ip4"] or "", node_id=p["node_id"])
    eq("ipop_node_peer_up" + lab(**l), 1 if p["state"] == "up" else 0)
    eq("ipop_node_peer_path" + lab(**l, path=p["path"] or "none"), 1)
    for k, n in [("rx_bytes", "received_bytes"), ("tx_bytes", "sent_bytes"),
                 ("rx_packets", "received_packets"), ("tx_packets", "sent_packets")]:
        eq("ipop_node_peer_%s_total" % n + lab(**l), p[k])
    if p["rtt_us"] is not None:
        eq("ipop_node_peer_rtt_seconds" + lab(**l), p["rtt_us"] / 1e6)
    if p["last_handshake"] is not None:
        eq("ipop_node_peer_last_handshake_timestamp_seconds" + lab(**l), p["last_handshake"])
if errs:
    print("\n".join(errs))
    sys.exit(1)
print("%d peers, %d series compared" % (len(peers), len(m)))
PY
}
for ((i = 1; i <= OBS_N; i++)); do
	ok=0
	for try in 1 2 3 4 5 6 7 8; do
		if same_as_ctl "${OBS_NAMES[$i]}" $i >"$LIB_TMP/same.$i" 2>&1; then ok=1; break; fi
		sleep 0.3
	done
	[ $ok = 1 ] || { cat "$LIB_TMP/same.$i"; fail "${OBS_NAMES[$i]}: /metrics and ipopctl disagree"; }
	echo "${OBS_NAMES[$i]}: $(cat "$LIB_TMP/same.$i")"
done
pass "each node's metric page equals ipopctl status and peers --json at the same moment"

# --- Prometheus
obs_prometheus
obs_await 60 'sum(up{job="ipop-node"})' == 3 || fail "sum(up{job=\"ipop-node\"}) is $LAST after 60 s"
obs_await 30 'up{job="ipop-turnserver"}' == 1 || fail "the relay is not up for Prometheus: $LAST"
pass "prometheus scrapes the relay and the three nodes"

obs_await 30 'sum(turn_total_allocations)' == 3 || fail "sum(turn_total_allocations) is $LAST, not 3 (one per node)"
obs_await 10 'sum(turn_total_allocations) - sum(ipop_node_relay_allocated)' == 0 ||
	fail "the relay's allocations and the nodes' differ by $LAST"
pass "PromQL: the relay's allocations (3) equal the nodes holding one"

obs_await 30 'sum(ipop_node_links{state="up"})' == 6 || fail "links up: $LAST, not 6 (3 pairs, both ends)"
obs_await 10 'count(ipop_node_peer_up == 1)' == 6 || fail "ipop_node_peer_up == 1: $LAST series, not 6"
obs_await 10 'sum(ipop_node_links_up{path="relay"})' == 2 || fail "relayed links up: $LAST, not 2 (alice-bob, both ends)"
obs_await 10 'count(ipop_node_peer_path{path="relay"} == 1)' == 2 || fail "ipop_node_peer_path relay: $LAST"
obs_await 30 'count(ipop_node_peer_rtt_seconds)' == 6 || fail "links with a measured RTT: $LAST, not 6"
obs_await 10 'max(ipop_node_peer_rtt_seconds)' '<' 1 || fail "an RTT of $LAST s in a lab of sub-millisecond pings"
pass "PromQL: 6 links up = the group's 3 pairs at both ends; alice-bob relayed; every link has an RTT (max $LAST s)"

# --- bytes grow by the size of a transfer (alice -> carol, direct; alice -> bob, relayed)
sent0=$(obs_query 'sum(ipop_node_sent_bytes_total{instance="10.250.0.11:9642"})')
rcvd0=$(obs_query 'sum(ipop_node_received_bytes_total{instance="10.250.0.13:9642"})')
rel0=$(obs_query 'ipop_node_sent_bytes_total{instance="10.250.0.11:9642",path="relay"}')
[ -n "$sent0" ] && [ -n "$rcvd0" ] && [ -n "$rel0" ] || fail "no byte counters in Prometheus"
vpn_xfer h1 h3 172.31.0.3 "$MB" || { node_logs; fail "transfer alice -> carol"; }
vpn_xfer h1 h2 172.31.0.2 1 || { node_logs; fail "transfer alice -> bob"; }
bytes=$((MB << 20))
obs_await 30 "sum(ipop_node_sent_bytes_total{instance=\"10.250.0.11:9642\"}) - $sent0" '>=' $bytes ||
	fail "alice's sent bytes grew by $LAST, less than the $bytes sent"
grew=$LAST
obs_await 30 "sum(ipop_node_received_bytes_total{instance=\"10.250.0.13:9642\"}) - $rcvd0" '>=' $bytes ||
	fail "carol's received bytes grew by $LAST, less than $bytes"
obs_await 30 "ipop_node_sent_bytes_total{instance=\"10.250.0.11:9642\",path=\"relay\"} - $rel0" '>=' $((1 << 20)) ||
	fail "alice's relayed bytes grew by $LAST, less than the 1 MiB sent to bob"
obs_await 10 "sum(increase(ipop_node_peer_sent_bytes_total{instance=\"10.250.0.11:9642\",addr=\"172.31.0.3\"}[2m]))" '>=' $bytes ||
	fail "alice's per-peer counter for carol grew by $LAST"
pass "PromQL: a $MB MiB transfer grew alice's sent bytes by $grew (>= $bytes), carol's received bytes too; 1 MiB to bob counted as relayed"

# --- the shipped rules are loaded and healthy; a node stopping raises
# IpopNodeDown, and its links leave the others' pages (it says bye)
rules=$(ns_exec mon curl -sS --max-time 10 "http://$PROM/api/v1/rules")
python3 - "$rules" <<'PY' || fail "rules not loaded or unhealthy: $rules"
import json, sys
r = json.loads(sys.argv[1])
rules = [x for g in r["data"]["groups"] for x in g["rules"]]
names = {x["name"] for x in rules}
want = {"IpopTurnDown", "IpopNodeDown", "IpopPeerHandshakeStale", "IpopPeerRelayedLong", "IpopNodeXmppOffline"}
assert want <= names, names
bad = [x["name"] for x in rules if x.get("health") != "ok"]
assert not bad, bad
PY
kill -TERM "${NODE_PID[carol]}"
obs_await 60 'count(ALERTS{alertname="IpopNodeDown"})' == 1 || fail "IpopNodeDown did not go pending (ALERTS: $LAST)"
obs_await 60 'sum(ipop_node_links{state="up"})' == 2 || fail "links up after carol left: $LAST, not 2"
obs_await 10 'count(ipop_node_peer_up{addr="172.31.0.3"}) or vector(0)' == 0 ||
	fail "carol still has $LAST per-peer series on the others' pages"
pass "rules loaded and healthy; carol stopped: IpopNodeDown pending, links up 6 -> 2, her series gone"
kill "$PROM_PID" 2>/dev/null
