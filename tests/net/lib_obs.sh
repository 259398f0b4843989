# The observability lab: a group of ipopd nodes behind NATs, our TURN relay,
# Prosody, and a management LAN on which a real Prometheus scrapes the relay
# and every node (source after lib.sh, lib_xmpp.sh, lib_node.sh and
# lib_metrics.sh).
#
#                      +-- 203.0.113.2  [r1 NAT] -- h1 10.0.1.2  alice 172.31.0.1
#   srv 192.0.2.1 --[inet]- 203.0.113.6 [r2 NAT] -- h2 10.0.2.2  bob   172.31.0.2
#   prosody (TLS)      +-- ...          [rN NAT] -- hN 10.0.N.2  ...   172.31.0.N
#   ipop-turnserver
#   :3478
#        |                  mgmt LAN 10.250.0.0/24 (a bridge):
#        +- mgmt .1:9641    mon .100 (Prometheus :9090), srv .1, hI .(10+I) (ipopd /metrics :9642)
#
# A "sym" NAT maps every destination to a new port (MASQUERADE
# --random-fully) and drops what nobody asked for: two of them can only
# link through the relay. A "cone" NAT forwards the node's port to it (full
# cone): a link to it is direct. The nodes ignore the mgmt interface for
# ICE (network_ignore_list), as nodes on a real management network would.
#
#   obs_lab KIND...            # namespaces; node I behind a KIND NAT ("sym" or "cone")
#   obs_nodes                  # Prosody (one group of everyone), the relay with
#                              # metrics, every node with metrics_address, started
#   obs_links_up [SECONDS]     # until every node has a link up to every other
#   obs_prometheus [ARGS...]   # Prometheus in mon scraping everything every second,
#                              # with deploy/prometheus's rules; $PROM is its address
#   obs_query QUERY            # PromQL instant query: the first value, or nothing
#   obs_await SECONDS QUERY OP WANT  # until the value compares (python OP) to WANT;
#                              # $LAST is the last value seen
#   OBS_NAMES[I], OBS_NS[I]    # node I's name and namespace (I from 1)

OBS_ALL_NAMES=(alice bob carol dave erin)
OBS_PORT=40000
OBS_MON_IP=10.250.0.100
declare -a OBS_NAMES OBS_NS OBS_KIND
OBS_N=0

obs_lab() { # KIND...
	local i=0 k o
	ns_create inet
	ns_create srv
	ns_forward inet
	ns_link inet eth0 192.0.2.254/24 srv eth0 192.0.2.1/24
	ns_exec srv ip route add default via 192.0.2.254
	lan_create mgmt
	ns_create mon
	lan_attach mgmt mon mgmt "$OBS_MON_IP/24"
	lan_attach mgmt srv mgmt 10.250.0.1/24
	for k in "$@"; do
		i=$((i + 1))
		o=$((4 * (i - 1)))
		OBS_NAMES[$i]=${OBS_ALL_NAMES[$((i - 1))]}
		OBS_NS[$i]=h$i
		OBS_KIND[$i]=$k
		ns_create r$i
		ns_create h$i
		ns_forward r$i
		ns_link inet r$i 203.0.113.$((o + 1))/30 r$i wan 203.0.113.$((o + 2))/30
		ns_exec r$i ip route add default via 203.0.113.$((o + 1))
		ns_link r$i lan 10.0.$i.1/24 h$i eth0 10.0.$i.2/24
		ns_exec h$i ip route add default via 10.0.$i.1
		lan_attach mgmt h$i mgmt 10.250.0.$((10 + i))/24
		case $k in
		sym)
			ns_exec r$i iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully || fail "iptables in r$i"
			ns_exec r$i iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
			;;
		cone)
			ns_exec r$i iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables in r$i"
			ns_exec r$i iptables -t nat -A PREROUTING -i wan -p udp --dport $OBS_PORT \
				-j DNAT --to-destination 10.0.$i.2:$OBS_PORT || fail "iptables DNAT in r$i"
			;;
		*) fail "obs_lab: unknown NAT kind $k" ;;
		esac
	done
	OBS_N=$i
}

obs_nodes() {
	local i n
	xmpp_lab_start srv 192.0.2.1
	xmpp_groups "$XDIR" "[group]" "${OBS_NAMES[@]:1:$OBS_N}"
	for ((i = 1; i <= OBS_N; i++)); do xmpp_register "$XDIR" "${OBS_NAMES[$i]}" "pw-${OBS_NAMES[$i]}"; done
	xmpp_lab_run
	turn_lab_server srv 192.0.2.1 'metrics_address = "10.250.0.1:9641"'
	for ((i = 1; i <= OBS_N; i++)); do
		n=${OBS_NAMES[$i]}
		node_config "$n" "172.31.0.$i" "$n" "" \
			"\"turn\": [{\"server\": \"192.0.2.1:3478\", \"user\": \"u\", \"pass\": \"p\"}],
    \"network_ignore_list\": [\"mgmt\"],
    \"metrics_address\": \"10.250.0.$((10 + i)):9642\","
		node_start "${OBS_NS[$i]}" "$n" -p $OBS_PORT
	done
}

obs_links_up() { # [SECONDS]
	local t=${1:-90} i j
	for ((i = 1; i <= OBS_N; i++)); do
		for ((j = 1; j <= OBS_N; j++)); do
			[ $i = $j ] && continue
			node_wait "${OBS_NAMES[$i]}" "peer ${OBS_NAMES[$j]}@.*-> up" "$t" ||
				{ node_logs; fail "${OBS_NAMES[$i]}'s link to ${OBS_NAMES[$j]} did not come up in $t s"; }
		done
	done
}

obs_prometheus() { # [ARGS...]
	local i targets=""
	PROM="$OBS_MON_IP:9090"
	cp "$NODE_REPO_ROOT/deploy/prometheus/ipop-alerts.yml" "$LIB_TMP/"
	for ((i = 1; i <= OBS_N; i++)); do targets+="\"10.250.0.$((10 + i)):9642\", "; done
	cat >"$LIB_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $LIB_TMP/ipop-alerts.yml
scrape_configs:
  - job_name: ipop-turnserver
    static_configs:
      - targets: ["10.250.0.1:9641"]
  - job_name: ipop-node
    static_configs:
      - targets: [${targets%, }]
YML
	ns_bg mon "$LIB_TMP/prometheus.log" prometheus --config.file="$LIB_TMP/prometheus.yml" \
		--storage.tsdb.path="$LIB_TMP/prom-data" --web.listen-address="$PROM" --log.level=warn "$@"
	PROM_PID=$LIB_PID
	obs_ready() { ns_exec mon curl -sf --max-time 5 "http://$PROM/-/ready" >/dev/null; }
	lib_wait 120 obs_ready || { tail -20 "$LIB_TMP/prometheus.log"; fail "prometheus not ready in 120 s"; }
}

obs_query() { prom_query mon "$PROM" "$1"; }

obs_await() { # SECONDS QUERY OP WANT
	local t=$1 q=$2 op=$3 want=$4 got i
	for ((i = 0; i < t * 2; i++)); do
		got=$(obs_query "$q")
		if [ -n "$got" ] && python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if a $op b else 1)" "$got" "$want"; then
			LAST=$got
			return 0
		fi
		sleep 0.5
	done
	LAST=${got:-none}
	return 1
}
