# Helpers for the ipopd lab tests (source after lib.sh and lib_xmpp.sh).
#
#   node_bins                      # IPOPD / IPOPCTL from $IPOP_BUILD (default build/); skip if missing
#   node_build_rev                 # the commit $IPOPD was built from (its -V), for bench headers
#   lan_create NAME                # a namespace holding bridge br0: one L2 segment
#   lan_attach LAN NS IF IP/LEN    # plug namespace NS into LAN with address IP/LEN on IF
#   xmpp_lab_start NS IP           # Prosody (TLS, self-signed example.test) in NS on IP; $XDIR
#   stun_lab_start NS IP           # ipop-turnserver as the STUN server on IP:3478 in NS
#   node_config NAME IP4 USER [STUN [EXTRA]]  # $LIB_TMP/NAME/config.json (xmpp_host $XMPP_IP,
#                                  # or the JSON value $NODE_XMPP_HOST when set; set and
#                                  # empty: no xmpp_host, the domain's SRV records);
#                                  # EXTRA: more members, e.g. '"mtu": 1400,' 
#   node_start NS NAME [ARGS...]   # ipopd in NS, log $LIB_TMP/NAME.log (ARGS: e.g. -p PORT);
#                                  # NODE_ENV="VAR=value ..." puts variables in its environment
#   node_wait NAME REGEX [SECONDS] # until the node's log matches (default LIB_WAIT_S, 60 s;
#                                  # returns as soon as it does; fails at once if the node exits)
#   node_ctl NAME ARGS...          # ipopctl against the node's control socket
#   vpn_ping NS IP                 # ping across the VPN: 3 sent, true if any answers
#   vpn_no_ping NS IP              # true if none of 3 pings answers within 2 s
#   vpn_xfer SRC_NS DST_NS DST_IP MB [MBPS]  # checksum-verified TCP transfer of MB MiB,
#                                  # paced to MBPS MiB/s when given (to last a while);
#                                  # the receiver binds $XFER_BIND if set (social mode:
#                                  # DST_IP is the receiver's address in the sender's space);
#                                  # DST_IP may be IPv6
#                                  # with XFER_HOLD=FILE the sender creates FILE.started
#                                  # after 1 MiB and FILE.half half way, and sends the
#                                  # data again (paced) until FILE exists: a test that
#                                  # needs the transfer to span its events does them in
#                                  # between, however slow the machine is
#   xfer_started FILE / xfer_half FILE  # wait until a held transfer got there
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

node_build_rev() {
	local v
	v=$("$IPOPD" -V 2>/dev/null) || { echo unknown; return; }
	v=${v##*(}
	echo "${v%)}"
}

lan_create() {
	ns_create "$1"
	ns_exec "$1" ip link add br0 type bridge
	ns_exec "$1" ip link set br0 up
}

# Every pair of hosts on a LAN gets pinned neighbour entries for each other
# (lib.sh says why); the bridge's own veth ends carry no address.
declare -A LAN_MEMBERS
lan_attach() { # LAN NS IF IP/LEN
	local lan=$1 ns=$2 ifn=$3 ip=$4
	local tmp="v$$n$RANDOM" mac m_ns m_if m_ip m_mac
	mac=$(lib_mac)
	ip link add "${tmp}a" type veth peer name "${tmp}b" address "$mac" || fail "veth"
	ip link set "${tmp}a" netns "$(ns_name "$lan")" && ip link set "${tmp}b" netns "$(ns_name "$ns")" || fail "veth move"
	ns_exec "$lan" ip link set "${tmp}a" master br0 up
	ns_exec "$ns" ip link set "${tmp}b" name "$ifn"
	ns_exec "$ns" ip addr add "$ip" dev "$ifn"
	ns_exec "$ns" ip link set "$ifn" up
	while read -r m_ns m_if m_ip m_mac; do
		[ -n "$m_ns" ] || continue
		ns_neigh_pin "$ns" "$ifn" "$m_ip" "$m_mac"
		ns_neigh_pin "$m_ns" "$m_if" "${ip%/*}" "$mac"
	done <<<"${LAN_MEMBERS[$lan]:-}"
	LAN_MEMBERS[$lan]+="$ns $ifn ${ip%/*} $mac"$'\n'
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
	wait_udp_port "$1" 3478 || { cat "$LIB_TMP/turnserver.log"; fail "ipop-turnserver did not start"; }
}

node_config() { # NAME IP4 USER [STUN [EXTRA]]
	local name=$1 ip4=$2 user=$3 stun=${4:-} extra=${5:-}
	local d="$LIB_TMP/$name"
	mkdir -p "$d"
	local stunj="[]" xh=${NODE_XMPP_HOST-\"$XMPP_IP\"}
	[ -n "$stun" ] && stunj="[\"$stun\"]"
	[ -n "$xh" ] && xh="\"xmpp_host\": $xh,"
	cat >"$d/config.json" <<JSON
{
    $extra
    "ip4": "$ip4",
    "xmpp_username": "$user@$XMPP_DOMAIN",
    "xmpp_password": "pw-$user",
    $xh
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
	local end
	end=$(($(lib_now_us) + ${3:-$LIB_WAIT_S} * 1000000))
	while :; do
		grep -Eq "$2" "$LIB_TMP/$1.log" 2>/dev/null && return 0
		kill -0 "${NODE_PID[$1]}" 2>/dev/null || { node_logs; fail "$1 exited"; }
		[ "$(lib_now_us)" -lt "$end" ] || return 1
		sleep 0.1
	done
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
	ns_exec "$1" ping -c 3 -i 0.2 -W 5 "$2" >/dev/null
}

vpn_no_ping() { # NS IP
	! ns_exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >/dev/null 2>&1
}

xfer_half() { # FILE
	lib_wait 300 test -e "$1.half"
}

xfer_started() { # FILE
	lib_wait 300 test -e "$1.started"
}

# The receiver hashes what it gets and writes the digest when the sender
# closes; the sender hashes what it sent. Both must match the file.
vpn_xfer() { # SRC_NS DST_NS DST_IP MB [MBPS]
	local src=$1 dst=$2 ip=$3 mb=$4 rate=${5:-0} port=$((20000 + RANDOM % 10000))
	local f="$LIB_TMP/xfer.$RANDOM"
	head -c "${mb}M" /dev/urandom >"$f"
	ns_exec "$dst" python3 -c '
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(120)
c, _ = s.accept(); c.settimeout(120); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
open(sys.argv[3], "w").write("%s %d\n" % (h.hexdigest(), n))
' "${XFER_BIND:-$ip}" "$port" "$f.got" &
	local spid=$!
	lib_wait "$LIB_WAIT_S" lib_port_open "$dst" t "$port" || { kill $spid 2>/dev/null; echo "receiver did not listen"; return 1; }
	local t0=$SECONDS
	# The sender hashes what it hands to the socket; with XFER_HOLD it
	# sends the file again (paced) until the hold file appears.
	ns_exec "$src" python3 -c '
import hashlib, os, socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=120)
rate = float(sys.argv[4]) * (1 << 20); t0 = time.monotonic(); sent = 0
hold, total, h = sys.argv[5], os.path.getsize(sys.argv[3]), hashlib.sha256()
while True:
    with open(sys.argv[3], "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b: break
            c.sendall(b); h.update(b); sent += len(b)
            if hold and sent >= (1 << 20) and not os.path.exists(hold + ".started"):
                open(hold + ".started", "w").close()
            if hold and sent >= total // 2 and not os.path.exists(hold + ".half"):
                open(hold + ".half", "w").close()
            if rate > 0:
                ahead = sent / rate - (time.monotonic() - t0)
                if ahead > 0: time.sleep(ahead)
    if not hold or os.path.exists(hold): break
    if time.monotonic() - t0 > 900: sys.exit("held for 900 s: nobody released " + hold)
    if rate <= 0: time.sleep(0.5)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
open(sys.argv[6], "w").write("%s %d\n" % (h.hexdigest(), sent))
' "$ip" "$port" "$f" "$rate" "${XFER_HOLD:-}" "$f.sent" || { kill $spid 2>/dev/null; echo "sender failed"; return 1; }
	wait $spid || { echo "receiver failed"; return 1; }
	local want got
	want=$(cat "$f.sent")
	got=$(cat "$f.got")
	echo "transfer: $((${got#* } >> 20)) MiB in $((SECONDS - t0)) s, sha256 and bytes sent ${want} got ${got}"
	rm -f "$f"
	[ -n "$got" ] && [ "$got" = "$want" ]
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
	lib_wait "$LIB_WAIT_S" turn_lab_listening "$ns" "$ip" || { cat "$LIB_TMP/turnserver-$ip.log"; fail "ipop-turnserver on $ip did not start"; }
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
