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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
