#!/usr/bin/env bash
# Trust inside the group (docs/security.md): mallory is a member of the
# group and attacks it; alice refuses each attack, and the benign case
# next to it works.
#   1. mallory claims bob's address while bob is online, then while he is
#      offline (alice restarted in between: ownership is persisted); bob
#      still links and works. A claim outside the subnet is refused; a
#      free address (carol) links.
#   2. mallory announces bob's key under her own node id, bob's node id
#      from her account, another key for bob's node id: all refused; a
#      resource whose key is its node id's is accepted.
#   3. mallory floods 64 throw-away resources that each send one hello and
#      never send presence: they hold at most max_links_per_member (4)
#      links at alice, expire, and carol (a new member) links meanwhile.
#   4. ipopd -n refuses a FIFO as config.json at once (it used to hang).
#   5. alice restarted with an operator's address map: a free address that
#      is not in the map (mallory) is refused, mapped ones (bob) link;
#      mallory's flood churned only her own pins. (ipopctl pin forget drops
#      a pin: end of part 2.)
#
#                      lan: bridge br0, 192.0.2.0/24
#     +-----------+-------------+-------------+-------------+
#     |           |             |             |             |
#   srv .1      a .11         b .12         m .13         c .14
#   prosody     ipopd alice   ipopd bob     mallory:      ipopd carol
#   STUN        172.31.0.1    172.31.0.2    ipopd, probes 172.31.0.3
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init trust
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
TOOLS=$(dirname "$IPOPD")/tests/tools
for t in sig_forge sig_flood xmpp_probe; do [ -x "$TOOLS/$t" ] || skip "$TOOLS/$t not built (make tools)"; done

lab_lan a b m c
xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[team]" alice bob mallory carol
for u in alice bob mallory carol; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

jq_status() { node_ctl "$1" --json status | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
peer_of() { # NAME JID_PREFIX FIELD: FIELD of the first peer whose jid starts so
	node_ctl "$1" --json peers | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["jid"].startswith(sys.argv[1]):
        v = p.get(sys.argv[2]); print("" if v is None else v); break
' "$2" "$3"
}
stop_node() { kill -TERM "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}" 2>/dev/null; }

node_config alice 172.31.0.1 alice 192.0.2.1:3478
node_config bob 172.31.0.2 bob 192.0.2.1:3478
node_config carol 172.31.0.3 carol 192.0.2.1:3478
node_start a alice
node_start b bob
node_wait alice 'peer bob@.*-> up' 30 || { node_logs; fail "alice's link to bob did not come up"; }
node_wait alice '172.31.0.2 now belongs to bob@' 5 || { node_logs; fail "bob's address was not recorded"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob"; }
node_ctl alice pins | grep -q '172.31.0.2 *bob@example.test' || { node_ctl alice pins; fail "ipopctl pins shows no owner"; }
pass "benign: alice and bob linked; 172.31.0.2 belongs to bob@ (ipopctl pins)"

# ---- 1. address takeover, bob online ----
node_config mallory 172.31.0.2 mallory 192.0.2.1:3478
node_start m mallory
node_wait alice 'peer mallory@.*refused: 172.31.0.2 belongs to bob@example.test' 30 ||
	{ node_logs; fail "alice did not refuse mallory's claim on bob's address"; }
why=$(peer_of alice mallory@ trust_refused)
[[ $why == "172.31.0.2 belongs to bob@example.test" ]] || { node_ctl alice peers; fail "ipopctl peers shows '$why'"; }
node_ctl alice peers | grep -q 'refused: 172.31.0.2 belongs to bob@example.test' || fail "ipopctl peers table lacks the conflict"
vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob while mallory claims his address"; }
vpn_ping m 172.31.0.1 && fail "mallory, claiming bob's address, reaches alice"
[ "$(peer_of alice mallory@ state)" != up ] || fail "mallory's link at alice is up"
grep -q 'already belongs to another peer' "$LIB_TMP/alice.log" && fail "the routing table had to refuse the conflict"
pass "bob online: mallory's claim on 172.31.0.2 refused (log, ipopctl), bob still reachable"

# ---- 1b. bob offline, alice restarted: ownership survives ----
stop_node mallory
stop_node bob
stop_node alice
[ -f "$LIB_TMP/alice/node.trust" ] || fail "no trust file next to alice's key"
[ "$(stat -c %a "$LIB_TMP/alice/node.trust")" = 600 ] || fail "the trust file is not mode 600"
grep -q '^owner 172.31.0.2 bob@example.test ' "$LIB_TMP/alice/node.trust" || { cat "$LIB_TMP/alice/node.trust"; fail "no owner line"; }
node_start a alice
node_wait alice 'xmpp: online' 20 || { node_logs; fail "alice did not log in again"; }
node_start m mallory
node_wait alice 'peer mallory@.*refused: 172.31.0.2 belongs to bob@example.test' 30 ||
	{ node_logs; fail "with bob offline, alice did not refuse mallory's claim"; }
node_start b bob
node_wait alice 'peer bob@.*-> up' 30 || { node_logs; fail "bob did not link again while mallory claims his address"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping the returning bob"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "the returning bob cannot ping alice"; }
grep -q 'already belongs to another peer' "$LIB_TMP/alice.log" && fail "bob was refused: 'already belongs to another peer'"
pass "bob offline, alice restarted: mallory refused first; bob returns and links"
stop_node mallory

# ---- 1c. outside the subnet; a free address (carol) links ----
node_config mallory 10.77.0.2 mallory 192.0.2.1:3478
node_start m mallory
node_wait alice "peer mallory@.*refused: 10.77.0.2 is outside this overlay's 172.31.0.0/24" 30 ||
	{ node_logs; fail "alice accepted 10.77.0.2 from mallory"; }
node_start c carol
node_wait alice 'peer carol@.*-> up' 30 || { node_logs; fail "carol (a free address) did not link"; }
vpn_ping a 172.31.0.3 || { node_logs; fail "alice cannot ping carol"; }
stop_node mallory
pass "an address outside 172.31.0.0/24 refused; carol's free 172.31.0.3 links"

# ---- 2. keys: a key must hash to its node id, a node id stays with its member ----
alice_id=$(jq_status alice 'd["node_id"]')
bob_id=$(jq_status bob 'd["node_id"]')
bob_key=$(jq_status bob 'd["key"]')
probe() { # NAME RESOURCE BODY: mallory's resource sends BODY to everyone it sees
	ns_exec m "$TOOLS/xmpp_probe" mallory@example.test pw-mallory 192.0.2.1 5222 "$1" required \
		"$XDIR/certs/example.test.crt" 6 "$2" >"$LIB_TMP/probe-$1.out" 2>&1
}
read -r _ rnd_id <<<"$("$TOOLS/sig_forge" keygen)"
probe "ipop-$rnd_id" "$("$TOOLS/sig_forge" hello "$rnd_id" "$alice_id" "$bob_key" 172.31.0.7)"
node_wait alice "peer mallory@example.test/ipop-$rnd_id: hello refused: its static key .* is not its node id's" 10 ||
	{ cat "$LIB_TMP/probe-ipop-$rnd_id.out"; node_logs; fail "bob's key under mallory's node id was not refused"; }
probe "ipop-$bob_id" "$("$TOOLS/sig_forge" hello "$bob_id" "$alice_id" "$bob_key" 172.31.0.7)"
node_wait alice "peer mallory@example.test/ipop-$bob_id: hello refused: its node id was first seen under bob@example.test" 10 ||
	{ node_logs; fail "bob's node id from mallory's account was not refused"; }
read -r other_key _ <<<"$("$TOOLS/sig_forge" keygen)"
probe "ipop-$bob_id" "$("$TOOLS/sig_forge" hello "$bob_id" "$alice_id" "$other_key" 172.31.0.7)"
# base64 has "+", a regex operator: the key's first characters, literally
other_re=$(printf '%s' "${other_key:0:8}" | sed 's/+/[+]/g')
node_wait alice "peer mallory@example.test/ipop-$bob_id: hello refused: its static key ${other_re}.* is not its node id's" 10 ||
	{ node_logs; fail "another key for bob's node id was not refused"; }
read -r own_key own_id <<<"$("$TOOLS/sig_forge" keygen)"
probe "ipop-$own_id" "$("$TOOLS/sig_forge" hello "$own_id" "$alice_id" "$own_key" 172.31.0.7)"
node_wait alice "peer mallory@example.test/ipop-$own_id: hello received" 10 ||
	{ node_logs; fail "a resource with its own key and a free address was not accepted"; }
grep -q "ipop-$own_id: .*refused" "$LIB_TMP/alice.log" && fail "the benign probe was refused"
vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob after the key attacks"; }
n=$(jq_status alice 'd["trust"]["refused_signals"]')
[ "$n" -ge 3 ] || fail "ipopctl status counts $n refused signalling messages"
pass "bob's key under another id, bob's id from mallory, another key for bob's id: refused ($n counted); an honest resource accepted"
# the honest resource's id is pinned to mallory@; the operator can forget it
node_ctl alice pins | grep -q "$own_id .*mallory@example.test" || { node_ctl alice pins; fail "the honest probe's node id is not pinned"; }
out=$(node_ctl alice pin forget "$own_id") || fail "ipopctl pin forget failed: $out"
grep -q 'forgot 1 pinned node id' <<<"$out" || fail "pin forget says: $out"
node_ctl alice pins | grep -q "$own_id" && fail "the forgotten pin is still listed"
pass "ipopctl pins lists the honest resource's pin; ipopctl pin forget drops it"

# ---- 3. 64 throw-away resources without presence; a new member still links ----
stop_node carol
max_mallory=0
watch_mallory() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(node_ctl alice --json peers 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin) if p["jid"].startswith("mallory@")))' 2>/dev/null)
		echo "${n:-0}"
		sleep 0.3
	done
}
ip netns exec "$(ns_name m)" "$TOOLS/sig_flood" mallory@example.test pw-mallory 192.0.2.1 5222 "$XDIR/certs/example.test.crt" \
	"alice@example.test/ipop-$alice_id" "$alice_id" 64 172.31.0.100 150 >"$LIB_TMP/flood.out" 2>&1 &
flood=$!
LIB_PIDS+=("$flood")
# 64 SCRAM logins at once take a busy 2-core machine tens of seconds
lib_wait 120 grep -q '^sent ' "$LIB_TMP/flood.out" || { cat "$LIB_TMP/flood.out"; fail "the flood did not start"; }
watch_mallory >"$LIB_TMP/mallory-count" &
watcher=$!
sleep 1
node_start c carol
node_wait carol 'peer alice@.*-> up' 40 || { node_logs; fail "carol did not link during mallory's flood"; }
vpn_ping a 172.31.0.3 || { node_logs; fail "alice cannot ping carol during the flood"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob during the flood"; }
wait $watcher
max_mallory=$(sort -n "$LIB_TMP/mallory-count" | tail -1)
sent=$(grep -c '^sent ' "$LIB_TMP/flood.out")
[ "$sent" -ge 60 ] || { cat "$LIB_TMP/flood.out"; fail "only $sent of 64 hellos were sent"; }
[ "$max_mallory" -le 4 ] || fail "mallory held $max_mallory links at alice (cap 4)"
[ "$max_mallory" -ge 1 ] || fail "the flood never reached alice"
node_wait alice 'peer mallory@.*link removed \(it never showed presence and never came up\)' 30 ||
	{ node_logs; fail "mallory's throw-away links never expired"; }
evicted=$(grep -c 'makes room for mallory@' "$LIB_TMP/alice.log")
kill $flood 2>/dev/null
wait $flood 2>/dev/null
pass "64 throw-away resources ($sent hellos): at most $max_mallory links at alice, $evicted evicted, expired; carol linked meanwhile"

# ---- 4. a FIFO as config.json ----
mkfifo "$LIB_TMP/fifo.json"
out=$(timeout 10 "$IPOPD" -n -c "$LIB_TMP/fifo.json" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'not a regular file (a FIFO)' <<<"$out" || { echo "$out"; fail "ipopd -n on a FIFO: exit $rc"; }
chmod 644 "$LIB_TMP/alice/config.json"
out=$("$IPOPD" -n -c "$LIB_TMP/alice/config.json" 2>&1) || { echo "$out"; fail "ipopd -n rejects a readable config"; }
grep -q 'warning: mode 0644 lets others read the passwords' <<<"$out" || { echo "$out"; fail "no warning about a readable config"; }
chmod 600 "$LIB_TMP/alice/config.json"
pass "ipopd -n: a FIFO refused at once, a config others can read warned about"

# ---- 5. the operator's address map; forgetting a pin ----
# mallory's 64 throw-away ids of part 3 churned only her own pins (32 per
# member at most); bob's stayed
pins=$(node_ctl alice pins)
nm=$(grep -c ' mallory@example.test ' <<<"$pins")
[ "$nm" -le 32 ] || { echo "$pins"; fail "mallory holds $nm pins (at most 32 per member)"; }
grep -q "^ *$bob_id .*bob@example.test" <<<"$pins" || { echo "$pins"; fail "bob's pin went during mallory's flood"; }
printf '# the group, as the operator assigns it\nalice@example.test 172.31.0.1\nbob@example.test 172.31.0.2\ncarol@example.test 172.31.0.3\n' \
	>"$LIB_TMP/alice/map"
python3 - "$LIB_TMP/alice/config.json" "$LIB_TMP/alice/map" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["address_map_file"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
stop_node carol
stop_node alice
node_start a alice
node_wait alice 'address map .*: 2 address\(es\), only mapped claims are accepted' 10 || { node_logs; fail "the map was not loaded"; }
node_config mallory 172.31.0.5 mallory 192.0.2.1:3478
node_start m mallory
node_wait alice 'peer mallory@.*refused: 172.31.0.5 is not in the address map for mallory@example.test' 30 ||
	{ node_logs; fail "alice accepted an unmapped address"; }
node_wait alice 'peer bob@.*-> up' 30 || { node_logs; fail "bob (mapped) did not link"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob under the map"; }
node_ctl alice pins | grep -q '172.31.0.3 *carol@example.test *address map' || { node_ctl alice pins; fail "ipopctl pins does not show the map"; }
pass "address map: mallory's unmapped 172.31.0.5 refused, bob links; her flood churned only her own pins ($nm), bob's stayed"
