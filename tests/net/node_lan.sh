#!/usr/bin/env bash
# ipopd case (a): two nodes on one LAN link directly (host candidates),
# ping and a checksum-verified 50 MiB TCP transfer cross the VPN, and
# ipopctl reports the path.
#
#                      lan: bridge br0, 192.0.2.0/24
#        +--------------------+--------------------+
#        |                    |                    |
#   srv 192.0.2.1        a 192.0.2.11         b 192.0.2.12
#   prosody (TLS)        ipopd alice          ipopd bob
#   ipop-turnserver      ipop0 172.31.0.1     ipop0 172.31.0.2
#   (STUN :3478)
#
# alice and bob are contacts (a shared roster group, subscription both).
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init lan
need_cmd prosody prosodyctl python3 openssl ping ss
need_root
node_bins
MB=${XFER_MB:-50}

lan_create lan
for n in srv a b; do ns_create $n; done
lan_attach lan srv eth0 192.0.2.1/24
lan_attach lan a eth0 192.0.2.11/24
lan_attach lan b eth0 192.0.2.12/24

xmpp_lab_start srv 192.0.2.1
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_lab_run
stun_lab_start srv 192.0.2.1

# An interface alice must not offer (network_ignore_list), and one she must.
# (veth pairs inside the namespace: the dummy driver may be missing)
for i in ign0 use0; do
	ns_exec a ip link add $i type veth peer name ${i}p || fail "veth $i"
	ns_exec a ip link set ${i}p up
	ns_exec a ip link set $i up
done
ns_exec a ip addr add 203.0.113.77/24 dev ign0
ns_exec a ip addr add 198.51.100.77/24 dev use0
node_config alice 172.31.0.1 alice 192.0.2.1:3478 '"network_ignore_list": ["ign0"],'
node_config bob 172.31.0.2 bob 192.0.2.1:3478
"$IPOPD" -n -c "$LIB_TMP/alice/config.json" >/dev/null || fail "ipopd -n rejects the lab config"
"$IPOPD" -h | grep -q -- '-n, --check' || fail "ipopd -h does not document -n"
"$IPOPD" -V | grep -Eq '^ipopd [0-9.]+ \(([0-9a-f]{7,}(-dirty)?|unknown)\)$' || fail "ipopd -V prints no version and commit: $("$IPOPD" -V)"
printf '{\n  "ip4": 5,\n  "xmpp_username": "a@b",\n  "xmpp_password": "x",\n  "xmpp_host": "h"\n}\n' >"$LIB_TMP/bad.json"
out=$("$IPOPD" -n -c "$LIB_TMP/bad.json" 2>&1) && fail "ipopd -n accepted a number for ip4"
grep -q 'bad.json:2:[0-9]*:.*ip4' <<<"$out" || fail "no file:line:col error naming ip4: $out"
pass "command line: -h, -V, -n on a good and a bad config ($out)"
node_start a alice
node_start b bob

node_wait alice 'xmpp: online' || { node_logs; fail "alice did not log in"; }
node_wait bob 'xmpp: online' || { node_logs; fail "bob did not log in"; }
pass "both nodes logged in to XMPP over TLS"
grep -q 'host candidate 192\.0\.2\.11:.* (eth0)' "$LIB_TMP/alice.log" || { node_logs; fail "no host candidate on eth0"; }
grep -q 'host candidate 198\.51\.100\.77:.* (use0)' "$LIB_TMP/alice.log" || { node_logs; fail "no host candidate on use0"; }
grep -q 'host candidate 203\.0\.113\.77' "$LIB_TMP/alice.log" && fail "ign0 (network_ignore_list) was offered"
grep -Eq 'host candidate (127\.|172\.31\.)' "$LIB_TMP/alice.log" && fail "loopback or the TUN was offered"
pass "host candidates: every interface but loopback, the TUN and network_ignore_list"
node_wait alice 'peer bob@.*-> up' || { node_logs; fail "alice's link to bob did not come up"; }
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "bob's link to alice did not come up"; }
grep -E 'ICE selected pair' "$LIB_TMP/alice.log" | tail -1
pass "link up"

vpn_ping a 172.31.0.2 || { node_logs; fail "alice cannot ping bob over the VPN"; }
vpn_ping b 172.31.0.1 || { node_logs; fail "bob cannot ping alice over the VPN"; }
pass "ping both ways across the VPN"

vpn_xfer a b 172.31.0.2 "$MB" || { node_logs; fail "transfer alice -> bob"; }
pass "$MB MiB TCP transfer alice -> bob, sha256 verified"

if [ -x "$IPOPCTL" ]; then
	p=$(node_path_json alice 172.31.0.2)
	echo "alice sees bob: $p"
	read -r st path ep <<<"$p"
	[ "$st" = up ] && [ "$path" = direct ] && [[ $ep == 192.0.2.12:* ]] ||
		{ node_ctl alice --json peers; fail "ipopctl path is '$p', expected up direct 192.0.2.12:*"; }
	pass "ipopctl peers --json: up, direct, endpoint $ep"
else
	grep -Eq 'bob@.*handshake complete, path direct host host -> 192\.0\.2\.12:' "$LIB_TMP/alice.log" ||
		fail "log shows no direct host path"
	pass "path from the ipopd log (ipopctl not built): direct host/host"
fi

# --- cryptokey routing: bob's node seals a packet whose inner source is not
# bob's virtual address; alice must drop it (and count it).
ns_exec b ip addr add 172.31.0.99/32 dev ipop0
ns_exec b ping -c 3 -i 0.2 -W 1 -I 172.31.0.99 172.31.0.1 >/dev/null 2>&1 &&
	fail "alice answered a packet whose inner source is not bob's address"
if [ -x "$IPOPCTL" ]; then
	bad_source() { node_ctl alice --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["bad_source"])'; }
	three_bad() { [ "$(bad_source)" -ge 3 ]; }
	lib_wait "$LIB_WAIT_S" three_bad
	bad=$(bad_source)
	[ "$bad" -ge 3 ] || fail "alice counted $bad bad-source drops, expected >= 3"
	pass "cryptokey routing: 3 spoofed-source packets from bob dropped and counted ($bad)"
else
	pass "cryptokey routing: spoofed-source packets from bob were not answered"
fi
vpn_ping b 172.31.0.1 || fail "bob's own address stopped working"

# --- restarts: a clean stop says bye; a crash is noticed through presence.
kill -TERM "${NODE_PID[bob]}"
wait "${NODE_PID[bob]}" 2>/dev/null
node_wait alice 'peer bob@.*link removed \(bye received\)' || { node_logs; fail "alice did not get bob's bye"; }
pass "bob stopped cleanly: alice removed the link on his bye"
node_start b bob
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "the link did not come back after bob restarted"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping after bob restarted"; }
pass "bob restarted: link up again, ping"

kill -KILL "${NODE_PID[bob]}"
wait "${NODE_PID[bob]}" 2>/dev/null
sleep 1
node_start b bob
node_wait bob 'peer alice@.*-> up' || { node_logs; fail "the link did not come back after bob crashed and restarted"; }
for ((k = 0; k < 20; k++)); do vpn_ping a 172.31.0.2 && break; sleep 0.5; done
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping after bob crashed and restarted"; }
vpn_xfer b a 172.31.0.1 5 || { node_logs; fail "transfer after bob crashed and restarted"; }
pass "bob crashed (SIGKILL) and restarted: link up again, ping, 5 MiB transfer"
