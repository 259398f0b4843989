#!/bin/sh
# Writes a prosody.cfg.lua for ipop from the template next to this script.
#
#   make-config.sh DOMAIN [LISTEN_IP [CERTDIR [GROUPS_FILE]]] > /etc/prosody/prosody.cfg.lua
#
# DOMAIN       XMPP domain of the ipop users, e.g. xmpp.example.org
# LISTEN_IP    address to listen on (default "*", all addresses)
# CERTDIR      directory with DOMAIN.crt and DOMAIN.key (default /etc/prosody/certs)
# GROUPS_FILE  mod_groups file (default /etc/prosody/ipop-groups.txt)
#
# With TURN_HOST and TURN_SECRET_FILE in the environment, Prosody also
# hands out ipop-turnserver's address and short-lived TURN REST
# credentials (XEP-0215, mod_turn_external), so no config.json needs a TURN
# password:
#   TURN_HOST         ipop-turnserver's address or name
#   TURN_SECRET_FILE  file holding ipop-turnserver's static_auth_secret
#   TURN_PORT         its udp_port/tcp_port (default 3478)
#   TURN_TLS_PORT     its tls_port, to offer turns: too (TURN_HOST must
#                     then be the name in its certificate)
#   TURN_TTL          lifetime of the credentials in seconds (default 43200)
set -eu
if [ $# -lt 1 ] || [ $# -gt 4 ]; then
	echo "usage: $0 DOMAIN [LISTEN_IP [CERTDIR [GROUPS_FILE]]] > prosody.cfg.lua" >&2
	exit 2
fi
domain=$1 ip=${2:-*} certs=${3:-/etc/prosody/certs} groups=${4:-/etc/prosody/ipop-groups.txt}
case $domain$ip$certs$groups in
*[@\|\"\ \	]*) echo "$0: arguments may not contain @, |, quotes or blanks" >&2; exit 2 ;;
esac
module="" options="-- no TURN_HOST: no STUN/TURN discovery (XEP-0215)"
if [ -n "${TURN_HOST:-}" ]; then
	[ -r "${TURN_SECRET_FILE:-}" ] || { echo "$0: TURN_HOST needs TURN_SECRET_FILE (readable)" >&2; exit 2; }
	secret=$(tr -d '\n' <"$TURN_SECRET_FILE")
	port=${TURN_PORT:-3478} ttl=${TURN_TTL:-43200}
	case $TURN_HOST$secret$port$ttl${TURN_TLS_PORT:-} in
	*[\"\ \	\\\|\&]*) echo "$0: TURN_* values may not contain quotes, backslashes, blanks, | or &" >&2; exit 2 ;;
	esac
	module='"turn_external"; -- XEP-0215: STUN/TURN for ipop nodes'
	options="turn_external_secret = \"$secret\"; turn_external_host = \"$TURN_HOST\"; turn_external_port = $port; turn_external_ttl = $ttl; turn_external_tcp = true"
	[ -n "${TURN_TLS_PORT:-}" ] && options="$options; turn_external_tls_port = $TURN_TLS_PORT"
fi
exec sed -e "s|@DOMAIN@|$domain|g" -e "s|@LISTEN_IP@|$ip|g" -e "s|@CERTDIR@|$certs|g" \
	-e "s|@GROUPS_FILE@|$groups|g" -e "s|@TURN_MODULE@|$module|" -e "s|@TURN_OPTIONS@|$options|" \
	"$(dirname "$0")/prosody.cfg.lua.in"
