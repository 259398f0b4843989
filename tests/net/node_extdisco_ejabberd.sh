#!/usr/bin/env bash
# TURN servers and short-lived credentials from ejabberd 23.01's
# mod_stun_disco (XEP-0215), configured by deploy/ejabberd/make-config.sh
# with ipop-turnserver's static_auth_secret. The lab and what it checks:
# tests/net/lib_extdisco.sh. IPOP_SLOW=1: 60 s credentials over 330 s.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_xmpp.sh"
source "$(dirname "$0")/lib_node.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_ejabberd.sh"
source "$(dirname "$0")/lib_extdisco.sh"
IPOP_NS_PREFIX=${IPOP_NS_PREFIX:-ipn}
lib_init xepe
need_cmd ejabberdctl python3 openssl ping ss iptables conntrack
need_root
node_bins
[ -x "$IPOPCTL" ] || skip "$IPOPCTL not built"
extdisco_lab ejabberd
extdisco_run
