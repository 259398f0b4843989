/* SocialVPN glue between ipopd and its map and translator (social.h). */
#include "social.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_answer.h"
#include "jid_hostname.h"

#include "log.h"
#include "node.h"
#include "tunnel_packet.h"
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
	log_info("social: %zu friend address(es) known (%s)%s", n->smap.n, c->social_map_file,
		 c->social_broadcast ? "; broadcast and multicast forwarded to friends" : "");
	if (c->social_broadcast && !(n->bcast_buf = malloc(n->slot_cap)))
		return -ENOMEM;
	for (size_t i = 0; i < n->smap.n; i++)
		log_debug("social: %s is %s%s", n->smap.e[i].bare,
			  inet_ntop(AF_INET, &n->smap.e[i].ip4, a, sizeof(a)), n->smap.e[i].pinned ? " (pinned)" : "");
	return 0;
}

void social_free(struct node *n)
{
	if (n->dns_fd >= 0)
		close(n->dns_fd);
	n->dns_fd = -1;
	free(n->bcast_buf);
	n->bcast_buf = NULL;
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

void social_route_takeover(struct node *n, struct in_addr map4)
{
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p->routed || !p->have_info || p->map4.s_addr != map4.s_addr)
			continue;
		p->routed = routing_add(&n->rt, map4, p) == 0;
		if (p->routed) {
			log_info("peer %s: now carries this friend's address", p->jid);
			return;
		}
	}
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

static uint32_t subnet_bcast(const struct node *n)
{
	uint32_t mask = 0xffffffffu << (32 - n->conf->ip4_mask);
	return htonl(ntohl(n->conf->ip4.s_addr) | ~mask);
}

bool social_broadcast(struct node *n, uint8_t *pkt, size_t len, uint64_t now_ms)
{
	if (!n->bcast_buf || !xlate_is_bcast(pkt, len, subnet_bcast(n)))
		return false;
	enum xlate_result r = xlate_bcast_out(pkt, len, n->conf->ip4.s_addr, subnet_bcast(n));
	if (r != XLATE_OK) {
		n->cnt.xlate_drop++;
		log_debug("tun: broadcast not translatable (%s); dropped", xlate_result_name(r));
		return true;
	}
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p->state != PEER_UP || !p->have_path || !p->have_info)
			continue;
		memcpy(n->bcast_buf + NODE_HEADROOM, pkt, len);
		struct tunnel_buf b = { .data = n->bcast_buf, .len = len, .cap = n->slot_cap };
		if (tunnel_seal_batch(&p->sess, &b, 1, now_ms, NULL) != 1)
			continue;
		p->tx_bytes += len;
		p->tx_packets++;
		n->cnt.bcast_tx++;
		node_udp_send(n, p->base_id, &p->endpoint, b.data, b.len);
	}
	return true;
}

bool social_in(struct node *n, struct peer *p, uint8_t *pkt, size_t len)
{
	enum xlate_result r = xlate_in(pkt, len, &p->xl);
	if (r == XLATE_WRONG_ADDR && n->bcast_buf && xlate_bcast_in(pkt, len, &p->xl) == XLATE_OK) {
		n->cnt.bcast_rx++;
		return true;
	}
	if (r != XLATE_OK)
		dropped(n, p, r, "incoming");
	return r == XLATE_OK;
}

/* --- social_dns --- */

int social_dns_open(struct node *n)
{
	char a[INET_ADDRSTRLEN];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(DNS_PORT), .sin_addr = n->conf->ip4 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	inet_ntop(AF_INET, &n->conf->ip4, a, sizeof(a));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		log_warn("social: no DNS responder on %s:%d: %s (needs CAP_NET_BIND_SERVICE)", a, DNS_PORT, strerror(e));
		return -e;
	}
	n->dns_fd = fd;
	log_info("social: DNS responder for *.%s on %s:%d", DNS_SUFFIX, a, DNS_PORT);
	return 0;
}

/* Friends that have an address: the names ipopctl hosts prints too. */
static bool dns_lookup(void *ctx, const char *name, struct in_addr *out)
{
	struct node *n = ctx;
	const struct friends *fl = &n->friends;
	const char **all = calloc(fl->n + 1, sizeof(*all));
	const struct social_map_entry **ent = calloc(fl->n + 1, sizeof(*ent));
	size_t k = 0;
	bool found = false;
	for (size_t i = 0; all && ent && i < fl->n; i++) {
		const struct social_map_entry *e = social_map_find(&n->smap, fl->f[i].bare);
		if (e) {
			ent[k] = e;
			all[k++] = fl->f[i].bare;
		}
	}
	for (size_t i = 0; i < k && !found; i++) {
		char h[JID_HOSTNAME_MAX];
		if (jid_hostname(all[i], all, k, h, sizeof(h)) && strcmp(h, name) == 0) {
			*out = ent[i]->ip4;
			found = true;
		}
	}
	free(all);
	free(ent);
	return found;
}

void social_dns_input(struct node *n)
{
	uint8_t q[DNS_MAX_UDP], r[DNS_MAX_UDP];
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(n->dns_fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (len < 0)
			return;
		n->dns_queries++;
		size_t out = dns_answer(q, (size_t)len, dns_lookup, n, r, sizeof(r));
		if (out && sendto(n->dns_fd, r, out, MSG_DONTWAIT, (struct sockaddr *)&from, fl) < 0)
			log_debug("social: DNS reply not sent: %s", strerror(errno));
	}
}
