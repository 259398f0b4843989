/* ICE candidate helpers: priority, foundation, SDP-style text form. */
#include "ice_cand.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

enum { CAND_LINE_MAX = 512, CAND_MAX_TOKENS = 24 };

static const char *const type_names[] = { "host", "srflx", "prflx", "relay" };

uint8_t ice_type_pref(enum ice_cand_type t)
{
	switch (t) {
	case ICE_CAND_HOST: return ICE_TYPE_PREF_HOST;
	case ICE_CAND_SRFLX: return ICE_TYPE_PREF_SRFLX;
	case ICE_CAND_PRFLX: return ICE_TYPE_PREF_PRFLX;
	case ICE_CAND_RELAY: return ICE_TYPE_PREF_RELAY;
	}
	return 0;
}

const char *ice_cand_type_name(enum ice_cand_type t)
{
	if ((unsigned)t >= sizeof type_names / sizeof type_names[0])
		return "?";
	return type_names[t];
}

uint32_t ice_cand_priority(enum ice_cand_type t, uint16_t local_pref, uint16_t component)
{
	/* component is 1..256 by definition; clamp so the term stays in 0..255 */
	uint32_t comp = component == 0 ? 1 : (component > 256 ? 256 : component);
	return ((uint32_t)ice_type_pref(t) << 24) + ((uint32_t)local_pref << 8) + (256 - comp);
}

bool ice_cand_same_family(const struct ice_cand *a, const struct ice_cand *b)
{
	return a->addr.sa.sa_family == b->addr.sa.sa_family;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_ip(uint64_t h, const struct sockaddr *sa)
{
	if (!sa)
		return fnv1a(h, "-", 1);
	if (sa->sa_family == AF_INET)
		return fnv1a(h, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	if (sa->sa_family == AF_INET6)
		return fnv1a(h, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	return fnv1a(h, "?", 1);
}

void ice_cand_foundation(struct ice_cand *c, const struct sockaddr *server)
{
	uint8_t t = (uint8_t)c->type;
	const struct sockaddr *base = (const struct sockaddr *)(c->type == ICE_CAND_HOST ? &c->addr : &c->rel_addr);
	uint64_t h = fnv1a(0xcbf29ce484222325ull, &t, 1);
	h = hash_ip(h, base);
	h = hash_ip(h, server);
	h = fnv1a(h, "udp", 3);
	snprintf(c->foundation, sizeof c->foundation, "%08" PRIx32, (uint32_t)(h ^ (h >> 32)));
}

int ice_cand_init(struct ice_cand *c, enum ice_cand_type t, const struct sockaddr *addr,
		  const struct sockaddr *rel, uint32_t base_id, uint16_t local_pref,
		  const struct sockaddr *server)
{
	if (!addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;
	if ((unsigned)t > ICE_CAND_RELAY)
		return -EINVAL;
	memset(c, 0, sizeof *c);
	c->type = t;
	c->component = ICE_COMPONENT_RTP;
	c->priority = ice_cand_priority(t, local_pref, c->component);
	c->base_id = base_id;
	memcpy(&c->addr, addr, addr_len(addr));
	if (!rel)
		rel = addr;
	memcpy(&c->rel_addr, rel, addr_len(rel));
	ice_cand_foundation(c, server);
	return 0;
}

static int format_ip(const struct sockaddr *sa, char *buf, size_t cap)
{
	const void *src = sa->sa_family == AF_INET
				  ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				  : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	return inet_ntop(sa->sa_family, src, buf, (socklen_t)cap) ? 0 : -EINVAL;
}

int ice_cand_format(const struct ice_cand *c, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN], rip[INET6_ADDRSTRLEN];
	const struct sockaddr *a = (const struct sockaddr *)&c->addr;
	const struct sockaddr *r = (const struct sockaddr *)&c->rel_addr;
	int n;

	if (format_ip(a, ip, sizeof ip) < 0)
		return -EINVAL;
	n = snprintf(buf, cap, "%s %u udp %" PRIu32 " %s %u typ %s", c->foundation, c->component,
		     c->priority, ip, addr_port(a), ice_cand_type_name(c->type));
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	if (c->type == ICE_CAND_HOST || format_ip(r, rip, sizeof rip) < 0)
		return n;
	int m = snprintf(buf + n, cap - (size_t)n, " raddr %s rport %u", rip, addr_port(r));
	if (m < 0 || (size_t)m >= cap - (size_t)n)
		return -ENOSPC;
	return n + m;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Bare IP (no brackets, no port) plus a separate port token. */
static int parse_ip_port(const char *ip, const char *port, union addr_ip *out)
{
	unsigned long p;
	memset(out, 0, sizeof *out);
	if (parse_uint(port, 65535, &p) < 0)
		return -EINVAL;
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -EINVAL;
}

static int parse_type(const char *s, enum ice_cand_type *t)
{
	for (unsigned i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*t = (enum ice_cand_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool valid_foundation(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ICE_FOUNDATION_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= 'A' && ch <= 'Z') || ch == '+' || ch == '/';
		if (!ok)
			return false;
	}
	return true;
}

/* Extension pairs after "typ X": raddr/rport are used, others skipped. */
static int parse_tail(char **tok, unsigned n, struct ice_cand *c)
{
	const char *raddr = NULL, *rport = NULL;
	if (n % 2)
		return -EINVAL;
	for (unsigned i = 0; i < n; i += 2) {
		if (strcmp(tok[i], "raddr") == 0)
			raddr = tok[i + 1];
		else if (strcmp(tok[i], "rport") == 0)
			rport = tok[i + 1];
	}
	if (!raddr && !rport) {
		c->rel_addr = c->addr;
		return 0;
	}
	if (!raddr || !rport || parse_ip_port(raddr, rport, &c->rel_addr) < 0)
		return -EINVAL;
	return 0;
}

static int parse_tokens(char **tok, unsigned n, struct ice_cand *c)
{
	unsigned long comp, prio;
	if (n < 8 || strcasecmp(tok[2], "udp") != 0 || strcmp(tok[6], "typ") != 0)
		return -EINVAL;
	if (!valid_foundation(tok[0]))
		return -EINVAL;
	if (parse_uint(tok[1], 256, &comp) < 0 || comp == 0)
		return -EINVAL;
	if (parse_uint(tok[3], UINT32_MAX, &prio) < 0 || prio == 0)
		return -EINVAL;
	if (parse_ip_port(tok[4], tok[5], &c->addr) < 0 || parse_type(tok[7], &c->type) < 0)
		return -EINVAL;
	memcpy(c->foundation, tok[0], strlen(tok[0]) + 1);
	c->component = (uint16_t)comp;
	c->priority = (uint32_t)prio;
	return parse_tail(tok + 8, n - 8, c);
}

int ice_cand_parse(const char *s, struct ice_cand *c)
{
	char line[CAND_LINE_MAX], *tok[CAND_MAX_TOKENS], *save = NULL, *t;
	unsigned n = 0;
	size_t len;

	if (!s)
		return -EINVAL;
	if (strncmp(s, "candidate:", 10) == 0)
		s += 10;
	len = strlen(s);
	if (len >= sizeof line)
		return -EINVAL;
	memcpy(line, s, len + 1);
	for (t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == CAND_MAX_TOKENS)
			return -EINVAL;
		tok[n++] = t;
	}
	memset(c, 0, sizeof *c);
	int rc = parse_tokens(tok, n, c);
	if (rc < 0)
		memset(c, 0, sizeof *c);
	return rc;
}
