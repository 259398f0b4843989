#!/usr/bin/env bash
# Installs what ipop needs to build, test, benchmark and run the demo on
# Debian 12 (as root). Daemons that packages would start are kept stopped.
#   deploy/install-deps.sh              apt-get update + install everything
#   deploy/install-deps.sh --if-missing  do nothing when every package is there
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(
	build-essential pkg-config clang llvm libclang-rt-14-dev valgrind
	libsodium-dev libssl-dev libjansson-dev libconfuse-dev libstrophe-dev libcmocka-dev libmicrohttpd-dev liburing-dev
	iproute2 iptables iputils-ping iperf3 conntrack tcpdump procps psmisc openssl python3 stress-ng
	coturn prosody lua-sec ejabberd stun-client prometheus curl chromium chromium-driver dnsmasq-base
	golang-go golang-github-pion-stun-dev golang-github-pion-logging-dev
	wireguard-go wireguard-tools tinc linux-perf ethtool
	systemd man-db groff-base
)

missing() {
	local p
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

if [ "${1:-}" = --if-missing ]; then
	todo=$(missing)
	[ -z "$todo" ] && exit 0
	echo "install-deps: missing packages:" $todo
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root to install packages (apt-get)" >&2
	exit 1
fi
# Packaged services (coturn, prosody, ejabberd) must not start on their own
# and take our ports: invoke-rc.d asks policy-rc.d, and 101 means "no".
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update
apt-get install -y "${PKGS[@]}"
