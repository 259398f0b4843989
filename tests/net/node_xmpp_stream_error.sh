#!/usr/bin/env bash
# ipopd: the XMPP server sends a stream error and keeps the TCP connection
# open (neither </stream:stream> nor a close). The node must end that
# session itself and log in again promptly: before its first keepalive
# ping (15 s after the login) is due. (Before the fix, libstrophe only
# recorded the error and the node stayed "online" until that ping went
# unanswered, about 32 s.) Prosody and ejabberd close the stream after a stream error,
# so the server here is tests/tools/xmpp_fake_server.py (plaintext, SASL
# PLAIN, bind; the first session gets <undefined-condition/> 0.5 s after
# the node's presence, later sessions are served normally).
#
#                lan: bridge br0, 192.0.2.0/24
#        +--------------------+
#        |                    |
#   srv 192.0.2.1        a 192.0.2.11
#   xmpp_fake_server     ipopd alice
#   (:5222, no TLS)      172.31.0.1
#
# Times come from the node's own log lines (HH:MM:SS.mmm), so a slow
# machine does not stretch them.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init xse
need_cmd python3 ss
need_root
node_bins
KEEPALIVE_MS=15000 # the node's XEP-0199 ping interval (xmpp_signal.c)

lab_lan a
XDIR="$LIB_TMP/xmpp"
XMPP_IP=192.0.2.1
mkdir -p "$XDIR/certs"
ns_bg srv "$LIB_TMP/fake.log" python3 -u "$NODE_REPO_ROOT/tests/tools/xmpp_fake_server.py" 192.0.2.1 5222 "$XMPP_DOMAIN"
wait_tcp_port srv 5222 || { cat "$LIB_TMP/fake.log"; fail "the fake XMPP server did not start"; }

node_config alice 172.31.0.1 alice "" '"xmpp_tls": "off",'
node_start a alice

# HH:MM:SS.mmm of the first log line matching REGEX -> ms since midnight
log_ms() { # NAME REGEX [NTH]
	grep -E "$2" "$LIB_TMP/$1.log" | sed -n "${3:-1}p" |
		awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }'
}
since() { local d=$(($2 - $1)); [ "$d" -lt 0 ] && d=$((d + 86400000)); echo "$d"; }

node_wait alice 'xmpp: logged in as' || { node_logs; cat "$LIB_TMP/fake.log"; fail "alice did not log in to the fake server"; }
pass "alice logged in (plaintext, fake server)"
node_wait alice 'xmpp: stream error undefined-condition from the server; logging out' ||
	{ node_logs; cat "$LIB_TMP/fake.log"; fail "alice did not notice the stream error"; }
node_wait alice 'disconnected \(stream error undefined-condition\)' ||
	{ node_logs; cat "$LIB_TMP/fake.log"; fail "alice did not end the session after the stream error"; }
relogged() { [ "$(grep -c 'xmpp: logged in as' "$LIB_TMP/alice.log")" -ge 2 ]; }
lib_wait "$LIB_WAIT_S" relogged || { node_logs; cat "$LIB_TMP/fake.log"; fail "alice did not log in again after the stream error"; }

grep -q 'stream-error 1' "$LIB_TMP/fake.log" || fail "the fake server sent no stream error"
grep -q 'client-stream-end 1' "$LIB_TMP/fake.log" ||
	{ cat "$LIB_TMP/fake.log"; fail "alice did not close the stream (</stream:stream>) after the stream error"; }
grep -q 'client-closed 1' "$LIB_TMP/fake.log" ||
	{ cat "$LIB_TMP/fake.log"; fail "the first session's TCP connection was not closed by alice"; }
pass "alice closed the stream and the TCP connection herself (the server kept it open)"

t_login=$(log_ms alice 'xmpp: logged in as' 1)
t_err=$(log_ms alice 'xmpp: stream error undefined-condition from the server')
t_down=$(log_ms alice 'disconnected \(stream error undefined-condition\)')
t_again=$(log_ms alice 'xmpp: logged in as' 2)
echo "alice: stream error +$(since "$t_login" "$t_err") ms after the login, session ended" \
	"+$(since "$t_err" "$t_down") ms after it, logged in again +$(since "$t_err" "$t_again") ms after it"
[ "$(since "$t_login" "$t_again")" -lt "$KEEPALIVE_MS" ] ||
	{ node_logs; fail "alice logged in again $(since "$t_login" "$t_again") ms after the first login: not before the keepalive ping would have woken her"; }
grep -q 'server did not answer a ping' "$LIB_TMP/alice.log" && fail "a missed ping, not the stream error, ended the session"
pass "after the stream error alice logged in again before the first keepalive ping was due"
