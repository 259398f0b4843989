#!/bin/sh
# Writes an ejabberd.yml for ipop from the template next to this script.
#
#   make-config.sh DOMAIN CERTFILE [LISTEN_IP] > /etc/ejabberd/ejabberd.yml
#
# DOMAIN     XMPP domain of the ipop users, e.g. xmpp.example.org
# CERTFILE   PEM file with the certificate chain and its private key
# LISTEN_IP  address for the XMPP and STUN listeners (default "::", all)
#
# With TURN_HOST and TURN_SECRET_FILE in the environment, ejabberd also
# hands out ipop-turnserver's address and short-lived TURN REST
# credentials (XEP-0215, mod_stun_disco), so no config.json needs a TURN
# password:
#   TURN_HOST         ipop-turnserver's address or name (its UDP/TCP port)
#   TURN_SECRET_FILE  file holding ipop-turnserver's static_auth_secret
#   TURN_PORT         its udp_port/tcp_port (default 3478)
#   TURN_TLS_HOST     name in its TLS certificate, to offer turns: too
#   TURN_TLS_PORT     its tls_port (default 5349)
#   TURN_TTL          lifetime of the credentials in seconds (default 43200)
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 DOMAIN CERTFILE [LISTEN_IP] > ejabberd.yml" >&2
	exit 2
fi
domain=$1 cert=$2 ip=${3:-::}
case $domain$cert$ip in
*[@\|\"\ \	]*) echo "$0: DOMAIN, CERTFILE and LISTEN_IP may not contain @, |, quotes or blanks" >&2; exit 2 ;;
esac
sed -e "s|@DOMAIN@|$domain|g" -e "s|@CERTFILE@|$cert|g" -e "s|@LISTEN_IP@|$ip|g" \
	"$(dirname "$0")/ejabberd.yml.in"
[ -n "${TURN_HOST:-}" ] || exit 0
[ -r "${TURN_SECRET_FILE:-}" ] || { echo "$0: TURN_HOST needs TURN_SECRET_FILE (readable)" >&2; exit 2; }
secret=$(tr -d '\n' <"$TURN_SECRET_FILE")
port=${TURN_PORT:-3478} ttl=${TURN_TTL:-43200}
case $TURN_HOST$secret$port$ttl${TURN_TLS_HOST:-}${TURN_TLS_PORT:-} in
*[\"\ \	\\]*) echo "$0: TURN_* values may not contain quotes, backslashes or blanks" >&2; exit 2 ;;
esac
# ejabberd.yml.in ends with its modules: this block joins them.
cat <<YML
  ## XEP-0215: ipop-turnserver's address and TURN REST credentials made
  ## from its static_auth_secret, valid $ttl s; nodes ask again before
  ## they expire.
  mod_stun_disco:
    secret: "$secret"
    credentials_lifetime: $ttl
    offer_local_services: true
    services:
      -
        host: "$TURN_HOST"
        port: $port
        type: stun
        transport: udp
        restricted: false
      -
        host: "$TURN_HOST"
        port: $port
        type: turn
        transport: udp
        restricted: true
      -
        host: "$TURN_HOST"
        port: $port
        type: turn
        transport: tcp
        restricted: true
YML
if [ -n "${TURN_TLS_HOST:-}" ]; then
	cat <<YML
      -
        host: "$TURN_TLS_HOST"
        port: ${TURN_TLS_PORT:-5349}
        type: turns
        transport: tcp
        restricted: true
YML
fi
