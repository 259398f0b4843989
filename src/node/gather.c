/* Local candidates of ipopd: host candidates from every usable IPv4
 * interface address (never the TUN, never loopback, never an interface in
 * network_ignore_list), one server-reflexive candidate learned by a
 * STUN Binding to a server picked at random from `stun` (or `turn` when
 * `stun` is empty), moving on to the next server when one fails, and the
 * relayed candidate of relay.c when it has an allocation. All of them share the node's one UDP socket:
 * the base id of a host candidate is its index in n->hosts, and sends pick
 * the source address with IP_PKTINFO, so each candidate really sends from
 * its own address. IPv4 only, like the overlay. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <sodium.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "node.h"
#include "roam.h"

static bool ignored(const struct node *n, const char *ifname)
{
	if (strcmp(ifname, n->tun.name) == 0 || strcmp(ifname, n->conf->interface) == 0)
		return true;
	for (unsigned i = 0; i < n->conf->n_ignore; i++)
		if (strcmp(ifname, n->conf->network_ignore_list[i]) == 0)
			return true;
	return false;
}

int gather_hosts(struct node *n)
{
	struct ifaddrs *ifa, *it;
	char a[ADDR_STRLEN];

	if (getifaddrs(&ifa) < 0)
		return -errno;
	n->nhosts = 0;
	for (it = ifa; it; it = it->ifa_next) {
		if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET)
			continue;
		if (!(it->ifa_flags & IFF_UP) || (it->ifa_flags & IFF_LOOPBACK) || ignored(n, it->ifa_name))
			continue;
		struct sockaddr_in sin;
		memcpy(&sin, it->ifa_addr, sizeof(sin));
		if ((ntohl(sin.sin_addr.s_addr) >> 24) == 127 || (ntohl(sin.sin_addr.s_addr) >> 16) == 0xa9fe)
			continue; /* loopback or link-local */
		if (n->nhosts == NODE_MAX_HOSTS) {
			log_warn("gather: more than %d IPv4 addresses, ignoring %s", NODE_MAX_HOSTS, it->ifa_name);
			break;
		}
		struct node_host *h = &n->hosts[n->nhosts++];
		memset(h, 0, sizeof(*h));
		h->addr = sin;
		h->addr.sin_port = htons(n->udp_port);
		snprintf(h->ifname, sizeof(h->ifname), "%s", it->ifa_name);
		log_info("gather: host candidate %s (%s)", addr_format((struct sockaddr *)&h->addr, true, a),
			 h->ifname);
	}
	freeifaddrs(ifa);
	if (n->nhosts == 0)
		log_warn("gather: no usable IPv4 interface address");
	return 0;
}

uint32_t gather_base_of(const struct node *n, struct in_addr local)
{
	for (unsigned i = 0; i < n->nhosts; i++)
		if (n->hosts[i].addr.sin_addr.s_addr == local.s_addr)
			return i;
	return 0;
}

/* Numeric or resolved (getaddrinfo, IPv4). Runs on the data thread at
 * start and on server failover only: STUN servers are usually literals. */
static int resolve(const struct node_stun *s, struct sockaddr_in *out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res;
	char port[8];

	snprintf(port, sizeof(port), "%u", s->port);
	if (getaddrinfo(s->host, port, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	memcpy(out, res->ai_addr, sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

/* The STUN servers: `stun`, or when it is empty the `turn` servers (a
 * TURN server answers Binding requests on its UDP port too). */
static unsigned stun_count(const struct node *n)
{
	return n->conf->n_stun ? n->conf->n_stun : n->conf->n_turn;
}

static struct node_stun stun_entry(const struct node *n, unsigned i)
{
	if (n->conf->n_stun)
		return n->conf->stun[i];
	const struct node_turn *t = &n->conf->turn[i];
	uint16_t port = t->transport == NODE_TURN_UDP && t->port ? t->port : NODE_CONF_DEFAULT_STUN_PORT;
	return (struct node_stun){ t->host, port };
}

static void stun_next(struct node *n, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	while (n->stun_tried < stun_count(n)) {
		struct node_stun e = stun_entry(n, (n->stun_first + n->stun_tried) % stun_count(n));
		const struct node_stun *s = &e;
		n->stun_tried++;
		if (resolve(s, &n->stun_server) < 0) {
			log_warn("gather: cannot resolve STUN server %s", s->host);
			continue;
		}
		stun_client_init(&n->stun, false, 0);
		if (stun_client_start(&n->stun, now_ms) < 0)
			continue;
		n->stun_running = true;
		log_info("gather: STUN binding to %s", addr_format((struct sockaddr *)&n->stun_server, true, a));
		return;
	}
	n->stun_running = false;
	n->stun_retry_ms = now_ms + NODE_STUN_RETRY_MS;
	log_warn("gather: no STUN server answered; no server-reflexive candidate (retry in %d s)",
		 NODE_STUN_RETRY_MS / 1000);
}

void gather_stun_start(struct node *n, uint64_t now_ms)
{
	if (stun_count(n) == 0)
		return;
	n->stun_first = randombytes_uniform(stun_count(n));
	n->stun_timed_out = true; /* until a server answers */
	n->stun_tried = 0;
	n->stun_retry_ms = 0;
	n->stun_refresh = false;
	stun_next(n, now_ms);
}

static void stun_flush(struct node *n);

/* Asks the server that answered last (another server could see another
 * mapping behind a symmetric NAT, which is no change of ours); when it
 * fails, the remaining servers are tried as usual. */
void gather_stun_refresh(struct node *n, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	n->stun_retry_ms = 0;
	n->stun_refresh = false;
	if (stun_count(n) == 0 || n->stun_running)
		return;
	if (n->stun_tried == 0) {
		gather_stun_start(n, now_ms);
		return;
	}
	stun_client_init(&n->stun, false, 0);
	if (stun_client_start(&n->stun, now_ms) < 0) {
		gather_stun_start(n, now_ms);
		return;
	}
	/* on failure, stun_next goes on with the servers after this one */
	n->stun_first = (n->stun_first + n->stun_tried - 1) % stun_count(n);
	n->stun_tried = 1;
	n->stun_running = true;
	log_debug("gather: STUN refresh to %s", addr_format((struct sockaddr *)&n->stun_server, true, a));
	stun_flush(n);
}

static void stun_flush(struct node *n)
{
	uint8_t buf[STUN_CLIENT_MSG_MAX];
	int len;

	while ((len = stun_client_poll_transmit(&n->stun, buf, sizeof(buf))) > 0)
		node_udp_send(n, UINT32_MAX, &n->stun_server, buf, (size_t)len);
}

bool gather_stun_input(struct node *n, const struct sockaddr_in *from, uint32_t base_id, const uint8_t *buf,
		       size_t len, uint64_t now_ms)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], c[ADDR_STRLEN];

	if (!n->stun_running || !addr_equal((const struct sockaddr *)from, (const struct sockaddr *)&n->stun_server))
		return false;
	if (stun_client_input(&n->stun, buf, len, now_ms) != 0)
		return false;
	n->stun_running = false;
	n->stun_timed_out = false;
	if (stun_client_state(&n->stun) != STUN_CLIENT_DONE || stun_client_mapped(&n->stun)->sa_family != AF_INET) {
		log_warn("gather: STUN server %s refused (%d), trying the next",
			 addr_format((const struct sockaddr *)from, true, a), n->stun.error);
		stun_next(n, now_ms);
		return true;
	}
	struct sockaddr_in m;
	memcpy(&m, stun_client_mapped(&n->stun), sizeof(m));
	bool had = n->have_srflx, changed = !had || !addr_equal((struct sockaddr *)&m, (struct sockaddr *)&n->srflx);
	struct sockaddr_in old = n->srflx;
	n->srflx = m;
	n->srflx_base = base_id < n->nhosts ? base_id : 0;
	n->have_srflx = true;
	/* Asked again later, to the same server: a NAT that changed its
	 * mapping or its public address shows up here. */
	n->stun_retry_ms = now_ms + NODE_SRFLX_REFRESH_MS - randombytes_uniform(NODE_SRFLX_REFRESH_MS / 5);
	n->stun_refresh = true;
	if (changed) {
		log_info("gather: server-reflexive candidate %s (base %s, via %s)",
			 addr_format((struct sockaddr *)&m, true, a),
			 n->nhosts ? addr_format((struct sockaddr *)&n->hosts[n->srflx_base].addr, true, b) : "-",
			 addr_format((const struct sockaddr *)from, true, c));
		if (had) {
			log_info("gather: server-reflexive address changed from %s",
				 addr_format((struct sockaddr *)&old, true, a));
			roam_local_changed(n, NULL, 0, now_ms, "server-reflexive address changed");
		} else {
			for (unsigned i = 0; i < n->npeers; i++)
				peer_local_cands_changed(n->peers[i], now_ms);
		}
	}
	return true;
}

void gather_tick(struct node *n, uint64_t now_ms)
{
	if (n->stun_running) {
		if (now_ms >= stun_client_timeout(&n->stun))
			stun_client_handle_timeout(&n->stun, now_ms);
		if (stun_client_state(&n->stun) == STUN_CLIENT_FAILED) {
			char a[ADDR_STRLEN];
			log_warn("gather: STUN server %s failed (%s), trying the next",
				 addr_format((struct sockaddr *)&n->stun_server, true, a),
				 n->stun.error == -ETIMEDOUT ? "timed out" : "error");
			stun_next(n, now_ms);
		}
		if (n->stun_running)
			stun_flush(n);
	} else if (n->stun_retry_ms && now_ms >= n->stun_retry_ms) {
		if (n->stun_refresh)
			gather_stun_refresh(n, now_ms);
		else
			gather_stun_start(n, now_ms);
		if (n->stun_running)
			stun_flush(n);
	}
}

uint64_t gather_deadline(const struct node *n)
{
	if (n->stun_running)
		return stun_client_timeout(&n->stun);
	return n->stun_retry_ms ? n->stun_retry_ms : UINT64_MAX;
}

unsigned gather_local_cands(const struct node *n, struct ice_cand *out, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n->nhosts && k < max; i++) {
		/* earlier interfaces get a higher local preference */
		if (ice_cand_init(&out[k], ICE_CAND_HOST, (const struct sockaddr *)&n->hosts[i].addr, NULL, i,
				  (uint16_t)(65535 - i), NULL) == 0)
			k++;
	}
	if (n->have_srflx && k < max && n->srflx_base < n->nhosts) {
		if (ice_cand_init(&out[k], ICE_CAND_SRFLX, (const struct sockaddr *)&n->srflx,
				  (const struct sockaddr *)&n->hosts[n->srflx_base].addr, n->srflx_base, 65535,
				  (const struct sockaddr *)&n->stun_server) == 0)
			k++;
	}
	struct sockaddr_in rel, mapped, server;
	uint32_t base;
	if (k < max && relay_candidate(n, &rel, &mapped, &base) && relay_server(n, &server) &&
	    ice_cand_init(&out[k], ICE_CAND_RELAY, (const struct sockaddr *)&rel, (const struct sockaddr *)&mapped,
			  base, 65535, (const struct sockaddr *)&server) == 0)
		k++;
	return k;
}
