#!/usr/bin/env bash
# Interop: our turn_client library (through build/bench/turn_probe) against
# coturn's turnserver. The probe allocates, installs a permission, sends a
# Send indication and ChannelData to a turnutils_peer echo and must get
# every payload back through coturn's relay, over UDP and over TCP.
#
#   netns ${P}cli                                  netns ${P}srv
#  +-----------------------------+   veth pair   +------------------------------+
#  | turn_probe                  | cli ----- srv | coturn turnserver            |
#  | turnutils_peer echo :3480   |               |   listen 192.0.2.1:3478      |
#  | 192.0.2.2/24                |               |   relay  192.0.2.1:49152-... |
#  +-----------------------------+               +------------------------------+
#  probe -> 192.0.2.1:3478 (TURN) -> relay -> 192.0.2.2:3480 (echo) -> relay -> probe
#
# Exit 0 only when the echoes came back; 77 (skip) when coturn or root is
# missing. IPOP_BUILD overrides the build directory (default build).
set -u
cd "$(dirname "$0")/../.."
B=${IPOP_BUILD:-build}
P=${NS_PREFIX:-iptc-}
PROBE=$B/bench/turn_probe
SRV=${P}srv
CLI=${P}cli
tmp=$(mktemp -d /tmp/turnclient-coturn.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
command -v turnserver >/dev/null || { echo "SKIP: coturn turnserver not installed"; exit 77; }
command -v turnutils_peer >/dev/null || { echo "SKIP: turnutils_peer not installed"; exit 77; }
[ -x "$PROBE" ] || { echo "FAIL: $PROBE not built (make tools)"; exit 1; }

ip netns add "$SRV" && ip netns add "$CLI" || exit 1
ip link add srv netns "$SRV" type veth peer name cli netns "$CLI" || exit 1
ip -n "$SRV" addr add 192.0.2.1/24 dev srv
ip -n "$CLI" addr add 192.0.2.2/24 dev cli
for ns in "$SRV" "$CLI"; do
	ip -n "$ns" link set lo up
done
ip -n "$SRV" link set srv up
ip -n "$CLI" link set cli up

ip netns exec "$SRV" turnserver -n --listening-ip=192.0.2.1 --listening-port=3478 \
	--relay-ip=192.0.2.1 --lt-cred-mech --user=probe:probepass --realm=lab.test \
	--no-tls --no-dtls --no-cli --log-file=stdout >"$tmp/coturn.log" 2>&1 &
pids+=($!)
ip netns exec "$CLI" turnutils_peer -L 192.0.2.2 -p 3480 >"$tmp/peer.log" 2>&1 &
pids+=($!)

# coturn is ready when both its UDP and TCP listeners are bound.
for _ in $(seq 1 50); do
	u=$(ip netns exec "$SRV" ss -Hlun 'sport = :3478' | wc -l)
	t=$(ip netns exec "$SRV" ss -Hltn 'sport = :3478' | wc -l)
	[ "$u" -gt 0 ] && [ "$t" -gt 0 ] && break
	sleep 0.1
done
[ "$u" -gt 0 ] || { echo "FAIL: coturn did not start"; cat "$tmp/coturn.log"; exit 1; }

rc=0
for tr in udp tcp; do
	echo "== turn_probe over $tr"
	if ip netns exec "$CLI" timeout 60 "$PROBE" -s 192.0.2.1:3478 -u probe -w probepass \
		-p 192.0.2.2:3480 -T "$tr" -n 5 | tee "$tmp/probe-$tr.log" &&
		grep -q '^result PASS 6/6' "$tmp/probe-$tr.log"; then
		echo "ok: $tr echo came back through coturn's relay"
	else
		echo "FAIL: $tr"
		rc=1
	fi
done

if [ $rc -ne 0 ]; then
	echo "----- coturn log (tail)"
	tail -n 40 "$tmp/coturn.log"
fi
exit $rc
