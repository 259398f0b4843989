/* Overlay address ownership, see owners.h. */
#include "owners.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp_roster.h"

void owners_init(struct owners *t, struct in_addr ip4, unsigned mask)
{
	memset(t, 0, sizeof(*t));
	t->self[0] = ip_addr_of(AF_INET, &ip4);
	ip_prefix_from_addr(&t->net[0], AF_INET, &ip4);
	t->net[0].len = (uint8_t)mask;
	ip_prefix_mask(&t->net[0]);
}

void owners_set_ip6(struct owners *t, const struct in6_addr *ip6, unsigned mask)
{
	t->self[1] = ip_addr_of(AF_INET6, ip6);
	ip_prefix_from_addr(&t->net[1], AF_INET6, ip6);
	t->net[1].len = (uint8_t)mask;
	ip_prefix_mask(&t->net[1]);
}

/* Index of a family in self[] and net[]. */
static int fam(int family)
{
	return family == AF_INET6;
}

bool owners_has_family(const struct owners *t, int family)
{
	return t->self[fam(family)].family == family;
}

void owners_free(struct owners *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->o[i].bare);
	free(t->o);
	memset(t, 0, sizeof(*t));
}

const struct owner *owners_find(const struct owners *t, struct ip_addr a)
{
	for (size_t i = 0; i < t->n; i++)
		if (ip_addr_equal(&t->o[i].addr, &a))
			return &t->o[i];
	return NULL;
}

/* Every bit of a after the subnet's length is bit. */
static bool host_bits_all(const struct ip_prefix *net, const struct ip_addr *a, unsigned bit)
{
	for (unsigned i = net->len; i < ip_prefix_bits(a->family); i++)
		if (((a->addr[i / 8] >> (7 - i % 8)) & 1u) != bit)
			return false;
	return true;
}

/* IPv4: the network or broadcast address; IPv6: the subnet-router anycast
 * address (RFC 4291; none in a /127 or /128). */
static const char *edge(const struct ip_prefix *net, const struct ip_addr *a)
{
	if (a->family == AF_INET)
		return host_bits_all(net, a, 0) || host_bits_all(net, a, 1) ? "the network or broadcast address"
									    : NULL;
	return net->len < 127 && host_bits_all(net, a, 0) ? "the subnet-router anycast address" : NULL;
}

/* Why a can be nobody's address in this overlay, or NULL. Without a
 * subnet of its family only the ranges are checked. */
static const char *unusable(const struct owners *t, struct ip_addr a, char *buf, size_t cap)
{
	char s[INET6_ADDRSTRLEN], net[IP_PREFIX_STRLEN];
	const char *why = ip_addr_unusable(a.family, a.addr), *e;
	const struct ip_prefix *n = &t->net[fam(a.family)];

	ip_addr_format(&a, s);
	if (why)
		snprintf(buf, cap, "%s %s", s, why);
	else if (!owners_has_family(t, a.family))
		return NULL;
	else if (!ip_prefix_has_addr(n, a.family, a.addr))
		snprintf(buf, cap, "%s is outside this overlay's %s", s, ip_prefix_format(n, net));
	else if ((e = edge(n, &a)))
		snprintf(buf, cap, "%s is %s of %s", s, e, ip_prefix_format(n, net));
	else if (ip_addr_equal(&a, &t->self[fam(a.family)]))
		snprintf(buf, cap, "%s is this node's own address", s);
	else
		return NULL;
	return buf;
}

const char *owners_refusal(const struct owners *t, struct ip_addr a, const char *bare, char *buf, size_t cap)
{
	char s[INET6_ADDRSTRLEN];
	const struct owner *o = owners_find(t, a);

	if (unusable(t, a, buf, cap))
		return buf;
	ip_addr_format(&a, s);
	if (o && strcmp(o->bare, bare) != 0) {
		snprintf(buf, cap, "%s belongs to %.100s%s", s, o->bare, o->mapped ? " (address map)" : "");
		return buf;
	}
	if (t->strict && !(o && o->mapped)) {
		snprintf(buf, cap, "%s is not in the address map for %.100s", s, bare);
		return buf;
	}
	return NULL;
}

static void drop_at(struct owners *t, size_t i)
{
	free(t->o[i].bare);
	t->o[i] = t->o[--t->n];
	t->dirty = true;
}

/* Room for one more learned address of bare. */
static void make_room(struct owners *t, const char *bare)
{
	size_t mine = 0, old_mine = t->n, old_all = t->n;

	for (size_t i = 0; i < t->n; i++) {
		if (t->o[i].mapped)
			continue;
		if (old_all == t->n || t->o[i].seen_s < t->o[old_all].seen_s)
			old_all = i;
		if (strcmp(t->o[i].bare, bare) != 0)
			continue;
		mine++;
		if (old_mine == t->n || t->o[i].seen_s < t->o[old_mine].seen_s)
			old_mine = i;
	}
	if (mine >= OWNERS_PER_MEMBER)
		drop_at(t, old_mine);
	else if (t->n >= OWNERS_MAX && old_all < t->n)
		drop_at(t, old_all);
}

static int add(struct owners *t, struct ip_addr a, const char *bare, int64_t seen_s, bool mapped)
{
	if (!mapped)
		make_room(t, bare);
	if (t->n >= OWNERS_MAX + (mapped ? OWNERS_MAX : 0))
		return -ENOSPC;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct owner *no = realloc(t->o, cap * sizeof(*no));
		if (!no)
			return -ENOMEM;
		t->o = no;
		t->cap = cap;
	}
	char *b = strdup(bare);
	if (!b)
		return -ENOMEM;
	t->o[t->n++] = (struct owner){ .addr = a, .bare = b, .seen_s = seen_s, .mapped = mapped };
	t->dirty |= !mapped;
	return 0;
}

int owners_note(struct owners *t, struct ip_addr a, const char *bare, int64_t now_s)
{
	char why[OWNERS_WHY_LEN];

	if (owners_refusal(t, a, bare, why, sizeof(why)))
		return -EPERM;
	for (size_t i = 0; i < t->n; i++) {
		struct owner *o = &t->o[i];
		if (!ip_addr_equal(&o->addr, &a))
			continue;
		if (!o->mapped && o->seen_s / 86400 != now_s / 86400)
			t->dirty = true; /* a mere "seen" is saved at most daily */
		o->seen_s = now_s;
		return 0;
	}
	return add(t, a, bare, now_s, false);
}

size_t owners_forget(struct owners *t, const char *what)
{
	struct ip_addr a;
	char bare[XMPP_JID_MAX];
	bool by_addr = ip_addr_parse(&a, what);
	size_t gone = 0;

	if (!by_addr && !jid_split(what, bare, sizeof(bare), NULL))
		return 0;
	for (size_t i = t->n; i-- > 0;) {
		const struct owner *o = &t->o[i];
		if (o->mapped || (by_addr ? !ip_addr_equal(&o->addr, &a) : strcmp(o->bare, bare) != 0))
			continue;
		drop_at(t, i);
		gone++;
	}
	return gone;
}

/* "user@domain" as jid_split makes it: lower case, no resource. */
static bool plain_bare(const char *s, char *bare, size_t cap)
{
	return !strchr(s, '/') && jid_split(s, bare, cap, NULL) && bare[0] != '@' &&
	       strchr(bare, '@')[1] != '\0' && !strpbrk(s, " \t\r\n");
}

/* Splits "WORD1 WORD2[ WORD3]" in place; returns the number of words. */
static unsigned split(char *s, char **w, unsigned max)
{
	unsigned n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = tok;
	}
	return n;
}

const char *owners_map_line(struct owners *t, const char *line)
{
	static char why[OWNERS_WHY_LEN];
	char copy[1024], bare[XMPP_JID_MAX], *w[3];
	struct ip_addr a;

	if (strlen(line) >= sizeof(copy))
		return "line too long";
	snprintf(copy, sizeof(copy), "%s", line);
	if (split(copy, w, 2) != 2)
		return "expected: JID ADDRESS";
	if (!plain_bare(w[0], bare, sizeof(bare)))
		return "not a bare JID (user@domain)";
	if (!ip_addr_parse(&a, w[1]))
		return "not an IPv4 or IPv6 address";
	t->strict = true;
	/* the group's map names this node too: nobody may claim its address
	 * anyway (unusable), so there is nothing to keep */
	if (ip_addr_equal(&a, &t->self[fam(a.family)]))
		return NULL;
	if (unusable(t, a, why, sizeof(why)))
		return why;
	const struct owner *o = owners_find(t, a);
	if (o && o->mapped)
		return "address mapped twice";
	if (o) /* a learned owner gives way to the operator's word */
		drop_at(t, (size_t)(o - t->o));
	return add(t, a, bare, 0, true) == 0 ? NULL : "too many addresses";
}

int owners_format_line(const struct owner *o, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	int n = snprintf(buf, cap, "owner %s %s %" PRId64 "\n", ip_addr_format(&o->addr, a), o->bare, o->seen_s);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

const char *owners_parse_line(struct owners *t, const char *rest)
{
	static char why[OWNERS_WHY_LEN];
	char copy[1024], bare[XMPP_JID_MAX], *w[4], *end;
	struct ip_addr a;

	if (strlen(rest) >= sizeof(copy))
		return "line too long";
	snprintf(copy, sizeof(copy), "%s", rest);
	if (split(copy, w, 3) != 3)
		return "expected: owner ADDRESS JID SEEN";
	if (!ip_addr_parse(&a, w[0]))
		return "not an IPv4 or IPv6 address";
	if (!plain_bare(w[1], bare, sizeof(bare)) || strcmp(bare, w[1]) != 0)
		return "not a bare JID in lower case";
	long long seen = strtoll(w[2], &end, 10);
	if (*end || end == w[2])
		return "SEEN is not a number";
	if (unusable(t, a, why, sizeof(why)))
		return why; /* the overlay's subnet changed since */
	if (owners_find(t, a))
		return "address owned twice (or mapped)";
	return add(t, a, bare, (int64_t)seen, false) == 0 ? NULL : "too many addresses";
}
