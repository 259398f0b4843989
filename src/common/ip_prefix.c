/* IP prefixes of either family, see ip_prefix.h. */
#include "ip_prefix.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

unsigned ip_prefix_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* The first len bits of a and b are equal. */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned whole = len / 8, rest = len % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return ((a[whole] ^ b[whole]) & m) == 0;
}

void ip_prefix_mask(struct ip_prefix *p)
{
	unsigned bits = ip_prefix_bits(p->family), len = p->len < bits ? p->len : bits;
	for (unsigned i = 0; i < 16; i++) {
		unsigned have = i * 8 >= len ? 0 : len - i * 8 >= 8 ? 8 : len - i * 8;
		p->addr[i] &= (uint8_t)(0xff00 >> have);
	}
}

bool ip_prefix_is_canonical(const struct ip_prefix *p)
{
	struct ip_prefix q = *p;
	unsigned bits = ip_prefix_bits(p->family);
	if (!bits || p->len > bits)
		return false;
	ip_prefix_mask(&q);
	return memcmp(q.addr, p->addr, sizeof(q.addr)) == 0;
}

void ip_prefix_from_addr(struct ip_prefix *p, int family, const void *addr)
{
	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)family;
	p->len = (uint8_t)ip_prefix_bits(family);
	memcpy(p->addr, addr, p->len / 8);
}

/* Digits only, no sign, no leading zero, at most max. */
static bool parse_len(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

const char *ip_prefix_parse(const char *s, struct ip_prefix *p, bool *host_bits)
{
	char a[INET6_ADDRSTRLEN];
	unsigned len;
	const char *slash = strchr(s, '/');

	memset(p, 0, sizeof(*p));
	if (host_bits)
		*host_bits = false;
	if (!slash)
		return "expected ADDRESS/LENGTH (the length is required)";
	if ((size_t)(slash - s) >= sizeof(a))
		return "the address is too long";
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	p->family = strchr(a, ':') ? AF_INET6 : AF_INET;
	bool v6 = p->family == AF_INET6;
	if (inet_pton(p->family, a, p->addr) != 1) {
		memset(p, 0, sizeof(*p));
		return v6 ? "not an IPv6 address" : "not an IPv4 or IPv6 address";
	}
	if (!parse_len(slash + 1, ip_prefix_bits(p->family), &len)) {
		memset(p, 0, sizeof(*p));
		return v6 ? "the length must be 0 to 128" : "the length must be 0 to 32";
	}
	p->len = (uint8_t)len;
	if (!ip_prefix_is_canonical(p)) {
		ip_prefix_mask(p);
		if (host_bits)
			*host_bits = true;
		return "host bits are set";
	}
	return NULL;
}

const char *ip_prefix_format(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN])
{
	char a[INET6_ADDRSTRLEN];
	if (!ip_prefix_bits(p->family) || !inet_ntop(p->family, p->addr, a, sizeof(a)))
		snprintf(buf, IP_PREFIX_STRLEN, "?");
	else
		snprintf(buf, IP_PREFIX_STRLEN, "%s/%u", a, p->len);
	return buf;
}

bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->family == b->family && a->len == b->len && bits_equal(a->addr, b->addr, a->len);
}

bool ip_prefix_has_addr(const struct ip_prefix *p, int family, const void *addr)
{
	return p->family == family && p->len <= ip_prefix_bits(family) && bits_equal(p->addr, addr, p->len);
}

bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner)
{
	return outer->family == inner->family && outer->len <= inner->len &&
	       inner->len <= ip_prefix_bits(inner->family) && bits_equal(outer->addr, inner->addr, outer->len);
}

bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return ip_prefix_contains(a, b) || ip_prefix_contains(b, a);
}

/* ---- ranges that stay on a host or a link ---- */

struct range {
	uint8_t family, len;
	uint8_t addr[16];
	const char *route_why, *addr_why;
};

#define RANGE(fam, len, what, ...) { fam, len, { __VA_ARGS__ }, "overlaps " what, "is in " what }
static const struct range local_ranges[] = {
	RANGE(AF_INET, 8, "0.0.0.0/8 (this network)", 0),
	RANGE(AF_INET, 8, "127.0.0.0/8 (loopback)", 127),
	RANGE(AF_INET, 16, "169.254.0.0/16 (link-local)", 169, 254),
	RANGE(AF_INET, 4, "224.0.0.0/4 (multicast)", 224),
	RANGE(AF_INET, 32, "255.255.255.255/32 (broadcast)", 255, 255, 255, 255),
	RANGE(AF_INET6, 128, "::/128 (unspecified)", 0),
	RANGE(AF_INET6, 128, "::1/128 (loopback)", [15] = 1),
	RANGE(AF_INET6, 96, "::ffff:0:0/96 (IPv4-mapped)", [10] = 0xff, [11] = 0xff),
	RANGE(AF_INET6, 10, "fe80::/10 (link-local)", 0xfe, 0x80),
	RANGE(AF_INET6, 8, "ff00::/8 (multicast)", 0xff),
};
#undef RANGE

static const struct range *local_range(const struct ip_prefix *p)
{
	for (size_t i = 0; i < sizeof(local_ranges) / sizeof(local_ranges[0]); i++) {
		const struct range *r = &local_ranges[i];
		struct ip_prefix q = { .family = r->family, .len = r->len };
		memcpy(q.addr, r->addr, sizeof(q.addr));
		if (ip_prefix_overlaps(&q, p))
			return r;
	}
	return NULL;
}

const char *ip_prefix_unroutable(const struct ip_prefix *p)
{
	if (!ip_prefix_bits(p->family) || p->len > ip_prefix_bits(p->family))
		return "not an IPv4 or IPv6 prefix";
	if (p->len == 0)
		return "a default route (an exit node) is not supported";
	const struct range *r = local_range(p);
	return r ? r->route_why : NULL;
}

const char *ip_addr_unusable(int family, const void *addr)
{
	struct ip_prefix p;
	if (!ip_prefix_bits(family))
		return "not an IPv4 or IPv6 address";
	ip_prefix_from_addr(&p, family, addr);
	const struct range *r = local_range(&p);
	return r ? r->addr_why : NULL;
}

struct ip_addr ip_addr_of(int family, const void *addr)
{
	struct ip_addr a = { .family = (uint8_t)family };
	memcpy(a.addr, addr, ip_prefix_bits(family) / 8);
	return a;
}

bool ip_addr_parse(struct ip_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = AF_INET;
	else if (strlen(s) < INET6_ADDRSTRLEN && inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = AF_INET6;
	return a->family != 0;
}

const char *ip_addr_format(const struct ip_addr *a, char buf[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(a->family, a->addr, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
	return buf;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}
