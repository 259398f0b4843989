# Helpers for the ipopd lab tests (source after lib.sh and lib_xmpp.sh).
#
#   node_bins                      # IPOPD / IPOPCTL from $IPOP_BUILD (default build/); skip if missing
#   lan_create NAME                # a namespace holding bridge br0: one L2 segment
#   lan_attach LAN NS IF IP/LEN    # plug namespace NS into LAN with address IP/LEN on IF
#   xmpp_lab_start NS IP           # Prosody (TLS, self-signed example.test) in NS on IP; $XDIR
#   stun_lab_start NS IP           # ipop-turnserver as the STUN server on IP:3478 in NS
#   node_config NAME IP4 USER [STUN [EXTRA]]  # $LIB_TMP/NAME/config.json (xmpp_host $XMPP_IP);
#                                  # EXTRA: more members, e.g. '"mtu": 1400,' 
#   node_start NS NAME [ARGS...]   # ipopd in NS, log $LIB_TMP/NAME.log (ARGS: e.g. -p PORT);
#                                  # NODE_ENV="VAR=value ..." puts variables in its environment
#   node_wait NAME REGEX [SECONDS] # until the node's log matches
#   node_ctl NAME ARGS...          # ipopctl against the node's control socket
#   vpn_ping NS IP                 # ping across the VPN (3 answers needed)
#   vpn_xfer SRC_NS DST_NS DST_IP MB [MBPS]  # checksum-verified TCP transfer of MB MiB,
#                                  # paced to MBPS MiB/s when given (to last a while);
#                                  # the receiver binds $XFER_BIND if set (social mode:
#                                  # DST_IP is the receiver's address in the sender's space)
#   lab_lan NS...                  # namespaces lan (bridge), srv 192.0.2.1 and each NS
#                                  # at 192.0.2.11, .12, ... on that LAN
#   node_path_json NAME PEER_IP4   # prints "state path endpoint" of that peer from ipopctl peers --json
#   node_peer_field NAME PEER_IP4 FIELD  # one field of that peer from ipopctl peers --json
#   turn_lab_server NS IP [LINES...]  # another ipop-turnserver (user u:p) on IP:3478 in NS;
#                                  # TURN_LAB_PID[IP] is its pid
#   node_logs                      # dumps every node log (for failures)
#   node_pair_start                # Prosody and STUN on srv 192.0.2.1; friends alice
#                                  # (ns a, 172.31.0.1) and bob (ns b, 172.31.0.2) started;
#                                  # the caller waits for their link

NODE_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

node_bins() {
	local d=${IPOP_BUILD:-build}
	[[ $d == /* ]] || d="$NODE_REPO_ROOT/$d"
	IPOPD="$d/ipopd"
	IPOPCTL="$d/ipopctl"
	TURNSRV="$d/ipop-turnserver"
	[ -x "$IPOPD" ] || skip "$IPOPD not built"
	[ -x "$TURNSRV" ] || skip "$TURNSRV not built"
}

lan_create() {
	ns_create "$1"
	ns_exec "$1" ip link add br0 type bridge
	ns_exec "$1" ip link set br0 up
}

lan_attach() { # LAN NS IF IP/LEN
	local lan=$1 ns=$2 ifn=$3 ip=$4
	local tmp="v$$n$RANDOM"
	ip link add "${tmp}a" type veth peer name "${tmp}b" || fail "veth"
	ip link set "${tmp}a" netns "$(ns_name "$lan")" && ip link set "${tmp}b" netns "$(ns_name "$ns")" || fail "veth move"
	ns_exec "$lan" ip link set "${tmp}a" master br0 up
	ns_exec "$ns" ip link set "${tmp}b" name "$ifn"
	ns_exec "$ns" ip addr add "$ip" dev "$ifn"
	ns_exec "$ns" ip link set "$ifn" up
}

xmpp_lab_start() { # NS IP
	XDIR="$LIB_TMP/xmpp"
	XMPP_IP=$2
	XMPP_NS=$1
	xmpp_prosody_config "$XDIR" "$2" tls
	lib_on_exit xmpp_prosody_stop "$XDIR"
}

xmpp_lab_run() {
	xmpp_prosody_start "$(ns_name "$XMPP_NS")" "$XMPP_IP" "$XDIR" || fail "prosody did not start"
}

stun_lab_start() { # NS IP
	local conf="$LIB_TMP/turn.conf"
	cat >"$conf" <<CONF
listen_address = { "$2" }
udp_port = 3478
realm = "ipop"
users = { "u:p" }
CONF
	ns_bg "$1" "$LIB_TMP/turnserver.log" "$TURNSRV" -f -c "$conf"
	wait_udp_port "$1" 3478 10 || { cat "$LIB_TMP/turnserver.log"; fail "ipop-turnserver did not start"; }
}

node_config() { # NAME IP4 USER [STUN [EXTRA]]
	local name=$1 ip4=$2 user=$3 stun=${4:-} extra=${5:-}
	local d="$LIB_TMP/$name"
	mkdir -p "$d"
	local stunj="[]"
	[ -n "$stun" ] && stunj="[\"$stun\"]"
	cat >"$d/config.json" <<JSON
{
    $extra
    "ip4": "$ip4",
    "xmpp_username": "$user@$XMPP_DOMAIN",
    "xmpp_password": "pw-$user",
    "xmpp_host": "$XMPP_IP",
    "xmpp_ca_file": "$XDIR/certs/$XMPP_DOMAIN.crt",
    "stun": $stunj,
    "state_dir": "$d",
    "key_file": "$d/node.key",
    "control_socket": "$d/ctl.sock",
    "log_level": "${NODE_LOG_LEVEL:-info}"
}
JSON
	chmod 600 "$d/config.json"
}

declare -A NODE_PID NODE_NS
node_start() { # NS NAME
	# A restarted node gets a fresh log: node_wait must not match lines of
	# the previous run before the new process has truncated the file.
	[ -e "$LIB_TMP/$2.log" ] && mv "$LIB_TMP/$2.log" "$LIB_TMP/$2.log.$(date +%s%N)"
	local ns=$1 name=$2
	shift 2
	ns_bg "$ns" "$LIB_TMP/$name.log" ${NODE_ENV:+env $NODE_ENV} "$IPOPD" -c "$LIB_TMP/$name/config.json" "$@"
	NODE_PID[$name]=$LIB_PID
	NODE_NS[$name]=$ns
}

node_wait() { # NAME REGEX [SECONDS]
	local t=${3:-20} i
	for ((i = 0; i < t * 10; i++)); do
		grep -Eq "$2" "$LIB_TMP/$1.log" 2>/dev/null && return 0
		kill -0 "${NODE_PID[$1]}" 2>/dev/null || { node_logs; fail "$1 exited"; }
		sleep 0.1
	done
	return 1
}

node_ctl() { # NAME ARGS...
	local name=$1; shift
	ns_exec "${NODE_NS[$name]}" "$IPOPCTL" -s "$LIB_TMP/$name/ctl.sock" "$@"
}

node_logs() {
	local f n
	for f in "$LIB_TMP"/*.log; do echo "===== $f"; tail -n 80 "$f"; done
	if [ -n "${IPOPCTL:-}" ] && [ -x "$IPOPCTL" ]; then
		for n in "${!NODE_NS[@]}"; do
			echo "===== ipopctl $n"
			node_ctl "$n" --json status 2>&1
			node_ctl "$n" --json peers 2>&1
		done
	fi
}

vpn_ping() { # NS IP
	ns_exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >/dev/null
}

# The receiver hashes what it gets and writes the digest when the sender
# closes; the sender hashes what it sent. Both must match the file.
vpn_xfer() { # SRC_NS DST_NS DST_IP MB [MBPS]
	local src=$1 dst=$2 ip=$3 mb=$4 rate=${5:-0} port=$((20000 + RANDOM % 10000))
	local f="$LIB_TMP/xfer.$RANDOM"
	head -c "${mb}M" /dev/urandom >"$f"
	local want; want=$(sha256sum "$f" | cut -d' ' -f1)
	ns_exec "$dst" python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(120)
c, _ = s.accept(); c.settimeout(120); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
open(sys.argv[3], "w").write("%s %d\n" % (h.hexdigest(), n))
' "${XFER_BIND:-$ip}" "$port" "$f.got" &
	local spid=$!
	local i
	for ((i = 0; i < 50; i++)); do
		[ -n "$(ns_exec "$dst" ss -Hltn "sport = :$port")" ] && break
		sleep 0.1
	done
	local t0=$SECONDS
	ns_exec "$src" python3 -c '
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=120)
rate = float(sys.argv[4]) * (1 << 20); t0 = time.monotonic(); sent = 0
with open(sys.argv[3], "rb") as f:
    while True:
        b = f.read(1 << 16)
        if not b: break
        c.sendall(b); sent += len(b)
        if rate > 0:
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0: time.sleep(ahead)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
' "$ip" "$port" "$f" "$rate" || { kill $spid 2>/dev/null; echo "sender failed"; return 1; }
	wait $spid || { echo "receiver failed"; return 1; }
	local got; got=$(cut -d' ' -f1 "$f.got")
	echo "transfer: ${mb} MiB in $((SECONDS - t0)) s, sha256 sent $want got $got ($(cut -d' ' -f2 "$f.got") bytes)"
	rm -f "$f"
	[ "$got" = "$want" ]
}

node_path_json() { # NAME PEER_IP4
	node_ctl "$1" --json peers | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("ip4") == sys.argv[1]:
        print(p.get("state"), p.get("path"), p.get("endpoint"))
' "$2"
}

node_peer_field() { # NAME PEER_IP4 FIELD
	node_ctl "$1" --json peers | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("ip4") == sys.argv[1]:
        v = p.get(sys.argv[2])
        print("" if v is None else v)
' "$2" "$3"
}

turn_lab_listening() { [ -n "$(ns_exec "$1" ss -Huan "src $2:3478" 2>/dev/null)" ]; }

declare -A TURN_LAB_PID
turn_lab_server() { # NS IP [LINES...]
	local ns=$1 ip=$2
	shift 2
	local conf="$LIB_TMP/turn-$ip.conf" l
	{
		echo "listen_address = { \"$ip\" }"
		echo 'realm = "ipop"'
		echo 'users = { "u:p" }'
		for l in "$@"; do echo "$l"; done
	} >"$conf"
	ns_bg "$ns" "$LIB_TMP/turnserver-$ip.log" "$TURNSRV" -f -c "$conf"
	TURN_LAB_PID[$ip]=$LIB_PID
	lib_wait 10 turn_lab_listening "$ns" "$ip" || { cat "$LIB_TMP/turnserver-$ip.log"; fail "ipop-turnserver on $ip did not start"; }
}

node_pair_start() {
	xmpp_lab_start srv 192.0.2.1
	xmpp_groups "$XDIR" "[friends]" alice bob
	for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
	xmpp_lab_run
	stun_lab_start srv 192.0.2.1
	node_config alice 172.31.0.1 alice 192.0.2.1:3478
	node_config bob 172.31.0.2 bob 192.0.2.1:3478
	node_start a alice
	node_start b bob
}

lab_lan() { # NS...
	lan_create lan
	ns_create srv
	lan_attach lan srv eth0 192.0.2.1/24
	local i=11 n
	for n in "$@"; do
		ns_create "$n"
		lan_attach lan "$n" eth0 "192.0.2.$i/24"
		i=$((i + 1))
	done
}
