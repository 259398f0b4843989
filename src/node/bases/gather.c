/* Local candidates of ipopd: host candidates from every usable IPv4
 * interface address (never the TUN, never loopback, never an interface in
 * network_ignore_list, no other tunnel's interface unless
 * tunnel_candidates is set, never an address inside the node's own
 * "routes"), one server-reflexive candidate learned by a
 * STUN Binding to a server picked at random from `stun` (or `turn` when
 * `stun` is empty), moving on to the next server when one fails, and the
 * relayed candidate of relay.c when it has an allocation. All of them share the node's one UDP socket:
 * the base id of a host candidate is its index in b->hosts, and sends pick
 * the source address with IP_PKTINFO, so each candidate really sends from
 * its own address. IPv4 only, like the overlay. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <sodium.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "bases.h"
#include "tick.h"

static bool sys_read(const char *ifname, const char *file, char *buf, size_t cap)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, file);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return true;
}

/* Another tunnel's interface (another VPN, or an ipop of ours), or NULL.
 * A path through it may pass ICE's small checks while full-size tunnel
 * packets do not fit (a tunnel in a tunnel, a smaller MTU), and our
 * traffic would ride on that VPN: not a host candidate by default. */
static const char *tunnel_kind(const char *ifname)
{
	char buf[512];
	if (sys_read(ifname, "tun_flags", buf, sizeof(buf)))
		return "a TUN/TAP device"; /* wireguard-go, OpenVPN, tinc, Nebula, ipop */
	if (sys_read(ifname, "uevent", buf, sizeof(buf)) && strstr(buf, "DEVTYPE=wireguard"))
		return "a WireGuard interface";
	if (!sys_read(ifname, "type", buf, sizeof(buf)))
		return NULL;
	switch (atoi(buf)) {
	case ARPHRD_NONE: /* tun-like: no link-layer header */
		return "a tunnel without link layer";
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
	case ARPHRD_IPGRE:
	case 823: /* ARPHRD_IP6GRE, in linux/if_arp.h only */
		return "an IP tunnel (IPIP/GRE/SIT)";
	default:
		return NULL;
	}
}

/* An address inside one of our own "routes" is the LAN this node routes
 * for the overlay: the members reach it through the tunnel (their kernel
 * routes send it into their TUN), so as a candidate it would carry the
 * tunnel inside itself. */
static bool in_own_routes(const struct bases *b, struct in_addr a)
{
	for (unsigned i = 0; i < b->conf->n_routes; i++)
		if (ip_prefix_has_addr(&b->conf->routes[i], AF_INET, &a))
			return true;
	return false;
}

static bool ignored(const struct bases *b, const char *ifname)
{
	if (strcmp(ifname, b->tun_name) == 0 || strcmp(ifname, b->conf->interface) == 0)
		return true;
	for (unsigned i = 0; i < b->conf->n_ignore; i++)
		if (strcmp(ifname, b->conf->network_ignore_list[i]) == 0)
			return true;
	const char *kind = b->conf->tunnel_candidates ? NULL : tunnel_kind(ifname);
	if (kind) {
		log_info("gather: %s skipped: %s (another tunnel; \"tunnel_candidates\": true offers it)", ifname,
			 kind);
		return true;
	}
	return false;
}

int gather_hosts(struct bases *b)
{
	struct ifaddrs *ifa, *it;
	char a[ADDR_STRLEN];

	if (getifaddrs(&ifa) < 0)
		return -errno;
	b->nhosts = 0;
	for (it = ifa; it; it = it->ifa_next) {
		if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET)
			continue;
		if (!(it->ifa_flags & IFF_UP) || (it->ifa_flags & IFF_LOOPBACK) || ignored(b, it->ifa_name))
			continue;
		struct sockaddr_in sin;
		memcpy(&sin, it->ifa_addr, sizeof(sin));
		if ((ntohl(sin.sin_addr.s_addr) >> 24) == 127 || (ntohl(sin.sin_addr.s_addr) >> 16) == 0xa9fe)
			continue; /* loopback or link-local */
		if (in_own_routes(b, sin.sin_addr)) {
			log_info("gather: %s (%s) lies in this node's routes: not a candidate",
				 addr_format((struct sockaddr *)&sin, false, a), it->ifa_name);
			continue;
		}
		if (b->nhosts == LINK_MAX_HOSTS) {
			log_warn("gather: more than %d IPv4 addresses, ignoring %s", LINK_MAX_HOSTS, it->ifa_name);
			break;
		}
		struct bases_host *h = &b->hosts[b->nhosts++];
		memset(h, 0, sizeof(*h));
		h->addr = sin;
		h->addr.sin_port = htons(b->udp_port);
		snprintf(h->ifname, sizeof(h->ifname), "%s", it->ifa_name);
		log_info("gather: host candidate %s (%s)", addr_format((struct sockaddr *)&h->addr, true, a),
			 h->ifname);
	}
	freeifaddrs(ifa);
	if (b->nhosts == 0)
		log_warn("gather: no usable IPv4 interface address%s",
			 b->conf->tunnel_candidates ? "" : " (if this host reaches the internet through a tunnel, set "
							   "\"tunnel_candidates\": true)");
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

/* The STUN servers (config.json's and the XMPP server's, servers.c), or
 * when there is none the TURN servers (a TURN server answers Binding
 * requests on its UDP port too). */
static unsigned stun_count(const struct bases *b)
{
	return b->nstun ? b->nstun : b->nturn;
}

static struct node_stun stun_entry(const struct bases *b, unsigned i)
{
	if (b->nstun)
		return (struct node_stun){ (char *)b->stun_srv[i].host, b->stun_srv[i].port };
	const struct bases_turn_srv *t = &b->turn_srv[i];
	uint16_t port = t->transport == NODE_TURN_UDP && t->port ? t->port : NODE_CONF_DEFAULT_STUN_PORT;
	return (struct node_stun){ (char *)t->host, port };
}

static void stun_next(struct bases *b, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	while (b->stun_tried < stun_count(b)) {
		struct node_stun e = stun_entry(b, (b->stun_first + b->stun_tried) % stun_count(b));
		const struct node_stun *s = &e;
		b->stun_tried++;
		if (resolve(s, &b->stun_server) < 0) {
			log_warn("gather: cannot resolve STUN server %s", s->host);
			continue;
		}
		stun_client_init(&b->stun, false, 0);
		if (stun_client_start(&b->stun, now_ms) < 0)
			continue;
		b->stun_running = true;
		log_info("gather: STUN binding to %s", addr_format((struct sockaddr *)&b->stun_server, true, a));
		return;
	}
	b->stun_running = false;
	b->stun_retry_ms = now_ms + BASES_STUN_RETRY_MS;
	log_warn("gather: no STUN server answered; no server-reflexive candidate (retry in %d s)",
		 BASES_STUN_RETRY_MS / 1000);
}

void gather_stun_start(struct bases *b, uint64_t now_ms)
{
	if (stun_count(b) == 0)
		return;
	b->stun_first = randombytes_uniform(stun_count(b));
	b->stun_timed_out = true; /* until a server answers */
	b->stun_tried = 0;
	b->stun_retry_ms = 0;
	b->stun_refresh = false;
	stun_next(b, now_ms);
}

static void stun_flush(struct bases *b);

/* Asks the server that answered last (another server could see another
 * mapping behind a symmetric NAT, which is no change of ours); when it
 * fails, the remaining servers are tried as usual. */
void gather_stun_refresh(struct bases *b, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	b->stun_retry_ms = 0;
	b->stun_refresh = false;
	if (stun_count(b) == 0 || b->stun_running)
		return;
	if (b->stun_tried == 0) {
		gather_stun_start(b, now_ms);
		return;
	}
	stun_client_init(&b->stun, false, 0);
	if (stun_client_start(&b->stun, now_ms) < 0) {
		gather_stun_start(b, now_ms);
		return;
	}
	/* on failure, stun_next goes on with the servers after this one */
	b->stun_first = (b->stun_first + b->stun_tried - 1) % stun_count(b);
	b->stun_tried = 1;
	b->stun_running = true;
	log_debug("gather: STUN refresh to %s", addr_format((struct sockaddr *)&b->stun_server, true, a));
	stun_flush(b);
}

static void stun_flush(struct bases *b)
{
	uint8_t buf[STUN_CLIENT_MSG_MAX];
	int len;

	while ((len = stun_client_poll_transmit(&b->stun, buf, sizeof(buf))) > 0)
		udp_send_one(b, LINK_BASE_ANY, &b->stun_server, buf, (size_t)len);
}

bool gather_stun_input(struct bases *b, const struct sockaddr_in *from, uint32_t base_id, const uint8_t *buf,
		       size_t len, uint64_t now_ms)
{
	char a[ADDR_STRLEN], bb[ADDR_STRLEN], c[ADDR_STRLEN];

	if (natkind_input(b, from, buf, len, now_ms))
		return true;
	if (!b->stun_running || !addr_equal((const struct sockaddr *)from, (const struct sockaddr *)&b->stun_server))
		return false;
	if (stun_client_input(&b->stun, buf, len, now_ms) != 0)
		return false;
	b->stun_running = false;
	b->stun_timed_out = false;
	if (stun_client_state(&b->stun) != STUN_CLIENT_DONE || stun_client_mapped(&b->stun)->sa_family != AF_INET) {
		log_warn("gather: STUN server %s refused (%d), trying the next",
			 addr_format((const struct sockaddr *)from, true, a), b->stun.error);
		stun_next(b, now_ms);
		return true;
	}
	struct sockaddr_in m;
	memcpy(&m, stun_client_mapped(&b->stun), sizeof(m));
	bool had = b->have_srflx, changed = !had || !addr_equal((struct sockaddr *)&m, (struct sockaddr *)&b->srflx);
	struct sockaddr_in old = b->srflx;
	b->srflx = m;
	b->srflx_base = base_id < b->nhosts ? base_id : 0;
	b->have_srflx = true;
	/* Asked again later, to the same server: a NAT that changed its
	 * mapping or its public address shows up here. On a whole second,
	 * with the links' timers (tick.h). */
	b->stun_retry_ms = tick_start(now_ms + BASES_SRFLX_REFRESH_MS - randombytes_uniform(BASES_SRFLX_REFRESH_MS / 5));
	b->stun_refresh = true;
	if (changed)
		natkind_srflx(b, now_ms);
	if (changed) {
		log_info("gather: server-reflexive candidate %s (base %s, via %s)",
			 addr_format((struct sockaddr *)&m, true, a),
			 b->nhosts ? addr_format((struct sockaddr *)&b->hosts[b->srflx_base].addr, true, bb) : "-",
			 addr_format((const struct sockaddr *)from, true, c));
		if (had) {
			log_info("gather: server-reflexive address changed from %s",
				 addr_format((struct sockaddr *)&old, true, a));
			if (b->ops.moved)
				b->ops.moved(b->ops.ctx, NULL, 0, "server-reflexive address changed", now_ms);
		} else if (b->ops.cands_changed) {
			b->ops.cands_changed(b->ops.ctx, now_ms);
		}
	}
	return true;
}

void gather_tick(struct bases *b, uint64_t now_ms)
{
	if (b->stun_running) {
		if (now_ms >= stun_client_timeout(&b->stun))
			stun_client_handle_timeout(&b->stun, now_ms);
		if (stun_client_state(&b->stun) == STUN_CLIENT_FAILED) {
			char a[ADDR_STRLEN];
			log_warn("gather: STUN server %s failed (%s), trying the next",
				 addr_format((struct sockaddr *)&b->stun_server, true, a),
				 b->stun.error == -ETIMEDOUT ? "timed out" : "error");
			stun_next(b, now_ms);
		}
		if (b->stun_running)
			stun_flush(b);
	} else if (b->stun_retry_ms && now_ms >= b->stun_retry_ms) {
		if (b->stun_refresh)
			gather_stun_refresh(b, now_ms);
		else
			gather_stun_start(b, now_ms);
		if (b->stun_running)
			stun_flush(b);
	}
}

uint64_t gather_deadline(const struct bases *b)
{
	if (b->stun_running)
		return stun_client_timeout(&b->stun);
	return b->stun_retry_ms ? b->stun_retry_ms : UINT64_MAX;
}
