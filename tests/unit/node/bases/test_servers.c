/* How config.json's STUN/TURN servers merge with the ones the XMPP server
 * lists (XEP-0215; servers.c, docs/config.md "STUN/TURN servers from the
 * XMPP server"): config.json's entries first and in their order; a
 * discovered TURN service equal in host, port and transport to an entry
 * gives it credentials only when the entry has none; other discovered
 * services follow; every answer replaces the previous one. The node is not
 * started, so no STUN round or relay allocation begins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bases.h"
#include "node_conf.h"

static struct node_conf conf;
static struct bases b;

static void conf_turn(unsigned i, char *host, uint16_t port, enum node_turn_transport tr, char *user, char *pass)
{
	conf.turn[i] = (struct node_turn){ .host = host, .port = port, .transport = tr, .user = user, .pass = pass };
	if (conf.n_turn < i + 1)
		conf.n_turn = i + 1;
}

static struct bases_disc disc(bool turn, const char *host, uint16_t port, enum node_turn_transport tr,
			      const char *user, const char *pass, int64_t expires)
{
	struct bases_disc d = { .turn = turn, .port = port, .transport = tr, .expires = expires };
	snprintf(d.host, sizeof(d.host), "%s", host);
	snprintf(d.user, sizeof(d.user), "%s", user);
	snprintf(d.pass, sizeof(d.pass), "%s", pass);
	return d;
}

static int setup(void **state)
{
	(void)state;
	memset(&conf, 0, sizeof(conf));
	memset(&b, 0, sizeof(b));
	b.conf = &conf;
	conf.stun[0] = (struct node_stun){ .host = "stun.example.test", .port = 3478 };
	conf.n_stun = 1;
	conf_turn(0, "turn1.example.test", 3478, NODE_TURN_UDP, "alice", "conf-pass");
	conf_turn(1, "turn2.example.test", 443, NODE_TURN_TLS, NULL, NULL);
	servers_from_conf(&b);
	return 0;
}

/* config.json's credentials win over the XMPP server's for the same
 * server; an entry without credentials takes the discovered ones. */
static void test_conf_credentials_win_empty_entry_takes_discovered(void **state)
{
	(void)state;
	struct bases_disc d[] = {
		disc(true, "TURN1.example.test", 3478, NODE_TURN_UDP, "1700000000:n", "rest-1", 1700000000),
		disc(true, "turn2.example.test", 443, NODE_TURN_TLS, "1700000000:n", "rest-2", 1700000000),
	};
	bases_set_discovered(&b, d, 2, 1000);
	assert_int_equal(b.nturn, 2);
	assert_string_equal(b.turn_srv[0].user, "alice");
	assert_string_equal(b.turn_srv[0].pass, "conf-pass");
	assert_false(b.turn_srv[0].creds_discovered);
	assert_string_equal(b.turn_srv[1].user, "1700000000:n");
	assert_string_equal(b.turn_srv[1].pass, "rest-2");
	assert_true(b.turn_srv[1].creds_discovered);
	assert_false(b.turn_srv[1].discovered); /* still config.json's entry */
	assert_int_equal(b.turn_srv[1].expires, 1700000000);
}

/* The same host and port over another transport is another service: it is
 * added after config.json's entries, which keep their order. */
static void test_other_services_follow_in_order(void **state)
{
	(void)state;
	struct bases_disc d[] = {
		disc(true, "turn1.example.test", 3478, NODE_TURN_TCP, "u-tcp", "p-tcp", 0),
		disc(true, "relay.example.test", 3478, NODE_TURN_UDP, "u-r", "p-r", 0),
		disc(false, "stun2.example.test", 3478, NODE_TURN_UDP, "", "", 0),
		disc(false, "stun.example.test", 3478, NODE_TURN_UDP, "", "", 0), /* config.json's */
	};
	bases_set_discovered(&b, d, 4, 1000);
	assert_int_equal(b.nturn, 4);
	assert_string_equal(b.turn_srv[0].host, "turn1.example.test");
	assert_int_equal(b.turn_srv[0].transport, NODE_TURN_UDP);
	assert_string_equal(b.turn_srv[1].host, "turn2.example.test");
	assert_string_equal(b.turn_srv[2].host, "turn1.example.test");
	assert_int_equal(b.turn_srv[2].transport, NODE_TURN_TCP);
	assert_true(b.turn_srv[2].discovered);
	assert_string_equal(b.turn_srv[3].host, "relay.example.test");
	assert_string_equal(b.turn_srv[3].pass, "p-r");
	assert_int_equal(b.nstun, 2);
	assert_string_equal(b.stun_srv[0].host, "stun.example.test");
	assert_false(b.stun_srv[0].discovered);
	assert_string_equal(b.stun_srv[1].host, "stun2.example.test");
	assert_true(b.stun_srv[1].discovered);
}

/* Every answer replaces the last: a service the server no longer lists is
 * gone, and config.json's entry without credentials has none again until
 * the server gives some. A TURN service without credentials is not used. */
static void test_answer_replaces_previous(void **state)
{
	(void)state;
	struct bases_disc first[] = {
		disc(true, "turn2.example.test", 443, NODE_TURN_TLS, "t1:n", "old", 100),
		disc(true, "relay.example.test", 3478, NODE_TURN_UDP, "t1:n", "old", 100),
	};
	bases_set_discovered(&b, first, 2, 1000);
	assert_int_equal(b.nturn, 3);

	struct bases_disc second[] = {
		disc(true, "relay.example.test", 3478, NODE_TURN_UDP, "t2:n", "new", 200),
		disc(true, "nocreds.example.test", 3478, NODE_TURN_UDP, "", "", 0),
	};
	bases_set_discovered(&b, second, 2, 2000);
	assert_int_equal(b.nturn, 3);
	assert_string_equal(b.turn_srv[1].host, "turn2.example.test");
	assert_string_equal(b.turn_srv[1].user, "");
	assert_false(b.turn_srv[1].creds_discovered);
	assert_string_equal(b.turn_srv[2].host, "relay.example.test");
	assert_string_equal(b.turn_srv[2].pass, "new");
	assert_int_equal(b.turn_srv[2].expires, 200);

	bases_set_discovered(&b, NULL, 0, 3000);
	assert_int_equal(b.nturn, 2);
	assert_int_equal(b.nstun, 1);
}

/* More discovered services than the table holds: the rest are dropped and
 * config.json's entries stay. */
static void test_table_bounded(void **state)
{
	(void)state;
	struct bases_disc d[BASES_MAX_TURN + 4];
	char host[32];
	for (unsigned i = 0; i < BASES_MAX_TURN + 4; i++) {
		snprintf(host, sizeof(host), "r%u.example.test", i);
		d[i] = disc(true, host, 3478, NODE_TURN_UDP, "u", "p", 0);
	}
	bases_set_discovered(&b, d, BASES_MAX_TURN + 4, 1000);
	assert_int_equal(b.nturn, BASES_MAX_TURN);
	assert_string_equal(b.turn_srv[0].host, "turn1.example.test");
	assert_string_equal(b.turn_srv[BASES_MAX_TURN - 1].host, "r13.example.test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_conf_credentials_win_empty_entry_takes_discovered, setup),
		cmocka_unit_test_setup(test_other_services_follow_in_order, setup),
		cmocka_unit_test_setup(test_answer_replaces_previous, setup),
		cmocka_unit_test_setup(test_table_bounded, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
