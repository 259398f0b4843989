#!/usr/bin/env bash
# Chromium's own WebRTC stack (headless Chromium from Debian, unchanged)
# against ipop-turnserver with long-term credentials, on the hardened
# defaults (password guessing limits, the host and private ranges refused,
# connection limits). One page, loaded from file://, runs four cases in a
# row, each with two RTCPeerConnections that may use relay candidates only
# (iceTransportPolicy "relay") and exchange offer, answer and candidates in
# the page:
#   udp    turn:192.0.2.1:3478?transport=udp, the right password: a data
#          channel opens and a message goes each way; getStats' selected
#          pair on both sides is relay/relay, both relay addresses are the
#          server's (192.0.2.1, min_port..max_port), and the server logged
#          those allocations for Chromium's address, and relayed the data;
#   tcp    the same with ?transport=tcp (relayProtocol "tcp", TCP accepted);
#   wrong  a wrong password: no relay candidate, gathering ends, and the
#          server logs the failed authentication (auth_fail counted);
#   again  the right password at once after that failure: works as in udp
#          (one failure must not lock a legitimate user out).
# Chromium prints the page's results on its console (stderr), one line a
# case, base64 of a JSON object.
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 ipop-turnserver
#     (headless chromium:   +--- router ------+   :3478 UDP/TCP, relay ports
#      the page, 2 peers)      .1 in each /24     50000-50999
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tschrome
need_cmd ss python3
need_root
turn_bin >/dev/null || exit 77
need_chromium
turn_topology

USER_OK=chrome
PASS_OK=Chromium-Pass-4711
PASS_BAD=not-the-password
# The relay's hardened defaults stay as they are: this is what an operator
# who serves browsers writes. Nothing is opened with allowed_address: the
# browser (198.51.100.2) and its peers' relay candidates (192.0.2.1, this
# server) are public addresses, and the relay refuses its own address
# except for the ports of live allocations, which is exactly the
# relay-to-relay path two relay-only peers take. A deployment whose
# browsers sit in a private network and may be relayed to host candidates
# there would add an allowed_address for that range (docs/turn-conf.md),
# and nothing more. The relay ports are narrowed so that the test can say
# where a relay address must lie.
conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' \
	'min_port = 50000' 'max_port = 50999' \
	"users = { \"$USER_OK:$PASS_OK\" }"
chmod 600 "$conf"
turn_start "$conf"
fail0=$(turn_stat auth_fail)
[ -n "$fail0" ] || fail "no auth_fail counter in the stats"

page="$LIB_TMP/webrtc.html"
cat >"$page" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ipop-turnserver with Chromium</title></head>
<body><pre id="log"></pre>
<script>
// The cases come in the URL's fragment as JSON: [{name, transport, password, expect}].
const P = new URLSearchParams(location.hash.slice(1));
const SERVER = P.get('server'), USER = P.get('user'), BOUND_MS = 1000 * Number(P.get('bound'));
const CASES = JSON.parse(P.get('cases'));

function report(name, obj) {
  const json = JSON.stringify(obj);
  document.getElementById('log').textContent += name + ' ' + json + '\n';
  console.log('TURNLAB ' + name + ' ' + btoa(unescape(encodeURIComponent(json))));
}

function bounded(promise, what) {
  let t;
  const limit = new Promise((_, rej) => { t = setTimeout(() => rej(new Error('no ' + what + ' within the bound')), BOUND_MS); });
  return Promise.race([promise, limit]).finally(() => clearTimeout(t));
}

function candInfo(c) {
  return c && {type: c.candidateType, address: c.address, port: c.port, protocol: c.protocol,
               relayProtocol: c.relayProtocol || null};
}

// The selected pair of the transport (getStats), with both candidates.
async function selected(pc) {
  const st = await pc.getStats();
  let pair = null;
  st.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = st.get(s.selectedCandidatePairId); });
  if (!pair)
    st.forEach(s => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
  if (!pair) return null;
  return {state: pair.state, nominated: !!pair.nominated, bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
          responsesReceived: pair.responsesReceived,
          local: candInfo(st.get(pair.localCandidateId)), remote: candInfo(st.get(pair.remoteCandidateId))};
}

// Chromium shows a pair "in-progress" while a keepalive check on it waits
// for its answer: ask again until the pair is "succeeded" (or the bound).
async function selectedSucceeded(pc) {
  const end = Date.now() + BOUND_MS;
  for (;;) {
    const s = await selected(pc);
    if ((s && s.state === 'succeeded') || Date.now() > end) return s;
    await new Promise(ok => setTimeout(ok, 100));
  }
}

async function runCase(c) {
  const r = {transport: c.transport, candidates: [[], []], errors: [], received: [null, null], selected: [null, null]};
  const cfg = {iceTransportPolicy: 'relay', iceServers: [{
    urls: 'turn:' + SERVER + ':3478?transport=' + c.transport, username: USER, credential: c.password}]};
  const pcs = [new RTCPeerConnection(cfg), new RTCPeerConnection(cfg)];
  // A candidate waits until the other side has its remote description.
  const ready = [false, false], pending = [[], []];
  const deliver = (to, cand) => pcs[to].addIceCandidate(cand).catch(e => r.errors.push('addIceCandidate: ' + e));
  const gathered = pcs.map((pc, i) => new Promise(done => {
    pc.onicecandidate = e => {
      if (!e.candidate) { done(); return; }
      if (!e.candidate.candidate) return;
      r.candidates[i].push({type: e.candidate.type, address: e.candidate.address, port: e.candidate.port});
      if (ready[1 - i]) deliver(1 - i, e.candidate); else pending[1 - i].push(e.candidate);
    };
    pc.onicecandidateerror = e => r.errors.push({pc: i, code: e.errorCode, text: e.errorText, url: e.url});
  }));
  const flush = i => { ready[i] = true; pending[i].splice(0).forEach(cand => deliver(i, cand)); };
  try {
    const nonce = Math.random().toString(36).slice(2);
    const ping = 'ping from pc0 ' + nonce, pong = 'pong from pc1 ' + nonce;
    const dc = pcs[0].createDataChannel('lab');
    const opened = new Promise(ok => { dc.onopen = ok; });
    const gotPong = new Promise(ok => { dc.onmessage = m => { r.received[0] = m.data; ok(); }; });
    const gotPing = new Promise(ok => {
      pcs[1].ondatachannel = e => { e.channel.onmessage = m => { r.received[1] = m.data; e.channel.send(pong); ok(); }; };
    });
    await pcs[0].setLocalDescription(await pcs[0].createOffer());
    await pcs[1].setRemoteDescription(pcs[0].localDescription);
    flush(1);
    await pcs[1].setLocalDescription(await pcs[1].createAnswer());
    await pcs[0].setRemoteDescription(pcs[1].localDescription);
    flush(0);
    if (c.expect === 'fail') {
      await bounded(Promise.all(gathered), 'end of gathering');
      r.gathering = pcs.map(pc => pc.iceGatheringState);
    } else {
      await bounded(opened, 'open data channel');
      dc.send(ping);
      await bounded(Promise.all([gotPing, gotPong]), 'message both ways');
      r.sent = [ping, pong];
      r.selected = [await selectedSucceeded(pcs[0]), await selectedSucceeded(pcs[1])];
    }
  } catch (e) {
    r.failure = String(e);
  }
  r.ice = pcs.map(pc => pc.iceConnectionState);
  pcs.forEach(pc => pc.close());
  return r;
}

(async () => {
  for (const c of CASES) report(c.name, await runCase(c));
  console.log('TURNLAB done');
})();
</script></body></html>
HTML

# Each case's wait in the page is bounded (BOUND s), generously: it only
# ends a case that would never finish.
BOUND=60
cases=$(python3 -c 'import json, sys
ok, bad = sys.argv[1], sys.argv[2]
print(json.dumps([
    {"name": "udp", "transport": "udp", "password": ok, "expect": "ok"},
    {"name": "tcp", "transport": "tcp", "password": ok, "expect": "ok"},
    {"name": "wrong", "transport": "udp", "password": bad, "expect": "fail"},
    {"name": "again", "transport": "udp", "password": ok, "expect": "ok"}]))' "$PASS_OK" "$PASS_BAD")
frag=$(python3 -c 'import sys, urllib.parse
print(urllib.parse.urlencode({"server": sys.argv[1], "user": sys.argv[2], "bound": sys.argv[3], "cases": sys.argv[4]}))' \
	"$TURN_SERVER_IP" "$USER_OK" "$BOUND" "$cases")

CHROME_LOG="$LIB_TMP/chromium.log"
ns_bg client "$CHROME_LOG" chromium "${LIB_CHROMIUM_ARGS[@]}" --user-data-dir="$LIB_TMP/profile" \
	--enable-logging=stderr --v=0 "file://$page#$frag"
CHROME_PID=$LIB_PID
chrome_done() { grep -q 'TURNLAB done' "$CHROME_LOG" || ! kill -0 "$CHROME_PID" 2>/dev/null; }
# four cases, each bounded by BOUND in the page, plus Chromium's start
if ! lib_wait $((4 * BOUND + 120)) chrome_done || ! grep -q 'TURNLAB done' "$CHROME_LOG"; then
	tail -30 "$CHROME_LOG"
	fail "the page did not finish its cases (Chromium's log above)"
fi
kill -TERM "$CHROME_PID" 2>/dev/null
RESULTS="$LIB_TMP/results"
grep -o 'TURNLAB [a-z]* [A-Za-z0-9+/=]*' "$CHROME_LOG" | grep -v 'TURNLAB done' >"$RESULTS"

# One case's result, checked; prints what it saw and exits 1 with the reason.
check_case() { # NAME ok|fail
	python3 - "$RESULTS" "$1" "$2" "$TURN_LOG" "$TURN_SERVER_IP" 50000 50999 <<'PY'
import base64, json, re, sys
results, name, expect, turn_log, server, lo, hi = sys.argv[1:8]
r = None
for line in open(results):
    _, n, b = line.split()
    if n == name:
        r = json.loads(base64.b64decode(b).decode())
if r is None:
    sys.exit("%s: the page reported nothing" % name)
print("%s: %s" % (name, json.dumps(r)))
relays = [c for side in r["candidates"] for c in side if c["type"] == "relay"]
if expect == "fail":
    if relays:
        sys.exit("%s: the wrong password gave relay candidates %s" % (name, relays))
    if r.get("failure"):
        sys.exit("%s: %s" % (name, r["failure"]))
    codes = sorted(set(e["code"] for e in r["errors"] if isinstance(e, dict)))
    if 401 not in codes:
        sys.exit("%s: no icecandidateerror 401 (errors: %s)" % (name, r["errors"]))
    print("%s: no relay candidate, gathering %s, icecandidateerror codes %s" % (name, r["gathering"], codes))
    sys.exit(0)
if r.get("failure"):
    sys.exit("%s: %s" % (name, r["failure"]))
if r["received"] != [r["sent"][1], r["sent"][0]]:  # pc0 got the pong, pc1 the ping
    sys.exit("%s: received %s, sent %s" % (name, r["received"], r["sent"]))
allocs = set(re.findall(r"allocation created: user \S+ client 198\.51\.100\.2:\d+ relay (\S+)",
                        open(turn_log).read()))
for i, s in enumerate(r["selected"]):
    if not s:
        sys.exit("%s: pc%d has no selected candidate pair" % (name, i))
    if s["state"] != "succeeded" or not s["nominated"] or not s["responsesReceived"]:
        sys.exit("%s: pc%d's pair is %s, nominated %s, %s check answers" % (
            name, i, s["state"], s["nominated"], s["responsesReceived"]))
    for side in ("local", "remote"):
        c = s[side]
        if c["type"] != "relay":
            sys.exit("%s: pc%d's %s candidate is %s, not relay" % (name, i, side, c["type"]))
        if c["address"] != server or not int(lo) <= c["port"] <= int(hi):
            sys.exit("%s: pc%d's %s relay %s:%d is not in %s:%s-%s" % (name, i, side, c["address"], c["port"], server, lo, hi))
        if "%s:%d" % (c["address"], c["port"]) not in allocs:
            sys.exit("%s: the server logged no allocation for Chromium with relay %s:%d" % (name, c["address"], c["port"]))
    if s["local"]["relayProtocol"] != r["transport"]:
        sys.exit("%s: pc%d reaches the relay over %s, not %s" % (name, i, s["local"]["relayProtocol"], r["transport"]))
print("%s: both ways (%r, %r); pairs relay/relay over %s: pc0 %s:%d <-> %s:%d, allocated for 198.51.100.2 in the server's log" % (
    name, r["received"][1], r["received"][0], r["transport"],
    r["selected"][0]["local"]["address"], r["selected"][0]["local"]["port"],
    r["selected"][0]["remote"]["address"], r["selected"][0]["remote"]["port"]))
PY
}

check_case udp ok || fail "udp: Chromium's data channel through the relay (above)"
pass "udp: Chromium's data channel carried a message each way over a relay/relay pair allocated by the server"
check_case tcp ok || fail "tcp: Chromium's data channel through the relay over TCP (above)"
pass "tcp: the same with ?transport=tcp"
conns=$(turn_stat conns_accepted)
[ "${conns:-0}" -ge 2 ] || fail "the server accepted ${conns:-no} TCP connections, the tcp case needs 2"
pass "the server accepted $conns TCP connections"
relayed=$(turn_stat relayed_to_peer)
[ "${relayed:-0}" -ge 1 ] || fail "the server relayed nothing (relayed_to_peer=${relayed:-?})"
pass "the server relayed Chromium's traffic: relayed_to_peer=$relayed"

check_case wrong fail || fail "wrong password (above)"
grep -q "turn: authentication failed: user '$USER_OK' from 198\.51\.100\.2:" "$TURN_LOG" ||
	{ tail -20 "$TURN_LOG"; fail "the server logged no failed authentication for Chromium"; }
grep "$PASS_BAD\|$PASS_OK" "$TURN_LOG" && fail "a password is in the server's log"
fail1=$(turn_stat auth_fail)
[ "$fail1" -gt "$fail0" ] || fail "auth_fail $fail0 -> $fail1"
pass "wrong password: no relay candidate (icecandidateerror 401); the server logged the failure (auth_fail $fail0 -> $fail1), without the password"

check_case again ok || fail "the right password right after a wrong one (above)"
n_fail=$(grep -n "turn: authentication failed" "$TURN_LOG" | tail -1 | cut -d: -f1)
n_last=$(grep -n "allocation created: user $USER_OK client 198\.51\.100\.2:" "$TURN_LOG" | tail -1 | cut -d: -f1)
[ "$n_last" -gt "$n_fail" ] || fail "no allocation after the failed authentication in the server's log"
pass "the right password works at once after the wrong one (no lockout)"
turn_stop
