/* The signalling side of a link: building the messages it queued (from
 * its current state, so an offer always carries the candidates of now)
 * and taking the peer's candidates from the messages it receives. */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "link.h"
#include "links.h"
#include "log.h"

static void cand_to_signal(const struct ice_cand *c, struct signal_cand *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->foundation, sizeof(s->foundation), "%s", c->foundation);
	s->component = 1;
	s->priority = c->priority;
	s->type = (enum signal_cand_type)c->type;
	addr_ip_store(&s->addr, &c->addr);
	if (c->type == ICE_CAND_HOST)
		s->related.ss_family = AF_UNSPEC;
	else
		addr_ip_store(&s->related, &c->rel_addr);
}

static void cand_from_signal(const struct signal_cand *s, struct ice_cand *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->foundation, sizeof(c->foundation), "%s", s->foundation);
	c->component = 1;
	c->priority = s->priority;
	c->type = (enum ice_cand_type)s->type;
	addr_ip_set(&c->addr, (const struct sockaddr *)&s->addr);
	addr_ip_set(&c->rel_addr, (const struct sockaddr *)(s->related.ss_family == AF_UNSPEC ? &s->addr : &s->related));
}

static void add_cands(struct signal_msg *m, const struct ice_cand *c, unsigned n)
{
	for (unsigned i = 0; i < n && m->n_cands < SIGNAL_MAX_CANDS; i++)
		if (c[i].addr.sa.sa_family == AF_INET)
			cand_to_signal(&c[i], &m->cands[m->n_cands++]);
}

/* Who we are, our key and addresses (ip4, and ip6 and routes when we have
 * them): hellos, offers and answers. */
static void fill_identity(const struct link *l, struct signal_msg *m)
{
	const struct link_env *e = &l->tab->env;

	m->has_key = true;
	memcpy(m->key, e->self_key, SIGNAL_KEY_LEN);
	m->has_ip4 = true;
	m->ip4 = e->self_ip4;
	m->nat = e->nat;
	m->probes = true; /* rtt.c answers tunnel pings */
	m->has_ip6 = e->has_ip6;
	m->ip6 = e->self_ip6;
	m->n_routes = e->n_routes;
	memcpy(m->routes, e->routes, e->n_routes * sizeof(e->routes[0]));
}

static void fill_ice(const struct link *l, struct signal_msg *m)
{
	m->has_ice = true;
	snprintf(m->ufrag, sizeof(m->ufrag), "%s", l->lufrag);
	snprintf(m->pwd, sizeof(m->pwd), "%s", l->lpwd);
}

void link_sig_build(const struct link *l, const struct link_sigq_item *it, struct signal_msg *m)
{
	const struct link_env *e = &l->tab->env;

	memset(m, 0, sizeof(*m));
	m->kind = it->kind;
	memcpy(m->from, e->self_id, SIGNAL_ID_LEN);
	m->has_to = true;
	memcpy(m->to, l->id, SIGNAL_ID_LEN);
	switch (it->kind) {
	case SIGNAL_HELLO:
		fill_identity(l, m);
		m->need = e->need_direct;
		if (it->with_ice)
			fill_ice(l, m);
		break;
	case SIGNAL_ANSWER:
		m->has_offer_ufrag = true;
		snprintf(m->offer_ufrag, sizeof(m->offer_ufrag), "%s", it->offer_ufrag);
		/* fall through */
	case SIGNAL_OFFER:
		fill_identity(l, m);
		m->need = it->kind == SIGNAL_OFFER && e->need_direct;
		m->has_tiebreaker = true;
		m->tiebreaker = l->ice.tiebreaker;
		fill_ice(l, m);
		add_cands(m, e->local, e->nlocal);
		break;
	case SIGNAL_CANDIDATES:
		fill_ice(l, m);
		if (it->first_cand < l->ice.nlocal)
			add_cands(m, &l->ice.local[it->first_cand], l->ice.nlocal - it->first_cand);
		break;
	case SIGNAL_BYE:
		break;
	}
}

bool link_sig_take_net(struct link *l, const struct signal_msg *m)
{
	struct link_net n;

	memset(&n, 0, sizeof(n));
	n.has_ip6 = m->has_ip6;
	if (m->has_ip6)
		n.ip6 = m->ip6;
	n.n_routes = m->n_routes < SIGNAL_MAX_ROUTES ? m->n_routes : SIGNAL_MAX_ROUTES;
	memcpy(n.routes, m->routes, n.n_routes * sizeof(n.routes[0]));
	if (memcmp(&n, &l->net, sizeof(n)) == 0)
		return false;
	memcpy(&l->net, &n, sizeof(n)); /* padding too: the next memcmp compares it */
	return true;
}

void link_sig_add_remotes(struct link *l, const struct signal_msg *m, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	for (unsigned i = 0; i < m->n_cands; i++) {
		struct ice_cand c;
		if (m->cands[i].addr.ss_family != AF_INET)
			continue;
		cand_from_signal(&m->cands[i], &c);
		int rc = ice_agent_add_remote_candidate(&l->ice, &c, now_ms);
		log_debug("peer %s: remote candidate %s %s: %d", l->jid, ice_cand_type_name(c.type),
			  addr_format((struct sockaddr *)&c.addr, true, a), rc);
	}
	link_queue_event(l, LINK_EV_REMOTES); /* permissions for the new addresses */
	hardnat_check(l, now_ms);
	l->deadline_ms = now_ms;
}
