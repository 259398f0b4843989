#!/usr/bin/env bash
# Another VPN between the two nodes (docs/nat.md "Only paths that carry
# full-size packets"). A wireguard-go tunnel with MTU 1280 is up between a
# and b, created before their LAN interface so that its addresses rank
# first among the host candidates. A path through it passes ICE's small
# checks, but the tunnel's full-size datagrams (1280 + 32 bytes of UDP
# payload) do not fit: ipop must not route over it.
#
#   srv 192.0.2.1 prosody, STUN --[lan]-- a 192.0.2.11 (ipopd alice 172.31.0.1)
#                                  |      b 192.0.2.12 (ipopd bob   172.31.0.2)
#   a: wireguard-go $WGA 10.99.0.1/24 (MTU 1280) <=== over the lan ===> b: $WGB 10.99.0.2/24
#
# 1. Default: the tunnel's interface is no host candidate (it is a TUN
#    device); the link is direct over the LAN and a 50 MiB transfer puts
#    (almost) nothing on the tunnel.
# 2. "tunnel_candidates": true offers the tunnel's addresses anyway: the
#    pairs through it pass small checks and fail the full-size one
#    (padded checks and answers sent with DF), `ipopctl peers` says so, and
#    again nothing of the transfer goes through the tunnel.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init vpnmtu
need_cmd prosody prosodyctl python3 openssl ping ss wg
need_root
node_bins
MB=${XFER_MB:-50}
WGGO=${WG_GO:-$(command -v wireguard-go)}
[ -x "$WGGO" ] || skip "wireguard-go not installed"
# Each wireguard-go instance needs its own interface name: the control
# socket /var/run/wireguard/<if>.sock is shared by all namespaces.
WGA="wm$$a" WGB="wm$$b"

lan_create lan
ns_create srv
lan_attach lan srv eth0 192.0.2.1/24
ns_create a
ns_create b
for s in a b; do
	(umask 077; wg genkey >"$LIB_TMP/wg$s.key")
	wg pubkey <"$LIB_TMP/wg$s.key" >"$LIB_TMP/wg$s.pub"
done
lib_on_exit "rm -f /var/run/wireguard/$WGA.sock /var/run/wireguard/$WGB.sock"
ns_bg a "$LIB_TMP/wga.log" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 "$WGGO" -f "$WGA"
ns_bg b "$LIB_TMP/wgb.log" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 "$WGGO" -f "$WGB"
lib_wait 10 test -S "/var/run/wireguard/$WGA.sock" || fail "wireguard-go $WGA did not start"
lib_wait 10 test -S "/var/run/wireguard/$WGB.sock" || fail "wireguard-go $WGB did not start"
lan_attach lan a eth0 192.0.2.11/24
lan_attach lan b eth0 192.0.2.12/24
ns_exec a wg set "$WGA" private-key "$LIB_TMP/wga.key" listen-port 51820 \
	peer "$(cat "$LIB_TMP/wgb.pub")" endpoint 192.0.2.12:51820 allowed-ips 10.99.0.2/32
ns_exec b wg set "$WGB" private-key "$LIB_TMP/wgb.key" listen-port 51820 \
	peer "$(cat "$LIB_TMP/wga.pub")" endpoint 192.0.2.11:51820 allowed-ips 10.99.0.1/32
ns_exec a ip addr add 10.99.0.1/24 dev "$WGA"
ns_exec b ip addr add 10.99.0.2/24 dev "$WGB"
ns_exec a ip link set "$WGA" mtu 1280 up
ns_exec b ip link set "$WGB" mtu 1280 up
ns_exec a ping -c 3 -i 0.2 -W 2 10.99.0.2 >/dev/null || fail "the wireguard-go tunnel does not pass ping"
ns_exec a ping -c 1 -W 2 -M do -s 1300 10.99.0.2 >/dev/null 2>&1 &&
	fail "1328-byte packets with DF pass a 1280-byte tunnel?"
pass "wireguard-go tunnel $WGA <-> $WGB up (MTU 1280), listed before eth0"

xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

wg_tx() { ns_exec a cat "/sys/class/net/$WGA/statistics/tx_bytes"; }

run() { # LABEL EXTRA
	node_config alice 172.31.0.1 alice 192.0.2.1:3478 "$2"
	node_config bob 172.31.0.2 bob 192.0.2.1:3478 "$2"
	node_start a alice
	node_start b bob
	node_wait alice 'peer bob@.*-> up' 60 || { node_logs; fail "($1) alice's link to bob did not come up"; }
	node_wait bob 'peer alice@.*-> up' 30 || { node_logs; fail "($1) bob's link to alice did not come up"; }
	local ep
	for ((k = 0; k < 100; k++)); do
		ep=$(node_peer_field alice 172.31.0.2 endpoint)
		[[ $ep == 192.0.2.12:* ]] && break
		sleep 0.2
	done
	echo "($1) alice -> bob: $(node_path_json alice 172.31.0.2); bob -> alice: $(node_path_json bob 172.31.0.1)"
	[[ $ep == 192.0.2.12:* ]] || { node_logs; fail "($1) alice's path to bob is $ep, not over the LAN"; }
	[[ $(node_peer_field bob 172.31.0.1 endpoint) == 192.0.2.11:* ]] || { node_logs; fail "($1) bob's path is not over the LAN"; }
	local before after t0 dt
	before=$(wg_tx)
	t0=$(date +%s%N)
	vpn_xfer a b 172.31.0.2 "$MB" || { node_logs; fail "($1) transfer alice -> bob"; }
	dt=$((($(date +%s%N) - t0) / 1000000))
	after=$(wg_tx)
	echo "($1) $MB MiB in $dt ms ($(python3 -c "print('%.1f' % ($MB * 8 * 1.048576 / ($dt / 1000)))") Mbit/s); $((after - before)) bytes left through $WGA meanwhile"
	[ $((after - before)) -lt 1000000 ] || fail "($1) the transfer went through the other VPN ($((after - before)) bytes)"
	pass "($1) the link stays off the other VPN; $MB MiB verified"
}

run default ""
grep -q "gather: $WGA skipped: a TUN/TAP device" "$LIB_TMP/alice.log" || fail "alice did not skip $WGA"
grep -q 'host candidate 10\.99\.0\.1' "$LIB_TMP/alice.log" && fail "alice offered a host candidate on $WGA"
pass "(default) $WGA is not a host candidate: $(grep -m1 "gather: $WGA skipped" "$LIB_TMP/alice.log" | cut -d' ' -f3-)"

node_ctl alice peers >/dev/null
for n in alice bob; do kill -TERM "${NODE_PID[$n]}"; done
for n in alice bob; do wait "${NODE_PID[$n]}" 2>/dev/null; done
run tunnel_candidates '"tunnel_candidates": true,'
grep -q 'host candidate 10\.99\.0\.1' "$LIB_TMP/alice.log" || fail "tunnel_candidates: no host candidate on $WGA"
refused=""
for ((k = 0; k < 300; k++)); do
	refused=$(node_peer_field alice 172.31.0.2 paths_refused)
	[[ $refused == *"full-size packets lost"* ]] && break
	sleep 0.2
done
echo "alice: paths_refused = $refused"
[[ $refused == *10.99.0.* ]] && [[ $refused == *"full-size packets lost"* ]] ||
	{ node_ctl alice peers; node_logs; fail "ipopctl does not say why the tunnel's pairs are not used"; }
node_ctl alice peers
pass "(tunnel_candidates) the tunnel's pairs passed small checks, failed the full-size one, and ipopctl says so"
