/* turn.conf: the libconfuse layout of the original TurnServer, plus ours. */
#ifndef IPOP_TURN_CONF_H
#define IPOP_TURN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum { TURN_CONF_MAX_LISTEN = 16, TURN_CONF_MAX_RULES = 64, TURN_CONF_MAX_USERS = 256 };

enum turn_account_method { TURN_ACCOUNT_FILE = 0, TURN_ACCOUNT_NONE };

/* denied_address { address, mask, port } and our allowed_address: a prefix
 * and an optional port (0 = any port). */
struct turn_addr_rule {
	struct sockaddr_storage addr; /* port unused */
	uint8_t prefix;               /* mask as prefix length */
	uint16_t port;                /* 0 = any */
};

struct turn_user {
	char *name;
	char *password;
};

struct turn_conf {
	char *path;
	/* listening */
	unsigned n_listen;
	struct sockaddr_storage listen[TURN_CONF_MAX_LISTEN]; /* listen_address + listen_addressv6, port 0 */
	uint16_t udp_port;           /* 3478 */
	uint16_t tcp_port;           /* 3478 */
	uint16_t tls_port;           /* 5349 */
	bool tls;                    /* false: TLS listener off */
	char *cert_file;
	char *private_key_file;
	/* relaying */
	unsigned n_relay;
	struct sockaddr_storage relay[TURN_CONF_MAX_LISTEN]; /* relay_address; default = listen addresses */
	uint16_t min_port;           /* 49152 */
	uint16_t max_port;           /* 65535 */
	unsigned n_denied, n_allowed;
	struct turn_addr_rule denied[TURN_CONF_MAX_RULES];
	struct turn_addr_rule allowed[TURN_CONF_MAX_RULES]; /* allowed overrides denied, never the built-in bans */
	/* auth */
	char *realm;                 /* "ipop" */
	char *nonce_key;             /* secret for nonces; random per start when unset */
	enum turn_account_method account_method;
	char *account_file;          /* login:password:realm:state */
	char *static_auth_secret;    /* TURN REST */
	unsigned n_users;
	struct turn_user users[TURN_CONF_MAX_USERS]; /* users = { "name:password", ... } */
	/* limits */
	unsigned max_client;         /* total allocations, 508 beyond; default 10000 */
	unsigned max_relay_per_username; /* 486 beyond; default 0 = unlimited */
	unsigned max_connections_per_ip; /* TCP + TLS per source IP (/64); default 64, 0 = unlimited */
	unsigned stream_queue_total_kb;  /* write queues of all TCP/TLS connections; default 64 MB */
	unsigned allocation_lifetime; /* max lifetime granted, default 3600 (capped there) */
	unsigned bandwidth_per_allocation; /* KB/s, 0 = unlimited */
	unsigned restricted_bandwidth;    /* KB/s for "restricted" accounts, default 10 */
	/* process */
	bool daemon;
	char *unpriv_user;
	unsigned threads;            /* 0 = one per core */
	unsigned rx_moderation_us;   /* worker sleep while traffic is dense; 0 = off */
	char *software;              /* SOFTWARE attribute; "ipop-turnserver" */
	bool syslog;                 /* log to syslog instead of stderr */
	/* RFC 5780 (alt_listen_address): alt_listen[i] is a second address of
	 * the server, paired with alt_primary[i], a concrete listen address of
	 * its family. Each pair answers on udp_port and alt_udp_port. */
	unsigned n_alt;
	struct sockaddr_storage alt_listen[2];  /* port 0 */
	struct sockaddr_storage alt_primary[2]; /* port 0 */
	uint16_t alt_udp_port;       /* udp_port + 1 */
	/* observability */
	bool metrics;                /* metrics_address given: serve /metrics */
	struct sockaddr_storage metrics_addr; /* with its port (default 9641) */
};

#define TURN_CONF_METRICS_PORT 9641 /* coturn's Prometheus port */

/* Parses path into conf (zeroed first, defaults applied). Every problem is
 * printed to stderr as "file:line: reason" (sorted by line; warnings as
 * "file:line: warning: ..."); returns the number of errors (0 = usable).
 * conf must be freed with turn_conf_free() whatever the result. Not
 * thread-safe: libconfuse's lexer is global. Keys: docs/turn-conf.md. */
int turn_conf_load(struct turn_conf *conf, const char *path);
/* The same for text already in memory (len bytes, no NUL), named name in
 * messages, which go to out. The file's own permissions are not checked. */
int turn_conf_load_buf(struct turn_conf *conf, const char *name, const char *text, size_t len,
		       FILE *out);
void turn_conf_free(struct turn_conf *conf);

#endif
