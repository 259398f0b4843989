/* ipopctl netcheck's classification: answers of STUN servers in, verdict
 * out, for each kind of NAT (table-driven, no sockets). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "addr.h"
#include "netcheck.h"

struct answer {
	const char *server, *mapped; /* mapped NULL: no answer */
};

static const struct {
	const char *name, *local;
	struct answer a[4];
	unsigned n;
	enum netcheck_mapping want;
	bool udp, port_preserved;
	const char *public_addr; /* NULL: none */
} cases[] = {
	{ "no answer", "10.0.1.2:4000", { { "192.0.2.1:3478", NULL }, { "192.0.2.2:3478", NULL } }, 2,
	  NETCHECK_MAP_UNKNOWN, false, false, NULL },
	{ "no NAT", "192.0.2.11:4000",
	  { { "192.0.2.1:3478", "192.0.2.11:4000" }, { "192.0.2.2:3478", "192.0.2.11:4000" } }, 2,
	  NETCHECK_MAP_NONE, true, true, "192.0.2.11:4000" },
	{ "cone NAT keeping the port", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:4000" }, { "192.0.2.2:3478", "198.51.100.2:4000" } }, 2,
	  NETCHECK_MAP_INDEPENDENT, true, true, "198.51.100.2:4000" },
	{ "cone NAT changing the port", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:61000" }, { "192.0.2.2:3478", "198.51.100.2:61000" } }, 2,
	  NETCHECK_MAP_INDEPENDENT, true, false, "198.51.100.2:61000" },
	{ "symmetric NAT", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:61000" }, { "192.0.2.2:3478", "198.51.100.2:61001" } }, 2,
	  NETCHECK_MAP_DEPENDENT, true, false, "198.51.100.2:61000" },
	{ "NAT with two public addresses per destination", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:4000" }, { "192.0.2.2:3478", "198.51.100.3:4000" } }, 2,
	  NETCHECK_MAP_DEPENDENT, true, true, "198.51.100.2:4000" },
	{ "port-dependent: two ports of one server differ", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:61000" }, { "192.0.2.1:3479", "198.51.100.2:61001" } }, 2,
	  NETCHECK_MAP_DEPENDENT, true, false, "198.51.100.2:61000" },
	{ "two ports of one server agree: not enough to tell", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:4000" }, { "192.0.2.1:3479", "198.51.100.2:4000" } }, 2,
	  NETCHECK_MAP_SINGLE, true, true, "198.51.100.2:4000" },
	{ "one of two answered", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", NULL }, { "192.0.2.2:3478", "198.51.100.2:4000" } }, 2, NETCHECK_MAP_SINGLE,
	  true, true, "198.51.100.2:4000" },
	{ "one server, no NAT", "192.0.2.11:4000", { { "192.0.2.1:3478", "192.0.2.11:4000" } }, 1,
	  NETCHECK_MAP_NONE, true, true, "192.0.2.11:4000" },
	{ "three servers, third differs", "10.0.1.2:4000",
	  { { "192.0.2.1:3478", "198.51.100.2:4000" },
	    { "192.0.2.2:3478", "198.51.100.2:4000" },
	    { "192.0.2.3:3478", "198.51.100.2:4001" } },
	  3, NETCHECK_MAP_DEPENDENT, true, false, "198.51.100.2:4000" },
	{ "own IP but another port: a port-changing NAT on our address", "192.0.2.11:4000",
	  { { "192.0.2.1:3478", "192.0.2.11:5000" }, { "192.0.2.2:3478", "192.0.2.11:5000" } }, 2,
	  NETCHECK_MAP_INDEPENDENT, true, false, "192.0.2.11:5000" },
};

static void fill(struct netcheck_stun *s, const struct answer *a)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(addr_parse(a->server, 3478, &s->server), 0);
	if (a->mapped) {
		assert_int_equal(addr_parse(a->mapped, 0, &s->mapped), 0);
		s->answered = true;
	} else {
		strcpy(s->error, "timed out");
	}
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct netcheck_stun s[4];
		struct sockaddr_storage local;
		struct netcheck_result r;
		char a[ADDR_STRLEN];

		assert_int_equal(addr_parse(cases[i].local, 0, &local), 0);
		for (unsigned k = 0; k < cases[i].n; k++)
			fill(&s[k], &cases[i].a[k]);
		netcheck_classify((struct sockaddr *)&local, s, cases[i].n, &r);
		print_message("%s: %s\n", cases[i].name, netcheck_mapping_name(r.mapping));
		assert_int_equal(r.mapping, cases[i].want);
		assert_int_equal(r.udp, cases[i].udp);
		assert_int_equal(r.port_preserved, cases[i].port_preserved);
		assert_int_equal(r.asked, cases[i].n);
		if (cases[i].public_addr)
			assert_string_equal(addr_format((struct sockaddr *)&r.public_addr, true, a), cases[i].public_addr);
		else
			assert_int_equal(r.public_addr.ss_family, 0);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(netcheck_mapping_name(NETCHECK_MAP_INDEPENDENT), "endpoint-independent");
	assert_string_equal(netcheck_mapping_name(NETCHECK_MAP_DEPENDENT), "address-dependent");
	assert_string_equal(netcheck_mapping_name((enum netcheck_mapping)99), "?");
	for (int m = NETCHECK_MAP_UNKNOWN; m <= NETCHECK_MAP_SINGLE; m++)
		assert_true(strlen(netcheck_mapping_advice((enum netcheck_mapping)m)) > 10);
}

/* RFC 5780 4.3 / 4.4: the tests' answers in, mapping and filtering out. */
static const struct {
	const char *name, *local;
	const char *mapped[3];          /* tests I, II, III; NULL: no answer */
	bool filt_ran, filt_both, filt_port;
	enum netcheck_mapping want_map;
	enum netcheck_filtering want_filt;
} cases5780[] = {
	{ "no NAT, no firewall", "198.51.100.2:4000",
	  { "198.51.100.2:4000", "198.51.100.2:4000", "198.51.100.2:4000" }, true, true, true,
	  NETCHECK_MAP_NONE, NETCHECK_FILTER_INDEPENDENT },
	{ "MASQUERADE (port-restricted cone)", "10.0.1.2:4000",
	  { "203.0.113.2:4000", "203.0.113.2:4000", "203.0.113.2:4000" }, true, false, false,
	  NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_ADDRESS_PORT },
	{ "restricted cone", "10.0.1.2:4000",
	  { "203.0.113.2:4000", "203.0.113.2:4000", "203.0.113.2:4000" }, true, false, true,
	  NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_ADDRESS },
	{ "full cone", "10.0.1.2:4000",
	  { "203.0.113.2:4000", "203.0.113.2:4000", "203.0.113.2:4000" }, true, true, true,
	  NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_INDEPENDENT },
	{ "address-dependent mapping", "10.0.1.2:4000",
	  { "203.0.113.2:4000", "203.0.113.2:4001", "203.0.113.2:4001" }, true, false, false,
	  NETCHECK_MAP_DEPENDENT, NETCHECK_FILTER_ADDRESS_PORT },
	{ "--random-fully (symmetric)", "10.0.1.2:4000",
	  { "203.0.113.2:61000", "203.0.113.2:61001", "203.0.113.2:61002" }, true, false, false,
	  NETCHECK_MAP_ADDRESS_PORT, NETCHECK_FILTER_ADDRESS_PORT },
	{ "test III lost: dependent, finer unknown", "10.0.1.2:4000",
	  { "203.0.113.2:61000", "203.0.113.2:61001", NULL }, false, false, false,
	  NETCHECK_MAP_DEPENDENT, NETCHECK_FILTER_UNKNOWN },
	{ "only test I: the two-server verdict stays", "10.0.1.2:4000",
	  { "203.0.113.2:4000", NULL, NULL }, false, false, false,
	  NETCHECK_MAP_SINGLE, NETCHECK_FILTER_UNKNOWN },
};

static void test_rfc5780(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases5780) / sizeof(cases5780[0]); i++) {
		struct netcheck_5780 d;
		struct netcheck_result r;
		memset(&d, 0, sizeof(d));
		memset(&r, 0, sizeof(r));
		r.mapping = NETCHECK_MAP_SINGLE; /* what one server's answer gives */
		assert_int_equal(addr_parse("192.0.2.1:3478", 0, &d.server), 0);
		assert_int_equal(addr_parse("192.0.2.3:3479", 0, &d.other), 0);
		assert_int_equal(addr_parse(cases5780[i].local, 0, &d.local), 0);
		for (unsigned k = 0; k < 3; k++) {
			d.map_ok[k] = cases5780[i].mapped[k] != NULL;
			if (d.map_ok[k])
				assert_int_equal(addr_parse(cases5780[i].mapped[k], 0, &d.mapped[k]), 0);
		}
		d.filt_ran = cases5780[i].filt_ran;
		d.filt_both = cases5780[i].filt_both;
		d.filt_port = cases5780[i].filt_port;
		netcheck_classify_5780(&d, &r);
		print_message("%s: %s / %s\n", cases5780[i].name, netcheck_mapping_name(r.mapping),
			      netcheck_filtering_name(r.filtering));
		assert_int_equal(r.mapping, cases5780[i].want_map);
		assert_int_equal(r.filtering, cases5780[i].want_filt);
	}
	/* A server without OTHER-ADDRESS changes nothing. */
	struct netcheck_5780 d;
	struct netcheck_result r;
	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	r.mapping = NETCHECK_MAP_INDEPENDENT;
	d.map_ok[0] = true;
	netcheck_classify_5780(&d, &r);
	assert_int_equal(r.mapping, NETCHECK_MAP_INDEPENDENT);
	assert_false(r.rfc5780);
}

/* The pair table of docs/ipopctl.md. */
static void test_predict(void **state)
{
	(void)state;
	const enum netcheck_direct Y = NETCHECK_DIRECT_YES, N = NETCHECK_DIRECT_NO, U = NETCHECK_DIRECT_UNKNOWN;
	/* rows and columns: netcheck_peer_kinds (no-nat, full, restricted,
	 * port-restricted, symmetric) */
	const enum netcheck_direct want[5][5] = {
		{ Y, Y, Y, Y, Y },
		{ Y, Y, Y, Y, Y },
		{ Y, Y, Y, Y, Y },
		{ Y, Y, Y, Y, N },
		{ Y, Y, Y, N, N },
	};
	for (unsigned a = 0; a < 5; a++) {
		for (unsigned b = 0; b < 5; b++) {
			const struct netcheck_peer_kind *x = &netcheck_peer_kinds[a], *y = &netcheck_peer_kinds[b];
			enum netcheck_direct d = netcheck_predict_direct(x->mapping, x->filtering, y->mapping, y->filtering);
			if (d != want[a][b])
				fail_msg("%s x %s: %s", x->name, y->name, netcheck_direct_name(d));
		}
	}
	/* Address-dependent mapping is as hard as address-and-port-dependent. */
	assert_int_equal(netcheck_predict_direct(NETCHECK_MAP_DEPENDENT, NETCHECK_FILTER_ADDRESS_PORT,
						 NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_ADDRESS_PORT), N);
	/* Unknown filtering: two easy NATs still link (each opens its own
	 * filter towards the other's mapping); easy against hard is unknown. */
	assert_int_equal(netcheck_predict_direct(NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_UNKNOWN,
						 NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_UNKNOWN), Y);
	assert_int_equal(netcheck_predict_direct(NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_UNKNOWN,
						 NETCHECK_MAP_ADDRESS_PORT, NETCHECK_FILTER_UNKNOWN), U);
	assert_int_equal(netcheck_predict_direct(NETCHECK_MAP_DEPENDENT, NETCHECK_FILTER_UNKNOWN,
						 NETCHECK_MAP_DEPENDENT, NETCHECK_FILTER_UNKNOWN), N);
	assert_int_equal(netcheck_predict_direct(NETCHECK_MAP_UNKNOWN, NETCHECK_FILTER_UNKNOWN,
						 NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_ADDRESS_PORT), U);
	assert_string_equal(netcheck_direct_name(Y), "yes");
	assert_string_equal(netcheck_filtering_name(NETCHECK_FILTER_ADDRESS), "address-dependent");
	assert_string_equal(netcheck_mapping_name(NETCHECK_MAP_ADDRESS_PORT), "address-and-port-dependent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rfc5780),
		cmocka_unit_test(test_predict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
