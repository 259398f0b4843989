/* XMPP server selection and failover (xmpp_servers.h). */
#include "xmpp_servers.h"

#include <string.h>
#include <strings.h>

#include "dns_srv.h"

uint64_t xmpp_backoff_ms(unsigned attempt, uint32_t rnd)
{
	uint64_t base = 1000ull << (attempt > 6 ? 6 : attempt);
	if (base > 60000)
		base = 60000;
	/* +-25%: base * (0.75 + 0.5 * rnd / 2^32) */
	return base * 3 / 4 + (base / 2) * rnd / 0x100000000ull;
}

void xmpp_servers_init(struct xmpp_servers *sv, xmpp_rand_fn rnd, void *rnd_ctx)
{
	memset(sv, 0, sizeof(*sv));
	sv->rnd = rnd;
	sv->rnd_ctx = rnd_ctx;
}

/* A uniform index below n (n small: the bias is negligible). */
static unsigned uniform(struct xmpp_servers *sv, unsigned n)
{
	return (unsigned)(((uint64_t)sv->rnd(sv->rnd_ctx) * n) >> 32);
}

static void shuffle(struct xmpp_servers *sv)
{
	for (unsigned i = sv->n; i > 1; i--) {
		unsigned j = uniform(sv, i);
		struct xmpp_server t = sv->round[i - 1];
		sv->round[i - 1] = sv->round[j];
		sv->round[j] = t;
	}
}

static void srv_order(struct xmpp_servers *sv)
{
	struct dns_srv r[XMPP_SERVERS_MAX];
	for (unsigned i = 0; i < sv->n; i++) {
		r[i].priority = sv->round[i].priority;
		r[i].weight = sv->round[i].weight;
		r[i].port = (uint16_t)i; /* carries the index through the sort */
	}
	dns_srv_order(r, sv->n, sv->rnd, sv->rnd_ctx);
	struct xmpp_server sorted[XMPP_SERVERS_MAX];
	for (unsigned i = 0; i < sv->n; i++)
		sorted[i] = sv->round[r[i].port];
	memcpy(sv->round, sorted, sv->n * sizeof(sorted[0]));
}

static bool same(const struct xmpp_server *a, const struct xmpp_server *b)
{
	return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

/* The server whose session just ended goes last. */
static void avoid_last(struct xmpp_servers *sv)
{
	for (unsigned i = 0; sv->avoid && i + 1 < sv->n; i++) {
		if (same(&sv->round[i], &sv->last)) {
			struct xmpp_server t = sv->round[i];
			memmove(&sv->round[i], &sv->round[i + 1], (sv->n - i - 1) * sizeof(t));
			sv->round[sv->n - 1] = t;
			break;
		}
	}
	sv->avoid = false;
}

void xmpp_servers_start(struct xmpp_servers *sv, const struct xmpp_server *list, unsigned n, bool srv)
{
	if (n > XMPP_SERVERS_MAX)
		n = XMPP_SERVERS_MAX;
	memcpy(sv->round, list, n * sizeof(list[0]));
	sv->n = n;
	sv->next = 0;
	sv->srv = srv;
	if (srv)
		srv_order(sv);
	else
		shuffle(sv);
	avoid_last(sv);
}

const struct xmpp_server *xmpp_servers_next(struct xmpp_servers *sv)
{
	return sv->next < sv->n ? &sv->round[sv->next++] : NULL;
}

const struct xmpp_server *xmpp_servers_current(const struct xmpp_servers *sv)
{
	return sv->next > 0 && sv->next <= sv->n ? &sv->round[sv->next - 1] : NULL;
}

void xmpp_servers_up(struct xmpp_servers *sv)
{
	sv->attempt = 0;
}

uint64_t xmpp_servers_down(struct xmpp_servers *sv, bool was_up)
{
	const struct xmpp_server *cur = xmpp_servers_current(sv);

	if (was_up && cur) {
		sv->last = *cur;
		sv->avoid = true;
		sv->next = sv->n; /* a fresh round, this server last */
	}
	if (sv->next < sv->n)
		return 0;
	return xmpp_backoff_ms(sv->attempt++, sv->rnd(sv->rnd_ctx));
}
