/* ipopctl netcheck's probes: the I/O half (sockets, TLS, timeouts) of the
 * checks whose verdicts netcheck.c computes. Blocking with deadlines: it
 * runs in the CLI, never in the daemon. */
#ifndef IPOP_NETCHECK_PROBE_H
#define IPOP_NETCHECK_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netcheck.h"

enum { NETCHECK_TIMEOUT_MS = 3000 };

/* STUN Binding from ONE fresh UDP socket to every server at once (servers
 * filled in s[i].server); fills the answers and *local (the socket's
 * source address towards the first server). Returns 0 or -errno. */
int netcheck_probe_udp(struct netcheck_stun *s, unsigned n, struct sockaddr_storage *local);

/* The RFC 5780 tests against server, which answered with OTHER-ADDRESS
 * (see struct netcheck_5780): two fresh UDP sockets, about 3 s more when
 * the NAT filters the changed answers out. Returns 0 or -errno. */
int netcheck_probe_5780(const struct sockaddr_storage *server, struct netcheck_5780 *d);

/* A relay over a stream: TCP connect, optional TLS (certificate checked
 * against host, with ca_file or the system store), then a STUN Binding
 * on it. */
struct netcheck_relay {
	const char *host;               /* as configured, for the certificate check */
	struct sockaddr_storage server;
	bool tls;
	const char *ca_file;            /* NULL: system trust store */
	bool ok;
	struct sockaddr_storage mapped; /* what the relay saw, when ok */
	uint32_t rtt_us;                /* connect (+ handshake) + binding */
	char error[NETCHECK_ERR_LEN];
};
void netcheck_probe_stream(struct netcheck_relay *r);

#endif
