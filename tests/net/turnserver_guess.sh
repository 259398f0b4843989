#!/usr/bin/env bash
# ipop-turnserver against online password guessing from one IP: the
# attacker (bench/turn_guess, 8 sockets so its ports reach both workers)
# sends wrong passwords for alice, 3000 a second for 30 s, and the right
# one once 2000 were sent, just after a 401 showed that the server had
# checked one. The server must check only about 5 guesses a second
# (auth_fail) and drop the rest unchecked (auth_limited), so the right
# password is refused. Meanwhile bob on the attacker's IP and alice from another IP
# allocate and relay normally. The failures are in the log at warn level,
# rate-limited, without any password, also at debug level. A little later
# (the bucket refilled) alice gets in from the attacker's IP too.
#
#     client  198.51.100.2 --+                 +-- server 192.0.2.1 (ipop-turnserver -d)
#     (attacker; bob)        +--- router ------+
#     client2 198.51.100.3 --+  .1 in each /24 +-- peer 203.0.113.2 (turnutils_peer :3480)
#     (alice)
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_turn.sh"
lib_init tsguess
need_cmd turnutils_uclient turnutils_peer ss
need_root
turn_bin >/dev/null || exit 77
GUESS="${IPOP_BUILD:-build}/bench/turn_guess"
[[ $GUESS == /* ]] || GUESS="$REPO_ROOT/$GUESS"
[ -x "$GUESS" ] || skip "$GUESS not built (make tools)"
turn_topology
ns_create client2
ns_link router rc2 198.51.100.129/25 client2 eth0 198.51.100.130/25
ns_exec client2 ip route add default via 198.51.100.129
ns_bg peer "$LIB_TMP/peer.log" turnutils_peer -L "$TURN_PEER_IP" -p 3480
wait_udp_port peer 3480 || fail "turnutils_peer did not start"

conf="$LIB_TMP/turn.conf"
turn_conf_write "$conf" 'udp_port = 3478' 'tcp_port = 3478' \
	'users = { "alice:Right-Pass-4711", "bob:bobs-pass" }'
chmod 600 "$conf"
TURN_ARGS=(-d)
turn_start "$conf"

# --- the attack, with the legitimate clients running alongside
T=30
# 3000 guesses a second: 600 times what the server lets through, and not a
# flood that would only measure how many packets two loaded cores take
# (bench/turnserver_guess measures the full speed).
ns_bg client "$LIB_TMP/guess.log" "$GUESS" -u alice -w Right-Pass-4711 -R 2000 -k 8 -t $T -r 3000 \
	-W 3 "$TURN_SERVER_IP"
attacker=$LIB_PID
sleep 1
ns_bg client "$LIB_TMP/bob.log" timeout 90 turnutils_uclient -n 50 -m 5 -l 170 -c -X \
	-u bob -w bobs-pass -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
bob=$LIB_PID
ns_bg client2 "$LIB_TMP/alice2.log" timeout 90 turnutils_uclient -n 50 -m 5 -l 170 -c -X \
	-u alice -w Right-Pass-4711 -e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
wait "$LIB_PID"
wait "$bob"
kill -0 "$attacker" 2>/dev/null || fail "the attack ended before the legitimate clients did (too short to say anything)"
uclient_assert "$LIB_TMP/bob.log" "during the attack: bob from the attacker's IP relays"
uclient_assert "$LIB_TMP/alice2.log" "during the attack: alice from another IP relays"
wait "$attacker" || { cat "$LIB_TMP/guess.log"; fail "turn_guess failed"; }
cat "$LIB_TMP/guess.log"
val() { sed -n "s/^$1=//p" "$LIB_TMP/guess.log"; }
sent=$(val guesses_sent)
elapsed=$(val elapsed_s)
[ "${sent:-0}" -ge 2000 ] || fail "only ${sent:-0} guesses sent"
[ "$(val right)" = refused ] || fail "the right password was not refused: $(val right) $(val right_after_s)"
pass "$sent guesses in $elapsed s; the right password, sent after guess 2000, was refused"

checked=$(turn_stat auth_fail)
limited=$(turn_stat auth_limited)
# 10 at once, then 5 a second (TURN_AUTHLIMIT_PAIR_*), over the attack plus
# the final attempt, plus bob's and alice's own first tries (none failed).
max=$(python3 -c "import math; print(10 + math.ceil(5 * ($elapsed + 4)))")
[ "$checked" -le "$max" ] || fail "the server checked $checked guesses in $elapsed s (at most $max expected)"
[ "$checked" -ge 10 ] || fail "only $checked guesses were checked: was the attack seen at all?"
[ "$limited" -ge $((sent / 2)) ] || fail "only $limited of $sent guesses held back unchecked"
pass "checked $checked guesses (limit $max: 10 + 5/s), $limited answered without checking"

# --- the log: warnings at warn level, rate-limited, no password at debug level
# (a malformed request makes sure the server does write debug lines)
ns_exec client python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex('000100042112a442') + bytes(12) + b'\xff\xff', ('$TURN_SERVER_IP', 3478))"
lib_wait 5 grep -q 'debug\]: turn: malformed STUN' "$TURN_LOG" || fail "no debug line from the server (-d)"
nfail=$(grep -c 'warn\]: turn: authentication failed: user .alice. from 198.51.100.2:' "$TURN_LOG")
nlim=$(grep -c 'warn\]: turn: too many failed authentications for this source and username, not checked: user .alice.' "$TURN_LOG")
[ "$nfail" -ge 1 ] && [ "$nlim" -ge 1 ] || { tail -20 "$TURN_LOG"; fail "no warnings about the guesses"; }
# per worker, 5 lines of each kind at once then one per 2 s
[ $((nfail + nlim)) -le $((2 * 2 * (5 + T / 2 + 3))) ] || fail "$nfail + $nlim warning lines: not rate-limited"
for secret in Right-Pass-4711 bobs-pass wrong-pw-; do
	grep -qF -- "$secret" "$TURN_LOG" && fail "the log (debug level) contains '$secret'"
done
pass "$nfail 'authentication failed' and $nlim 'not checked' warnings; no password in the debug log"

# --- later, the attacker's IP is not locked out for good
sleep 3
uclient_run "$LIB_TMP/alice1.log" -n 20 -m 2 -l 170 -c -X -u alice -w Right-Pass-4711 \
	-e "$TURN_PEER_IP" -r 3480 "$TURN_SERVER_IP"
uclient_assert "$LIB_TMP/alice1.log" "after the attack: alice from the attacker's IP relays"
turn_stop
