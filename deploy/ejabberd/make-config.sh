#!/bin/sh
# Writes an ejabberd.yml for ipop from the template next to this script.
#
#   make-config.sh DOMAIN CERTFILE [LISTEN_IP] > /etc/ejabberd/ejabberd.yml
#
# DOMAIN     XMPP domain of the ipop users, e.g. xmpp.example.org
# CERTFILE   PEM file with the certificate chain and its private key
# LISTEN_IP  address for the XMPP and STUN listeners (default "::", all)
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 DOMAIN CERTFILE [LISTEN_IP] > ejabberd.yml" >&2
	exit 2
fi
domain=$1 cert=$2 ip=${3:-::}
case $domain$cert$ip in
*[@\|\"\ \	]*) echo "$0: DOMAIN, CERTFILE and LISTEN_IP may not contain @, |, quotes or blanks" >&2; exit 2 ;;
esac
exec sed -e "s|@DOMAIN@|$domain|g" -e "s|@CERTFILE@|$cert|g" -e "s|@LISTEN_IP@|$ip|g" \
	"$(dirname "$0")/ejabberd.yml.in"
