/* SocialVPN translation: random TCP, UDP (with and without checksum), ICMP
 * echo, ICMP errors quoting TCP/UDP (short and long quotes) and fragments
 * are built with checksums computed from scratch, translated in place, and
 * compared with the same packets built from scratch with the translated
 * addresses. Untranslatable packets must fail with the right reason. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xlate.h"

enum { MAXPKT = 1600, ROUNDS = 1500 };

/* local .100, friend's own .100 in its space too, mapped .101 in ours */
static const uint32_t LOCAL = 0xac1f0064, PEER_OWN = 0xac1f0064, PEER_MAPPED = 0xac1f0065;
/* a peer whose own address differs from ours, to catch swapped fields */
static const uint32_t LOCAL2 = 0x0a000001, PEER_OWN2 = 0xc0a80107, PEER_MAPPED2 = 0xac1f0077;

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* What a packet is made of; the same spec with other addresses builds the
 * expected translation. */
struct spec {
	uint8_t proto;       /* 1, 6, 17 or anything else */
	uint32_t src, dst;
	unsigned opt_words;  /* IPv4 options, 4-byte words */
	bool udp_nocsum;
	unsigned plen;       /* payload bytes after the transport header */
	uint32_t seed;       /* payload and header field bytes */
	uint16_t frag;       /* flags + offset field */
	uint8_t icmp_type;   /* ICMP: 8 echo, 3/11/... error, 5 redirect */
	const struct spec *inner; /* ICMP error: the quoted packet */
	unsigned quote;      /* bytes of it quoted */
};

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static size_t build(const struct spec *s, uint8_t *out);

static uint32_t pseudo(const struct spec *s, size_t l4len)
{
	return (s->src >> 16) + (s->src & 0xffff) + (s->dst >> 16) + (s->dst & 0xffff) + s->proto +
	       (uint32_t)l4len;
}

static size_t build_l4(const struct spec *s, uint8_t *l4)
{
	size_t len;
	/* a non-first fragment carries payload only */
	switch ((s->frag & 0x1fff) ? 0 : s->proto) {
	case 6:
		len = 20 + s->plen;
		fill(l4, len, s->seed);
		l4[12] = 5 << 4;
		put16(l4 + 16, 0);
		put16(l4 + 16, xlate_csum(l4, len, pseudo(s, len)));
		return len;
	case 17: {
		len = 8 + s->plen;
		fill(l4, len, s->seed);
		put16(l4 + 4, (uint16_t)len);
		put16(l4 + 6, 0);
		uint16_t c = xlate_csum(l4, len, pseudo(s, len));
		put16(l4 + 6, s->udp_nocsum ? 0 : c == 0 ? 0xffff : c);
		return len;
	}
	case 1:
		if (s->inner) {
			uint8_t in[MAXPKT];
			size_t ilen = build(s->inner, in);
			size_t q = s->quote < ilen ? s->quote : ilen;
			len = 8 + q;
			fill(l4, 8, s->seed);
			memcpy(l4 + 8, in, q);
		} else {
			len = 8 + s->plen;
			fill(l4, len, s->seed);
		}
		l4[0] = s->icmp_type;
		put16(l4 + 2, 0);
		put16(l4 + 2, xlate_csum(l4, len, 0));
		return len;
	default:
		len = s->plen;
		fill(l4, len, s->seed);
		return len;
	}
}

static size_t build(const struct spec *s, uint8_t *out)
{
	size_t hl = 20 + 4 * s->opt_words;
	memset(out, 0, hl);
	fill(out + 20, hl - 20, s->seed ^ 0x5555);
	size_t l4 = build_l4(s, out + hl);
	out[0] = (uint8_t)(0x40 | (hl / 4));
	put16(out + 2, (uint16_t)(hl + l4));
	put16(out + 4, (uint16_t)s->seed);
	put16(out + 6, s->frag);
	out[8] = 64;
	out[9] = s->proto;
	put32(out + 12, s->src);
	put32(out + 16, s->dst);
	put16(out + 10, xlate_csum(out, hl, 0));
	return hl + l4;
}

/* Equal, except that a checksum may be 0x0000 on one side and 0xffff on
 * the other (the two zeros of one's complement). */
static void assert_same(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint16_t x = (uint16_t)(a[i] << 8 | a[i + 1]), y = (uint16_t)(b[i] << 8 | b[i + 1]);
		if (x != y && !((x == 0 && y == 0xffff) || (x == 0xffff && y == 0)))
			fail_msg("word at %zu differs: %04x vs %04x", i, x, y);
	}
	if (len % 2)
		assert_int_equal(a[len - 1], b[len - 1]);
}

static void random_spec(struct spec *s, uint8_t proto)
{
	memset(s, 0, sizeof(*s));
	s->proto = proto;
	s->opt_words = rnd() % 4 == 0 ? rnd() % 10 : 0;
	s->plen = rnd() % 1200;
	if (rnd() % 8 == 0)
		s->plen = rnd() % 4;
	s->seed = rnd();
	s->udp_nocsum = rnd() % 4 == 0;
	s->icmp_type = 8;
	s->frag = rnd() % 2 ? 0x4000 : 0; /* DF or nothing */
}

/* Translates `before` one way and compares with `after` built from scratch. */
static void check_pair(const struct spec *before, const struct spec *after, bool out, const struct xlate_pair *x)
{
	uint8_t a[MAXPKT], b[MAXPKT];
	size_t la = build(before, a), lb = build(after, b);
	assert_int_equal(la, lb);
	enum xlate_result r = out ? xlate_out(a, la, x) : xlate_in(a, la, x);
	if (r != XLATE_OK)
		fail_msg("xlate: %s", xlate_result_name(r));
	assert_same(a, b, la);
	assert_int_equal(xlate_csum(a, (size_t)(a[0] & 15) * 4, 0), 0);
}

static struct xlate_pair P[2]; /* filled in setup */

static int setup(void **state)
{
	(void)state;
	P[0] = (struct xlate_pair){ htonl(LOCAL), htonl(PEER_OWN), htonl(PEER_MAPPED) };
	P[1] = (struct xlate_pair){ htonl(LOCAL2), htonl(PEER_OWN2), htonl(PEER_MAPPED2) };
	return 0;
}

static uint32_t h_local(int k) { return k ? LOCAL2 : LOCAL; }
static uint32_t h_own(int k) { return k ? PEER_OWN2 : PEER_OWN; }
static uint32_t h_mapped(int k) { return k ? PEER_MAPPED2 : PEER_MAPPED; }

static void plain_rounds(uint8_t proto)
{
	for (int i = 0; i < ROUNDS; i++) {
		int k = i % 2;
		struct spec b, a;
		random_spec(&b, proto);
		/* out: local -> mapped becomes local -> own */
		b.src = h_local(k);
		b.dst = h_mapped(k);
		a = b;
		a.dst = h_own(k);
		check_pair(&b, &a, true, &P[k]);
		/* in: own -> local becomes mapped -> local */
		b.src = h_own(k);
		b.dst = h_local(k);
		a = b;
		a.src = h_mapped(k);
		check_pair(&b, &a, false, &P[k]);
	}
}

static void test_tcp(void **state)
{
	(void)state;
	plain_rounds(6);
}

static void test_udp(void **state)
{
	(void)state;
	plain_rounds(17);
}

static void test_icmp_echo_and_other(void **state)
{
	(void)state;
	plain_rounds(1);
	plain_rounds(47); /* GRE: no pseudo-header, only the IP header changes */
}

static void test_udp_zero_checksum_stays_zero(void **state)
{
	(void)state;
	struct spec s;
	uint8_t p[MAXPKT];
	random_spec(&s, 17);
	s.udp_nocsum = true;
	s.src = LOCAL;
	s.dst = PEER_MAPPED2;
	size_t n = build(&s, p);
	struct xlate_pair x = { htonl(LOCAL), htonl(PEER_OWN2), htonl(PEER_MAPPED2) };
	assert_int_equal(xlate_out(p, n, &x), XLATE_OK);
	assert_int_equal(p[20 + s.opt_words * 4 + 6], 0);
	assert_int_equal(p[20 + s.opt_words * 4 + 7], 0);
}

/* Errors about a packet that went the other way: the quote's addresses
 * are the reverse of the outer ones. */
static void test_icmp_errors(void **state)
{
	(void)state;
	static const uint8_t types[] = { 3, 4, 11, 12 };
	for (int i = 0; i < ROUNDS; i++) {
		int k = i % 2;
		struct spec ib, ia, b, a;
		random_spec(&ib, rnd() % 3 == 0 ? 6 : rnd() % 2 ? 17 : 1);
		random_spec(&b, 1);
		b.icmp_type = types[rnd() % 4];
		b.inner = &ib;
		b.quote = rnd() % 2 ? 28 + 4 * ib.opt_words : 576;
		if (rnd() % 4 == 0) {
			/* any cut, but not inside a checksum: half a field cannot be fixed */
			unsigned cut = rnd() % 24;
			b.quote = 20 + 4 * ib.opt_words + (cut == 7 || cut == 17 ? cut + 1 : cut);
		}
		if (rnd() % 5 == 0)
			ib.frag = (uint16_t)(0x2000 | (1 + rnd() % 100)); /* a quoted non-first fragment */
		/* out: our kernel's error about the friend's packet */
		b.src = h_local(k), b.dst = h_mapped(k);
		ib.src = h_mapped(k), ib.dst = h_local(k);
		a = b, ia = ib;
		a.inner = &ia;
		a.dst = h_own(k), ia.src = h_own(k);
		check_pair(&b, &a, true, &P[k]);
		/* in: the friend's error about our packet */
		b.src = h_own(k), b.dst = h_local(k);
		ib.src = h_local(k), ib.dst = h_own(k);
		a = b, ia = ib;
		a.inner = &ia;
		a.src = h_mapped(k), ia.dst = h_mapped(k);
		check_pair(&b, &a, false, &P[k]);
	}
}

/* Splits a packet into fragments of `step` payload bytes (multiple of 8). */
static unsigned fragment(const uint8_t *pkt, size_t len, size_t step, uint8_t frags[][MAXPKT], size_t *flen)
{
	size_t hl = (size_t)(pkt[0] & 15) * 4, off = 0;
	unsigned n = 0;
	while (hl + off < len) {
		size_t chunk = len - hl - off > step ? step : len - hl - off;
		bool more = hl + off + chunk < len;
		memcpy(frags[n], pkt, hl);
		memcpy(frags[n] + hl, pkt + hl + off, chunk);
		put16(frags[n] + 2, (uint16_t)(hl + chunk));
		put16(frags[n] + 6, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
		put16(frags[n] + 10, 0);
		put16(frags[n] + 10, xlate_csum(frags[n], hl, 0));
		flen[n++] = hl + chunk;
		off += chunk;
	}
	return n;
}

static void test_fragments(void **state)
{
	(void)state;
	static uint8_t fb[64][MAXPKT], fa[64][MAXPKT];
	size_t lb[64], la[64];
	for (int i = 0; i < ROUNDS / 3; i++) {
		int k = i % 2;
		struct spec b, a;
		random_spec(&b, rnd() % 3 == 0 ? 6 : rnd() % 2 ? 17 : 1);
		b.frag = 0;
		b.plen = 40 + rnd() % 1100;
		bool out = rnd() % 2;
		b.src = out ? h_local(k) : h_own(k);
		b.dst = out ? h_mapped(k) : h_local(k);
		a = b;
		if (out)
			a.dst = h_own(k);
		else
			a.src = h_mapped(k);
		uint8_t pb[MAXPKT], pa[MAXPKT];
		size_t nb = build(&b, pb), na = build(&a, pa);
		size_t step = 8 * (3 + rnd() % 60); /* >= 24: the first holds a TCP checksum */
		unsigned cb = fragment(pb, nb, step, fb, lb), ca = fragment(pa, na, step, fa, la);
		assert_int_equal(cb, ca);
		/* any order: fragments are independent */
		for (unsigned j = cb; j-- > 0;) {
			enum xlate_result r = out ? xlate_out(fb[j], lb[j], &P[k]) : xlate_in(fb[j], lb[j], &P[k]);
			assert_int_equal(r, XLATE_OK);
			assert_same(fb[j], fa[j], lb[j]);
		}
	}
}

static void test_refused(void **state)
{
	(void)state;
	struct spec s;
	uint8_t p[MAXPKT];
	size_t n;
	const struct xlate_pair *x = &P[1];

	random_spec(&s, 6);
	s.opt_words = 0;
	s.src = LOCAL2, s.dst = PEER_MAPPED2;
	/* wrong destination (another friend's or a broadcast) */
	s.dst = 0xac1f00ff;
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n, x), XLATE_WRONG_ADDR);
	/* wrong source: not from this node */
	s.dst = PEER_MAPPED2, s.src = 0x0a0a0a0a;
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n, x), XLATE_WRONG_ADDR);
	/* in: not for us */
	s.src = PEER_OWN2, s.dst = 0xe0000001;
	n = build(&s, p);
	assert_int_equal(xlate_in(p, n, x), XLATE_WRONG_ADDR);
	/* a first fragment too short to hold the TCP checksum */
	s.src = LOCAL2, s.dst = PEER_MAPPED2, s.plen = 0;
	n = build(&s, p);
	put16(p + 2, 20 + 8);
	put16(p + 6, 0x2000);
	put16(p + 10, 0);
	put16(p + 10, xlate_csum(p, 20, 0));
	assert_int_equal(xlate_out(p, 28, x), XLATE_TRUNCATED);
	/* not IP, IHL too small, total length beyond the buffer */
	n = build(&s, p);
	p[0] = 0x50;
	assert_int_equal(xlate_out(p, n, x), XLATE_BAD_HEADER);
	p[0] = 0x44;
	assert_int_equal(xlate_out(p, n, x), XLATE_BAD_HEADER);
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n - 1, x), XLATE_BAD_HEADER);
	assert_int_equal(xlate_out(p, 10, x), XLATE_BAD_HEADER);
	/* ICMP redirect names a gateway in our space: refused */
	random_spec(&s, 1);
	s.src = LOCAL2, s.dst = PEER_MAPPED2, s.icmp_type = 5;
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n, x), XLATE_UNSUPPORTED);
	/* UDP-Lite / DCCP would need their checksums fixed too */
	random_spec(&s, 136);
	s.src = LOCAL2, s.dst = PEER_MAPPED2;
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n, x), XLATE_UNSUPPORTED);
	/* ICMP error quoting a packet that is not about this friend */
	struct spec in;
	random_spec(&in, 17);
	in.src = 0x01020304, in.dst = LOCAL2;
	random_spec(&s, 1);
	s.icmp_type = 3, s.inner = &in, s.quote = 28;
	s.src = LOCAL2, s.dst = PEER_MAPPED2;
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n, x), XLATE_WRONG_ADDR);
	/* ... or whose quote is not even an IP header */
	in.src = PEER_MAPPED2;
	s.quote = 12;
	n = build(&s, p);
	assert_int_equal(xlate_out(p, n, x), XLATE_TRUNCATED);
}

/* social_broadcast: a subnet broadcast leaves as 255.255.255.255, limited
 * broadcast and multicast leave unchanged; on arrival only the source is
 * rewritten, and only for broadcast/multicast destinations. */
static void test_broadcast(void **state)
{
	(void)state;
	const uint32_t SB = 0xac1f00ff; /* 172.31.0.255 */
	for (int i = 0; i < ROUNDS; i++) {
		struct spec b, a;
		random_spec(&b, rnd() % 2 ? 17 : 1);
		uint32_t dsts[] = { SB, 0xffffffffu, 0xe0000001u + (rnd() & 0xffff) };
		uint32_t d = dsts[i % 3];
		b.src = LOCAL, b.dst = d;
		a = b;
		a.dst = d == SB ? 0xffffffffu : d;
		uint8_t pb[MAXPKT], pa[MAXPKT];
		size_t nb = build(&b, pb), na = build(&a, pa);
		assert_true(xlate_is_bcast(pb, nb, htonl(SB)));
		assert_int_equal(xlate_bcast_out(pb, nb, htonl(LOCAL), htonl(SB)), XLATE_OK);
		assert_same(pb, pa, nb);
		/* arrival at the friend: own -> mapped */
		b.src = PEER_OWN2, b.dst = a.dst;
		a = b;
		a.src = PEER_MAPPED2;
		nb = build(&b, pb), na = build(&a, pa);
		assert_int_equal(na, nb);
		assert_int_equal(xlate_bcast_in(pb, nb, &P[1]), XLATE_OK);
		assert_same(pb, pa, nb);
	}
	struct spec s;
	uint8_t p[MAXPKT];
	random_spec(&s, 17);
	s.src = LOCAL, s.dst = PEER_MAPPED;
	size_t n = build(&s, p);
	assert_false(xlate_is_bcast(p, n, htonl(SB)));
	assert_int_equal(xlate_bcast_out(p, n, htonl(LOCAL), htonl(SB)), XLATE_WRONG_ADDR);
	s.src = PEER_OWN2, s.dst = SB; /* a subnet broadcast never arrives as such */
	n = build(&s, p);
	assert_int_equal(xlate_bcast_in(p, n, &P[1]), XLATE_WRONG_ADDR);
	s.src = 0x01010101, s.dst = 0xffffffffu; /* from someone else */
	n = build(&s, p);
	assert_int_equal(xlate_bcast_in(p, n, &P[1]), XLATE_WRONG_ADDR);
	s.src = 0x0a000009, s.dst = SB; /* not from this node */
	n = build(&s, p);
	assert_int_equal(xlate_bcast_out(p, n, htonl(LOCAL), htonl(SB)), XLATE_WRONG_ADDR);
}

/* Social mode is IPv4-only: IPv6 packets of every kind, and a lone
 * version nibble, are refused with their own result and left untouched,
 * in every direction and by the broadcast paths. */
static void test_ipv6_refused(void **state)
{
	(void)state;
	const uint32_t SB = 0xac1f00ff;
	uint8_t p[MAXPKT], copy[MAXPKT];
	static const uint8_t protos[] = { 6, 17, 58, 0, 44 };
	for (int i = 0; i < ROUNDS; i++) {
		size_t n = 40 + (size_t)(rnd() % 200);
		for (size_t j = 0; j < n; j++)
			p[j] = (uint8_t)rnd();
		p[0] = (uint8_t)(0x60 | (p[0] & 15));
		put16(p + 4, (uint16_t)(n - 40));
		p[6] = protos[i % 5];
		if (i % 4 == 0) /* ff02::1, the kind social_broadcast would forward in IPv4 */
			memcpy(p + 24, "\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		memcpy(copy, p, n);
		size_t len = i % 7 == 0 ? 1 : n;
		assert_int_equal(xlate_out(p, len, &P[1]), XLATE_IPV6);
		assert_int_equal(xlate_in(p, len, &P[1]), XLATE_IPV6);
		assert_int_equal(xlate_bcast_out(p, len, htonl(LOCAL), htonl(SB)), XLATE_IPV6);
		assert_int_equal(xlate_bcast_in(p, len, &P[1]), XLATE_IPV6);
		assert_false(xlate_is_bcast(p, len, htonl(SB)));
		assert_memory_equal(p, copy, n);
	}
	assert_string_equal(xlate_result_name(XLATE_IPV6), "IPv6 (social mode is IPv4-only)");
	assert_string_equal(xlate_result_name(XLATE_NRESULTS), "?");
}

static void test_adj_matches_recompute(void **state)
{
	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint8_t b[16];
		for (int j = 0; j < 16; j++)
			b[j] = (uint8_t)rnd();
		uint16_t c = xlate_csum(b, 16, 0);
		uint32_t old = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
		uint32_t new = rnd() << 16 ^ rnd();
		put32(b + 4, new);
		uint16_t full = xlate_csum(b, 16, 0), inc = xlate_csum_adj32(c, old, new);
		assert_true(full == inc || (full == 0 && inc == 0xffff) || (full == 0xffff && inc == 0));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adj_matches_recompute),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_icmp_echo_and_other),
		cmocka_unit_test(test_udp_zero_checksum_stays_zero),
		cmocka_unit_test(test_icmp_errors),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_broadcast),
		cmocka_unit_test(test_ipv6_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
