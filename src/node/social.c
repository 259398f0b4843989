/* SocialVPN glue between ipopd and its map and translator (social.h). */
#include "social.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "xlate.h"

static void save(struct node *n)
{
	int rc = social_map_save(&n->smap, n->conf->social_map_file);
	if (rc)
		log_warn("social: cannot save the map to %s: %s (mappings may change after a restart)",
			 n->conf->social_map_file, strerror(-rc));
}

int social_init(struct node *n)
{
	const struct node_conf *c = n->conf;
	char a[INET_ADDRSTRLEN];

	social_map_init(&n->smap, c->ip4, c->ip4_mask);
	for (unsigned i = 0; i < c->n_pins; i++) {
		int rc = social_map_pin(&n->smap, c->pins[i].jid, c->pins[i].ip4);
		if (rc)
			log_warn("social: pin %s: %s", c->pins[i].jid, strerror(-rc));
	}
	int bad = c->social_pin_file ? social_map_load(&n->smap, c->social_pin_file, true, stderr) : 0;
	if (bad < 0)
		log_warn("social: cannot read pin file %s: %s", c->social_pin_file, strerror(-bad));
	bad = social_map_load(&n->smap, c->social_map_file, false, stderr);
	if (bad < 0) {
		log_error("social: cannot read %s: %s", c->social_map_file, strerror(-bad));
		return bad;
	}
	log_info("social: %zu friend address(es) known (%s)", n->smap.n, c->social_map_file);
	for (size_t i = 0; i < n->smap.n; i++)
		log_debug("social: %s is %s%s", n->smap.e[i].bare,
			  inet_ntop(AF_INET, &n->smap.e[i].ip4, a, sizeof(a)), n->smap.e[i].pinned ? " (pinned)" : "");
	return 0;
}

void social_free(struct node *n)
{
	social_map_free(&n->smap);
}

bool social_peer_attach(struct node *n, struct peer *p)
{
	char bare[XMPP_JID_MAX], a[INET_ADDRSTRLEN];
	struct in_addr ip;

	if (!jid_split(p->jid, bare, sizeof(bare), NULL))
		return false;
	int rc = social_map_assign(&n->smap, bare, &ip);
	if (rc < 0) {
		log_warn("social: no address for %s: %s", bare, strerror(-rc));
		return false;
	}
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if (rc == 1) {
		log_info("social: %s mapped to %s", bare, a);
		save(n);
	}
	p->map4 = ip;
	p->xl.local = n->conf->ip4.s_addr;
	p->xl.peer_mapped = ip.s_addr;
	return true;
}

void social_peer_own_addr(struct peer *p, uint32_t own_be)
{
	p->xl.peer_own = own_be;
}

static void dropped(struct node *n, struct peer *p, enum xlate_result r, const char *dir)
{
	n->cnt.xlate_drop++;
	p->xlate_drops++;
	log_debug("peer %s: %s packet not translatable (%s); dropped", p->jid, dir, xlate_result_name(r));
}

bool social_out(struct node *n, struct peer *p, uint8_t *pkt, size_t len)
{
	enum xlate_result r = xlate_out(pkt, len, &p->xl);
	if (r != XLATE_OK)
		dropped(n, p, r, "outgoing");
	return r == XLATE_OK;
}

bool social_in(struct node *n, struct peer *p, uint8_t *pkt, size_t len)
{
	enum xlate_result r = xlate_in(pkt, len, &p->xl);
	if (r != XLATE_OK)
		dropped(n, p, r, "incoming");
	return r == XLATE_OK;
}
