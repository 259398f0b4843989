#!/usr/bin/env bash
# ipopctl's RTT is true: on a quiet direct path and on a relayed path that
# a forwarder delays, `ipopctl peers --json` must agree with `ping` through
# the tunnel (its RTT lies between the fastest and the slowest of ten
# pings, within a small margin: the pings also cross both TUN devices),
# with microsecond resolution, a recent measurement on both ends, and
# /metrics saying the same.
#
#   alice 192.0.2.11 --+                 +-- srv 192.0.2.1  prosody, ipop-turnserver :3478
#   bob   192.0.2.12 --+-- lan (bridge) -+       192.0.2.5  udp_delay.py :3478 -> 192.0.2.1:3478,
#   carol 192.0.2.13 --+                                    holding every datagram DELAY_MS each way
#
# alice-bob: direct on the LAN (quiet). alice-carol: iptables drops what
# they send each other, so their link is relayed, and every relayed path
# crosses the delaying forwarder at least once each way (the nodes' TURN
# server is the forwarder's address): ~2 x DELAY_MS more.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_metrics.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init nrtt
need_cmd prosody prosodyctl python3 ping iptables ss curl
need_root
node_bins
DELAY_MS=${DELAY_MS:-20}

lab_lan a b c
ns_exec srv ip addr add 192.0.2.5/24 dev eth0
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[group]" alice bob carol
for u in alice bob carol; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
turn_lab_server srv 192.0.2.1
ns_bg srv "$LIB_TMP/udp_delay.log" python3 "$NODE_REPO_ROOT/tests/tools/udp_delay.py" 192.0.2.5 3478 192.0.2.1 3478 "$DELAY_MS" 900
wait_udp_port srv 3478 10 || fail "udp_delay did not start"
for pair in "a 192.0.2.13" "c 192.0.2.11"; do
	set -- $pair
	ns_exec "$1" iptables -A OUTPUT -d "$2" -j DROP
	ns_exec "$1" iptables -A INPUT -s "$2" -j DROP
done
TURN='"turn": [{"server": "192.0.2.5:3478", "user": "u", "pass": "p"}],'
node_config alice 172.31.0.1 alice "" "$TURN \"metrics_address\": \"127.0.0.1:9642\","
node_config bob 172.31.0.2 bob "" "$TURN"
node_config carol 172.31.0.3 carol "" "$TURN"
node_start a alice
node_start b bob
node_start c carol
node_wait alice 'peer bob@.*-> up' 60 || { node_logs; fail "alice-bob did not come up"; }
node_wait alice 'peer carol@.*-> up' 90 || { node_logs; fail "alice-carol did not come up"; }
node_wait carol 'peer alice@.*-> up' 30 || { node_logs; fail "carol-alice did not come up"; }
[ "$(node_peer_field alice 172.31.0.2 path)" = direct ] || fail "alice-bob is not direct"
[ "$(node_peer_field alice 172.31.0.3 path)" = relay ] || fail "alice-carol is not relayed"
pass "alice-bob direct on the LAN, alice-carol relayed through the delaying forwarder"

# Probes go every 2 s while a link carries data, every 30 s when it is
# idle, and the first 1 s after it came up: wait for samples on each link.
have_samples() { # NAME PEER_IP
	local age us
	us=$(node_peer_field "$1" "$2" rtt_us)
	age=$(node_peer_field "$1" "$2" rtt_age_ms)
	[ -n "$us" ] && [ -n "$age" ]
}
for p in "alice 172.31.0.2" "bob 172.31.0.1" "alice 172.31.0.3" "carol 172.31.0.1"; do
	lib_wait 30 have_samples $p || { node_ctl ${p%% *} --json peers; fail "no RTT for $p in 30 s"; }
done
sleep 12

# ping statistics through the tunnel: "min avg max" in ms. 8 s of pings:
# the links were idle (probes every 30 s), the traffic brings them back to
# every 2 s, so the RTT read afterwards was measured during the pings.
ping_stats() { # NS IP
	ns_exec "$1" ping -c 40 -i 0.2 -W 3 "$2" | awk -F'[ /]+' '/^rtt/ { print $7, $8, $9 }'
}

check() { # NAME NS PEER_IP LABEL MARGIN_MS
	local name=$1 ns=$2 ip=$3 label=$4 margin=$5 stats peer t0 since
	t0=$(lib_now_us)
	stats=$(ping_stats "$ns" "$ip")
	[ -n "$stats" ] || fail "$label: ping through the tunnel failed"
	peer=$(node_ctl "$name" --json peers)
	since=$((($(lib_now_us) - t0) / 1000))
	python3 - "$peer" "$ip" "$stats" "$margin" "$label" "$since" <<'PY'
import json, sys
peers, ip, stats, margin, label = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3].split(), float(sys.argv[4]), sys.argv[5]
since = int(sys.argv[6])
lo, avg, hi = map(float, stats)
p = next(p for p in peers if p["ip4"] == ip)
srtt, last, age = p["rtt_us"] / 1000, p["rtt_last_us"] / 1000, p["rtt_age_ms"]
print("%s: ipopctl RTT %.3f ms (last %.3f ms, %d ms ago); ping min/avg/max %.3f/%.3f/%.3f ms"
      % (label, srtt, last, age, lo, avg, hi))
assert abs(p["rtt_ms"] - srtt) < 0.0015, "rtt_ms and rtt_us disagree"
assert age <= since, "the RTT was measured %d ms ago, before the %d ms of pings began" % (age, since)
ok = lambda x: lo - margin <= x <= hi + margin
assert ok(srtt) or ok(last), "outside the pings' range +-%.1f ms" % margin
PY
}
check alice a 172.31.0.2 "quiet direct path alice->bob" 1.0 || fail "alice's RTT to bob disagrees with ping"
check bob b 172.31.0.1 "quiet direct path bob->alice" 1.0 || fail "bob's RTT to alice disagrees with ping"
us=$(node_peer_field alice 172.31.0.2 rtt_us)
[ "$us" -lt 5000 ] || fail "alice-bob RTT is $us us on a LAN"
pass "quiet path: ipopctl's RTT ($us us) agrees with ping through the tunnel, at microsecond resolution"

check alice a 172.31.0.3 "delayed relayed path alice->carol" 4.0 || fail "alice's RTT to carol disagrees with ping"
check carol c 172.31.0.1 "delayed relayed path carol->alice" 4.0 || fail "carol's RTT to alice disagrees with ping"
us=$(node_peer_field alice 172.31.0.3 rtt_us)
[ "$us" -ge $((2 * DELAY_MS * 1000 * 9 / 10)) ] || fail "alice-carol RTT $us us is less than twice the $DELAY_MS ms delay"
pass "delayed path: ipopctl's RTT ($us us) agrees with ping through the relay and the ${DELAY_MS} ms forwarder"

# /metrics says the same as ipopctl (the same snapshot code; seconds)
page=$(ns_exec a curl -sS --max-time 10 http://127.0.0.1:9642/metrics) || fail "alice's /metrics"
m=$(awk '/^ipop_node_peer_rtt_seconds\{.*addr="172.31.0.3"/ { print $2 }' <<<"$page")
c=$(node_peer_field alice 172.31.0.3 rtt_us)
python3 -c 'import sys; m, c = float(sys.argv[1]), int(sys.argv[2]); assert abs(m * 1e6 - c) < 1e6 * 0.2, (m, c)' "$m" "$c" ||
	fail "/metrics RTT $m s vs ipopctl $c us"
pass "/metrics ipop_node_peer_rtt_seconds $m for carol (ipopctl: $c us)"
