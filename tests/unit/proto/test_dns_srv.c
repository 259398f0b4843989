/* DNS SRV answers (dns_srv.h): records with plain and compressed names,
 * other types and classes skipped, error rcodes, the "no service" target,
 * every kind of malformed message; and RFC 2782's order (priority, then
 * a draw weighted by weight). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "byteorder.h"
#include "dns_srv.h"

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put16(struct msg *m, uint16_t v)
{
	be16_put(m->b + m->n, v);
	m->n += 2;
}

/* A dotted name, uncompressed; "" is the root. */
static void put_name(struct msg *m, const char *name)
{
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		m->b[m->n++] = (uint8_t)l;
		memcpy(m->b + m->n, p, l);
		m->n += l;
		p += l + (dot ? 1 : 0);
	}
	m->b[m->n++] = 0;
}

static void put_ptr(struct msg *m, size_t to)
{
	put16(m, (uint16_t)(0xc000 | to));
}

enum { QNAME_AT = 12 };

/* A response header and the question for _xmpp-client._tcp.example.test. */
static void start(struct msg *m, uint16_t flags, uint16_t an)
{
	memset(m, 0, sizeof(*m));
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	put_name(m, "_xmpp-client._tcp.example.test");
	put16(m, DNS_SRV_TYPE);
	put16(m, 1);
}

/* An answer's owner (a pointer to the question), type, class, TTL; its
 * rdlength is patched by end_rr. Returns where rdlength sits. */
static size_t rr(struct msg *m, uint16_t type, uint16_t cls)
{
	put_ptr(m, QNAME_AT);
	put16(m, type);
	put16(m, cls);
	put16(m, 0);
	put16(m, 300);
	size_t at = m->n;
	put16(m, 0);
	return at;
}

static void end_rr(struct msg *m, size_t at)
{
	be16_put(m->b + at, (uint16_t)(m->n - at - 2));
}

static void srv(struct msg *m, uint16_t prio, uint16_t weight, uint16_t port, const char *target)
{
	size_t at = rr(m, DNS_SRV_TYPE, 1);
	put16(m, prio);
	put16(m, weight);
	put16(m, port);
	put_name(m, target);
	end_rr(m, at);
}

static const uint16_t RESPONSE = 0x8180; /* QR, RD, RA, NOERROR */

static void test_records(void **state)
{
	(void)state;
	struct msg m;
	struct dns_srv r[DNS_SRV_MAX];

	start(&m, RESPONSE, 4);
	srv(&m, 10, 5, 5222, "m2.example.test");
	size_t a = rr(&m, 5, 1); /* a CNAME: skipped */
	put_name(&m, "other.example.test");
	end_rr(&m, a);
	/* a target compressed into "xmpp." + the question's "example.test" */
	size_t at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 20);
	put16(&m, 0);
	put16(&m, 5223);
	m.b[m.n++] = 4;
	memcpy(m.b + m.n, "xmpp", 4);
	m.n += 4;
	put_ptr(&m, QNAME_AT + 1 + 12 + 1 + 4); /* past "_xmpp-client" and "_tcp" */
	end_rr(&m, at);
	at = rr(&m, DNS_SRV_TYPE, 3); /* class CH: skipped */
	put16(&m, 0), put16(&m, 0), put16(&m, 1);
	put_name(&m, "chaos.example.test");
	end_rr(&m, at);
	int n = dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].target, "m2.example.test");
	assert_int_equal(r[0].priority, 10);
	assert_int_equal(r[0].weight, 5);
	assert_int_equal(r[0].port, 5222);
	assert_string_equal(r[1].target, "xmpp.example.test");
	assert_int_equal(r[1].priority, 20);
	assert_int_equal(r[1].port, 5223);
	/* at most max */
	assert_int_equal(dns_srv_parse(m.b, m.n, r, 1), 1);
	assert_string_equal(r[0].target, "m2.example.test");
	/* every strict prefix is malformed, never read past */
	for (size_t k = 0; k < m.n; k++)
		assert_int_equal(dns_srv_parse(m.b, k, r, DNS_SRV_MAX), -1);
}

static void test_no_records(void **state)
{
	(void)state;
	struct msg m;
	struct dns_srv r[DNS_SRV_MAX];

	start(&m, RESPONSE | 3, 0); /* NXDOMAIN */
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), 0);
	start(&m, RESPONSE | 2, 1); /* SERVFAIL, whatever follows */
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), 0);
	start(&m, RESPONSE, 0); /* NODATA */
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), 0);
	/* RFC 2782: a single record with target "." means no such service */
	start(&m, RESPONSE, 1);
	srv(&m, 0, 0, 0, "");
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), DNS_SRV_NONE);
	/* unusable records are skipped: port 0, odd targets */
	start(&m, RESPONSE, 4);
	srv(&m, 0, 0, 0, "m1.example.test");
	srv(&m, 0, 0, 5222, "bad name.example.test");
	srv(&m, 0, 0, 5222, "semi;colon");
	srv(&m, 0, 0, 5222, "");
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), 0);
}

static void test_malformed(void **state)
{
	(void)state;
	struct msg m;
	struct dns_srv r[DNS_SRV_MAX];

	/* a query, not a response */
	start(&m, 0x0100, 0);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
	assert_int_equal(dns_srv_parse(m.b, 11, r, DNS_SRV_MAX), -1);
	/* a target pointing at itself, and one pointing forward */
	start(&m, RESPONSE, 1);
	size_t at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 0), put16(&m, 0), put16(&m, 5222);
	put_ptr(&m, m.n);
	end_rr(&m, at);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
	start(&m, RESPONSE, 1);
	at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 0), put16(&m, 0), put16(&m, 5222);
	put_ptr(&m, m.n + 2);
	put_name(&m, "x");
	end_rr(&m, at);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
	/* rdata longer than the target name, and shorter than the fixed part */
	start(&m, RESPONSE, 1);
	at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 0), put16(&m, 0), put16(&m, 5222);
	put_name(&m, "m1");
	put16(&m, 0);
	end_rr(&m, at);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
	start(&m, RESPONSE, 1);
	at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 0), put16(&m, 0);
	end_rr(&m, at);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
	/* a reserved label type (0x40) */
	start(&m, RESPONSE, 1);
	at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 0), put16(&m, 0), put16(&m, 5222);
	m.b[m.n++] = 0x41;
	m.b[m.n++] = 'a';
	m.b[m.n++] = 0;
	end_rr(&m, at);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
	/* a name longer than 255 bytes on the wire */
	start(&m, RESPONSE, 1);
	at = rr(&m, DNS_SRV_TYPE, 1);
	put16(&m, 0), put16(&m, 0), put16(&m, 5222);
	for (int i = 0; i < 5; i++) {
		m.b[m.n++] = 60;
		memset(m.b + m.n, 'a', 60);
		m.n += 60;
	}
	m.b[m.n++] = 0;
	end_rr(&m, at);
	assert_int_equal(dns_srv_parse(m.b, m.n, r, DNS_SRV_MAX), -1);
}

/* A fixed sequence of "random" values, or xorshift. */
struct seq {
	const uint32_t *v;
	unsigned n, i;
	uint32_t x;
};

static uint32_t next_rand(void *ctx)
{
	struct seq *s = ctx;
	if (s->v)
		return s->v[s->i++ % s->n];
	s->x ^= s->x << 13;
	s->x ^= s->x >> 17;
	s->x ^= s->x << 5;
	return s->x;
}

static void set(struct dns_srv *r, uint16_t prio, uint16_t weight, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->priority = prio;
	r->weight = weight;
	strcpy(r->target, name);
}

static void test_order_priority(void **state)
{
	(void)state;
	struct dns_srv r[4];
	static const uint32_t zero[] = { 0 };
	struct seq s = { zero, 1, 0, 0 };

	set(&r[0], 30, 1, "c");
	set(&r[1], 10, 1, "a1");
	set(&r[2], 20, 1, "b");
	set(&r[3], 10, 1, "a2");
	dns_srv_order(r, 4, next_rand, &s);
	assert_int_equal(r[0].priority, 10);
	assert_int_equal(r[1].priority, 10);
	assert_string_equal(r[2].target, "b");
	assert_string_equal(r[3].target, "c");
	/* a draw of 0 takes the first in line, the largest the last */
	assert_string_equal(r[0].target, "a1");
	static const uint32_t top[] = { UINT32_MAX };
	s = (struct seq){ top, 1, 0, 0 };
	set(&r[0], 10, 1, "a1");
	set(&r[1], 10, 1, "a2");
	dns_srv_order(r, 2, next_rand, &s);
	assert_string_equal(r[0].target, "a2");
	dns_srv_order(r, 0, next_rand, &s); /* nothing to do */
}

/* RFC 2782 draws from 0..sum inclusive and takes the first record whose
 * running sum reaches the draw: with weights 1 and 3 the heavier goes
 * first for draws 2, 3 and 4 (3 times in 5); weight 0 goes first only on
 * a draw of exactly 0 (1 in sum + 1). */
static void test_order_weights(void **state)
{
	(void)state;
	struct seq s = { NULL, 0, 0, 2463534242u };
	unsigned heavy_first = 0, zero_first = 0, trials = 20000;

	for (unsigned t = 0; t < trials; t++) {
		struct dns_srv r[2];
		set(&r[0], 5, 1, "light");
		set(&r[1], 5, 3, "heavy");
		dns_srv_order(r, 2, next_rand, &s);
		heavy_first += strcmp(r[0].target, "heavy") == 0;
		assert_string_not_equal(r[0].target, r[1].target);
		set(&r[0], 5, 10, "ten");
		set(&r[1], 5, 0, "zero");
		dns_srv_order(r, 2, next_rand, &s);
		zero_first += strcmp(r[0].target, "zero") == 0;
	}
	assert_in_range(heavy_first, trials * 56 / 100, trials * 64 / 100);
	assert_in_range(zero_first, trials * 5 / 100, trials * 14 / 100); /* 1/11 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_no_records),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_order_priority),
		cmocka_unit_test(test_order_weights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
