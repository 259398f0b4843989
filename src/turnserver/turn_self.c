#include "turn_self.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "turn_conf.h"
#include "turn_policy.h"

enum { PORT_WORDS = 65536 / 64 };

struct self_ip {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t ip[16];
};

struct turn_self {
	atomic_uint n;                    /* published entries of addrs */
	struct self_ip addrs[TURN_SELF_MAX];
	unsigned n_relay;
	struct self_ip relay[TURN_CONF_MAX_LISTEN];
	atomic_uint_least64_t (*live)[PORT_WORDS]; /* one bitmap per relay address */
};

static bool ip_of(const struct sockaddr *sa, struct self_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		out->family = AF_INET6;
		memcpy(out->ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool ip_eq(const struct self_ip *a, const struct self_ip *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

static bool is_wildcard(const struct self_ip *a)
{
	static const uint8_t zero[16];
	return memcmp(a->ip, zero, 16) == 0;
}

static bool known(const struct turn_self *s, const struct self_ip *ip)
{
	unsigned n = atomic_load_explicit(&s->n, memory_order_acquire);
	for (unsigned i = 0; i < n; i++)
		if (ip_eq(&s->addrs[i], ip))
			return true;
	return false;
}

int turn_self_add(struct turn_self *s, const struct sockaddr *addr)
{
	struct self_ip ip;
	if (!ip_of(addr, &ip))
		return -EAFNOSUPPORT;
	if (is_wildcard(&ip) || known(s, &ip))
		return 0;
	unsigned n = atomic_load_explicit(&s->n, memory_order_relaxed);
	if (n >= TURN_SELF_MAX)
		return -ENOSPC;
	s->addrs[n] = ip;
	atomic_store_explicit(&s->n, n + 1, memory_order_release);
	return 0;
}

unsigned turn_self_count(const struct turn_self *s)
{
	return atomic_load_explicit(&s->n, memory_order_acquire);
}

struct turn_self *turn_self_new(const struct turn_conf *conf)
{
	struct turn_self *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->n, 0);
	const struct sockaddr_storage *relay = conf->n_relay ? conf->relay : conf->listen;
	unsigned n_relay = conf->n_relay ? conf->n_relay : conf->n_listen;
	for (unsigned i = 0; i < n_relay && i < TURN_CONF_MAX_LISTEN; i++) {
		if (ip_of((const struct sockaddr *)&relay[i], &s->relay[s->n_relay]) &&
		    !is_wildcard(&s->relay[s->n_relay]))
			s->n_relay++;
	}
	if (s->n_relay) {
		s->live = calloc(s->n_relay, sizeof(*s->live));
		if (!s->live) {
			free(s);
			return NULL;
		}
	}
	for (unsigned i = 0; i < s->n_relay; i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = s->relay[i].family;
		if (ss.ss_family == AF_INET)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, s->relay[i].ip, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, s->relay[i].ip, 16);
		(void)turn_self_add(s, (const struct sockaddr *)&ss);
	}
	for (unsigned i = 0; i < conf->n_listen && i < TURN_CONF_MAX_LISTEN; i++)
		(void)turn_self_add(s, (const struct sockaddr *)&conf->listen[i]);
	return s;
}

void turn_self_free(struct turn_self *s)
{
	if (!s)
		return;
	free(s->live);
	free(s);
}

static int relay_index(const struct turn_self *s, const struct self_ip *ip)
{
	for (unsigned i = 0; i < s->n_relay; i++)
		if (ip_eq(&s->relay[i], ip))
			return (int)i;
	return -1;
}

enum turn_self_kind turn_self_classify(const struct turn_self *s, const struct sockaddr *peer)
{
	struct self_ip ip;
	if (!s || !peer || !ip_of(peer, &ip))
		return TURN_SELF_NO;
	if (relay_index(s, &ip) >= 0)
		return TURN_SELF_RELAY_IP;
	if (known(s, &ip))
		return TURN_SELF_HOST;
	/* An IPv6 spelling of a host IPv4 address ends up at the host too
	 * (through a NAT64 gateway, a 6to4 or Teredo relay). */
	uint8_t v4[2][4];
	unsigned nv4 = peer->sa_family == AF_INET6 ? turn_policy_v4_of(peer, v4) : 0;
	for (unsigned i = 0; i < nv4; i++) {
		struct self_ip e = { .family = AF_INET };
		memcpy(e.ip, v4[i], 4);
		if (known(s, &e))
			return TURN_SELF_HOST;
	}
	return TURN_SELF_NO;
}

bool turn_self_refused(const struct turn_self *s, const struct sockaddr *peer)
{
	switch (turn_self_classify(s, peer)) {
	case TURN_SELF_NO:
		return false;
	case TURN_SELF_HOST:
		return true;
	case TURN_SELF_RELAY_IP:
		break;
	}
	struct self_ip ip;
	ip_of(peer, &ip);
	int i = relay_index(s, &ip);
	uint16_t port = addr_port(peer);
	uint64_t w = atomic_load_explicit(&s->live[i][port / 64], memory_order_relaxed);
	return !(w & (1ull << (port % 64)));
}

void turn_self_relay_live(struct turn_self *s, const struct sockaddr *relay, bool live)
{
	struct self_ip ip;
	if (!s || !relay || !ip_of(relay, &ip))
		return;
	int i = relay_index(s, &ip);
	if (i < 0)
		return;
	uint16_t port = addr_port(relay);
	uint64_t bit = 1ull << (port % 64);
	if (live)
		atomic_fetch_or_explicit(&s->live[i][port / 64], bit, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&s->live[i][port / 64], ~bit, memory_order_relaxed);
}
