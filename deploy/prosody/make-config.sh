#!/bin/sh
# Writes a prosody.cfg.lua for ipop from the template next to this script.
#
#   make-config.sh DOMAIN [LISTEN_IP [CERTDIR [GROUPS_FILE]]] > /etc/prosody/prosody.cfg.lua
#
# DOMAIN       XMPP domain of the ipop users, e.g. xmpp.example.org
# LISTEN_IP    address to listen on (default "*", all addresses)
# CERTDIR      directory with DOMAIN.crt and DOMAIN.key (default /etc/prosody/certs)
# GROUPS_FILE  mod_groups file (default /etc/prosody/ipop-groups.txt)
set -eu
if [ $# -lt 1 ] || [ $# -gt 4 ]; then
	echo "usage: $0 DOMAIN [LISTEN_IP [CERTDIR [GROUPS_FILE]]] > prosody.cfg.lua" >&2
	exit 2
fi
domain=$1 ip=${2:-*} certs=${3:-/etc/prosody/certs} groups=${4:-/etc/prosody/ipop-groups.txt}
case $domain$ip$certs$groups in
*[@\|\"\ \	]*) echo "$0: arguments may not contain @, |, quotes or blanks" >&2; exit 2 ;;
esac
exec sed -e "s|@DOMAIN@|$domain|g" -e "s|@LISTEN_IP@|$ip|g" -e "s|@CERTDIR@|$certs|g" \
	-e "s|@GROUPS_FILE@|$groups|g" "$(dirname "$0")/prosody.cfg.lua.in"
