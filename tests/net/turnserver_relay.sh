#!/usr/bin/env bash
# ipop-turnserver relaying with coturn's turnutils_uclient: UDP and TCP
# client transports, ChannelData and Send indications, to a turnutils_peer
# and client to client; then a peer on 127.0.0.1 must be refused (403).
#
#     client 198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver)
#     (turnutils_uclient)   +--- router ------+
#     peer   203.0.113.2 ---+  .1 in each /24
#     (turnutils_peer :3480)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tsrelay
need_cmd turnutils_uclient turnutils_peer ss
need_root
turn_bin >/dev/null || exit 77
turn_topology

conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' 'users = { "svpnjingle:1234567890" }'
turn_start "$conf"
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"

AUTH=(-u svpnjingle -w 1234567890)
n=0
failed=()
for transport in udp tcp; do
	for method in channel send; do
		for target in peer c2c; do
			args=(-n 100 -m 10 -l 170 -c -X "${AUTH[@]}")
			[ $transport = tcp ] && args+=(-t)
			[ $method = send ] && args+=(-s)
			if [ $target = peer ]; then args+=(-e "$TURN_PEER_IP" -r 3480); else args+=(-y); fi
			n=$((n + 1))
			log="$LIB_TMP/uc-$transport-$method-$target.log"
			uclient_run "$log" "${args[@]}" "$TURN_SERVER_IP"
			# A subshell, so one failing case does not hide the others.
			(uclient_assert "$log" "$transport $method $target (10 clients x 100 messages)") ||
				failed+=("$transport/$method/$target")
		done
	done
done

[ ${#failed[@]} -eq 0 ] || fail "relay cases failed: ${failed[*]}"

# A relay towards loopback must be refused whatever the client asks.
# The counters come from the workers' snapshots (about once a second);
# nothing before this run was refused by policy.
before=$(turn_stat dropped_policy)
log="$LIB_TMP/uc-loopback.log"
uclient_run "$log" -n 10 -m 1 -l 170 -c -X "${AUTH[@]}" -e 127.0.0.1 -r 3480 "$TURN_SERVER_IP"
grep -q 'tot_recv_msgs=[1-9]' "$log" && { tail "$log"; fail "data came back from 127.0.0.1"; }
grep -Eqi '403|forbidden' "$log" || { tail -20 "$log"; fail "the client saw no 403 for 127.0.0.1"; }
turn_wait_stat dropped_policy -gt "${before:-0}" || { tail "$TURN_LOG"; fail "dropped_policy did not grow (from $before)"; }
after=$(turn_stat dropped_policy)
pass "peer 127.0.0.1 refused: client saw 403, dropped_policy $before -> $after"

turn_stop
grep -q 'final: .* relays_open=0 ' "$TURN_LOG" || { tail "$TURN_LOG"; fail "allocations left at shutdown"; }
pass "clean shutdown after $n relay runs"
