/* Which XMPP server the node connects to next, sans I/O: the servers of
 * "xmpp_host" (e.g. the members of an ejabberd cluster) in random order,
 * or the domain's _xmpp-client._tcp SRV records in RFC 2782 order, tried
 * one after another; the reconnect backoff runs only once every server of
 * a round has failed.
 *
 *   xmpp_servers_start()   a new round: the servers in the order to try
 *   xmpp_servers_next()    the server to connect to now (NULL: round over)
 *   xmpp_servers_up()      logged in: the backoff starts again from 0
 *   xmpp_servers_down()    the connection failed or an established session
 *                          ended: how long to wait before the next attempt
 *
 * A session that ends (the server died, a cluster member was stopped)
 * ends its round: the next round, in a fresh order (SRV looked up again),
 * tries that server last, so the node moves to another member at once
 * instead of waiting for the one that just went away. */
#ifndef IPOP_XMPP_SERVERS_H
#define IPOP_XMPP_SERVERS_H

#include <stdbool.h>
#include <stdint.h>

enum {
	XMPP_SERVERS_MAX = 16,
	XMPP_SERVER_HOST_MAX = 254, /* a host name (253) or an IP literal, and the NUL */
};

struct xmpp_server {
	char host[XMPP_SERVER_HOST_MAX]; /* IPv6 literals without brackets */
	uint16_t port;
	uint16_t priority, weight;       /* SRV records; 0 for configured servers */
};

typedef uint32_t (*xmpp_rand_fn)(void *ctx);

struct xmpp_servers {
	struct xmpp_server round[XMPP_SERVERS_MAX]; /* this round, in the order tried */
	unsigned n, next;      /* next: index of the next server to try */
	bool srv;              /* the round came from SRV records */
	unsigned attempt;      /* failed rounds in a row: the backoff's exponent */
	bool avoid;            /* put `last` at the end of the next round... */
	struct xmpp_server last; /* ...the server whose session ended */
	xmpp_rand_fn rnd;
	void *rnd_ctx;
};

void xmpp_servers_init(struct xmpp_servers *sv, xmpp_rand_fn rnd, void *rnd_ctx);
/* Starts a round with list[0..n) (n >= 1; more than XMPP_SERVERS_MAX are
 * cut): shuffled, or, for SRV records (srv true), in RFC 2782 order. */
void xmpp_servers_start(struct xmpp_servers *sv, const struct xmpp_server *list, unsigned n, bool srv);
/* The next server of this round, or NULL when the round is over (the
 * caller starts a new one). */
const struct xmpp_server *xmpp_servers_next(struct xmpp_servers *sv);
/* The server tried last (the round's current one), or NULL. */
const struct xmpp_server *xmpp_servers_current(const struct xmpp_servers *sv);
void xmpp_servers_up(struct xmpp_servers *sv);
/* The attempt at the current server ended; was_up: after a login. Returns
 * the wait before the next attempt: 0 while the round has servers left,
 * else xmpp_backoff_ms() of the failed rounds so far (the round is over). */
uint64_t xmpp_servers_down(struct xmpp_servers *sv, bool was_up);
/* Exponential backoff with +-25% jitter: 1 s, 2 s, ... capped at 60 s.
 * `rnd` is a uniform random 32-bit value. */
uint64_t xmpp_backoff_ms(unsigned attempt, uint32_t rnd);

#endif
