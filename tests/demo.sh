#!/usr/bin/env bash
# `make demo`: a whole ipop deployment on one machine, in network namespaces.
#
#                         "internet" (router inet)
#   192.0.2.0/24 LAN: ---------+---------------+--------------+------------
#                      srv 192.0.2.1     turn 192.0.2.2    alice 192.0.2.10
#                      ejabberd: XMPP    ipop-turnserver   node, public address
#                      5222 (STARTTLS),  (TURN) :3478
#                      STUN :3478
#   inet -- 198.51.100.2 [nat1: cone]      -- bob   10.0.1.2
#   inet -- 203.0.113.2  [nat2: cone]      -- carol 10.0.2.2
#   inet -- 203.0.113.130 [nat3: symmetric] -- dave 10.0.3.2
#
# ejabberd's config comes from deploy/ejabberd/make-config.sh, its users and
# the GroupVPN group "demo" (all four) from deploy/ipop-accounts.sh. Nodes
# use ejabberd's STUN and ipop-turnserver for TURN. Cone NAT = iptables
# MASQUERADE (port-preserving, port-restricted filtering); symmetric NAT =
# MASQUERADE --random-fully (a new port for every destination).
#
# It prints every pair's state, path (direct, or relay and which relay) and
# RTT next to the path the pair is expected to take, then a ping matrix,
# then shows `ipopctl peers` live until Ctrl-C. Everything is torn down on
# exit. ONCE=1: one table, teardown, exit 0 only if every pair reached each
# other by its expected path. A run first removes what a previous run that
# died left behind; two demos at the same time are refused.
set -u
cd "$(dirname "$0")/.."
source tests/net/lib.sh
source tests/net/lib_xmpp.sh
source tests/net/lib_node.sh
source tests/net/lib_ejabberd.sh

DEMO_PREFIX=ipop-demo
PIDFILE=/run/ipop-demo.pid
WAIT=${DEMO_WAIT:-90}
ONCE=${ONCE:-0}
NODES=(alice bob carol dave)
declare -A NS=([alice]=alice [bob]=bob [carol]=carol [dave]=dave)
declare -A IP4=([alice]=172.31.0.1 [bob]=172.31.0.2 [carol]=172.31.0.3 [dave]=172.31.0.4)
declare -A WHERE=([alice]="public 192.0.2.10" [bob]="cone NAT 198.51.100.2" [carol]="cone NAT 203.0.113.2"
	[dave]="symmetric NAT 203.0.113.130")
TURN_ADDR=192.0.2.2:3478
# The path every pair must take, and why.
PAIRS=(alice:bob alice:carol alice:dave bob:carol bob:dave carol:dave)
declare -A EXPECT=([alice:bob]=direct [alice:carol]=direct [alice:dave]=direct
	[bob:carol]=direct [bob:dave]=probing [carol:dave]=probing)
declare -A REASON=(
	[alice:bob]="alice is public; bob's NAT keeps his port"
	[alice:carol]="alice is public; carol's NAT keeps her port"
	[alice:dave]="dave's check to alice opens its own mapping; alice answers it"
	[bob:carol]="both NATs keep the port STUN saw: hole punching"
	[bob:dave]="dave's port toward bob is unknown: multi-port probing finds one most times (docs/nat.md), else the relay"
	[carol:dave]="dave's port toward carol is unknown: multi-port probing finds one most times (docs/nat.md), else the relay")

if [ -t 1 ]; then
	B=$'\033[1m' G=$'\033[32m' R=$'\033[31m' N=$'\033[0m'
else
	B="" G="" R="" N=""
fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }

# ---- one demo at a time; leftovers of a dead one are removed -------------
demo_running() {
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[ "$pid" != $$ ] && kill -0 "$pid" 2>/dev/null && grep -q demo.sh "/proc/$pid/cmdline" 2>/dev/null
}

demo_clean_stale() {
	local n p d found=0
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$DEMO_PREFIX-demo-"); do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
		found=1
	done
	# Processes that outlived a deleted namespace still name their run's
	# directory on their command line.
	for d in /proc/[0-9]*; do
		grep -qa "/tmp/$DEMO_PREFIX-demo-" "$d/cmdline" 2>/dev/null || continue
		p=${d#/proc/}
		[ "$p" = $$ ] || { kill -KILL "$p" 2>/dev/null && found=1; }
	done
	for d in /tmp/"$DEMO_PREFIX"-demo-*; do [ -d "$d" ] && rm -rf "$d" && found=1; done
	[ $found -eq 0 ] || echo "removed what an earlier demo left behind"
}

[ "$(id -u)" -eq 0 ] || { echo "make demo must run as root (network namespaces, TUN)"; exit 1; }
if demo_running; then
	echo "another demo is running (pid $(cat "$PIDFILE")); stop it first"
	exit 1
fi
demo_clean_stale
echo $$ >"$PIDFILE"
IPOP_NS_PREFIX=$DEMO_PREFIX lib_init demo
lib_on_exit "rm -f $PIDFILE"
need_cmd ejabberdctl ip iptables ping python3 openssl ss turnutils_stunclient
node_bins
[ -x "$IPOPCTL" ] || { echo "$IPOPCTL not built"; exit 1; }

# ---- the lab ---------------------------------------------------------------
say "network: a public LAN, two cone NATs and a symmetric NAT behind a router"
for n in inet srv turn alice nat1 nat2 nat3 bob carol dave; do ns_create $n; done
lan_create lan
ns_forward inet
lan_attach lan inet eth0 192.0.2.254/24
lan_attach lan srv eth0 192.0.2.1/24
lan_attach lan turn eth0 192.0.2.2/24
lan_attach lan alice eth0 192.0.2.10/24
ns_link inet eth1 198.51.100.1/24 nat1 wan 198.51.100.2/24
ns_link inet eth2 203.0.113.1/25 nat2 wan 203.0.113.2/25
ns_link inet eth3 203.0.113.129/25 nat3 wan 203.0.113.130/25
for n in srv turn alice; do ns_exec $n ip route add default via 192.0.2.254; done
declare -A GW=([nat1]=198.51.100.1 [nat2]=203.0.113.1 [nat3]=203.0.113.129)
declare -A HOST=([nat1]=bob [nat2]=carol [nat3]=dave)
i=1
for r in nat1 nat2 nat3; do
	h=${HOST[$r]}
	ns_forward $r
	ns_exec $r ip route add default via "${GW[$r]}"
	ns_link $r lan 10.0.$i.1/24 $h eth0 10.0.$i.2/24
	ns_exec $h ip route add default via 10.0.$i.1
	# Like a home router: nothing unsolicited reaches the NAT itself.
	ns_exec $r iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
	i=$((i + 1))
done
ns_exec nat1 iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
ns_exec nat2 iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
ns_exec nat3 iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully
for n in "${NODES[@]}"; do printf '    %-6s %s\n' "$n" "${WHERE[$n]}"; done

say "ejabberd on 192.0.2.1 (config from deploy/ejabberd/make-config.sh)"
ejabberd_lab_start srv 192.0.2.1
echo "    XMPP 192.0.2.1:5222 (STARTTLS required, SCRAM-SHA-256), STUN 192.0.2.1:3478/udp"
out=$(stun_udp_client bob 192.0.2.1 | grep -m1 -o 'UDP reflexive addr: [0-9.:]*')
echo "    bob asks ejabberd's STUN: ${out:-no answer}"

say "users and the GroupVPN group 'demo' (deploy/ipop-accounts.sh)"
cat >"$LIB_TMP/accounts.txt" <<ACC
domain $XMPP_DOMAIN
user alice pw-alice
user bob pw-bob
user carol pw-carol
user dave pw-dave
group demo alice bob carol dave
ACC
sed 's/^/    | /' "$LIB_TMP/accounts.txt"
ejabberd_accounts "$LIB_TMP/accounts.txt" | sed 's/^/    /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "deploy/ipop-accounts.sh failed"

say "ipop-turnserver (TURN) on 192.0.2.2:3478"
cat >"$LIB_TMP/turn.conf" <<CONF
listen_address = { "192.0.2.2" }
udp_port = 3478
tcp_port = 3478
realm = "ipop"
users = { "alice:turn-alice", "bob:turn-bob", "carol:turn-carol", "dave:turn-dave" }
CONF
ns_bg turn "$LIB_TMP/turnserver.log" "$TURNSRV" -f -c "$LIB_TMP/turn.conf"
TURN_PID=$LIB_PID
wait_udp_port turn 3478 || { cat "$LIB_TMP/turnserver.log"; fail "ipop-turnserver did not start"; }
grep -E 'listening on|relay address' "$LIB_TMP/turnserver.log" | sed 's/^.*\]: /    /'

say "four nodes (ipopd), each with ejabberd's STUN and the TURN server"
for n in "${NODES[@]}"; do
	node_config $n "${IP4[$n]}" $n 192.0.2.1:3478 \
		"\"turn\": [{\"server\": \"$TURN_ADDR\", \"user\": \"$n\", \"pass\": \"turn-$n\"}],"
	node_start "${NS[$n]}" $n
	printf '    %-6s %-15s %s\n' $n "${IP4[$n]}" "${WHERE[$n]}"
done
echo "    config of dave:"
sed -e 's/^/    | /' -e 's/"xmpp_password": "[^"]*"/"xmpp_password": "..."/' "$LIB_TMP/dave/config.json"

# ---- the table ---------------------------------------------------------------
peers_json() { # NODE -> $LIB_TMP/peers-NODE.json
	node_ctl "$1" --json peers >"$LIB_TMP/peers-$1.json.tmp" 2>/dev/null &&
		mv "$LIB_TMP/peers-$1.json.tmp" "$LIB_TMP/peers-$1.json"
}

# Reads every node's peers JSON; prints the table (or, with "check", only
# says whether all pairs are up on their expected path, from both sides).
pair_table() { # check|table
	local pairs="" p
	for p in "${PAIRS[@]}"; do pairs+="$p=${EXPECT[$p]}=${REASON[$p]}"$'\n'; done
	python3 - "$1" "$LIB_TMP" "$pairs" "$TURN_ADDR" "$G" "$R" "$N" \
		"alice=${IP4[alice]}" "bob=${IP4[bob]}" "carol=${IP4[carol]}" "dave=${IP4[dave]}" <<'PY'
import json, os, sys
mode, tmp, pairs, turn, G, R, N = sys.argv[1:8]
ip = dict(a.split("=") for a in sys.argv[8:])
def peer(a, b):
    try:
        for p in json.load(open(os.path.join(tmp, "peers-%s.json" % a))):
            if p.get("ip4") == ip[b]:
                return p
    except (OSError, ValueError):
        pass
    return None
def ping(a, b):
    try:
        return open(os.path.join(tmp, "ping-%s-%s" % (a, b))).read().split()
    except OSError:
        return None
def ok_side(p, want):
    if want == "probing":  # hard NAT: direct when probing met, else relayed
        return ok_side(p, "direct") or ok_side(p, "relay")
    if not p or p.get("state") != "up" or p.get("path") != want:
        return False
    if want == "direct":
        return True
    # "relay" is the relayed address: the TURN server's IP, a relay port.
    # A relayed pair counts once ipopd has given up on the direct pairs
    # (it relays while it still checks them, and may upgrade later).
    why = p.get("why_not_direct") or ""
    return ((p.get("relay") or "").rsplit(":", 1)[0] == turn.rsplit(":", 1)[0]
            and why != "" and "in progress" not in why)
rows, good = [], True
for item in filter(None, pairs.split("\n")):
    pair, want, why = item.split("=", 2)
    a, b = pair.split(":")
    pa, pb = peer(a, b), peer(b, a)
    ok = ok_side(pa, want) and ok_side(pb, want)
    pg, pg_back = ping(a, b), ping(b, a)
    ab = pg is not None and pg[0] == "ok"
    ba = pg_back is not None and pg_back[0] == "ok"
    if mode == "table":
        ok = ok and ab and ba
    good = good and ok
    if mode == "table":
        st = pa.get("state") if pa else "none"
        path = (pa.get("path") or "-") if pa else "-"
        if pa and pa.get("path") == "relay":
            via = "via " + (pa.get("relay") or "?")
        elif pa and pa.get("endpoint"):
            via = "to " + pa["endpoint"]
        else:
            via = ""
        rtt = "%.2f ms" % float(pg[1]) if ab else "-"
        reach = "yes" if ab and ba else ("one way" if ab or ba else "no")
        exp = {"relay": "relay via " + turn.rsplit(":", 1)[0],
               "probing": "direct or relay"}.get(want, want)
        res = (G + "ok" + N) if ok else (R + "FAIL" + N)
        rows.append((a + " <-> " + b, exp, reach, st, path, via, rtt, res, why,
                     (pa or {}).get("why_not_direct")))
if mode == "table":
    hdr = ("pair", "expected", "reachable", "state", "path", "where to", "RTT", "result")
    nc = len(hdr) - 1
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(nc)]
    print("    " + "  ".join(h.ljust(w[i]) if i < nc else h for i, h in enumerate(hdr)))
    for r in rows:
        print("    " + "  ".join(str(r[i]).ljust(w[i]) for i in range(nc)) + "  " + r[nc])
        print("    " + " " * w[0] + "  because: " + r[nc + 1] +
              (" (ipopd: %s)" % r[nc + 2] if r[nc + 2] else ""))
sys.exit(0 if good else 1)
PY
}

collect() { local n; for n in "${NODES[@]}"; do peers_json $n; done; }

say "waiting for every pair to come up on its expected path (at most ${WAIT} s)"
t0=$SECONDS
while :; do
	collect
	pair_table check && break
	[ $((SECONDS - t0)) -ge "$WAIT" ] && break
	sleep 1
done
if pair_table check; then
	echo "    all six links up as expected after $((SECONDS - t0)) s"
else
	echo "    ${R}not every link is up as expected after ${WAIT} s${N}"
fi

# One ping per ordered pair, all at once: 5 echoes each.
ping_all() {
	local a b pids=()
	for a in "${NODES[@]}"; do
		for b in "${NODES[@]}"; do
			[ $a = $b ] && continue
			(
				out=$(ns_exec "${NS[$a]}" ping -n -q -c 5 -i 0.2 -W 5 "${IP4[$b]}" 2>&1)
				avg=$(sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
				rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
				if [ "${rx:-0}" -ge 3 ] && [ -n "$avg" ]; then echo "ok $avg $rx"; else echo "fail - ${rx:-0}"; fi \
					>"$LIB_TMP/ping-$a-$b"
			) &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
}
ping_all
collect

say "every pair: reachable = pings answered both ways; path as the first node sees it (the second must agree); RTT of its pings"
pair_table table
verdict=$?

say "ping matrix: average RTT of 5 pings, row pings column (x: fewer than 3 answers)"
printf '    %-8s' "from\\to"
for b in "${NODES[@]}"; do printf '%-10s' "$b"; done
echo
for a in "${NODES[@]}"; do
	printf '    %-8s' "$a"
	for b in "${NODES[@]}"; do
		if [ $a = $b ]; then printf '%-10s' "-"; continue; fi
		read -r st avg _ <"$LIB_TMP/ping-$a-$b"
		if [ "$st" = ok ]; then printf '%-10s' "$avg ms"; else printf '%s%-10s%s' "$R" x "$N"; fi
	done
	echo
done

say "ipop-turnserver's counters (SIGUSR1)"
kill -USR1 "$TURN_PID" 2>/dev/null && sleep 0.3
grep 'stats: allocs' "$LIB_TMP/turnserver.log" | tail -1 |
	sed -e 's/.*stats: /    /' -e 's/ stun_in.*relayed_to_peer/ relayed_to_peer/' -e 's/ dropped_no_perm.*//'

if [ $verdict -eq 0 ]; then
	say "${G}result: every pair reached each other by its expected path${N}"
else
	say "${R}result: FAILED - see the rows marked FAIL${N}"
	echo "    node logs: KEEP_TMP=1 make demo ONCE=1 keeps them in /tmp/$LIB_PREFIX.*"
fi
if [ "$ONCE" = 1 ]; then
	exit $verdict
fi

# ---- live view until Ctrl-C ----------------------------------------------------
trap 'echo; say "Ctrl-C: stopping the nodes, ipop-turnserver and ejabberd, removing the namespaces"; exit 0' INT TERM
say "live: ipopctl peers on every node every 3 s; Ctrl-C stops and removes everything"
sleep 3
while :; do
	[ -t 1 ] && printf '\033[H\033[2J'
	printf '%s%s  (Ctrl-C to stop)%s\n' "$B" "$(date +%T)" "$N"
	for n in "${NODES[@]}"; do
		printf '\n%s%s%s (%s, %s)\n' "$B" "$n" "$N" "${IP4[$n]}" "${WHERE[$n]}"
		node_ctl $n peers 2>&1 | sed 's/^/  /'
	done
	sleep 3
done
