# Helpers for lab tests of the Prometheus endpoints (source after lib.sh).
#
#   metrics_mgmt NS                 # namespace "mon" joined to NS by a management
#                                   # link: NS 10.250.0.1/30, mon 10.250.0.2/30
#   metrics_fetch NS URL            # GET URL from NS with curl; body on stdout,
#                                   # fails unless 200 and the text-format type
#   metrics_value TEXT 'NAME{L="V"}'  # the sample's value in an exposition, or
#                                   # nothing (series without labels: NAME only)
#   http_status NS URL [CURL ARGS...]   # the HTTP status curl got (000: none)
#   http_raw NS HOST PORT BYTES     # sends BYTES (printf format) on a TCP
#                                   # connection, prints the status line
#   prom_query NS ADDR QUERY        # Prometheus HTTP API instant query; prints
#                                   # the first result's value, or nothing

METRICS_NODE_IP=10.250.0.1
METRICS_MON_IP=10.250.0.2

metrics_mgmt() { # NS
	ns_create mon
	ns_link "$1" mgmt "$METRICS_NODE_IP/30" mon mgmt "$METRICS_MON_IP/30"
}

metrics_fetch() { # NS URL
	local out
	out=$(ns_exec "$1" curl -sS --max-time 10 -D "$LIB_TMP/hdr.$$" "$2") || return 1
	grep -q '^HTTP/1.[01] 200' "$LIB_TMP/hdr.$$" || return 1
	grep -qi '^content-type: text/plain; version=0.0.4' "$LIB_TMP/hdr.$$" || return 1
	printf '%s\n' "$out"
}

metrics_value() { # TEXT SERIES
	awk -v s="$2" '$1 == s { print $2; exit }' <<<"$1"
}

http_status() { # NS URL [ARGS...]
	local ns=$1 url=$2; shift 2
	ns_exec "$ns" curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@" "$url"
}

http_raw() { # NS HOST PORT BYTES
	ns_exec "$1" timeout 15 python3 - "$2" "$3" "$4" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(sys.argv[3].encode().decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
data = b""
try:
    while b"\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
except socket.timeout:
    pass
print(data.split(b"\r\n")[0].decode("latin-1"))
PY
}

prom_query() { # NS ADDR QUERY
	ns_exec "$1" curl -sS --max-time 10 -G "http://$2/api/v1/query" --data-urlencode "query=$3" |
		python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
res = r.get("data", {}).get("result", [])
if r.get("status") == "success" and res:
    print(res[0]["value"][1])'
}
