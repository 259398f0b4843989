#!/usr/bin/env bash
# The overlay map (deploy/prometheus/consoles/ipop-map.html) in headless
# Chromium from Debian, served by a real Prometheus as a console template
# and fed by its HTTP API: with four nodes it must draw exactly the nodes
# and links that ipopctl reports, each link with ipopctl's path (alice-bob
# relayed, the others direct) and an RTT on hover; a click shows a node's
# details; when a node stops, its links leave the map and it turns grey.
# The screenshot goes to $LIB_TMP/overlay-map.png, and to
# docs/overlay-map.png with IPOP_UPDATE_DOCS=1.
#
#                      +-- [r1 sym NAT]  -- h1 alice 172.31.0.1
#   srv 192.0.2.1 --[inet]- [r2 sym NAT]  -- h2 bob   172.31.0.2
#   prosody, TURN      +-- [r3 cone NAT] -- h3 carol 172.31.0.3
#                      +-- [r4 cone NAT] -- h4 dave  172.31.0.4
#   mgmt LAN 10.250.0.0/24: mon .100 (prometheus :9090, chromedriver, chromium),
#                           srv .1, h1-h4 .11-.14 (ipopd /metrics :9642)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_metrics.sh"
source "$(dirname "$0")/lib_obs.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init nmap
need_cmd prosody prosodyctl prometheus curl python3 iptables ss
need_root
node_bins
need_chromium
command -v chromedriver >/dev/null || skip "chromedriver is not installed (package chromium-driver)"
PAGE_DIR="$NODE_REPO_ROOT/deploy/prometheus/consoles"
CHECK="$NODE_REPO_ROOT/tests/tools/map_check.py"
grep -q '{{' "$PAGE_DIR/ipop-map.html" && fail "ipop-map.html holds a template action ({{): Prometheus would run it"

obs_lab sym sym cone cone
obs_nodes
obs_links_up 120
mkdir -p "$LIB_TMP/console_libraries"
obs_prometheus --web.console.templates="$PAGE_DIR" --web.console.libraries="$LIB_TMP/console_libraries"
obs_await 60 'count(ipop_node_peer_path == 1)' == 12 || fail "Prometheus has $LAST link paths, not 12"
obs_await 60 'count(ipop_node_peer_rtt_seconds)' == 12 || fail "Prometheus has $LAST RTTs, not 12"
ns_bg mon "$LIB_TMP/chromedriver.log" chromedriver --port=9515 --allowed-ips=127.0.0.1
wait_tcp_port mon 9515 30 || { cat "$LIB_TMP/chromedriver.log"; fail "chromedriver did not start"; }
DRIVER=http://127.0.0.1:9515
URL="http://$PROM/consoles/ipop-map.html?refresh=1"
s=$(http_status mon "$URL"); [ "$s" = 200 ] || fail "Prometheus serves the map with status $s"

# What ipopctl says: the nodes that answer, and every link as "id-id path".
ctl_view() { # NAME...
	local n k=0
	for n in "$@"; do
		node_ctl "$n" --json status >"$LIB_TMP/ctl.st.$k" || return 1
		node_ctl "$n" --json peers >"$LIB_TMP/ctl.peers.$k" || return 1
		k=$((k + 1))
	done
	python3 - "$LIB_TMP" $k <<'PY'
import json, sys
d, k = sys.argv[1], int(sys.argv[2])
nodes, links = set(), {}
for i in range(k):
    st = json.load(open("%s/ctl.st.%d" % (d, i)))
    peers = json.load(open("%s/ctl.peers.%d" % (d, i)))
    nodes.add(st["node_id"])
    for p in peers:
        key = "-".join(sorted([st["node_id"], p["node_id"]]))
        links.setdefault(key, set()).add((p["path"] or "none") + ("" if p["state"] == "up" else " (not up)"))
print(json.dumps({"nodes": sorted(nodes), "links": {k: sorted(v) for k, v in sorted(links.items())}}))
PY
}
# The map's drawing in the same form.
map_view() { # DRAWING_JSON
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(json.dumps({"nodes": sorted(n["id"] for n in d["nodes"] if n["up"]),
                  "links": {"-".join(sorted([l["a"], l["b"]])): [l["path"] + ("" if l["state"] == "up" else " (not up)")]
                            for l in sorted(d["links"], key=lambda l: sorted([l["a"], l["b"]]))}}))' "$1"
}

drawing=$(ns_exec mon timeout 150 python3 "$CHECK" "$DRIVER" "$URL" wait 4 6 120)
rc=$?
[ $rc = 2 ] && skip "chromium could not be driven through chromedriver: $drawing"
[ $rc = 0 ] || { echo "$drawing"; fail "the map did not show 4 nodes and 6 links in 120 s"; }
want=$(ctl_view alice bob carol dave)
got=$(map_view "$drawing")
echo "ipopctl: $want"
echo "map:     $got"
[ "$got" = "$want" ] || fail "the map does not show what ipopctl reports"
python3 - "$drawing" <<'PY' || fail "a link without an RTT on hover: $drawing"
import json, sys
d = json.loads(sys.argv[1])
for l in d["links"]:
    assert l["title"].count("RTT ") == 2 and " ms" in l["title"] and "sent " in l["title"], l
    assert len(l["rtt_ms"].split(",")) == 2, l
PY
relayed=$(python3 -c 'import json,sys; print(sum(l["path"] == "relay" for l in json.loads(sys.argv[1])["links"]))' "$drawing")
[ "$relayed" = 1 ] || fail "the map shows $relayed relayed links, not 1 (alice-bob)"
pass "the map shows exactly ipopctl's 4 nodes and 6 links, with their paths (1 relayed) and RTTs"

# some traffic, so the details and the hover show bytes
for ip in 172.31.0.2 172.31.0.3 172.31.0.4; do vpn_ping h1 $ip || fail "alice cannot ping $ip"; done
vpn_xfer h2 h1 172.31.0.1 1 >/dev/null || fail "transfer bob -> alice"
shot="$LIB_TMP/overlay-map.png"
info=$(ns_exec mon timeout 150 python3 "$CHECK" "$DRIVER" "$URL" click alice@example.test 90 "$shot") ||
	{ echo "$info"; fail "clicking alice did not show her details (and a hover a tooltip)"; }
python3 - "$info" <<'PY' || fail "alice's details are wrong: $info"
import json, sys
d = json.loads(sys.argv[1])
rows = dict((r[0], r[1]) for r in d["rows"])
assert d["title"].startswith("alice@example.test (172.31.0.1)"), d["title"]
assert rows["up"] == "yes" and rows["XMPP"] == "online" and rows["TURN allocation"].startswith("192.0.2.1:3478"), rows
assert len(d["peers"]) == 3, d["peers"]
assert d["selected"] == ["alice@example.test"], d["selected"]
assert "RTT" in d["tooltip"] and "<->" in d["tooltip"], d["tooltip"]
PY
[ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ] || fail "no PNG screenshot"
pass "a click shows alice's details (3 links, XMPP online, her TURN allocation); a hover the link's RTT and bytes; screenshot $(stat -c %s "$shot") bytes"
if [ "${IPOP_UPDATE_DOCS:-}" = 1 ]; then
	cp "$shot" "$NODE_REPO_ROOT/docs/overlay-map.png"
	echo "docs/overlay-map.png updated"
fi

# A node leaves (it says bye): its links drop off the map, it turns grey.
kill -TERM "${NODE_PID[dave]}"
drawing=$(ns_exec mon timeout 150 python3 "$CHECK" "$DRIVER" "$URL" wait 3 3 120) ||
	{ echo "$drawing"; fail "the map did not drop dave's links (3 nodes up, 3 links) in 120 s"; }
want=$(ctl_view alice bob carol)
got=$(map_view "$drawing")
echo "ipopctl: $want"
echo "map:     $got"
[ "$got" = "$want" ] || fail "after dave left, the map does not show what ipopctl reports"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
down = [n["jid"] for n in d["nodes"] if not n["up"]]
assert down == ["dave@example.test"], down' "$drawing" || fail "dave is not shown as down: $drawing"
pass "dave stopped: the map changed to ipopctl's 3 nodes and 3 links, dave grey"
kill "$PROM_PID" 2>/dev/null
