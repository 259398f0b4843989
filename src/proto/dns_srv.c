/* DNS SRV answers and their order (dns_srv.h). */
#include "dns_srv.h"
#include "byteorder.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

enum {
	HEADER_LEN = 12,
	FLAG_QR = 0x8000,
	RCODE_MASK = 0xf,
	CLASS_IN = 1,
	RR_FIXED = 10,  /* type, class, ttl, rdlength */
	SRV_FIXED = 6,  /* priority, weight, port */
	LABEL_MAX = 63,
	PTR_MASK = 0xc0,
};

enum name_kind { NAME_BAD = -1, NAME_HOST = 0, NAME_ROOT, NAME_ODD };

static bool host_char(uint8_t c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/* Reads the (possibly compressed) name at off into text, dotted, without
 * the final dot. *end is where the name ends at off itself. Every pointer
 * must point before the label that holds it, so the walk always ends.
 * NAME_ODD: well-formed, but not a host name (text is then unusable). */
static enum name_kind read_name(const uint8_t *m, size_t len, size_t off, char *text, size_t *end)
{
	size_t t = 0, wire = 0;
	bool jumped = false, odd = false;

	for (;;) {
		if (off >= len)
			return NAME_BAD;
		uint8_t l = m[off];
		if ((l & PTR_MASK) == PTR_MASK) {
			if (off + 1 >= len)
				return NAME_BAD;
			size_t to = (size_t)(l & ~PTR_MASK) << 8 | m[off + 1];
			if (to >= off)
				return NAME_BAD; /* forward or self: a loop */
			if (!jumped)
				*end = off + 2;
			jumped = true;
			off = to;
			continue;
		}
		if (l & PTR_MASK)
			return NAME_BAD; /* the reserved label types */
		if (l == 0)
			break;
		if (off + 1 + l > len || (wire += 1u + l) > 255)
			return NAME_BAD;
		if (t + (t ? 1 : 0) + l > DNS_SRV_NAME_MAX) {
			odd = true;
		} else {
			if (t)
				text[t++] = '.';
			for (uint8_t i = 0; i < l; i++) {
				uint8_t c = m[off + 1 + i];
				odd |= !host_char(c);
				text[t++] = (char)c;
			}
		}
		off += 1u + l;
	}
	if (!jumped)
		*end = off + 1;
	text[t] = '\0';
	if (odd)
		return NAME_ODD;
	return t == 0 ? NAME_ROOT : NAME_HOST;
}

static bool skip_name(const uint8_t *m, size_t len, size_t *off)
{
	char scratch[DNS_SRV_NAME_MAX + 1];
	return read_name(m, len, *off, scratch, off) != NAME_BAD;
}

/* One SRV rdata at off (rdlen bytes) into r; false when unusable. */
static enum name_kind read_srv(const uint8_t *m, size_t len, size_t off, size_t rdlen, struct dns_srv *r)
{
	size_t end;

	if (rdlen < SRV_FIXED + 1)
		return NAME_BAD;
	r->priority = be16_get(m + off);
	r->weight = be16_get(m + off + 2);
	r->port = be16_get(m + off + 4);
	enum name_kind k = read_name(m, len, off + SRV_FIXED, r->target, &end);
	if (k != NAME_BAD && end != off + rdlen)
		return NAME_BAD; /* the name must fill the rdata exactly */
	return k;
}

int dns_srv_parse(const uint8_t *msg, size_t len, struct dns_srv *out, unsigned max)
{
	struct dns_srv r;
	unsigned n = 0, srv_seen = 0;
	bool root = false;

	if (len < HEADER_LEN || !(be16_get(msg + 2) & FLAG_QR))
		return -1;
	if (be16_get(msg + 2) & RCODE_MASK)
		return 0; /* NXDOMAIN, SERVFAIL...: no records */
	unsigned qd = be16_get(msg + 4), an = be16_get(msg + 6);
	size_t off = HEADER_LEN;
	for (unsigned i = 0; i < qd; i++) {
		if (!skip_name(msg, len, &off) || off + 4 > len)
			return -1;
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		if (!skip_name(msg, len, &off) || off + RR_FIXED > len)
			return -1;
		uint16_t type = be16_get(msg + off), cls = be16_get(msg + off + 2);
		size_t rdlen = be16_get(msg + off + 8);
		off += RR_FIXED;
		if (off + rdlen > len)
			return -1;
		if (type == DNS_SRV_TYPE && cls == CLASS_IN) {
			enum name_kind k = read_srv(msg, len, off, rdlen, &r);
			if (k == NAME_BAD)
				return -1;
			srv_seen++;
			root |= k == NAME_ROOT;
			if (k == NAME_HOST && r.port != 0 && n < max)
				out[n++] = r;
		}
		off += rdlen;
	}
	if (srv_seen == 1 && root)
		return DNS_SRV_NONE;
	return (int)n;
}

/* Moves r[from] to r[to] (to <= from), shifting the ones between up. */
static void move_to(struct dns_srv *r, unsigned from, unsigned to)
{
	struct dns_srv x = r[from];
	memmove(&r[to + 1], &r[to], (from - to) * sizeof(*r));
	r[to] = x;
}

/* RFC 2782: weight-0 records first, then draw one with probability
 * proportional to its weight among those not yet ordered. */
static void order_group(struct dns_srv *r, unsigned a, unsigned b, uint32_t (*rnd)(void *), void *ctx)
{
	unsigned z = a;
	for (unsigned i = a; i < b; i++)
		if (r[i].weight == 0)
			move_to(r, i, z++);
	for (unsigned pos = a; pos + 1 < b; pos++) {
		uint64_t sum = 0, run = 0;
		for (unsigned i = pos; i < b; i++)
			sum += r[i].weight;
		uint64_t pick = ((uint64_t)rnd(ctx) * (sum + 1)) >> 32; /* 0..sum */
		unsigned i = pos;
		for (; i < b; i++) {
			run += r[i].weight;
			if (run >= pick)
				break;
		}
		move_to(r, i < b ? i : b - 1, pos);
	}
}

void dns_srv_order(struct dns_srv *r, unsigned n, uint32_t (*rnd)(void *ctx), void *ctx)
{
	/* stable insertion sort by priority (n is small) */
	for (unsigned i = 1; i < n; i++) {
		unsigned j = i;
		while (j > 0 && r[j - 1].priority > r[i].priority)
			j--;
		if (j != i)
			move_to(r, i, j);
	}
	for (unsigned a = 0; a < n;) {
		unsigned b = a + 1;
		while (b < n && r[b].priority == r[a].priority)
			b++;
		order_group(r, a, b, rnd, ctx);
		a = b;
	}
}
