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
#
# A cluster of two, the way docs/deploy.md ("Signalling on an ejabberd
# cluster") tells an operator: long node names with the members' IP
# addresses, one cookie, a fixed distribution port (no epmd), and member 2
# joining member 1 with join_cluster. Every ejabberdctl of a member runs
# in that member's namespace.
#
#   ejabberd_cluster_start NS1 IP1 NS2 IP2  # both members, joined; XDIR and
#                                  # EJABBERDCTL are member 1's (certs/DOMAIN.crt:
#                                  # the CA for nodes), XMPP_IP is IP1
#   ejabberd_member_ctl N ARGS...  # one ejabberdctl command on member N (1 or 2)
#   ejabberd_member_kill N         # SIGKILL every process of member N (its namespace)
#   ejabberd_member_stop N         # a clean stop (ejabberdctl stop), until it is gone
#   xmpp_failover_s LOG            # seconds from a node's last "disconnected" to its
#                                  # next login, from the node's log
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

# ---- a cluster of two members ----

declare -A EJ_MEMBER_NS EJ_MEMBER_IP EJ_MEMBER_CTL EJ_MEMBER_DIR
EJ_CLUSTER_COOKIE=""

# Writes member N's config (shared certificate, node name ejabberd@IP).
ej_member_config() { # N NS IP
	local n=$1 ns=$2 ip=$3 d="$LIB_TMP/ejabberd$1"
	mkdir -p "$d/db" "$d/log"
	cp "$LIB_TMP/ejcert/server.pem" "$d/server.pem"
	chmod 600 "$d/server.pem"
	"$EJ_REPO_ROOT/deploy/ejabberd/make-config.sh" "$XMPP_DOMAIN" "$d/server.pem" "$ip" >"$d/ejabberd.yml" ||
		fail "deploy/ejabberd/make-config.sh failed"
	cat >"$d/ejabberdctl.cfg" <<CFG
ERLANG_NODE=ejabberd@$ip
ERL_OPTIONS="-setcookie $EJ_CLUSTER_COOKIE -kernel inet_dist_use_interface {${ip//./,}}"
ERL_DIST_PORT=5210
EJABBERD_PID_PATH=$d/ejabberd.pid
CFG
	chown -R ejabberd:ejabberd "$d"
	EJ_MEMBER_NS[$n]=$ns
	EJ_MEMBER_IP[$n]=$ip
	EJ_MEMBER_DIR[$n]=$d
	EJ_MEMBER_CTL[$n]="ip netns exec $(ns_name "$ns") ejabberdctl --config $d/ejabberd.yml --ctl-config $d/ejabberdctl.cfg --spool $d/db --logs $d/log"
}

ejabberd_member_ctl() { # N ARGS...
	local n=$1
	shift
	# shellcheck disable=SC2086
	${EJ_MEMBER_CTL[$n]} "$@"
}

ej_member_ready() { # N
	lib_port_open "${EJ_MEMBER_NS[$1]}" t 5222 && ejabberd_member_ctl "$1" status >/dev/null 2>&1
}

ej_member_run() { # N
	local n=$1
	# shellcheck disable=SC2086
	${EJ_MEMBER_CTL[$n]} foreground >>"${EJ_MEMBER_DIR[$n]}/foreground.log" 2>&1 &
	LIB_PIDS+=("$!")
	lib_wait 60 ej_member_ready "$n" || {
		tail -n 30 "${EJ_MEMBER_DIR[$n]}/foreground.log" "${EJ_MEMBER_DIR[$n]}/log/ejabberd.log" 2>/dev/null
		fail "ejabberd member $n did not start"
	}
}

ej_cluster_has_both() {
	local l
	l=$(ejabberd_member_ctl 2 list_cluster 2>/dev/null)
	grep -q "ejabberd@${EJ_MEMBER_IP[1]}" <<<"$l" && grep -q "ejabberd@${EJ_MEMBER_IP[2]}" <<<"$l"
}

ejabberd_cluster_start() { # NS1 IP1 NS2 IP2
	command -v ejabberdctl >/dev/null || skip "ejabberdctl not found (deploy/install-deps.sh installs ejabberd)"
	id ejabberd >/dev/null 2>&1 || skip "no user 'ejabberd' (the ejabberd package creates it)"
	EJ_CLUSTER_COOKIE="ipoplab$RANDOM$RANDOM$RANDOM"
	mkdir -p "$LIB_TMP/ejcert"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$XMPP_DOMAIN" \
		-addext "subjectAltName=DNS:$XMPP_DOMAIN" \
		-keyout "$LIB_TMP/ejcert/$XMPP_DOMAIN.key" -out "$LIB_TMP/ejcert/$XMPP_DOMAIN.crt" 2>/dev/null ||
		fail "openssl could not make a certificate"
	cat "$LIB_TMP/ejcert/$XMPP_DOMAIN.crt" "$LIB_TMP/ejcert/$XMPP_DOMAIN.key" >"$LIB_TMP/ejcert/server.pem"
	chmod o+x "$LIB_TMP"
	ej_member_config 1 "$1" "$2"
	ej_member_config 2 "$3" "$4"
	mkdir -p "${EJ_MEMBER_DIR[1]}/certs"
	cp "$LIB_TMP/ejcert/$XMPP_DOMAIN.crt" "${EJ_MEMBER_DIR[1]}/certs/"
	XDIR=${EJ_MEMBER_DIR[1]}
	XMPP_IP=$2
	EJABBERDCTL=${EJ_MEMBER_CTL[1]}
	lib_on_exit ejabberd_cluster_stop
	ej_member_run 1
	ej_member_run 2
	ejabberd_member_ctl 2 join_cluster "ejabberd@$2" >"$LIB_TMP/join_cluster.log" 2>&1 ||
		{ cat "$LIB_TMP/join_cluster.log"; fail "join_cluster failed"; }
	lib_wait 60 ej_member_ready 2 || fail "member 2 did not come back after join_cluster"
	lib_wait 30 ej_cluster_has_both || { ejabberd_member_ctl 2 list_cluster; fail "the members did not form a cluster"; }
}

ejabberd_member_kill() { # N
	local p
	for p in $(ip netns pids "$(ns_name "${EJ_MEMBER_NS[$1]}")"); do kill -KILL "$p" 2>/dev/null || true; done
}

ej_member_gone() { [ -z "$(ip netns pids "$(ns_name "${EJ_MEMBER_NS[$1]}")")" ]; }

ejabberd_member_stop() { # N
	ejabberd_member_ctl "$1" stop >/dev/null 2>&1 || true
	lib_wait 30 ej_member_gone "$1"
}

ejabberd_cluster_stop() {
	local n pid
	for n in 1 2; do
		[ -n "${EJ_MEMBER_DIR[$n]:-}" ] || continue
		pid=$(cat "${EJ_MEMBER_DIR[$n]}/ejabberd.pid" 2>/dev/null) || continue
		kill -TERM "$pid" 2>/dev/null || true
	done
	for n in 1 2; do
		[ -n "${EJ_MEMBER_NS[$n]:-}" ] || continue
		lib_wait 5 ej_member_gone "$n" || ejabberd_member_kill "$n"
	done
}

xmpp_failover_s() { # LOG
	python3 - "$1" <<'PY'
import re, sys
t, last = None, "?"
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\d+):(\d+):(\d+\.\d+) ", line)
    if not m:
        continue
    ts = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    if "xmpp: " in line and ": disconnected (" in line:
        t = ts
    elif "xmpp: logged in as" in line and t is not None:
        last, t = "%.1f" % (ts - t), None
print(last)
PY
}
