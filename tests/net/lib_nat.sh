# The two-NAT lab of node_nat.sh as helpers (source after lib.sh, lib_xmpp.sh
# and lib_node.sh), for the tests that break the underlay on purpose.
#
#   a 10.0.1.2 --[ra: NAT]-- 198.51.100.2 --+
#   ipopd alice               .1            |
#   ipop0 172.31.0.1                     [inet]--- 192.0.2.254 --- srv 192.0.2.1
#                                           |                      prosody (TLS)
#   b 10.0.2.2 --[rb: NAT]-- 203.0.113.2 ---+                      ipop-turnserver (STUN)
#   ipopd bob                 .1
#   ipop0 172.31.0.2
#
#   nat_lab [INPUT_DROP_ROUTERS]   # namespaces, routes, MASQUERADE in ra and rb;
#                                  # routers listed (default "ra rb") drop
#                                  # unsolicited packets to themselves
#   nat_lab_nodes                  # node_pair_start (lib_node.sh), then waits
#                                  # for the link to be up both ways
#   nat_set_wan NS OLD NEW         # renumber a router's public address (the NAT's
#                                  # public address changes; its conntrack goes)
#   ms_until_ping NS IP [SECONDS]  # prints the milliseconds until one ping answers
#                                  # (-1 and false if none within SECONDS, default 120)
#
# The three-router lab of the relay tests (node_relay.sh, node_relay_tls.sh,
# node_coturn.sh); each test draws it and adds its own NAT and firewall rules:
#
#   a 10.0.1.2 --[ra]-- 198.51.100.2/25   --+
#   b 10.0.2.2 --[rb]-- 203.0.113.2/24    --+--[inet]-- 192.0.2.254 --- srv 192.0.2.1
#   c 10.0.3.2 --[rc]-- 198.51.100.130/25 --+                             SRV_IP2
#
#   nat_lab3 SRV_IP2               # namespaces, addresses, routes, forwarding;
#                                  # no NAT or filter rules

nat_lab() {
	local drop=${1-ra rb} r
	for n in inet srv ra rb a b; do ns_create $n; done
	ns_forward inet
	ns_link inet eth0 192.0.2.254/24 srv eth0 192.0.2.1/24
	ns_link inet eth1 198.51.100.1/24 ra wan 198.51.100.2/24
	ns_link inet eth2 203.0.113.1/24 rb wan 203.0.113.2/24
	ns_exec srv ip route add default via 192.0.2.254
	for r in ra rb; do
		ns_forward $r
		ns_exec $r iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || fail "iptables in $r"
	done
	# Like a home router, drop unsolicited packets to the NAT itself. The
	# drop also keeps conntrack from confirming an entry for them, which
	# would otherwise take the mapped port and make the next outgoing flow
	# from the node get another port (address-dependent mapping).
	for r in $drop; do
		ns_exec $r iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
	done
	ns_exec ra ip route add default via 198.51.100.1
	ns_exec rb ip route add default via 203.0.113.1
	ns_link ra lan 10.0.1.1/24 a eth0 10.0.1.2/24
	ns_link rb lan 10.0.2.1/24 b eth0 10.0.2.2/24
	ns_exec a ip route add default via 10.0.1.1
	ns_exec b ip route add default via 10.0.2.1
}

nat_lab3() { # SRV_IP2
	local i=1 r
	for n in inet srv ra rb rc a b c; do ns_create $n; done
	ns_forward inet
	ns_link inet eth0 192.0.2.254/24 srv eth0 192.0.2.1/24
	ns_exec srv ip addr add "$1/24" dev eth0
	ns_link inet eth1 198.51.100.1/25 ra wan 198.51.100.2/25
	ns_link inet eth2 203.0.113.1/24 rb wan 203.0.113.2/24
	ns_link inet eth3 198.51.100.129/25 rc wan 198.51.100.130/25
	ns_exec srv ip route add default via 192.0.2.254
	ns_exec ra ip route add default via 198.51.100.1
	ns_exec rb ip route add default via 203.0.113.1
	ns_exec rc ip route add default via 198.51.100.129
	for r in ra rb rc; do
		ns_forward $r
		ns_link $r lan 10.0.$i.1/24 ${r#r} eth0 10.0.$i.2/24
		ns_exec ${r#r} ip route add default via 10.0.$i.1
		i=$((i + 1))
	done
}

nat_lab_nodes() {
	node_pair_start
	node_wait alice 'peer bob@.*-> up' 60 || { node_logs; fail "alice's link to bob did not come up"; }
	node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
}

nat_set_wan() { # NS OLD NEW
	local gw
	gw=$(ns_exec "$1" ip -4 route show default | awk '{print $3}')
	ns_exec "$1" ip addr del "$2/24" dev wan
	ns_exec "$1" ip addr add "$3/24" dev wan
	ns_exec "$1" ip route add default via "$gw"
}

ms_until_ping() { # NS IP [SECONDS]
	local t0 end
	t0=$(lib_now_us)
	end=$((t0 + ${3:-120} * 1000000))
	while [ "$(lib_now_us)" -lt "$end" ]; do
		if ns_exec "$1" ping -c 1 -W 0.25 "$2" >/dev/null 2>&1; then
			echo $((($(lib_now_us) - t0) / 1000))
			return 0
		fi
	done
	echo -1
	return 1
}
