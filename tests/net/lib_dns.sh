# A DNS server for the namespace lab (dnsmasq, authoritative for what it is
# told, nothing forwarded) and per-namespace resolvers. Source after lib.sh.
#
#   dns_lab_start NS IP ARGS...   # dnsmasq in NS on IP:53 with extra ARGS, e.g.
#                                 # --srv-host=_xmpp-client._tcp.example.test,m1.example.test,5222,10
#                                 # --host-record=m1.example.test,198.51.100.2
#                                 # queries are logged to $LIB_TMP/dnsmasq.log
#   ns_resolver NS IP             # NS resolves through IP: /etc/netns/<ns>/resolv.conf,
#                                 # which `ip netns exec` mounts over /etc/resolv.conf
#                                 # (removed again on exit)

dns_lab_start() { # NS IP ARGS...
	local ns=$1 ip=$2
	shift 2
	need_cmd dnsmasq
	ns_bg "$ns" "$LIB_TMP/dnsmasq.log" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
		--no-hosts --bind-interfaces --listen-address="$ip" --port=53 --user=root \
		--pid-file="$LIB_TMP/dnsmasq.pid" --log-queries --log-facility=- "$@"
	wait_udp_port "$ns" 53 10 || { cat "$LIB_TMP/dnsmasq.log"; fail "dnsmasq did not start"; }
}

ns_resolver() { # NS IP
	local d
	d="/etc/netns/$(ns_name "$1")"
	mkdir -p "$d"
	printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$2" >"$d/resolv.conf"
	lib_on_exit rm -rf "$d"
}
