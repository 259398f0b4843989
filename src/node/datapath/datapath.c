/* The data path's life: the TUN, the buffers, the crypto workers and its
 * place on the event loop (see datapath.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "datapath.h"
#include "log.h"

size_t dp_slot_cap(const struct node_conf *conf)
{
	/* Room for the largest inner packet plus the tunnel overhead; bigger
	 * datagrams arrive truncated and are dropped. */
	size_t cap = DP_HEADROOM + conf->mtu + TUNNEL_TAG_LEN + 64;
	return cap < 1500 ? 1500 : cap;
}

/* n slots of size bytes (rounded up to cache lines) in one anonymous
 * mapping: a page costs memory only once a datagram was written there. A
 * node that idles writes the first few slots (2 MB of rx slots with GRO,
 * 190 KB of tx slots; with malloc each slot's header made its first page
 * resident: docs/benchmarks.md, "Where an ipopd's RSS goes"); under load
 * all of them are used, as before. */
static uint8_t *slab_alloc(unsigned n, size_t size, size_t *stride, size_t *bytes)
{
	*stride = (size + 63) & ~(size_t)63;
	*bytes = n * *stride;
	void *p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int alloc_slots(struct datapath *dp)
{
	int rc = dp_offload_alloc(dp);
	size_t stride;

	if (rc < 0)
		return rc;
	if (!(dp->rx_slab = slab_alloc(DP_BATCH, dp->rx_cap, &stride, &dp->rx_slab_len)))
		return -ENOMEM;
	for (unsigned i = 0; i < DP_BATCH; i++)
		dp->rx[i].buf = dp->rx_slab + i * stride;
	if (!(dp->tx_slab = slab_alloc(DP_TX_SEGS, DP_OVL_ROOM + dp->slot_cap, &stride, &dp->tx_slab_len)))
		return -ENOMEM;
	for (unsigned i = 0; i < DP_TX_SEGS; i++) {
		dp->tx[i].mem = dp->tx_slab + i * stride;
		dp->tx[i].buf = dp->tx[i].mem + DP_OVL_ROOM;
	}
	if (dp->conf->social_broadcast && !(dp->bcast_buf = malloc(dp->slot_cap)))
		return -ENOMEM;
	return 0;
}

/* The IPv6 overlay address next to ip4 (the kernel adds the on-link route
 * for its prefix). Linux keeps its own link-local address on the TUN;
 * link-scope packets never cross the overlay (docs/ipv6.md). */
static int add_ip6(struct datapath *dp)
{
	char ip[INET6_ADDRSTRLEN];
	const struct node_conf *c = dp->conf;
	int rc = tun_add_ip6(&dp->tun, &c->ip6, c->ip6_mask);

	inet_ntop(AF_INET6, &c->ip6, ip, sizeof(ip));
	if (rc < 0) {
		log_error("tun: cannot add %s/%u to %s: %s%s", ip, c->ip6_mask, dp->tun.name, strerror(-rc),
			  rc == -EACCES || rc == -EAFNOSUPPORT || rc == -EPERM
				  ? " (is IPv6 disabled? net.ipv6.conf.all.disable_ipv6 must be 0)"
				  : "");
		return rc;
	}
	log_info("tun: %s has %s/%u%s", dp->tun.name, ip, c->ip6_mask,
		 c->ip6_derived ? " (from ip6_prefix and ip4, as the original IPOP made it)" : "");
	return 0;
}

int dp_open(struct datapath *dp, const struct node_conf *conf, struct links *links)
{
	char ip[INET_ADDRSTRLEN];
	int rc;

	memset(dp, 0, sizeof(*dp));
	dp->conf = conf;
	dp->links = links;
	for (unsigned i = 0; i < sizeof(dp->tun.fds) / sizeof(dp->tun.fds[0]); i++)
		dp->tun.fds[i] = -1;
	dp->slot_cap = dp_slot_cap(conf);
	if ((rc = prefix_table_init(&dp->pt, DP_PREFIXES)) < 0 || (rc = alloc_slots(dp)) < 0)
		return rc;
	icmp_err_limit_init(&dp->icmp_limit, DP_ICMP_RATE, DP_ICMP_BURST, evloop_now_ms());
	if ((rc = dp_offload_tun_open(dp, conf->interface)) < 0) {
		log_error("tun: cannot open %s: %s", conf->interface, strerror(-rc));
		return rc;
	}
	if ((rc = tun_configure(&dp->tun, conf->ip4, conf->ip4_mask, (int)conf->mtu)) < 0) {
		log_error("tun: cannot configure %s: %s", dp->tun.name, strerror(-rc));
		return rc;
	}
	log_info("tun: %s up with %s/%u, mtu %u", dp->tun.name, inet_ntop(AF_INET, &conf->ip4, ip, sizeof(ip)),
		 conf->ip4_mask, conf->mtu);
	return conf->has_ip6 ? add_ip6(dp) : 0;
}

static void on_tun(void *ctx, uint32_t events, uint64_t now_ms)
{
	(void)events;
	dp_send_from_tun(ctx, now_ms);
}

static void on_udp(void *ctx, uint32_t events, uint64_t now_ms)
{
	(void)events;
	dp_receive_udp(ctx, now_ms);
}

/* Crypto worker threads (crypto_pool.h), "crypto_threads" in the config. */
static int start_crypto(struct datapath *dp)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int setting = dp->conf->crypto_threads;
	unsigned want = cpool_workers_for(setting, ncpus);
	int rc = cpool_init(&dp->cpool, want);

	if (rc < 0) {
		log_error("crypto: cannot start %u worker threads: %s", want, strerror(-rc));
		return rc;
	}
	log_info("crypto: %u worker thread%s (crypto_threads %s%d, %ld CPUs)", want, want == 1 ? "" : "s",
		 setting < 0 ? "auto, " : "", setting < 0 ? (int)want : setting, ncpus);
	return 0;
}

/* A handshake through the overlay from a key no link has: the member's. */
static struct link *key_link(void *ctx, const uint8_t key[SIGNAL_KEY_LEN], uint64_t now_ms)
{
	struct datapath *dp = ctx;
	const struct member *m = members_by_key(dp->members, key);

	return dp_overlay_member(dp, m, now_ms);
}

int dp_start(struct datapath *dp, struct bases *bases, struct social *social, struct overlay *ov,
	     struct members *members, struct evloop *loop)
{
	int rc;

	dp->bases = bases;
	dp->social = social;
	dp->ov = ov;
	dp->members = members;
	dp->loop = loop;
	if (ov) {
		dp->links->env.unknown_key = key_link;
		dp->links->env.unknown_key_ctx = dp;
	}
	if (!bases->udp_gro && dp->rx_cap > dp->slot_cap)
		dp->rx_cap = dp->slot_cap; /* the kernel cuts trains for us */
	if (udp_offload_wanted())
		log_info("offloads: tun %s (0x%x), udp gso %s, udp gro %s", dp->tun.vnet ? "vnet" : "off",
			 dp->tun.offloads, bases->udp_gso ? "on" : "off", bases->udp_gro ? "on" : "off");
	if ((rc = evloop_add(loop, dp->tun.fds[0], EPOLLIN, on_tun, dp)) < 0 ||
	    (rc = evloop_add(loop, bases->udp_fd, EPOLLIN, on_udp, dp)) < 0)
		return rc;
	return start_crypto(dp);
}

void dp_close(struct datapath *dp)
{
	if (dp->cpool.nworkers)
		log_info("crypto: %llu batches (%llu packets) went through the %u workers",
			 (unsigned long long)dp->cpool.batches, (unsigned long long)dp->cpool.parallel_jobs,
			 dp->cpool.nworkers);
	cpool_free(&dp->cpool);
	if (dp->loop) {
		evloop_del(dp->loop, dp->tun.fds[0]);
		if (dp->bases)
			evloop_del(dp->loop, dp->bases->udp_fd);
	}
	if (dp->rx_slab)
		munmap(dp->rx_slab, dp->rx_slab_len);
	if (dp->tx_slab)
		munmap(dp->tx_slab, dp->tx_slab_len);
	dp->rx_slab = dp->tx_slab = NULL;
	free(dp->bcast_buf);
	dp_offload_free(dp);
	prefix_table_free(&dp->pt);
	tun_close(&dp->tun);
}
