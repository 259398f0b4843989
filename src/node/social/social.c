/* SocialVPN: the friend map and the per-link translation (social.h). */
#include "social.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"

static void save(struct social *s)
{
	int rc = social_map_save(&s->smap, s->conf->social_map_file);
	if (rc)
		log_warn("social: cannot save the map to %s: %s (mappings may change after a restart)",
			 s->conf->social_map_file, strerror(-rc));
}

int social_init(struct social *s, const struct node_conf *c, const struct friends *friends, struct evloop *loop)
{
	char a[INET_ADDRSTRLEN];

	memset(s, 0, sizeof(*s));
	s->conf = c;
	s->friends = friends;
	s->loop = loop;
	s->dns_fd = -1;
	social_map_init(&s->smap, c->ip4, c->ip4_mask);
	for (unsigned i = 0; i < c->n_pins; i++) {
		int rc = social_map_pin(&s->smap, c->pins[i].jid, c->pins[i].ip4);
		if (rc)
			log_warn("social: pin %s: %s", c->pins[i].jid, strerror(-rc));
	}
	int bad = c->social_pin_file ? social_map_load(&s->smap, c->social_pin_file, true, stderr) : 0;
	if (bad < 0)
		log_warn("social: cannot read pin file %s: %s", c->social_pin_file, strerror(-bad));
	bad = social_map_load(&s->smap, c->social_map_file, false, stderr);
	if (bad < 0) {
		log_error("social: cannot read %s: %s", c->social_map_file, strerror(-bad));
		return bad;
	}
	log_info("social: %zu friend address(es) known (%s)%s", s->smap.n, c->social_map_file,
		 c->social_broadcast ? "; broadcast and multicast forwarded to friends" : "");
	for (size_t i = 0; i < s->smap.n; i++)
		log_debug("social: %s is %s%s", s->smap.e[i].bare,
			  inet_ntop(AF_INET, &s->smap.e[i].ip4, a, sizeof(a)), s->smap.e[i].pinned ? " (pinned)" : "");
	return 0;
}

void social_free(struct social *s)
{
	social_dns_close(s);
	social_map_free(&s->smap);
}

bool social_link_attach(struct social *s, struct link *l)
{
	char bare[XMPP_JID_MAX], a[INET_ADDRSTRLEN];
	struct in_addr ip;

	if (!jid_split(l->jid, bare, sizeof(bare), NULL))
		return false;
	int rc = social_map_assign(&s->smap, bare, &ip);
	if (rc < 0) {
		log_warn("social: no address for %s: %s", bare, strerror(-rc));
		return false;
	}
	struct social_link *sl = calloc(1, sizeof(*sl));
	if (!sl)
		return false;
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if (rc == 1) {
		log_info("social: %s mapped to %s", bare, a);
		save(s);
	}
	l->map4 = ip;
	sl->xl.local = s->conf->ip4.s_addr;
	sl->xl.peer_mapped = ip.s_addr;
	l->social = sl;
	return true;
}

void social_link_detach(struct link *l)
{
	free(l->social);
	l->social = NULL;
}

void social_link_own_addr(struct link *l, uint32_t own_be)
{
	if (l->social)
		l->social->xl.peer_own = own_be;
}

static void dropped(struct social *s, struct link *l, enum xlate_result r, const char *dir)
{
	s->xlate_drop++;
	l->xlate_drops++;
	log_debug("peer %s: %s packet not translatable (%s); dropped", l->jid, dir, xlate_result_name(r));
}

bool social_out(struct social *s, struct link *l, uint8_t *pkt, size_t len)
{
	enum xlate_result r = l->social ? xlate_out(pkt, len, &l->social->xl) : XLATE_WRONG_ADDR;
	if (r != XLATE_OK)
		dropped(s, l, r, "outgoing");
	return r == XLATE_OK;
}

static uint32_t subnet_bcast(const struct social *s)
{
	uint32_t mask = 0xffffffffu << (32 - s->conf->ip4_mask);
	return htonl(ntohl(s->conf->ip4.s_addr) | ~mask);
}

enum social_bcast social_bcast_out(struct social *s, uint8_t *pkt, size_t len)
{
	if (!s->conf->social_broadcast || !xlate_is_bcast(pkt, len, subnet_bcast(s)))
		return SOCIAL_BCAST_NO;
	enum xlate_result r = xlate_bcast_out(pkt, len, s->conf->ip4.s_addr, subnet_bcast(s));
	if (r != XLATE_OK) {
		s->xlate_drop++;
		log_debug("tun: broadcast not translatable (%s); dropped", xlate_result_name(r));
		return SOCIAL_BCAST_DROP;
	}
	return SOCIAL_BCAST_SEND;
}

bool social_in(struct social *s, struct link *l, uint8_t *pkt, size_t len)
{
	if (!l->social) {
		dropped(s, l, XLATE_WRONG_ADDR, "incoming");
		return false;
	}
	enum xlate_result r = xlate_in(pkt, len, &l->social->xl);
	if (r == XLATE_WRONG_ADDR && s->conf->social_broadcast && xlate_bcast_in(pkt, len, &l->social->xl) == XLATE_OK) {
		s->bcast_rx++;
		return true;
	}
	if (r != XLATE_OK)
		dropped(s, l, r, "incoming");
	return r == XLATE_OK;
}
