/* The .ipop DNS responder's codec: A answers for friends' names, NXDOMAIN,
 * REFUSED outside .ipop, NODATA for other types, FORMERR/NOTIMP, silence
 * for responses and runts; and the host names friends get (jid_hostname). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns_answer.h"
#include "jid_hostname.h"

static bool lookup(void *ctx, const char *name, struct in_addr *out)
{
	(void)ctx;
	if (strcmp(name, "bob") == 0)
		return inet_pton(AF_INET, "172.31.0.101", out) == 1;
	if (strcmp(name, "carol.example.org") == 0)
		return inet_pton(AF_INET, "172.31.0.110", out) == 1;
	return false;
}

/* A query for name (dotted) with type/class; returns its length. */
static size_t query(uint8_t *q, const char *name, uint16_t type, uint16_t cls, uint16_t flags)
{
	size_t o = 12;
	memset(q, 0, 12);
	q[0] = 0xab, q[1] = 0xcd;
	q[2] = (uint8_t)(flags >> 8), q[3] = (uint8_t)flags;
	q[5] = 1;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[o++] = (uint8_t)l;
		memcpy(q + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	q[o++] = 0;
	q[o++] = (uint8_t)(type >> 8), q[o++] = (uint8_t)type;
	q[o++] = (uint8_t)(cls >> 8), q[o++] = (uint8_t)cls;
	return o;
}

static int rcode(const uint8_t *r)
{
	return r[3] & 15;
}

static int ancount(const uint8_t *r)
{
	return r[6] << 8 | r[7];
}

/* An answer into a cleared buffer (so a stale rcode from the previous
 * answer cannot pass), that must be at least a header long. */
static void answer_fresh(const uint8_t *q, size_t n, uint8_t *r, size_t cap)
{
	memset(r, 0, cap);
	assert_true(dns_answer(q, n, lookup, NULL, r, cap) >= 12);
}

static void test_answers(void **state)
{
	(void)state;
	uint8_t q[600], r[DNS_MAX_UDP];
	size_t n = query(q, "Bob.IPOP", DNS_TYPE_A, DNS_CLASS_IN, 0x0100);
	size_t m = dns_answer(q, n, lookup, NULL, r, sizeof(r));
	assert_int_equal(m, n + 16);
	assert_int_equal(r[0], 0xab);
	assert_int_equal(r[1], 0xcd);
	assert_true(r[2] & 0x80); /* QR */
	assert_true(r[2] & 0x04); /* AA */
	assert_true(r[2] & 0x01); /* RD copied */
	assert_int_equal(rcode(r), DNS_RCODE_OK);
	assert_int_equal(ancount(r), 1);
	assert_memory_equal(r + 12, q + 12, n - 12); /* the question, as asked */
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 172, 31, 0, 101 };
	assert_memory_equal(r + n, rr, sizeof(rr));

	n = query(q, "carol.example.org.ipop", DNS_TYPE_ANY, DNS_CLASS_IN, 0);
	assert_int_equal(dns_answer(q, n, lookup, NULL, r, sizeof(r)), n + 16);
	assert_int_equal(r[n + 15], 110);

	n = query(q, "bob.ipop", 28 /* AAAA */, DNS_CLASS_IN, 0);
	assert_int_equal(dns_answer(q, n, lookup, NULL, r, sizeof(r)), n);
	assert_int_equal(rcode(r), DNS_RCODE_OK);
	assert_int_equal(ancount(r), 0);

	n = query(q, "nobody.ipop", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(dns_answer(q, n, lookup, NULL, r, sizeof(r)), n);
	assert_int_equal(rcode(r), DNS_RCODE_NXDOMAIN);

	n = query(q, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(dns_answer(q, n, lookup, NULL, r, sizeof(r)), n);
	assert_int_equal(rcode(r), DNS_RCODE_REFUSED);
	n = query(q, "xipop", DNS_TYPE_A, DNS_CLASS_IN, 0);
	answer_fresh(q, n, r, sizeof(r));
	assert_int_equal(rcode(r), DNS_RCODE_REFUSED);
}

static void test_bad_queries(void **state)
{
	(void)state;
	uint8_t q[600], r[DNS_MAX_UDP];
	size_t n = query(q, "bob.ipop", DNS_TYPE_A, DNS_CLASS_IN, 0x8000); /* a response */
	assert_int_equal(dns_answer(q, n, lookup, NULL, r, sizeof(r)), 0);
	assert_int_equal(dns_answer(q, 11, lookup, NULL, r, sizeof(r)), 0);
	n = query(q, "bob.ipop", DNS_TYPE_A, DNS_CLASS_IN, 0x2800); /* opcode 5: UPDATE */
	assert_int_equal(dns_answer(q, n, lookup, NULL, r, sizeof(r)), 12);
	assert_int_equal(rcode(r), DNS_RCODE_NOTIMP);
	n = query(q, "bob.ipop", DNS_TYPE_A, DNS_CLASS_IN, 0);
	q[5] = 2; /* two questions */
	answer_fresh(q, n, r, sizeof(r));
	assert_int_equal(rcode(r), DNS_RCODE_FORMERR);
	q[5] = 1;
	assert_int_equal(dns_answer(q, n - 1, lookup, NULL, r, sizeof(r)), 12); /* cut type/class */
	assert_int_equal(rcode(r), DNS_RCODE_FORMERR);
	q[12] = 0xc0; /* a compression pointer in the question */
	answer_fresh(q, n, r, sizeof(r));
	assert_int_equal(rcode(r), DNS_RCODE_FORMERR);
	n = query(q, "b\001b.ipop", DNS_TYPE_A, DNS_CLASS_IN, 0);
	answer_fresh(q, n, r, sizeof(r));
	assert_int_equal(rcode(r), DNS_RCODE_FORMERR);
	/* a name longer than 255 bytes */
	char longname[400] = "";
	for (int i = 0; i < 5; i++)
		strcat(longname, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
	strcat(longname, "ipop");
	n = query(q, longname, DNS_TYPE_A, DNS_CLASS_IN, 0);
	answer_fresh(q, n, r, sizeof(r));
	assert_int_equal(rcode(r), DNS_RCODE_FORMERR);
}

static void test_hostnames(void **state)
{
	(void)state;
	char h[JID_HOSTNAME_MAX];
	const char *all[] = { "Bob@example.org", "carol@example.org", "carol@other.net", "x_y@a.b" };
	assert_true(jid_hostname(all[0], all, 4, h, sizeof(h)));
	assert_string_equal(h, "bob");
	assert_true(jid_hostname(all[1], all, 4, h, sizeof(h)));
	assert_string_equal(h, "carol.example.org");
	assert_true(jid_hostname(all[2], all, 4, h, sizeof(h)));
	assert_string_equal(h, "carol.other.net");
	assert_false(jid_hostname(all[3], all, 4, h, sizeof(h))); /* '_' is no host name */
	const char *ip[] = { "carol@[::1]", "carol@a.b" };
	assert_false(jid_hostname(ip[0], ip, 2, h, sizeof(h)));
	assert_false(jid_hostname("-x@a.b", NULL, 0, h, sizeof(h)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_bad_queries),
		cmocka_unit_test(test_hostnames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
