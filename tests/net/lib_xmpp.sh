# Prosody for the namespace lab: a private server with its own config,
# data and certificate under a temp dir. Source after defining cleanup.
#   xmpp_prosody_start NS IP DIR [tls]   start Prosody in netns NS on IP:5222
#   xmpp_register DIR USER PASS          register USER@example.test
#   xmpp_groups DIR "[team]" "alice" ... write a mod_groups file (before start)
#   xmpp_prosody_stop DIR
XMPP_DOMAIN=${XMPP_DOMAIN:-example.test}

xmpp_prosody_config() { # DIR IP TLS
	local dir=$1 ip=$2 tls=$3
	mkdir -p "$dir/data" "$dir/certs"
	cat >"$dir/prosody.cfg.lua" <<CFG
run_as_root = true
daemonize = false
data_path = "$dir/data"
pidfile = "$dir/prosody.pid"
interfaces = { "$ip" }
c2s_ports = { 5222 }
modules_enabled = { "roster", "saslauth", "disco", "ping", "groups", "tls", "presence", "message" }
modules_disabled = { "s2s", "offline" }
groups_file = "$dir/groups.txt"
log = { info = "$dir/prosody.log" }
certificates = "$dir/certs"
authentication = "internal_hashed"
VirtualHost "$XMPP_DOMAIN"
CFG
	if [ "$tls" = tls ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$XMPP_DOMAIN" \
			-addext "subjectAltName=DNS:$XMPP_DOMAIN" \
			-keyout "$dir/certs/$XMPP_DOMAIN.key" -out "$dir/certs/$XMPP_DOMAIN.crt" 2>/dev/null
		echo 'c2s_require_encryption = true' >>"$dir/prosody.cfg.lua"
	else
		printf 'c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n' >>"$dir/prosody.cfg.lua"
	fi
	touch "$dir/groups.txt"
}

xmpp_groups() { # DIR [group] member...
	local dir=$1; shift
	echo "$1" >>"$dir/groups.txt"; shift
	local m
	for m in "$@"; do echo "$m@$XMPP_DOMAIN=$m" >>"$dir/groups.txt"; done
}

xmpp_register() { # DIR USER PASS
	prosodyctl --config "$1/prosody.cfg.lua" register "$2" "$XMPP_DOMAIN" "$3" >/dev/null
}

xmpp_prosody_start() { # NS IP DIR
	local ns=$1 ip=$2 dir=$3
	ip netns exec "$ns" prosody --config "$dir/prosody.cfg.lua" -F >"$dir/stdout.log" 2>&1 &
	echo $! >"$dir/prosody.pidfile"
	# Up to 60 s (a busy machine starts Lua slowly); done once it listens.
	local end=$((SECONDS + 60))
	while [ $SECONDS -le $end ]; do
		if ip netns exec "$ns" ss -ltn "sport = :5222" | grep -q 5222; then
			sleep 0.2
			kill -0 "$(cat "$dir/prosody.pidfile")" 2>/dev/null && return 0
			break
		fi
		kill -0 "$(cat "$dir/prosody.pidfile")" 2>/dev/null || break
		sleep 0.1
	done
	echo "prosody did not start:"; cat "$dir/stdout.log" "$dir/prosody.log" 2>/dev/null
	return 1
}

xmpp_prosody_stop() { # DIR
	local pid
	pid=$(cat "$1/prosody.pidfile" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}
