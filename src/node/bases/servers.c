/* The node's STUN and TURN servers (see bases.h): config.json's, merged
 * with the ones the XMPP server lists (XEP-0215, docs/nat.md):
 *  - STUN: config.json's `stun`, then the discovered STUN servers;
 *  - TURN: config.json's `turn` entries in their order; a discovered TURN
 *    server with the same host, port and transport as one of them gives
 *    it its credentials when config.json has none (an entry without
 *    "user"/"pass"), and is otherwise ignored (config.json's credentials
 *    win); the other discovered ones follow, with theirs.
 * Every answer of the XMPP server replaces what it said before, so
 * credentials are always the latest it handed out. */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "bases.h"
#include "log.h"

static void turn_from_conf(struct bases_turn_srv *t, const struct node_turn *c)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", c->host ? c->host : "");
	t->port = c->port;
	t->transport = c->transport;
	if (c->user && c->pass) {
		snprintf(t->user, sizeof(t->user), "%s", c->user);
		snprintf(t->pass, sizeof(t->pass), "%s", c->pass);
	}
	t->ca_file = c->ca_file;
}

void servers_from_conf(struct bases *b)
{
	const struct node_conf *c = b->conf;

	sodium_memzero(b->turn_srv, sizeof(b->turn_srv));
	b->nstun = b->nturn = 0;
	for (unsigned i = 0; i < c->n_stun && b->nstun < BASES_MAX_STUN; i++) {
		struct bases_stun_srv *s = &b->stun_srv[b->nstun++];
		memset(s, 0, sizeof(*s));
		snprintf(s->host, sizeof(s->host), "%s", c->stun[i].host);
		s->port = c->stun[i].port;
	}
	for (unsigned i = 0; i < c->n_turn && b->nturn < BASES_MAX_TURN; i++)
		turn_from_conf(&b->turn_srv[b->nturn++], &c->turn[i]);
}

static bool same_turn(const struct bases_turn_srv *t, const struct bases_disc *d)
{
	return t->port == d->port && t->transport == d->transport && strcasecmp(t->host, d->host) == 0;
}

static void add_turn(struct bases *b, const struct bases_disc *d)
{
	for (unsigned i = 0; i < b->nturn; i++) {
		struct bases_turn_srv *t = &b->turn_srv[i];
		if (!same_turn(t, d))
			continue;
		if (!t->user[0] || t->creds_discovered) { /* config.json gives none */
			snprintf(t->user, sizeof(t->user), "%s", d->user);
			snprintf(t->pass, sizeof(t->pass), "%s", d->pass);
			t->creds_discovered = true;
			t->expires = d->expires;
		}
		return;
	}
	if (b->nturn == BASES_MAX_TURN)
		return;
	struct bases_turn_srv *t = &b->turn_srv[b->nturn++];
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", d->host);
	t->port = d->port;
	t->transport = d->transport;
	snprintf(t->user, sizeof(t->user), "%s", d->user);
	snprintf(t->pass, sizeof(t->pass), "%s", d->pass);
	t->discovered = t->creds_discovered = true;
	t->expires = d->expires;
}

static void add_stun(struct bases *b, const struct bases_disc *d)
{
	for (unsigned i = 0; i < b->nstun; i++)
		if (b->stun_srv[i].port == d->port && strcasecmp(b->stun_srv[i].host, d->host) == 0)
			return;
	if (b->nstun == BASES_MAX_STUN)
		return;
	struct bases_stun_srv *s = &b->stun_srv[b->nstun++];
	memset(s, 0, sizeof(*s));
	snprintf(s->host, sizeof(s->host), "%s", d->host);
	s->port = d->port;
	s->discovered = true;
}

/* Whether the TURN list differs in anything but credentials. */
static bool turn_servers_differ(const struct bases_turn_srv *a, unsigned na, const struct bases_turn_srv *b,
				unsigned nb)
{
	if (na != nb)
		return true;
	for (unsigned i = 0; i < na; i++)
		if (a[i].port != b[i].port || a[i].transport != b[i].transport || strcmp(a[i].host, b[i].host) != 0)
			return true;
	return false;
}

void bases_set_discovered(struct bases *b, const struct bases_disc *d, unsigned n, uint64_t now_ms)
{
	struct bases_turn_srv old[BASES_MAX_TURN];
	unsigned nold = b->nturn;
	bool had_stun = b->nstun > 0 || b->nturn > 0;

	memcpy(old, b->turn_srv, sizeof(old));
	servers_from_conf(b);
	for (unsigned i = 0; i < n; i++) {
		if (d[i].turn && d[i].user[0])
			add_turn(b, &d[i]);
		else if (!d[i].turn && d[i].transport == NODE_TURN_UDP)
			add_stun(b, &d[i]);
	}
	bool turn_changed = turn_servers_differ(old, nold, b->turn_srv, b->nturn);
	sodium_memzero(old, sizeof(old));
	unsigned ds = 0, dt = 0;
	for (unsigned i = 0; i < b->nstun; i++)
		ds += b->stun_srv[i].discovered;
	for (unsigned i = 0; i < b->nturn; i++)
		dt += b->turn_srv[i].creds_discovered;
	log_info("servers: %u STUN and %u TURN server(s); from the XMPP server: %u STUN, credentials for %u TURN",
		 b->nstun, b->nturn, ds, dt);
	if (b->started && !had_stun && (b->nstun || b->nturn))
		gather_stun_start(b, now_ms);
	relay_servers_changed(b, turn_changed, now_ms);
}
