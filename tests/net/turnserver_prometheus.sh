#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes ipop-turnserver over a management
# link every second; PromQL through its HTTP API must agree with the lab:
# the relay is up, the allocation gauge equals the relay sockets the server
# holds while coturn's turnutils_uclient clients keep their allocations,
# the relayed-bytes counter grew by at least the bytes the clients sent,
# authentication failures show in rate(); deploy/prometheus's rules pass
# promtool and load, and once the relay stops, IpopTurnDown goes pending.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_uclient)   +--- router ------+     mgmt 10.250.0.1:9641 /metrics
#     peer   203.0.113.2 ---+  .1 in each /24           |
#     (turnutils_peer :3480)                        mon 10.250.0.2 (prometheus :9090)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
source "$(dirname "$0")/lib_metrics.sh"
lib_init tsprom
need_cmd prometheus promtool turnutils_uclient turnutils_peer curl python3 ss
need_root
turn_bin >/dev/null || exit 77
DEPLOY="$REPO_ROOT/deploy/prometheus"

promtool check rules "$DEPLOY/ipop-alerts.yml" >"$LIB_TMP/promtool.log" 2>&1 ||
	{ cat "$LIB_TMP/promtool.log"; fail "promtool check rules rejects deploy/prometheus/ipop-alerts.yml"; }
promtool check config "$DEPLOY/prometheus.yml" >>"$LIB_TMP/promtool.log" 2>&1 ||
	{ cat "$LIB_TMP/promtool.log"; fail "promtool check config rejects deploy/prometheus/prometheus.yml"; }
pass "promtool: deploy/prometheus config and rules are valid"

turn_topology
metrics_mgmt server
conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'users = { "svpnjingle:1234567890" }' "metrics_address = \"$METRICS_NODE_IP:9641\""
turn_start "$conf"
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"

# Prometheus with its own config and data in the lab's directory; the
# shipped rules, a 1 s scrape and evaluation interval.
PROM="$METRICS_MON_IP:9090"
cp "$DEPLOY/ipop-alerts.yml" "$LIB_TMP/"
cat >"$LIB_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $LIB_TMP/ipop-alerts.yml
scrape_configs:
  - job_name: ipop-turnserver
    static_configs:
      - targets: ["$METRICS_NODE_IP:9641"]
YML
ns_bg mon "$LIB_TMP/prometheus.log" prometheus --config.file="$LIB_TMP/prometheus.yml" \
	--storage.tsdb.path="$LIB_TMP/prom-data" --web.listen-address="$PROM" --log.level=warn
PROM_PID=$LIB_PID
ready() { ns_exec mon curl -sf --max-time 5 "http://$PROM/-/ready" >/dev/null; }
lib_wait 120 ready || { tail -20 "$LIB_TMP/prometheus.log"; fail "prometheus not ready in 120 s"; }
# PromQL QUERY equals (or with OP compares to) WANT within SECONDS.
await() { # SECONDS QUERY OP WANT
	local t=$1 q=$2 op=$3 want=$4 got i
	for ((i = 0; i < t * 2; i++)); do
		got=$(prom_query mon "$PROM" "$q")
		if [ -n "$got" ] && python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if a $op b else 1)" "$got" "$want"; then
			LAST=$got
			return 0
		fi
		sleep 0.5
	done
	LAST=${got:-none}
	return 1
}
await 60 'up{job="ipop-turnserver"}' == 1 || fail "up{job=\"ipop-turnserver\"} is $LAST after 60 s"
await 30 'ipop_turn_workers' == 2 || fail "ipop_turn_workers is $LAST"
pass "prometheus scrapes the relay: up == 1"
await 30 'sum(rate(ipop_turn_relayed_bytes_total[5m])) or vector(0)' '>=' 0 || fail "no relayed bytes series"
before=$(prom_query mon "$PROM" 'sum(ipop_turn_relayed_bytes_total{direction="to_peer"})')
[ -n "$before" ] || fail "no ipop_turn_relayed_bytes_total"

# Clients that keep their allocations for a while: a message every 50 ms.
AUTH=(-u svpnjingle -w 1234567890)
N=400 M=3 L=200
ns_bg client "$LIB_TMP/uc.log" timeout 120 turnutils_uclient -n $N -m $M -l $L -z 50 -c -X "${AUTH[@]}" \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
UC_PID=$LIB_PID
relay_sockets() { ns_exec server ss -Huan "sport >= :49152" | wc -l; }
have_relays() { [ "$(relay_sockets)" -gt 0 ]; }
lib_wait 30 have_relays || { tail -20 "$LIB_TMP/uc.log"; fail "the clients opened no allocation"; }
sleep 2
held=$(relay_sockets)
await 60 'sum(turn_total_allocations)' == "$held" ||
	fail "sum(turn_total_allocations) is $LAST while the server holds $held relay sockets"
await 10 'sum(ipop_turn_allocations_active)' == "$held" || fail "ipop_turn_allocations_active is $LAST, not $held"
pass "the allocation gauge equals the $held relay sockets the clients hold (PromQL)"

for ((i = 0; i < 1200; i++)); do kill -0 "$UC_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$UC_PID" 2>/dev/null && fail "turnutils_uclient still runs after 120 s"
wait "$UC_PID" 2>/dev/null
uclient_assert "$LIB_TMP/uc.log" "$M clients x $N messages of $L bytes"
sent=$((N * M * L))
await 30 "sum(ipop_turn_relayed_bytes_total{direction=\"to_peer\"}) - $before" '>=' $sent ||
	fail "relayed bytes grew by $LAST, less than the $sent bytes sent"
grew=$LAST
await 10 "sum(increase(turn_total_traffic_peer_sentb[2m]))" '>' 0 || fail "coturn's turn_total_traffic_peer_sentb did not increase"
pass "ipop_turn_relayed_bytes_total grew by $grew >= $sent bytes sent"

# Wrong passwords: the rate the alert watches becomes positive.
uclient_run "$LIB_TMP/uc-bad.log" -n 5 -m 2 -l $L -c -X -u svpnjingle -w wrong -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
await 30 'sum(rate(ipop_turn_auth_failures_total[1m]))' '>' 0 || fail "rate(ipop_turn_auth_failures_total) stays $LAST"
pass "authentication failures visible: rate $LAST/s"

# The shipped rules are loaded and healthy; the relay going away raises
# IpopTurnDown (pending first: it has a for: clause).
rules=$(ns_exec mon curl -sS --max-time 10 "http://$PROM/api/v1/rules")
python3 - "$rules" <<'PY' || fail "rules not loaded or unhealthy: $rules"
import json, sys
r = json.loads(sys.argv[1])
rules = [x for g in r["data"]["groups"] for x in g["rules"]]
names = {x["name"] for x in rules}
assert {"IpopTurnDown", "IpopTurnAuthFailuresSpiking", "IpopTurnAllocationsNearCapacity"} <= names, names
bad = [x["name"] for x in rules if x.get("health") != "ok"]
assert not bad, bad
PY
turn_stop
await 60 'count(ALERTS{alertname="IpopTurnDown"})' == 1 || fail "IpopTurnDown did not go pending (ALERTS: $LAST)"
pass "rules loaded and healthy; IpopTurnDown raised once the relay stopped"
kill "$PROM_PID" 2>/dev/null
