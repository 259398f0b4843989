#!/usr/bin/env bash
# Interop: our turn_client library (through build/bench/turn_probe) against
# coturn's turnserver. The probe allocates, installs a permission, sends a
# Send indication and ChannelData to a turnutils_peer echo and must get
# every payload back through coturn's relay, over UDP and over TCP.
#
#   netns <prefix>-cli                              netns <prefix>-srv
#  +-----------------------------+   veth pair   +------------------------------+
#  | turn_probe                  | cli ----- srv | coturn turnserver            |
#  | turnutils_peer echo :3480   |               |   listen 192.0.2.1:3478      |
#  | 192.0.2.2/24                |               |   relay  192.0.2.1:49152-... |
#  +-----------------------------+               +------------------------------+
#  probe -> 192.0.2.1:3478 (TURN) -> relay -> 192.0.2.2:3480 (echo) -> relay -> probe
#
# Exit 0 only when every echo came back; 77 (skip) without coturn or root.
# IPOP_BUILD overrides the build directory (default build).
set -u
source "$(dirname "$0")/lib.sh"
lib_init turnc
need_root
need_cmd turnserver turnutils_peer ss

B=${IPOP_BUILD:-build}
[[ $B == /* ]] || B="$(cd "$(dirname "$0")/../.." && pwd)/$B"
PROBE=$B/bench/turn_probe
[ -x "$PROBE" ] || fail "$PROBE not built (make tools)"

ns_create srv
ns_create cli
ns_link srv srv 192.0.2.1/24 cli cli 192.0.2.2/24

ns_bg srv "$LIB_TMP/coturn.log" turnserver -n --listening-ip=192.0.2.1 --listening-port=3478 \
	--relay-ip=192.0.2.1 --lt-cred-mech --user=probe:probepass --realm=lab.test \
	--no-tls --no-dtls --no-cli --log-file=stdout
ns_bg cli "$LIB_TMP/peer.log" turnutils_peer -L 192.0.2.2 -p 3480

# coturn is ready when both its UDP and TCP listeners are bound.
wait_udp_port srv 3478 && wait_tcp_port srv 3478 || {
	cat "$LIB_TMP/coturn.log"
	fail "coturn did not start"
}
wait_udp_port cli 3480 || fail "turnutils_peer did not start"

rc=0
for tr in udp tcp; do
	echo "== turn_probe over $tr"
	# The probe's own bounds: 45 s to allocate, 20 s per step and echo (8
	# steps), 5 s to close; the outer timeout is longer than all of them.
	ns_exec cli timeout 300 "$PROBE" -s 192.0.2.1:3478 -u probe -w probepass \
		-p 192.0.2.2:3480 -T "$tr" -n 5 -t 20 | tee "$LIB_TMP/probe-$tr.log"
	if grep -q '^result PASS 6/6' "$LIB_TMP/probe-$tr.log"; then
		pass "$tr: Send indication and 5 ChannelData echoes came back through coturn's relay"
	else
		echo "FAIL: $tr" >&2
		rc=1
	fi
done

if [ $rc -ne 0 ]; then
	echo "----- coturn log (tail)"
	tail -n 40 "$LIB_TMP/coturn.log"
fi
exit $rc
