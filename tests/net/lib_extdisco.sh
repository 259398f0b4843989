# The XEP-0215 lab (node_extdisco_prosody.sh, node_extdisco_ejabberd.sh):
# the XMPP server hands out ipop-turnserver and short-lived TURN REST
# credentials made from the static_auth_secret they share; config.json has
# no stun, no turn, no password. Source after lib.sh, lib_xmpp.sh,
# lib_node.sh, lib_nat.sh (and lib_ejabberd.sh for ejabberd).
#
#   a 10.0.1.2 --[ra: NAT]-- 198.51.100.2 --+
#   ipopd alice                             |
#                                        [inet]--- 192.0.2.254 --- srv 192.0.2.1  XMPP (Prosody or ejabberd),
#                                           |          (drops UDP            with mod_turn_external /
#   b 10.0.2.2 --[rb: NAT]-- 203.0.113.2 ---+           between the NATs)    mod_stun_disco
#   ipopd bob                                                             192.0.2.3  ipop-turnserver
#                                                                                    (static_auth_secret)
#
# inet drops UDP between the NATs, so the link must be relayed. The
# credentials live EXTDISCO_TTL seconds (default 30; IPOP_SLOW=1: 60) and
# the link is watched EXTDISCO_SECONDS (default 120; IPOP_SLOW=1: 330,
# more than 5 minutes) with a ping a second:
#  - by default, once the first credentials expired, alice's NAT (made
#    symmetric for this: --random-fully) forgets its mappings (conntrack
#    -F): the TURN server now sees her from another port, her allocation is
#    as good as lost and she must allocate again, which can only succeed
#    with credentials fetched after the first ones expired;
#  - with IPOP_SLOW=1 nothing is forced: the allocation's own refreshes
#    (permissions after 240 s) are refused once its credentials expired
#    (ipop-turnserver checks the username's expiry on every request), and
#    the node allocates again with the credentials it holds by then.
# Either way at least 90% of the pings must be answered, the link must stay
# up, and each node must have asked the XMPP server again.

EXTDISCO_SECRET="lab-secret-$RANDOM$RANDOM"

extdisco_lab() { # prosody|ejabberd
	EXTDISCO_TTL=${EXTDISCO_TTL:-30}
	EXTDISCO_SECONDS=${EXTDISCO_SECONDS:-120}
	if [ "${IPOP_SLOW:-0}" = 1 ]; then
		EXTDISCO_TTL=60
		EXTDISCO_SECONDS=330
	fi
	nat_lab
	ns_exec ra iptables -t nat -I POSTROUTING 1 -o wan -j MASQUERADE --random-fully || fail "iptables in ra"
	ns_exec srv ip addr add 192.0.2.3/24 dev eth0
	echo "$EXTDISCO_SECRET" >"$LIB_TMP/turn.secret"
	chmod 644 "$LIB_TMP/turn.secret"
	turn_lab_secret
	case $1 in
	prosody) extdisco_prosody ;;
	ejabberd) extdisco_ejabberd ;;
	esac
	for n in alice bob; do
		node_config $n "172.31.0.$([ $n = alice ] && echo 1 || echo 2)" $n
		python3 - "$LIB_TMP/$n/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert "turn" not in c and not c.get("stun") and "pass" not in json.dumps(c).replace("xmpp_password", "")
PY
	done
}

turn_lab_secret() {
	local conf="$LIB_TMP/turn-rest.conf"
	cat >"$conf" <<CONF
listen_address = { "192.0.2.3" }
realm = "ipop"
static_auth_secret = "$EXTDISCO_SECRET"
CONF
	ns_bg srv "$LIB_TMP/turnserver-rest.log" "$TURNSRV" -f -c "$conf"
	TURN_REST_PID=$LIB_PID
	lib_wait 10 turn_lab_listening srv 192.0.2.3 || { cat "$LIB_TMP/turnserver-rest.log"; fail "ipop-turnserver did not start"; }
}

# Prosody from deploy/prosody/make-config.sh, as deploy_prosody.sh does.
extdisco_prosody() {
	XDIR="$LIB_TMP/xmpp"
	XMPP_IP=192.0.2.1
	mkdir -p "$XDIR/certs" "$XDIR/data"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$XMPP_DOMAIN" \
		-addext "subjectAltName=DNS:$XMPP_DOMAIN" \
		-keyout "$XDIR/certs/$XMPP_DOMAIN.key" -out "$XDIR/certs/$XMPP_DOMAIN.crt" 2>/dev/null ||
		fail "openssl could not make a certificate"
	TURN_HOST=192.0.2.3 TURN_SECRET_FILE="$LIB_TMP/turn.secret" TURN_TTL=$EXTDISCO_TTL \
		"$NODE_REPO_ROOT/deploy/prosody/make-config.sh" "$XMPP_DOMAIN" "$XMPP_IP" "$XDIR/certs" \
		"$XDIR/groups.txt" >"$XDIR/template.cfg.lua" || fail "deploy/prosody/make-config.sh failed"
	grep -q '"turn_external"' "$XDIR/template.cfg.lua" || fail "the template does not load mod_turn_external"
	awk -v d="$XDIR" '/^VirtualHost/ {
		print "run_as_root = true"; print "daemonize = false"
		print "data_path = \"" d "/data\""; print "pidfile = \"" d "/prosody.pid\""
		print "log = { info = \"" d "/prosody.log\" }"
	} { print }' "$XDIR/template.cfg.lua" >"$XDIR/prosody.cfg.lua"
	printf '[friends]\nalice@%s=alice\nbob@%s=bob\n' "$XMPP_DOMAIN" "$XMPP_DOMAIN" >"$XDIR/groups.txt"
	for u in alice bob; do xmpp_register "$XDIR" $u pw-$u || fail "prosodyctl register $u"; done
	lib_on_exit xmpp_prosody_stop "$XDIR"
	xmpp_prosody_start "$(ns_name srv)" "$XMPP_IP" "$XDIR" || fail "prosody did not start"
}

# ejabberd from deploy/ejabberd/make-config.sh (lib_ejabberd.sh).
extdisco_ejabberd() {
	TURN_HOST=192.0.2.3 TURN_SECRET_FILE="$LIB_TMP/turn.secret" TURN_TTL=$EXTDISCO_TTL \
		ejabberd_lab_start srv 192.0.2.1
	grep -q 'mod_stun_disco:' "$XDIR/ejabberd.yml" || fail "the template does not load mod_stun_disco"
	printf 'domain %s\nuser alice pw-alice\nuser bob pw-bob\ngroup lab alice bob\n' "$XMPP_DOMAIN" >"$LIB_TMP/accounts.txt"
	ejabberd_accounts "$LIB_TMP/accounts.txt" >/dev/null || fail "ipop-accounts.sh failed"
}

extdisco_run() {
	nat_block on
	node_start a alice
	node_start b bob
	for n in alice bob; do
		node_wait $n 'xmpp: external service TURN 192\.0\.2\.3:3478 \(udp\) user ' 30 ||
			{ node_logs; fail "$n got no TURN service from the XMPP server"; }
		node_wait $n 'relay: relayed candidate 192\.0\.2\.3:' 30 ||
			{ node_logs; fail "$n got no allocation with the XMPP server's credentials"; }
	done
	grep -h 'xmpp: external service' "$LIB_TMP"/alice.log | head -3
	pass "both nodes learned ipop-turnserver from the XMPP server and allocated with its credentials"
	node_wait alice 'peer bob@.*-> up' 40 || { node_logs; fail "alice's link to bob did not come up"; }
	node_wait bob 'peer alice@.*-> up' 20 || { node_logs; fail "bob's link to alice did not come up"; }
	[ "$(node_peer_field alice 172.31.0.2 path)" = relay ] || { node_logs; fail "the link is not relayed"; }
	pass "relayed link up (credentials valid $EXTDISCO_TTL s)"

	local t0=$SECONDS ok=0 sent=0 flushed=0 down=0
	while ((SECONDS - t0 < EXTDISCO_SECONDS)); do
		sent=$((sent + 1))
		ns_exec a ping -c 1 -W 1 172.31.0.2 >/dev/null 2>&1 && ok=$((ok + 1))
		if ((sent % 10 == 0)) && [ "$(node_peer_field alice 172.31.0.2 state)" != up ]; then
			down=$((down + 1))
		fi
		if [ "${IPOP_SLOW:-0}" != 1 ] && [ $flushed = 0 ] && ((SECONDS - t0 > EXTDISCO_TTL + 15)); then
			echo "$((SECONDS - t0)) s: the first credentials expired; alice's NAT forgets its mappings"
			nat_flush ra
			flushed=1
		fi
		sleep 0.5
	done
	echo "pings answered: $ok of $sent over $EXTDISCO_SECONDS s; link seen not up $down time(s)"
	local asked allocs
	asked=$(grep -c 'xmpp: external service TURN' "$LIB_TMP/alice.log")
	allocs=$(grep -c 'relay: relayed candidate 192\.0\.2\.3:' "$LIB_TMP/alice.log")
	echo "alice asked for credentials $asked time(s) and allocated $allocs time(s)"
	grep -h 'relay: .*\(lost\|refused\|credentials\)' "$LIB_TMP/alice.log" | tail -5
	[ "$asked" -ge 2 ] || { node_logs; fail "alice never asked the XMPP server for fresh credentials"; }
	[ "$allocs" -ge 2 ] || { node_logs; fail "alice's allocation was never replaced (the test forced nothing?)"; }
	[ $down = 0 ] || { node_logs; fail "the link was seen down"; }
	[ $((ok * 10)) -ge $((sent * 9)) ] || { node_logs; fail "only $ok of $sent pings answered"; }
	vpn_ping b 172.31.0.1 || { node_logs; fail "no ping at the end"; }
	[ "$(node_peer_field bob 172.31.0.1 path)" = relay ] || fail "bob's link is not relayed at the end"
	pass "relayed link alive over $EXTDISCO_SECONDS s with $EXTDISCO_TTL s credentials: $ok/$sent pings, $allocs allocations"
}
