#!/usr/bin/env bash
# ipop-turnserver's /metrics (turn.conf metrics_address) on a management
# link: answers only there, 200/404/405/400 as it should, and its counters
# agree with the traffic coturn's turnutils_uclient drives through the
# relay (allocations, 401s, packets and bytes relayed both ways, refused
# peers, authentication failures) while a scraper polls it without pause
# and the relay loses nothing.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_uclient)   +--- router ------+     mgmt 10.250.0.1:9641 /metrics
#     peer   203.0.113.2 ---+  .1 in each /24           |
#     (turnutils_peer :3480)                        mon 10.250.0.2 (curl)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
source "$(dirname "$0")/lib_metrics.sh"
lib_init tsmetrics
need_cmd turnutils_uclient turnutils_peer curl python3 ss
need_root
turn_bin >/dev/null || exit 77
turn_topology
metrics_mgmt server
URL="http://$METRICS_NODE_IP:9641/metrics"

conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'users = { "svpnjingle:1234567890" }' "metrics_address = \"$METRICS_NODE_IP:9641\""
turn_start "$conf"
wait_tcp_port server 9641 60 || fail "nothing listens on 9641"
logged() { grep -q "metrics on http://$METRICS_NODE_IP:9641/metrics" "$TURN_LOG"; }
lib_wait 30 logged || fail "no 'metrics on' log line"

# ---- the endpoint itself ----
m=$(metrics_fetch mon "$URL") || fail "GET $URL: not a 200 text/plain; version=0.0.4"
[ "$(metrics_value "$m" ipop_turn_workers)" = 2 ] || fail "ipop_turn_workers is not 2"
[ "$(metrics_value "$m" 'turn_total_allocations{type="UDP"}')" = 0 ] || fail "allocations before any client"
grep -q '^# TYPE turn_total_allocations gauge$' <<<"$m" || fail "no TYPE line for turn_total_allocations"
grep -q '^# TYPE ipop_turn_relayed_bytes_total counter$' <<<"$m" || fail "no TYPE line for the relayed bytes"
# Only the management address answers: not the relay's public address.
s=$(http_status client "http://$TURN_SERVER_IP:9641/metrics")
[ "$s" = 000 ] || fail "the public address answered /metrics (status $s)"
s=$(http_status mon "http://$METRICS_NODE_IP:9641/"); [ "$s" = 404 ] || fail "GET / gave $s, not 404"
s=$(http_status mon "$URL" -X POST -d x); [ "$s" = 405 ] || fail "POST gave $s, not 405"
s=$(http_status mon "$URL" -I); [ "$s" = 200 ] || fail "HEAD gave $s, not 200"
line=$(http_raw mon "$METRICS_NODE_IP" 9641 'GET /metrics FOO/1.1\r\n\r\n')
[[ $line == "HTTP/1.1 400"* ]] || fail "a malformed request line got '$line', not 400"
line=$(http_raw mon "$METRICS_NODE_IP" 9641 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n')
[[ $line == "HTTP/1.1 400"* ]] || fail "a malformed header got '$line', not 400"
pass "/metrics: 200 on $METRICS_NODE_IP only; 404, 405, HEAD 200, malformed 400"

# ---- traffic while scraped continuously ----
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"
cat >"$LIB_TMP/scrape.sh" <<SH
ok=0 bad=0
while [ ! -e "$LIB_TMP/stop-scraping" ]; do
	if curl -sf --max-time 5 -o /dev/null "$URL"; then ok=\$((ok + 1)); else bad=\$((bad + 1)); fi
done
echo "\$ok \$bad" >"$LIB_TMP/scrape.count"
SH
ns_bg mon "$LIB_TMP/scrape.log" bash "$LIB_TMP/scrape.sh"
AUTH=(-u svpnjingle -w 1234567890)
N=200 M=10 L=170
uclient_run "$LIB_TMP/uc.log" -n $N -m $M -l $L -c -X "${AUTH[@]}" -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/uc.log" "UDP channels, $M clients x $N messages, scraped without pause"
touch "$LIB_TMP/stop-scraping"
lib_wait 20 test -s "$LIB_TMP/scrape.count" || fail "the scraper did not stop"
read -r ok bad <"$LIB_TMP/scrape.count"
[ "$ok" -ge 10 ] && [ "$bad" -eq 0 ] || fail "scrapes during the run: $ok ok, $bad failed"
pass "$ok scrapes during the run, none failed"

# A refused peer (loopback) and a wrong password.
uclient_run "$LIB_TMP/uc-lo.log" -n 5 -m 1 -l $L -c -X "${AUTH[@]}" -e 127.0.0.1 -r 3480 "$TURN_SERVER_IP"
uclient_run "$LIB_TMP/uc-bad.log" -n 5 -m 1 -l $L -c -X -u svpnjingle -w wrong -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"

# Counters are published every 100 ms while busy, at least every second.
sleep 1.5
m=$(metrics_fetch mon "$URL") || fail "GET after the runs failed"
v() { metrics_value "$m" "$1"; }
check() { # DESCRIPTION CONDITION...
	local what=$1; shift
	"$@" || { grep -v '^#' <<<"$m" | head -80 >&2; fail "$what"; }
}
ge() { [ "${1:-0}" -ge "$2" ]; }
sent=$((N * M))
check "allocations created $(v ipop_turn_allocations_created_total) < $M" ge "$(v ipop_turn_allocations_created_total)" $M
check "401s $(v 'ipop_turn_error_responses_total{code="401"}') < $M" ge "$(v 'ipop_turn_error_responses_total{code="401"}')" $M
check "relayed to peer $(v 'ipop_turn_relayed_packets_total{direction="to_peer"}') < $sent" \
	ge "$(v 'ipop_turn_relayed_packets_total{direction="to_peer"}')" $sent
check "relayed to client $(v 'ipop_turn_relayed_packets_total{direction="to_client"}') < $sent" \
	ge "$(v 'ipop_turn_relayed_packets_total{direction="to_client"}')" $sent
check "relayed bytes to peer $(v 'ipop_turn_relayed_bytes_total{direction="to_peer"}') < $((sent * L))" \
	ge "$(v 'ipop_turn_relayed_bytes_total{direction="to_peer"}')" $((sent * L))
check "relayed bytes to client $(v 'ipop_turn_relayed_bytes_total{direction="to_client"}') < $((sent * L))" \
	ge "$(v 'ipop_turn_relayed_bytes_total{direction="to_client"}')" $((sent * L))
# coturn's names carry the same counts.
check "turn_total_traffic_peer_sentp differs from the relayed packets" \
	[ "$(v turn_total_traffic_peer_sentp)" = "$(v 'ipop_turn_relayed_packets_total{direction="to_peer"}')" ]
check "turn_total_traffic_rcvb $(v turn_total_traffic_rcvb) < payload + headers" \
	ge "$(v turn_total_traffic_rcvb)" $((sent * (L + 4)))
check "turn_traffic_sentp{realm=\"ipop\"} differs from turn_total_traffic_sentp" \
	[ "$(v 'turn_traffic_sentp{realm="ipop"}')" = "$(v turn_total_traffic_sentp)" ]
check "no refused loopback peer" ge "$(v 'ipop_turn_peers_refused_total{reason="special_address"}')" 1
check "no authentication failure" ge "$(v ipop_turn_auth_failures_total)" 1
check "datagrams received per worker do not add up" \
	ge $(( $(v 'ipop_turn_udp_datagrams_received_total{worker="0"}') + $(v 'ipop_turn_udp_datagrams_received_total{worker="1"}') )) $((2 * sent))
check "no receive-queue drop series" [ -n "$(v 'ipop_turn_udp_receive_queue_drops_total{worker="1"}')" ]
check "process_start_time_seconds missing" ge "$(v process_start_time_seconds)" 1
grep -q 'user=\|username=' <<<"$m" && fail "a per-user label is exported"
pass "counters agree: created $(v ipop_turn_allocations_created_total), 401s $(v 'ipop_turn_error_responses_total{code="401"}'), relayed $(v 'ipop_turn_relayed_packets_total{direction="to_peer"}')/$(v 'ipop_turn_relayed_packets_total{direction="to_client"}') packets, refused $(v 'ipop_turn_peers_refused_total{reason="special_address"}'), auth failures $(v ipop_turn_auth_failures_total)"

turn_stop
wait_no_port server t 9641 10 || fail "9641 still open after the relay stopped"
grep -q 'final: .* relays_open=0 ' "$TURN_LOG" || { tail "$TURN_LOG"; fail "allocations left at shutdown"; }
pass "clean shutdown, metrics listener closed"
