# ejabberd for the namespace lab, set up the way docs/deploy.md tells an
# operator to: the config comes from deploy/ejabberd/make-config.sh, users
# and relationships from deploy/ipop-accounts.sh (through ejabberdctl).
# Source after lib.sh; lib_xmpp.sh's XMPP_DOMAIN names the domain.
#
#   ejabberd_lab_start NS IP       # ejabberd 23.01 in NS: c2s on IP:5222 (STARTTLS
#                                  # required, SCRAM-SHA-256 only), STUN on IP:3478 UDP;
#                                  # sets XDIR (certs/DOMAIN.crt = the CA for nodes),
#                                  # XMPP_IP, EJABBERDCTL (the command for ipop-accounts.sh)
#   ejabberd_accounts FILE         # deploy/ipop-accounts.sh FILE against it
#   ejabberd_ctl ARGS...           # one ejabberdctl command
#   ejabberd_lab_stop              # (registered as an exit hook by ejabberd_lab_start)
XMPP_DOMAIN=${XMPP_DOMAIN:-example.test}
EJ_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ejabberd_lab_start() { # NS IP
	local ns=$1 ip=$2
	command -v ejabberdctl >/dev/null || skip "ejabberdctl not found (deploy/install-deps.sh installs ejabberd)"
	id ejabberd >/dev/null 2>&1 || skip "no user 'ejabberd' (the ejabberd package creates it)"
	XDIR="$LIB_TMP/ejabberd"
	XMPP_IP=$ip
	EJ_NS=$ns
	mkdir -p "$XDIR/db" "$XDIR/log" "$XDIR/certs"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$XMPP_DOMAIN" \
		-addext "subjectAltName=DNS:$XMPP_DOMAIN" \
		-keyout "$XDIR/certs/$XMPP_DOMAIN.key" -out "$XDIR/certs/$XMPP_DOMAIN.crt" 2>/dev/null ||
		fail "openssl could not make a certificate"
	cat "$XDIR/certs/$XMPP_DOMAIN.crt" "$XDIR/certs/$XMPP_DOMAIN.key" >"$XDIR/server.pem"
	chmod 600 "$XDIR/server.pem"
	"$EJ_REPO_ROOT/deploy/ejabberd/make-config.sh" "$XMPP_DOMAIN" "$XDIR/server.pem" "$ip" \
		>"$XDIR/ejabberd.yml" || fail "deploy/ejabberd/make-config.sh failed"
	# The lab's own node name, cookie, fixed distribution port (no epmd
	# daemon outlives the test) and pid file.
	cat >"$XDIR/ejabberdctl.cfg" <<CFG
ERLANG_NODE=ejabberd@localhost
ERL_OPTIONS="-setcookie ipoplab$RANDOM$RANDOM -kernel inet_dist_use_interface {127,0,0,1}"
ERL_DIST_PORT=5210
EJABBERD_PID_PATH=$XDIR/ejabberd.pid
CFG
	# ejabberdctl run as root switches to user ejabberd: it owns its
	# directory and may pass through the lab's (which only root can list).
	chown -R ejabberd:ejabberd "$XDIR"
	chmod o+x "$LIB_TMP"
	EJABBERDCTL="ip netns exec $(ns_name "$ns") ejabberdctl --config $XDIR/ejabberd.yml --ctl-config $XDIR/ejabberdctl.cfg --spool $XDIR/db --logs $XDIR/log"
	lib_on_exit ejabberd_lab_stop
	# shellcheck disable=SC2086
	$EJABBERDCTL foreground >"$XDIR/foreground.log" 2>&1 &
	EJ_PID=$!
	LIB_PIDS+=("$EJ_PID")
	local i rc=1
	for ((i = 0; i < 600; i++)); do
		ejabberd_listening && ejabberd_started && { rc=0; break; }
		kill -0 "$EJ_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ $rc -ne 0 ]; then
		tail -n 30 "$XDIR/foreground.log" "$XDIR/log/ejabberd.log" 2>/dev/null
		fail "ejabberd did not start"
	fi
}

ejabberd_listening() {
	lib_port_open "$EJ_NS" t 5222 && lib_port_open "$EJ_NS" u 3478
}

ejabberd_started() { ejabberd_ctl status >/dev/null 2>&1; }

ejabberd_ctl() {
	# shellcheck disable=SC2086
	$EJABBERDCTL "$@"
}

ejabberd_accounts() { # FILE
	EJABBERDCTL="$EJABBERDCTL" "$EJ_REPO_ROOT/deploy/ipop-accounts.sh" -d "$XMPP_DOMAIN" "$1"
}

ejabberd_lab_stop() {
	local pid
	pid=$(cat "$XDIR/ejabberd.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}
