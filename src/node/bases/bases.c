/* The node's bases as one set (see bases.h): opening, timers, sending
 * from a base, and the local candidates they make. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "bases.h"
#include "log.h"

int bases_open(struct bases *b, const struct node_conf *conf, const char *tun_name, struct evloop *loop,
	       size_t slot_cap, uint16_t udp_port, const struct bases_ops *ops)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->conf = conf;
	snprintf(b->tun_name, sizeof(b->tun_name), "%s", tun_name);
	b->loop = loop;
	b->ops = *ops;
	b->slot_cap = slot_cap;
	b->udp_fd = b->nl_fd = -1;
	b->relay.fd = -1;
	if ((rc = udp_open(b, udp_port)) < 0) {
		log_error("udp: cannot bind port %u: %s", udp_port, strerror(-rc));
		return rc;
	}
	servers_from_conf(b);
	if ((rc = relay_init(b)) < 0)
		return rc;
	gather_hosts(b);
	if ((rc = netmon_open(b)) < 0)
		log_warn("netmon: no rtnetlink socket (%s); address changes are seen only through STUN",
			 strerror(-rc));
	return 0;
}

void bases_close(struct bases *b)
{
	portpool_free(b);
	sodium_memzero(b->turn_srv, sizeof(b->turn_srv));
	relay_free(b);
	netmon_close(b);
	udp_close(b);
}

void bases_start(struct bases *b, uint64_t now_ms)
{
	b->started = true;
	gather_stun_start(b, now_ms);
	relay_start(b, now_ms);
}

void bases_handle_timeout(struct bases *b, uint64_t now_ms)
{
	netmon_tick(b, now_ms);
	gather_tick(b, now_ms);
	natkind_tick(b, now_ms);
	relay_tick(b, now_ms);
}

uint64_t bases_next_deadline(const struct bases *b)
{
	uint64_t d = gather_deadline(b), rd = relay_deadline(b), nd = netmon_deadline(b), kd = natkind_deadline(b);

	if (rd < d)
		d = rd;
	if (kd < d)
		d = kd;
	return nd < d ? nd : d;
}

int bases_send(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len)
{
	return bases_send_opt(b, base_id, dst, buf, len, 0, false);
}

int bases_send_opt(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		   uint8_t ttl, bool df)
{
	if (link_base_is_relay(base_id))
		return relay_send_df(b, base_id, dst, buf, len, df);
	if (link_base_is_pool(base_id))
		return portpool_send(b, base_id, dst, buf, len, df);
	return udp_send_opt(b, base_id, dst, buf, len, ttl, df);
}

unsigned bases_local_cands(const struct bases *b, struct ice_cand *out, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < b->nhosts && k < max; i++) {
		/* earlier interfaces get a higher local preference */
		if (ice_cand_init(&out[k], ICE_CAND_HOST, (const struct sockaddr *)&b->hosts[i].addr, NULL, i,
				  (uint16_t)(65535 - i), NULL) == 0)
			k++;
	}
	if (b->have_srflx && k < max && b->srflx_base < b->nhosts) {
		if (ice_cand_init(&out[k], ICE_CAND_SRFLX, (const struct sockaddr *)&b->srflx,
				  (const struct sockaddr *)&b->hosts[b->srflx_base].addr, b->srflx_base, 65535,
				  (const struct sockaddr *)&b->stun_server) == 0)
			k++;
	}
	struct sockaddr_in rel, mapped, server;
	uint32_t base;
	if (k < max && relay_candidate(b, &rel, &mapped, &base) && relay_server(b, &server) &&
	    ice_cand_init(&out[k], ICE_CAND_RELAY, (const struct sockaddr *)&rel, (const struct sockaddr *)&mapped,
			  base, 65535, (const struct sockaddr *)&server) == 0)
		k++;
	return k;
}

void bases_relay_sync(struct bases *b, const struct sockaddr_in *addrs, unsigned n, uint64_t now_ms)
{
	relay_sync(b, addrs, n, now_ms);
}
