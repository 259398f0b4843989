/* Trust inside the group (src/node/link: pins.c, owners.c, trust.c,
 * slots.c): each attack a member can make is refused and the benign case
 * next to it still works.
 *   - a key that is not its node id's, a node id under another member;
 *   - an address (ip4 or ip6) taken over, its owner online or offline, or
 *     still in use; the trust file across the IPv6 change (the owners
 *     table's own rules: test_owners.c);
 *   - a member's resources flooding the link table;
 * with the fake network of linksim.h for what crosses links. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "link.h"
#include "linksim.h"
#include "owners.h"
#include "test_addr.h"
#include "pins.h"
#include "slots.h"
#include "trust.h"

/* A key and its node id (seed makes it reproducible). */
static void key_id(uint8_t seed, uint8_t key[SIGNAL_KEY_LEN], uint8_t id[SIGNAL_ID_LEN])
{
	memset(key, seed, SIGNAL_KEY_LEN);
	crypto_generichash(id, SIGNAL_ID_LEN, key, SIGNAL_KEY_LEN, NULL, 0);
}

static void jid_of(const char *bare, const uint8_t id[SIGNAL_ID_LEN], char *out, size_t cap)
{
	char hex[2 * SIGNAL_ID_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), id, SIGNAL_ID_LEN);
	snprintf(out, cap, "%s/ipop-%s", bare, hex);
}

/* ---- pins ---- */

static void test_pins(void **state)
{
	(void)state;
	struct pins t;
	uint8_t k1[32], id1[20], k2[32], id2[20];
	const struct pin *p;
	key_id(1, k1, id1);
	key_id(2, k2, id2);
	pins_init(&t);
	assert_true(pins_id_matches(id1, k1));
	assert_false(pins_id_matches(id1, k2));
	assert_int_equal(pins_check(&t, id1, k1, "bob@x.org", &p), PIN_NEW);
	assert_int_equal(pins_note(&t, id1, k1, "bob@x.org", 1000), 0);
	assert_true(t.dirty);
	assert_int_equal(pins_check(&t, id1, k1, "bob@x.org", &p), PIN_OK);
	/* bob's id from mallory's account, and another key for bob's id */
	assert_int_equal(pins_check(&t, id1, k1, "mallory@x.org", &p), PIN_OTHER_MEMBER);
	assert_string_equal(p->bare, "bob@x.org");
	assert_int_equal(pins_check(&t, id1, k2, "bob@x.org", &p), PIN_OTHER_KEY);

	/* a member's pins are bounded: its oldest goes, nobody else's */
	assert_int_equal(pins_note(&t, id2, k2, "carol@x.org", 1), 0);
	for (int i = 0; i < PINS_PER_MEMBER + 5; i++) {
		uint8_t k[32], id[20];
		key_id((uint8_t)(10 + i), k, id);
		assert_int_equal(pins_note(&t, id, k, "mallory@x.org", 2000 + i), 0);
	}
	size_t m = 0;
	for (size_t i = 0; i < t.n; i++)
		m += strcmp(t.p[i].bare, "mallory@x.org") == 0;
	assert_int_equal(m, PINS_PER_MEMBER);
	assert_non_null(pins_find(&t, id2));
	assert_non_null(pins_find(&t, id1));

	/* persistence round trip, and what the parser refuses */
	struct pins u;
	pins_init(&u);
	char line[PINS_LINE_MAX];
	for (size_t i = 0; i < t.n; i++) {
		assert_true(pins_format_line(&t.p[i], line, sizeof(line)) > 0);
		assert_int_equal(strncmp(line, "pin ", 4), 0);
		line[strlen(line) - 1] = '\0';
		assert_null(pins_parse_line(&u, line + 4));
	}
	assert_int_equal(u.n, t.n);
	assert_int_equal(pins_check(&u, id1, k1, "bob@x.org", NULL), PIN_OK);
	assert_int_equal(pins_find(&u, id1)->seen_s, 1000);
	assert_true(pins_format_line(pins_find(&t, id1), line, sizeof(line)) > 0);
	line[strlen(line) - 1] = '\0';
	assert_string_equal(pins_parse_line(&u, line + 4), "node id pinned twice");
	char hex[41], b64[45];
	sodium_bin2hex(hex, sizeof(hex), id1, 20);
	pins_key_b64(k2, b64);
	snprintf(line, sizeof(line), "%s %s bob@x.org 5", hex, b64);
	assert_string_equal(pins_parse_line(&u, line), "node id is not the key's (BLAKE2b)");
	assert_non_null(pins_parse_line(&u, "zz AAAA bob@x.org 5"));
	snprintf(line, sizeof(line), "%s %s Bob@X.org 5", hex, b64);
	assert_non_null(pins_parse_line(&u, line));
	assert_non_null(pins_parse_line(&u, ""));
	pins_free(&u);

	/* forget: by member, by node id */
	assert_int_equal(pins_forget(&t, "MALLORY@x.org"), PINS_PER_MEMBER);
	assert_int_equal(pins_forget(&t, hex), 1);
	assert_null(pins_find(&t, id1));
	assert_int_equal(pins_forget(&t, "nothing"), 0);
	assert_int_equal(t.n, 1);
	pins_free(&t);
}

/* The trust file across the change: a file written before IPv6 ownership
 * loads as it did; a new one loads in a v4-only node too (its IPv6 lines
 * kept for when it gets an ip6) and is written back the same. */
static void test_owners6_file(void **state)
{
	(void)state;
	static const char *old_file[] = {
		"# ipopd trust state (docs/security.md): written by ipopd; edit only while it is stopped",
		"owner 172.31.0.2 bob@x.org 1700000000",
		"owner 172.31.0.3 carol@x.org 1700000100",
	};
	struct trust tr, v4;
	char line[PINS_LINE_MAX + 64];
	size_t cur = 0, n6 = 0;
	struct in6_addr a;
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &a), 1);
	trust_init(&tr, true, ip("172.31.0.1"), 24);
	owners_set_ip6(&tr.owners, &a, 64);
	for (size_t i = 0; i < 3; i++)
		assert_null(trust_parse_line(&tr, old_file[i]));
	assert_int_equal(tr.owners.n, 2);
	assert_string_equal(owners_find(&tr.owners, A("172.31.0.3"))->bare, "carol@x.org");
	assert_null(trust_parse_line(&tr, "owner fd00::2 bob@x.org 1700000200"));

	trust_init(&v4, true, ip("172.31.0.1"), 24);
	while (trust_next_line(&tr, &cur, line, sizeof(line))) {
		line[strcspn(line, "\n")] = '\0';
		assert_null(trust_parse_line(&v4, line));
		n6 += strncmp(line, "owner fd00::", 12) == 0;
	}
	assert_int_equal(n6, 1);
	assert_int_equal(v4.owners.n, 3);
	assert_string_equal(owners_find(&v4.owners, A("fd00::2"))->bare, "bob@x.org");
	trust_free(&v4);
	trust_free(&tr);
}

static struct signal_msg hello(const uint8_t id[20], const uint8_t key[32], const char *addr)
{
	struct signal_msg m;
	memset(&m, 0, sizeof(m));
	m.kind = SIGNAL_HELLO;
	memcpy(m.from, id, 20);
	m.has_key = true;
	memcpy(m.key, key, 32);
	m.has_ip4 = true;
	m.ip4 = ip(addr);
	return m;
}

static void test_judge(void **state)
{
	(void)state;
	struct trust tr;
	struct links t;
	uint8_t kb[32], ib[20], km[32], im[20];
	char bob[200], mal[200], mal_as_bob[200];
	key_id(0xb0, kb, ib);
	key_id(0x30, km, im);
	jid_of("bob@x.org", ib, bob, sizeof(bob));
	jid_of("mallory@x.org", im, mal, sizeof(mal));
	jid_of("mallory@x.org", ib, mal_as_bob, sizeof(mal_as_bob));
	links_init(&t);
	trust_init(&tr, true, ip("172.31.0.1"), 24);

	struct signal_msg m = hello(ib, kb, "172.31.0.2");
	assert_null(trust_judge(&tr, &t, bob, &m, 100)); /* benign: bob */
	assert_int_equal(pins_check(&tr.pins, ib, kb, "bob@x.org", NULL), PIN_OK);

	/* mallory announces bob's key under her own node id */
	m = hello(im, kb, "172.31.0.5");
	const char *why = trust_judge(&tr, &t, mal, &m, 101);
	assert_non_null(why);
	assert_non_null(strstr(why, "is not its node id's"));
	assert_string_equal(trust_refusal_of(&tr, mal)->why, why);
	/* ...or under bob's node id, from her account */
	m = hello(ib, kb, "172.31.0.5");
	assert_non_null(strstr(trust_judge(&tr, &t, mal_as_bob, &m, 102), "first seen under bob@x.org"));
	/* her own key, with bob's address once bob owns it */
	tr.owners.dirty = false;
	assert_int_equal(owners_note(&tr.owners, A("172.31.0.2"), "bob@x.org", 103), 0);
	m = hello(im, km, "172.31.0.2");
	assert_string_equal(trust_judge(&tr, &t, mal, &m, 104), "172.31.0.2 belongs to bob@x.org");
	m = hello(im, km, "10.77.0.2");
	assert_string_equal(trust_judge(&tr, &t, mal, &m, 104), "10.77.0.2 is outside this overlay's 172.31.0.0/24");
	assert_int_equal(tr.refused, 4);
	assert_int_equal(trust_refusal_of(&tr, mal)->count, 3);
	/* benign: her own key and a free address; the refusal is cleared */
	m = hello(im, km, "172.31.0.5");
	assert_null(trust_judge(&tr, &t, mal, &m, 105));
	assert_null(trust_refusal_of(&tr, mal));
	/* social mode: addresses are the friends' own, not checked */
	struct trust soc;
	trust_init(&soc, false, ip("172.31.0.1"), 24);
	m = hello(im, km, "172.31.0.1");
	assert_null(trust_judge(&soc, &t, mal, &m, 1));
	m = hello(im, kb, "172.31.0.1");
	assert_non_null(trust_judge(&soc, &t, mal, &m, 1)); /* keys are checked in both modes */
	trust_free(&soc);

	/* the trust file: every line back, mapped owners not */
	struct trust back;
	trust_init(&back, true, ip("172.31.0.1"), 24);
	char line[PINS_LINE_MAX + 64];
	size_t cur = 0, lines = 0;
	while (trust_next_line(&tr, &cur, line, sizeof(line))) {
		line[strcspn(line, "\n")] = '\0';
		assert_null(trust_parse_line(&back, line));
		lines++;
	}
	assert_int_equal(lines, 1 + tr.pins.n + tr.owners.n);
	assert_int_equal(back.pins.n, tr.pins.n);
	assert_int_equal(back.owners.n, tr.owners.n);
	assert_non_null(trust_parse_line(&back, "pin"));
	assert_non_null(trust_parse_line(&back, "key AAAA"));
	assert_null(trust_parse_line(&back, "   # comment"));
	size_t np, no;
	trust_forget(&back, "bob@x.org", &np, &no);
	assert_int_equal(np, 1);
	assert_int_equal(no, 1);
	trust_free(&back);
	trust_free(&tr);
	links_free(&t);
}

/* ip6 next to ip4: a refused ip6 is cleared from the message, counted and
 * kept for ipopctl, and the member links IPv4 only; a node without ip6
 * judges no ip6 (a v4-only node next to dual-stack ones). */
static void test_judge6(void **state)
{
	(void)state;
	struct trust tr, v4;
	struct links t;
	uint8_t kb[32], ib[20], km[32], im[20];
	char bob[200], mal[200];
	struct in6_addr self6;
	key_id(0xb0, kb, ib);
	key_id(0x30, km, im);
	jid_of("bob@x.org", ib, bob, sizeof(bob));
	jid_of("mallory@x.org", im, mal, sizeof(mal));
	links_init(&t);
	trust_init(&tr, true, ip("172.31.0.1"), 24);
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &self6), 1);
	owners_set_ip6(&tr.owners, &self6, 64);

	struct signal_msg m = hello(ib, kb, "172.31.0.2");
	m.has_ip6 = inet_pton(AF_INET6, "fd00::2", &m.ip6) == 1;
	assert_null(trust_judge(&tr, &t, bob, &m, 100)); /* benign: bob */
	assert_true(m.has_ip6);
	assert_int_equal(owners_note(&tr.owners, A("fd00::2"), "bob@x.org", 100), 0);

	/* mallory, her own ip4 and bob's ip6: she links IPv4 only */
	m = hello(im, km, "172.31.0.5");
	m.has_ip6 = inet_pton(AF_INET6, "fd00::2", &m.ip6) == 1;
	assert_null(trust_judge(&tr, &t, mal, &m, 101));
	assert_false(m.has_ip6);
	assert_int_equal(tr.refused, 1);
	assert_string_equal(trust_refusal_of(&tr, mal)->why, "fd00::2 belongs to bob@x.org; IPv4 only");
	/* outside the prefix, then the benign case: the refusal is cleared */
	m.has_ip6 = inet_pton(AF_INET6, "fd01::5", &m.ip6) == 1;
	assert_null(trust_judge(&tr, &t, mal, &m, 102));
	assert_false(m.has_ip6);
	assert_non_null(strstr(trust_refusal_of(&tr, mal)->why, "outside this overlay's fd00::/64"));
	m.has_ip6 = inet_pton(AF_INET6, "fd00::5", &m.ip6) == 1;
	assert_null(trust_judge(&tr, &t, mal, &m, 103));
	assert_true(m.has_ip6);
	assert_null(trust_refusal_of(&tr, mal));

	/* a node without ip6 leaves the ip6 to the daemon ("IPv4 only") */
	trust_init(&v4, true, ip("172.31.0.1"), 24);
	m = hello(im, km, "172.31.0.5");
	m.has_ip6 = inet_pton(AF_INET6, "fd00::2", &m.ip6) == 1;
	assert_null(trust_judge(&v4, &t, mal, &m, 104));
	assert_true(m.has_ip6);
	assert_int_equal(v4.refused, 0);
	trust_free(&v4);
	trust_free(&tr);
	links_free(&t);
}

/* ---- the same on the fake network ---- */

static bool up01(struct sim *s, void *arg)
{
	(void)arg;
	return sim_up(s, 0, 1) && sim_up(s, 1, 0);
}

static void assert_flows(struct sim *s, int i, int j)
{
	uint64_t before = s->node[j].rx_data;
	sim_send_data(s, i, j, 100);
	sim_run(s, 20);
	assert_true(s->node[j].rx_data > before);
}

/* A presence names a key and an address for the overlay (members reached
 * without a direct link): what trust_judge refuses in a message is cleared
 * from it, the rest stays. */
static void test_judge_presence(void **state)
{
	(void)state;
	struct trust tr;
	struct links t;
	uint8_t kb[32], ib[20], km[32], im[20];
	char bob[200], mal[200], mal_as_bob[200];
	key_id(0xb0, kb, ib);
	key_id(0x30, km, im);
	jid_of("bob@x.org", ib, bob, sizeof(bob));
	jid_of("mallory@x.org", im, mal, sizeof(mal));
	jid_of("mallory@x.org", ib, mal_as_bob, sizeof(mal_as_bob));
	links_init(&t);
	trust_init(&tr, true, ip("172.31.0.1"), 24);
	struct signal_presence p = { .has_ip4 = true, .ip4 = ip("172.31.0.2"), .has_key = true };

	/* benign: bob's own key and a free address; nothing is pinned yet */
	memcpy(p.key, kb, 32);
	assert_int_equal(trust_judge_presence(&tr, &t, bob, &p, 100), 0);
	assert_true(p.has_key && p.has_ip4);
	assert_null(pins_find(&tr.pins, ib));
	struct signal_msg m = hello(ib, kb, "172.31.0.2");
	assert_null(trust_judge(&tr, &t, bob, &m, 100));
	assert_int_equal(owners_note(&tr.owners, A("172.31.0.2"), "bob@x.org", 100), 0);

	/* mallory: bob's key under her id, and bob's address */
	assert_int_equal(trust_judge_presence(&tr, &t, mal, &p, 101), 2);
	assert_false(p.has_key);
	assert_false(p.has_ip4);
	assert_int_equal(tr.refused, 2);
	assert_non_null(strstr(trust_refusal_of(&tr, mal)->why, "172.31.0.2 belongs to bob@x.org"));
	/* bob's id from her account: the key goes, her free address stays */
	p = (struct signal_presence){ .has_ip4 = true, .ip4 = ip("172.31.0.5"), .has_key = true };
	memcpy(p.key, kb, 32);
	assert_int_equal(trust_judge_presence(&tr, &t, mal_as_bob, &p, 102), 1);
	assert_false(p.has_key);
	assert_true(p.has_ip4);
	/* her own key and a free address */
	p = (struct signal_presence){ .has_ip4 = true, .ip4 = ip("172.31.0.5"), .has_key = true };
	memcpy(p.key, km, 32);
	assert_int_equal(trust_judge_presence(&tr, &t, mal, &p, 103), 0);
	/* outside the subnet; not an ipop resource */
	p.ip4 = ip("10.77.0.2");
	assert_int_equal(trust_judge_presence(&tr, &t, mal, &p, 104), 1);
	p = (struct signal_presence){ .has_ip4 = true, .ip4 = ip("172.31.0.6") };
	assert_int_equal(trust_judge_presence(&tr, &t, "mallory@x.org/laptop", &p, 105), 1);
	assert_false(p.has_ip4);

	/* ip6 in presence (a dual-stack member): kept when this node has
	 * IPv6 and the address is free, refused when it is somebody's */
	struct in6_addr self6, b6;
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &self6), 1);
	assert_int_equal(inet_pton(AF_INET6, "fd00::2", &b6), 1);
	p = (struct signal_presence){ .has_ip4 = true, .ip4 = ip("172.31.0.2"), .has_ip6 = true, .ip6 = b6 };
	assert_int_equal(trust_judge_presence(&tr, &t, bob, &p, 106), 0);
	assert_false(p.has_ip6); /* this node is IPv4 only: dropped, not a refusal */
	assert_true(p.has_ip4);
	owners_set_ip6(&tr.owners, &self6, 64);
	p = (struct signal_presence){ .has_ip4 = true, .ip4 = ip("172.31.0.2"), .has_ip6 = true, .ip6 = b6 };
	assert_int_equal(trust_judge_presence(&tr, &t, bob, &p, 107), 0);
	assert_true(p.has_ip6 && p.has_ip4);
	assert_int_equal(owners_note(&tr.owners, ip_addr_of(AF_INET6, &b6), "bob@x.org", 107), 0);
	unsigned refused = tr.refused;
	p = (struct signal_presence){ .has_ip4 = true, .ip4 = ip("172.31.0.5"), .has_ip6 = true, .ip6 = b6 };
	assert_int_equal(trust_judge_presence(&tr, &t, mal, &p, 108), 1);
	assert_false(p.has_ip6);
	assert_true(p.has_ip4); /* her own address stays */
	assert_int_equal(tr.refused, refused + 1);
	assert_non_null(strstr(trust_refusal_of(&tr, mal)->why, "fd00::2 belongs to bob@x.org"));
	trust_free(&tr);
	links_free(&t);
}

/* Node 2 (another member) announces node 1's address: node 0 refuses it
 * while node 1 is online, and after node 1 left (it owns the address
 * since its link was up), and node 1 still links when it is back. */
static void test_takeover_refused(void **state)
{
	(void)state;
	struct sim *s = sim_new(3);
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, up01, NULL, 5000));
	struct in_addr a1 = s->node[1].t.env.self_ip4;
	assert_non_null(owners_find(&s->node[0].trust.owners, ip_addr_of(AF_INET, &a1)));

	s->node[2].t.env.self_ip4 = a1; /* mallory's config says bob's address */
	sim_online(s, 0, 2);
	sim_online(s, 2, 0);
	sim_run(s, 3000);
	struct link *m = sim_link(s, 0, 2);
	assert_non_null(m);
	assert_false(m->have_info);
	assert_true(m->state != LINK_UP);
	const struct trust_refusal *r = trust_refusal_of(&s->node[0].trust, s->node[2].jid);
	assert_non_null(r);
	assert_non_null(strstr(r->why, "172.31.0.2 belongs to n1@example.test"));
	assert_true(s->node[0].refused >= 1);
	assert_flows(s, 0, 1);
	assert_flows(s, 1, 0);

	/* node 1 goes away; mallory claims again; then node 1 comes back */
	links_remove(&s->node[0].t, sim_link(s, 0, 1));
	links_remove(&s->node[0].t, m);
	sim_restart_node(s, 1);
	sim_restart_node(s, 2);
	s->node[2].t.env.self_ip4 = a1;
	uint64_t before = s->node[0].refused;
	sim_online(s, 0, 2);
	sim_online(s, 2, 0);
	sim_run(s, 3000);
	assert_true(s->node[0].refused > before);
	assert_false(sim_link(s, 0, 2)->have_info);
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, up01, NULL, 5000));
	assert_flows(s, 0, 1);
	sim_free(s);
}

/* Node 2 announces an address outside node 0's subnet: refused; with a
 * free address of the subnet it links (the benign case). */
static void test_outside_subnet(void **state)
{
	(void)state;
	struct sim *s = sim_new(3);
	s->node[2].t.env.self_ip4 = ip("10.77.0.2");
	sim_online(s, 0, 2);
	sim_online(s, 2, 0);
	sim_run(s, 3000);
	assert_false(sim_up(s, 0, 2));
	assert_non_null(strstr(trust_refusal_of(&s->node[0].trust, s->node[2].jid)->why, "outside"));
	s->node[2].t.env.self_ip4 = ip("172.31.0.9");
	sim_run(s, 12000); /* node 0 offers again; node 2's answer now claims .9 */
	assert_true(sim_up(s, 0, 2));
	assert_null(trust_refusal_of(&s->node[0].trust, s->node[2].jid));
	sim_free(s);
}

/* Nodes with ip6 fd00::(i+1)/64 (as node_trust_open sets them up). */
static void dual_stack(struct sim *s, int i, const char *ip6)
{
	struct link_env *e = &s->node[i].t.env;
	e->has_ip6 = inet_pton(AF_INET6, ip6, &e->self_ip6) == 1;
	assert_true(e->has_ip6);
	if (i == 0)
		owners_set_ip6(&s->node[0].trust.owners, &e->self_ip6, 64);
}

/* Node 2 announces node 1's ip6 next to its own ip4: node 0 refuses the
 * ip6 (its link to node 2 carries none), keeps it node 1's, and node 1's
 * link stays; node 3 has no ip6 and links like before. */
static void test_takeover6_refused(void **state)
{
	(void)state;
	struct sim *s = sim_new(4);
	dual_stack(s, 0, "fd00::1");
	dual_stack(s, 1, "fd00::2");
	dual_stack(s, 2, "fd00::2"); /* mallory's config says bob's ip6 */
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, up01, NULL, 5000));
	assert_true(sim_link(s, 0, 1)->net.has_ip6);
	assert_string_equal(owners_find(&s->node[0].trust.owners, A("fd00::2"))->bare, "n1@example.test");

	sim_online(s, 0, 2);
	sim_online(s, 2, 0);
	sim_online(s, 0, 3);
	sim_online(s, 3, 0);
	sim_run(s, 3000);
	struct link *m = sim_link(s, 0, 2);
	assert_true(sim_up(s, 0, 2)); /* IPv4 only */
	assert_false(m->net.has_ip6);
	const struct trust_refusal *r = trust_refusal_of(&s->node[0].trust, s->node[2].jid);
	assert_non_null(r);
	assert_string_equal(r->why, "fd00::2 belongs to n1@example.test; IPv4 only");
	assert_true(sim_link(s, 0, 1)->net.has_ip6);
	assert_string_equal(owners_find(&s->node[0].trust.owners, A("fd00::2"))->bare, "n1@example.test");
	assert_flows(s, 0, 1);
	/* the v4-only member */
	assert_true(sim_up(s, 0, 3));
	assert_false(sim_link(s, 0, 3)->net.has_ip6);
	assert_null(trust_refusal_of(&s->node[0].trust, s->node[3].jid));
	sim_free(s);
}

/* ---- slots ---- */

static struct links *table(void)
{
	struct links *t = calloc(1, sizeof(*t));
	static struct noise_local nl;
	struct noise_keypair kp;
	assert_non_null(t);
	links_init(t);
	assert_int_equal(noise_keypair_generate(&kp), 0);
	noise_local_init(&nl, &kp, 0);
	t->env.noise = &nl;
	t->env.slot_cap = 1600;
	memset(t->env.self_id, 0xff, SIGNAL_ID_LEN);
	return t;
}

static struct link *add(struct links *t, const char *bare, unsigned n, uint64_t now)
{
	uint8_t id[20];
	char jid[200];
	memset(id, 0, sizeof(id));
	memcpy(id, &n, sizeof(n));
	jid_of(bare, id, jid, sizeof(jid));
	struct link *l = links_get(t, jid, now, true);
	assert_non_null(l);
	return l;
}

static void test_slots_per_member(void **state)
{
	(void)state;
	struct links *t = table();
	struct link *victim;
	const char *why;
	char jid[200];
	uint8_t id[20] = { 0x99 };
	for (unsigned i = 0; i < 4; i++)
		add(t, "mallory@x.org", i, 1000 + i);
	jid_of("mallory@x.org", id, jid, sizeof(jid));
	/* her fifth: her own oldest never-up link makes room */
	assert_int_equal(slots_admit(t, jid, 4, &victim, &why), SLOTS_EVICT);
	assert_int_equal(victim->created_ms, 1000);
	/* all four up: refused */
	for (unsigned i = 0; i < t->n; i++)
		t->l[i]->ever_up = true;
	assert_int_equal(slots_admit(t, jid, 4, &victim, &why), SLOTS_FULL);
	assert_null(victim);
	/* another member is not held back by her */
	jid_of("alice@x.org", id, jid, sizeof(jid));
	assert_int_equal(slots_admit(t, jid, 4, &victim, &why), SLOTS_ROOM);
	/* the cap is configurable */
	jid_of("mallory@x.org", id, jid, sizeof(jid));
	assert_int_equal(slots_admit(t, jid, 8, &victim, &why), SLOTS_ROOM);
	links_free(t);
	free(t);
}

/* A live link of another member that announced the ip6, before any owner
 * was recorded (its handshake still running): the claim is refused as in
 * use, like an ip4. */
static void test_in_use6(void **state)
{
	(void)state;
	struct links *t = table();
	struct trust tr;
	struct in6_addr self6;
	uint8_t km[32], im[20];
	char mal[200];
	struct link *b = add(t, "bob@x.org", 1, 1000);
	b->have_info = true;
	b->net.has_ip6 = inet_pton(AF_INET6, "fd00::2", &b->net.ip6) == 1;
	trust_init(&tr, true, ip("172.31.0.1"), 24);
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &self6), 1);
	owners_set_ip6(&tr.owners, &self6, 64);
	key_id(0x30, km, im);
	jid_of("mallory@x.org", im, mal, sizeof(mal));
	struct signal_msg m = hello(im, km, "172.31.0.5");
	m.has_ip6 = inet_pton(AF_INET6, "fd00::2", &m.ip6) == 1;
	assert_null(trust_judge(&tr, t, mal, &m, 100));
	assert_false(m.has_ip6);
	assert_string_equal(trust_refusal_of(&tr, mal)->why, "fd00::2 is in use by bob@x.org; IPv4 only");
	trust_free(&tr);
	links_free(t);
	free(t);
}

/* A full table: a newcomer takes the place of the oldest never-up link of
 * the member holding the most; up links are never evicted. */
static void test_slots_table_full(void **state)
{
	(void)state;
	struct links *t = table();
	struct link *victim;
	const char *why;
	char jid[200], bare[64];
	uint8_t id[20] = { 0x77 };
	unsigned k = 0;
	for (unsigned m = 0; m < LINKS_MAX / 4; m++) {
		snprintf(bare, sizeof(bare), "m%u@x.org", m);
		for (unsigned i = 0; i < 4; i++, k++) {
			struct link *l = add(t, bare, k, 1000 + k);
			l->ever_up = m != 5; /* only m5's are pending */
		}
	}
	assert_int_equal(t->n, LINKS_MAX);
	jid_of("newcomer@x.org", id, jid, sizeof(jid));
	assert_int_equal(slots_admit(t, jid, 64, &victim, &why), SLOTS_EVICT);
	assert_non_null(strstr(victim->jid, "m5@x.org"));
	for (unsigned i = 0; i < t->n; i++)
		if (strstr(t->l[i]->jid, "m5@x.org"))
			t->l[i]->ever_up = true;
	assert_int_equal(slots_admit(t, jid, 64, &victim, &why), SLOTS_FULL);
	links_free(t);
	free(t);
}

/* A link that never came up and whose peer never showed presence ends
 * after SLOTS_UNSEEN_MS; one with presence stays. */
static void test_slots_expiry(void **state)
{
	(void)state;
	struct links *t = table();
	struct link *ghost = add(t, "mallory@x.org", 1, 1000), *real = add(t, "bob@x.org", 2, 1000);
	struct link_event ev;
	struct signal_msg msg;
	link_online(real, 1000);
	links_handle_timeout(t, 1000 + SLOTS_UNSEEN_MS - 1);
	while (link_poll_event(ghost, &ev, &msg))
		assert_int_not_equal(ev.type, LINK_EV_GONE);
	links_handle_timeout(t, 1000 + SLOTS_UNSEEN_MS);
	bool gone = false;
	while (link_poll_event(ghost, &ev, &msg))
		gone |= ev.type == LINK_EV_GONE;
	assert_true(gone);
	assert_non_null(ghost->gone_why);
	links_handle_timeout(t, 1000 + 10 * SLOTS_UNSEEN_MS);
	while (link_poll_event(real, &ev, &msg))
		assert_int_not_equal(ev.type, LINK_EV_GONE);
	links_free(t);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_owners6_file),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_judge6),
		cmocka_unit_test(test_judge_presence),
		cmocka_unit_test(test_takeover_refused),
		cmocka_unit_test(test_outside_subnet),
		cmocka_unit_test(test_takeover6_refused),
		cmocka_unit_test(test_in_use6),
		cmocka_unit_test(test_slots_per_member),
		cmocka_unit_test(test_slots_table_full),
		cmocka_unit_test(test_slots_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
