#!/usr/bin/env bash
# What an idle node sends to its XMPP server: two linked nodes, XMPP in
# clear text (lab only) so tcpdump on 5222 can count stanzas, a window of
# IDLE_S seconds after the link is up. Beyond the XEP-0199 keepalive pings
# (one every 15 s) a node may send at most one stanza per idle minute.
# ~1.5 minutes.
#
#                      lan: bridge br0, 192.0.2.0/24
#        +--------------------+--------------------+
#        |                    |                    |
#   srv 192.0.2.1        a 192.0.2.11         b 192.0.2.12
#   prosody (no TLS),    ipopd alice          ipopd bob
#   tcpdump port 5222    172.31.0.1           172.31.0.2
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init xidle
need_cmd prosody prosodyctl python3 ping ss tcpdump
need_root
node_bins
IDLE_S=${IDLE_S:-60}

lab_lan a b
XDIR="$LIB_TMP/xmpp"
XMPP_IP=192.0.2.1
xmpp_prosody_config "$XDIR" $XMPP_IP notls
lib_on_exit xmpp_prosody_stop "$XDIR"
xmpp_groups "$XDIR" "[friends]" alice bob
for u in alice bob; do xmpp_register "$XDIR" $u pw-$u; done
xmpp_prosody_start "$(ns_name srv)" $XMPP_IP "$XDIR" || fail "prosody did not start"
for n in alice:172.31.0.1 bob:172.31.0.2; do
	node_config "${n%%:*}" "${n#*:}" "${n%%:*}" "" '"xmpp_tls": "off",'
done
node_start a alice
node_start b bob
node_wait alice 'peer bob@.*-> up' 30 || { node_logs; fail "link did not come up"; }
node_wait bob 'peer alice@.*-> up' 10 || { node_logs; fail "link did not come up"; }
vpn_ping a 172.31.0.2 || { node_logs; fail "no ping"; }
sleep 3 # trickles and the first path checks are over
pass "link up; XMPP without TLS (lab only)"

# Every XMPP byte the nodes send, for IDLE_S seconds.
ip netns exec "$(ns_name srv)" tcpdump -i eth0 -U -s 0 -w "$LIB_TMP/xmpp.pcap" "tcp dst port 5222" \
	>"$LIB_TMP/tcpdump.log" 2>&1 &
DUMP=$!
LIB_PIDS+=("$DUMP")
lib_wait 10 grep -q listening "$LIB_TMP/tcpdump.log" || fail "tcpdump did not start"
sleep "$IDLE_S"
kill -INT $DUMP
wait $DUMP 2>/dev/null

# Stanzas per sender: top-level elements of the stream, whatever their
# size (pings are a few hundred bytes, so one segment each).
count() { # SRC_IP
	tcpdump -r "$LIB_TMP/xmpp.pcap" -A -s 0 "src host $1" 2>/dev/null | python3 -c '
import re, sys
text = sys.stdin.read()
pings = len(re.findall(r"<ping xmlns=.urn:xmpp:ping.", text))
iqs = len(re.findall(r"<iq[ >]", text))
other = len(re.findall(r"<(presence|message)[ >/]", text)) + iqs - pings
print(pings, other)
'
}
fails=0
for n in alice:192.0.2.11 bob:192.0.2.12; do
	read -r pings other <<<"$(count "${n#*:}")"
	per_min=$(python3 -c "print(round(($other) * 60 / $IDLE_S, 2))")
	echo "${n%%:*}: $pings keepalive pings and $other other stanzas in $IDLE_S s idle ($per_min per minute)"
	[ "$pings" -ge $((IDLE_S / 15 - 1)) ] || { echo "  too few pings: is the capture empty?"; fails=1; }
	python3 -c "import sys; sys.exit(0 if $other <= max(1, $IDLE_S // 60) else 1)" || fails=1
done
[ $fails -eq 0 ] || { tcpdump -r "$LIB_TMP/xmpp.pcap" -A -s 0 2>/dev/null | tail -40; fail "an idle node sends more than one stanza a minute beyond its pings"; }
pass "idle: only XEP-0199 pings (one per 15 s) and at most one other stanza per minute per node"
