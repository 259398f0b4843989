/* The link core (src/node/link) on a fake clock, with fake bases and a fake
 * XMPP (linksim.h): offer/answer, glare and restarts; relay first, then an
 * upgrade to direct, then the fallback; roaming and the loss of a relay.
 * Node 0's id is the lowest, so it is the controlling side of its links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "addr.h"
#include "gone.h"
#include "link.h"
#include "linksim.h"
#include "log.h"

static bool both_up(struct sim *s, void *arg)
{
	(void)arg;
	return sim_up(s, 0, 1) && sim_up(s, 1, 0);
}

static bool path_direct(struct sim *s, void *arg)
{
	(void)arg;
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	return a && b && a->have_path && b->have_path && !link_path_relayed(a) && !link_path_relayed(b);
}

static bool path_relayed(struct sim *s, void *arg)
{
	(void)arg;
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	return a && b && link_path_relayed(a) && link_path_relayed(b);
}

/* Data from i reaches j (a packet sent now opens there). */
static void assert_data_flows(struct sim *s, int i, int j)
{
	uint64_t before = s->node[j].rx_data;
	sim_send_data(s, i, j, 100);
	sim_run(s, 20);
	assert_true(s->node[j].rx_data > before);
}

static struct sim *linked_pair(void)
{
	struct sim *s = sim_new(2);
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, both_up, NULL, 5000));
	return s;
}

static void test_offer_answer(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	assert_true(a->controlling);
	assert_false(b->controlling);
	assert_int_equal(a->state, LINK_OFFERED);
	/* found by the member's node id as by its JID; another id finds none */
	assert_ptr_equal(links_by_id(&s->node[0].t, a->id), a);
	uint8_t other[SIGNAL_ID_LEN];
	memcpy(other, a->id, SIGNAL_ID_LEN);
	other[0] ^= 1;
	assert_null(links_by_id(&s->node[0].t, other));
	assert_true(sim_until(s, both_up, NULL, 5000));
	assert_true(path_direct(s, NULL));
	assert_true(a->have_info && b->have_info);
	assert_memory_equal(a->key, s->node[1].kp.pub, 32);
	assert_memory_equal(b->key, s->node[0].kp.pub, 32);
	assert_data_flows(s, 0, 1);
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

/* The first packets wait for the handshake instead of being dropped. */
static void test_staged_packets_leave_after_handshake(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_null(sim_link(s, 0, 1)->stage); /* allocated with the first staged packet */
	sim_send_data(s, 0, 1, 64); /* no path yet: staged */
	sim_send_data(s, 0, 1, 64);
	assert_non_null(sim_link(s, 0, 1)->stage);
	assert_int_equal(sim_link(s, 0, 1)->nstaged, 2);
	assert_true(sim_until(s, both_up, NULL, 5000));
	sim_run(s, 50);
	assert_int_equal(s->node[1].rx_data, 2);
	assert_int_equal(sim_link(s, 0, 1)->nstaged, 0);
	sim_free(s);
}

/* The offer is lost: the controlling side offers again after its timeout. */
static void test_lost_offer_is_repeated(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->drop_signals = true;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	sim_run(s, 1000);
	assert_false(both_up(s, NULL));
	s->drop_signals = false;
	assert_true(sim_until(s, both_up, NULL, 15000));
	sim_free(s);
}

/* Offers cross answers: node 1's answers are held while node 0, seeing
 * none, offers again, the same offer (the same ICE session); then both
 * answers arrive, late. The first brings the link up (a new ufrag for the
 * repeat made it an answer to a session that was gone), the repeated one
 * is ignored, and the idle link is quiet afterwards (no offer loop). */
static void test_crossed_offers_and_stale_answer(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->hold_from = 1;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	struct link *a = sim_link(s, 0, 1);
	char first[SIGNAL_UFRAG_MAX + 1];
	snprintf(first, sizeof(first), "%s", a->lufrag);
	uint64_t offers = s->node[0].signals_sent;
	sim_run(s, 12500); /* no answer: node 0 offered again after 10 s (+ at most 2 s spread) */
	assert_true(s->node[0].signals_sent > offers);
	assert_string_equal(first, a->lufrag); /* the same session */
	assert_int_equal(a->state, LINK_OFFERED);
	struct link *b = sim_link(s, 1, 0);
	char answered[SIGNAL_UFRAG_MAX + 1];
	snprintf(answered, sizeof(answered), "%s", b->lufrag);
	sim_release(s);
	assert_true(sim_until(s, both_up, NULL, 5000));
	assert_string_equal(b->rufrag, a->lufrag);
	assert_string_equal(b->lufrag, answered); /* node 1 answered the repeat without a restart */
	assert_string_equal(a->rufrag, b->lufrag);
	uint64_t sent = s->node[0].signals_sent + s->node[1].signals_sent;
	sim_run(s, 30000);
	assert_true(both_up(s, NULL));
	assert_int_equal(s->node[0].signals_sent + s->node[1].signals_sent, sent);
	assert_data_flows(s, 0, 1);
	sim_free(s);
}

/* A peer that never answers (or a server that holds the messages) gets
 * offers 10 s, then 20, 40 and 80 s apart, not one every 10 s; an answer
 * resets the back-off. */
static void test_unanswered_offers_back_off(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->hold_from = 1;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	uint64_t before = s->node[0].signals_sent;
	sim_run(s, 160000);
	/* offers at about 0, 10, 30, 70 and 150 s */
	uint64_t offers = s->node[0].signals_sent - before + 1;
	assert_true(offers >= 4 && offers <= 5);
	assert_true(sim_link(s, 0, 1)->offers_unanswered >= 4);
	sim_release(s);
	assert_true(sim_until(s, both_up, NULL, 100000));
	assert_int_equal(sim_link(s, 0, 1)->offers_unanswered, 0);
	sim_free(s);
}

static bool restarted_up(struct sim *s, void *arg)
{
	unsigned *ups = arg;
	struct link *a = sim_link(s, 0, 1);
	return a && a->state == LINK_UP && a->last_handshake_ms > *ups && both_up(s, NULL);
}

/* Node 1 restarts (same key, no state): its hello makes node 0 start the
 * link over; data flows again both ways. */
/* The controlled side answered an offer, and the controlling side dropped
 * the link meanwhile (here it restarted, and the answer never reached
 * it): no check will ever come. The answering side holds its checks to
 * the peer's reflexive candidate for the peer's first one and rechecks
 * failed pairs, so ICE alone left the link in "checking" for minutes
 * (N=200, n77 -> n64). It fails after LINK_CHECK_WAIT_MS (30 s) and,
 * after the back-off, asks for a new offer with a hello; the restarted
 * peer answers that and the link comes up. */
static void test_controlled_wait_is_bounded(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->node[1].t.env.prime_ttl = 2; /* holds checks to reflexive candidates */
	sim_set_srflx(s, 0, "203.0.113.7:4000");
	sim_local_changed(s, 0, false);
	s->hold_from = 1; /* node 1's answer never arrives */
	sim_online(s, 1, 0);
	sim_online(s, 0, 1);
	sim_run(s, 100);
	struct link *b = sim_link(s, 1, 0);
	assert_non_null(b);
	assert_int_equal(b->state, LINK_CHECKING);
	sim_restart_node(s, 0); /* node 0 forgets the link */
	sim_run(s, 25000);
	assert_int_equal(sim_link(s, 1, 0)->state, LINK_CHECKING); /* not before the bound */
	sim_run(s, 6000);
	b = sim_link(s, 1, 0);
	assert_int_equal(b->state, LINK_FAILED); /* 30 s after the answer */
	assert_false(b->ice_on);
	/* node 1 asks for an offer after the back-off (5 s); node 0 offers */
	s->hold_from = -1;
	uint64_t hellos = s->node[1].signals_sent;
	assert_true(sim_until(s, both_up, NULL, 10000));
	assert_true(s->node[1].signals_sent > hellos);
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

/* The same, with the overlay reaching node 0 and data to send: the
 * packets do not wait on the link being set up but take the overlay at
 * once (a handshake there, node 0 makes its end on it); ICE goes on, and
 * when its session is given up the link stays up through the overlay. */
static void test_setup_packets_take_overlay(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->overlay = true;
	s->node[1].t.env.prime_ttl = 2;
	sim_set_srflx(s, 0, "203.0.113.7:4000");
	sim_local_changed(s, 0, false);
	s->hold_from = 1;
	sim_online(s, 1, 0);
	sim_online(s, 0, 1);
	sim_run(s, 100);
	sim_restart_node(s, 0);
	struct link *b = sim_link(s, 1, 0);
	assert_int_equal(b->state, LINK_CHECKING);
	sim_send_data(s, 1, 0, 100);
	assert_true(link_path_overlay(b));
	sim_run(s, 100);
	assert_int_equal(s->node[0].rx_data, 1); /* through the overlay, at once */
	assert_int_equal(b->nstaged, 0);
	assert_int_equal(b->state, LINK_UP);
	assert_true(b->ice_on); /* still looking for a direct path */
	struct link *a = sim_link(s, 0, 1);
	assert_non_null(a);
	assert_true(link_path_overlay(a));
	assert_data_flows(s, 1, 0);
	assert_data_flows(s, 0, 1);
	sim_run(s, 31000);
	assert_false(b->ice_on); /* given up after the bound, not checking for ever */
	assert_int_equal(b->state, LINK_UP);
	assert_true(link_path_overlay(b));
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

/* A request cancelled while answered (the overlay's stale-request
 * eviction): node 1 asks node 0 with a hello and, 10 ms later, cancels
 * with a bye; node 0's offer crosses that bye, node 1 takes it for a new
 * request and answers, while node 0 has removed its end. Node 0 answers
 * the orphan answer with a bye, and node 1 drops its end in
 * milliseconds, instead of a link in "checking" that nothing answers. */
static void test_bye_crosses_offer(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	sim_online(s, 1, 0); /* node 1 asks: a hello */
	sim_run(s, 30);      /* node 0 offered (on its way) */
	assert_non_null(sim_link(s, 0, 1));
	assert_int_equal(sim_link(s, 0, 1)->state, LINK_OFFERED);
	sim_bye(s, 1, 0); /* the request is cancelled */
	sim_run(s, 40);   /* node 1 got the offer and answered; node 0 got the bye */
	assert_null(sim_link(s, 0, 1));
	sim_run(s, 100);
	assert_null(sim_link(s, 1, 0)); /* the orphan answer's bye */
	assert_null(sim_link(s, 0, 1));
	uint64_t sent = s->node[0].signals_sent + s->node[1].signals_sent;
	sim_run(s, 60000);
	assert_null(sim_link(s, 1, 0));
	assert_null(sim_link(s, 0, 1));
	assert_int_equal(s->node[0].signals_sent + s->node[1].signals_sent, sent); /* quiet */
	sim_free(s);
}

static void test_peer_restart(void **state)
{
	(void)state;
	struct sim *s = linked_pair();
	unsigned before = (unsigned)sim_link(s, 0, 1)->last_handshake_ms;
	sim_restart_node(s, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, restarted_up, &before, 10000));
	assert_data_flows(s, 0, 1);
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

static void set_net(struct sim *s, int i, const char *ip6, const char *route)
{
	struct link_env *e = &s->node[i].t.env;
	e->has_ip6 = true;
	assert_int_equal(inet_pton(AF_INET6, ip6, &e->self_ip6), 1);
	e->n_routes = 1;
	assert_null(ip_prefix_parse(route, &e->routes[0], NULL));
}

static void assert_net(struct link *l, const char *ip6, const char *route)
{
	char a[INET6_ADDRSTRLEN], r[IP_PREFIX_STRLEN];
	assert_non_null(l);
	assert_int_equal(l->net.has_ip6, ip6 != NULL);
	assert_int_equal(l->net.n_routes, route != NULL);
	if (ip6)
		assert_string_equal(inet_ntop(AF_INET6, &l->net.ip6, a, sizeof(a)), ip6);
	if (route)
		assert_string_equal(ip_prefix_format(&l->net.routes[0], r), route);
}

static bool all_up(struct sim *s, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < s->n; i++)
		for (unsigned j = 0; j < s->n; j++)
			if (i != j && !sim_up(s, (int)i, (int)j))
				return false;
	return true;
}

/* Offers and answers carry ip6 and routes next to ip4 (docs/ipv6.md): each
 * link keeps what its peer announced, a v4-only node's links have none,
 * and a peer that comes back with other routes replaces them. */
static void test_ip6_and_routes_announced(void **state)
{
	(void)state;
	struct sim *s = sim_new(3);
	set_net(s, 0, "fd00::1", "10.77.0.0/24");
	set_net(s, 1, "fd00::2", "fd00:77::/64");
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				sim_online(s, i, j);
	assert_true(sim_until(s, all_up, NULL, 10000));
	assert_net(sim_link(s, 1, 0), "fd00::1", "10.77.0.0/24"); /* from an offer */
	assert_net(sim_link(s, 0, 1), "fd00::2", "fd00:77::/64"); /* from an answer */
	assert_net(sim_link(s, 2, 0), "fd00::1", "10.77.0.0/24");
	assert_net(sim_link(s, 0, 2), NULL, NULL); /* node 2 has IPv4 only */
	assert_net(sim_link(s, 1, 2), NULL, NULL);

	unsigned before = (unsigned)sim_link(s, 0, 1)->last_handshake_ms;
	sim_restart_node(s, 1);
	set_net(s, 1, "fd00::2", "fd00:78::/64");
	sim_online(s, 1, 0);
	assert_true(sim_until(s, restarted_up, &before, 10000));
	assert_net(sim_link(s, 0, 1), "fd00::2", "fd00:78::/64");
	assert_net(sim_link(s, 1, 0), "fd00::1", "10.77.0.0/24");
	sim_free(s);
}

/* Both ask for an ICE restart at once: the controlled side's request
 * crosses the controlling side's restart offer. The link stays up, and
 * one new ICE session results. */
static void test_restart_requests_cross(void **state)
{
	(void)state;
	struct sim *s = linked_pair();
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	link_ice_restart(a, s->now, "test");
	link_ice_restart(b, s->now, "test");
	sim_run(s, 3000);
	assert_true(both_up(s, NULL));
	assert_string_equal(a->rufrag, b->lufrag);
	assert_string_equal(b->rufrag, a->lufrag);
	assert_false(a->ice_restarting);
	assert_data_flows(s, 0, 1);
	sim_free(s);
}

/* Direct blocked: the link comes up through a relay; once the direct path
 * opens it moves there; when it closes again it falls back to the relay. */
static void test_relay_upgrade_fallback(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	sim_set_relay(s, 0, true, SIM_RELAY_BASE, "192.0.2.1:50000");
	sim_set_relay(s, 1, true, SIM_RELAY_BASE, "192.0.2.1:50001");
	sim_local_changed(s, 0, false);
	sim_local_changed(s, 1, false);
	s->block_direct = true;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, both_up, NULL, 20000));
	assert_true(path_relayed(s, NULL));
	assert_data_flows(s, 0, 1);
	sim_run(s, 40000); /* the direct checks time out meanwhile */
	assert_true(path_relayed(s, NULL));
	s->block_direct = false;
	uint64_t t0 = s->now;
	assert_true(sim_until(s, path_direct, NULL, 10000));
	if (getenv("TEST_LINK_LOG"))
		fprintf(stderr, "upgrade after %llu ms\n", (unsigned long long)(s->now - t0));
	assert_data_flows(s, 0, 1);
	assert_data_flows(s, 1, 0);
	s->block_direct = true;
	assert_true(sim_until(s, path_relayed, NULL, 40000));
	assert_true(both_up(s, NULL));
	assert_data_flows(s, 0, 1);
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

static bool has_remote_relay(struct sim *s, void *arg)
{
	(void)arg;
	struct link *b = sim_link(s, 1, 0);
	for (unsigned i = 0; b && b->ice_on && i < b->ice.nremote; i++)
		if (b->ice.remote[i].type == ICE_CAND_RELAY &&
		    addr_equal((struct sockaddr *)&b->ice.remote[i].addr, (struct sockaddr *)&s->node[0].relayed))
			return true;
	return false;
}

/* The relay allocation comes after the offer: the relayed candidate is
 * trickled, so the peer knows it as a relay candidate (not as a
 * peer-reflexive address seen in a check), and both ends call the path
 * relayed. */
static void test_trickled_relay_candidate(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->block_direct = true;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	sim_run(s, 200);
	sim_set_relay(s, 0, true, SIM_RELAY_BASE, "192.0.2.1:50000");
	sim_local_changed(s, 0, false);
	assert_true(sim_until(s, has_remote_relay, NULL, 1000));
	assert_true(sim_until(s, both_up, NULL, 20000));
	assert_true(sim_until(s, path_relayed, NULL, 5000));
	assert_int_equal(sim_link(s, 1, 0)->sel_remote.type, ICE_CAND_RELAY);
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

static bool a_follows_b(struct sim *s, void *arg)
{
	const struct sockaddr_in *to = arg;
	struct link *a = sim_link(s, 0, 1);
	return a && addr_equal((struct sockaddr *)&a->endpoint, (const struct sockaddr *)to) && both_up(s, NULL) &&
	       !a->ice_restarting;
}

/* Node 1's address moves (a NAT rebinding): node 0 follows its packets,
 * ICE restarts, and the link never leaves "up". */
static void test_roaming(void **state)
{
	(void)state;
	struct sim *s = linked_pair();
	struct link *a = sim_link(s, 0, 1);
	uint64_t state_ms = a->state_ms;
	struct sockaddr_storage moved;
	assert_int_equal(addr_parse("198.51.100.99:4000", 0, &moved), 0);
	sim_run(s, 1000); /* quiet for longer than ROAM_QUIET_MS */
	memcpy(&s->node[1].host, &moved, sizeof(s->node[1].host));
	sim_local_changed(s, 1, true);
	sim_send_data(s, 1, 0, 100);
	/* followed at once, on the authenticated packet, before ICE restarts */
	assert_true(addr_equal((struct sockaddr *)&a->endpoint, (struct sockaddr *)&s->node[1].host));
	assert_data_flows(s, 0, 1);
	assert_true(sim_until(s, a_follows_b, &s->node[1].host, 10000));
	assert_int_equal(a->state_ms, state_ms); /* never left up */
	assert_data_flows(s, 0, 1);
	sim_free(s);
}

static bool new_relay_path(struct sim *s, void *arg)
{
	uint32_t *base = arg;
	struct link *a = sim_link(s, 0, 1);
	return a && a->have_path && a->base_id == *base && both_up(s, NULL);
}

/* The relay the link uses dies; a new allocation comes (another base and
 * address): the link restarts ICE and runs over the new one. */
static void test_relay_loss(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	sim_set_relay(s, 0, true, SIM_RELAY_BASE, "192.0.2.1:50000");
	sim_local_changed(s, 0, false);
	s->block_direct = true;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, both_up, NULL, 20000));
	struct link *a = sim_link(s, 0, 1);
	assert_int_equal(a->base_id, SIM_RELAY_BASE);
	/* the allocation dies */
	sim_set_relay(s, 0, false, SIM_RELAY_BASE, NULL);
	links_base_failed(&s->node[0].t, SIM_RELAY_BASE, s->now);
	assert_true(a->relay_lost);
	sim_run(s, 500);
	/* a new one, elsewhere */
	sim_set_relay(s, 0, true, SIM_RELAY_BASE + 1, "192.0.2.1:50100");
	sim_local_changed(s, 0, false);
	links_relay_settled(&s->node[0].t, s->now);
	uint32_t want = SIM_RELAY_BASE + 1;
	assert_true(sim_until(s, new_relay_path, &want, 20000));
	assert_false(a->relay_lost);
	assert_data_flows(s, 0, 1);
	assert_data_flows(s, 1, 0);
	sim_free(s);
}

/* A link that is not up (no working data path: here every path is
 * blocked) ends LINKS_GONE_GRACE_MS after the peer's "unavailable"
 * presence, unless our own XMPP went down meanwhile (a server shutting
 * down says it for all). */
static void test_offline_grace(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->block_direct = true;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	sim_run(s, 1000);
	assert_non_null(sim_link(s, 0, 1));
	assert_int_not_equal(sim_link(s, 0, 1)->state, LINK_UP);
	link_offline(sim_link(s, 0, 1), s->now);
	links_xmpp_state(&s->node[0].t, false, s->now);
	sim_run(s, LINKS_GONE_GRACE_MS + 1000);
	assert_non_null(sim_link(s, 0, 1));
	link_offline(sim_link(s, 0, 1), s->now);
	sim_run(s, LINKS_GONE_GRACE_MS - 1000);
	assert_non_null(sim_link(s, 0, 1));
	sim_run(s, 2000);
	assert_null(sim_link(s, 0, 1));
	sim_free(s);
}

/* The peer's XMPP session goes away (its server died) but the tunnel
 * works: the link stays up, idle for a minute (only ICE consent checks
 * prove the path), and data flows; when the peer is back online nothing
 * starts over. */
static void test_offline_data_path_alive(void **state)
{
	(void)state;
	struct sim *s = linked_pair();
	struct link *a = sim_link(s, 0, 1);
	char ufrag[sizeof(a->lufrag)];
	uint64_t hs = a->last_handshake_ms;
	snprintf(ufrag, sizeof(ufrag), "%s", a->lufrag);
	link_offline(a, s->now);
	link_offline(sim_link(s, 1, 0), s->now);
	sim_run(s, 60000);
	assert_ptr_equal(sim_link(s, 0, 1), a);
	assert_int_equal(a->state, LINK_UP);
	assert_true(s->now - gone_heard_ms(a) < GONE_SILENT_MS);
	assert_data_flows(s, 0, 1);
	assert_data_flows(s, 1, 0);
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	sim_run(s, 3000);
	assert_ptr_equal(sim_link(s, 0, 1), a);
	assert_int_equal(a->state, LINK_UP);
	assert_string_equal(a->lufrag, ufrag); /* no restart, no new ICE session */
	assert_true(a->last_handshake_ms == hs);
	assert_int_equal(a->offline_ms, 0);
	sim_free(s);
}

/* The peer is offline and then its data path dies: the link ends
 * GONE_SILENT_MS after the last answer, not at the presence. */
static void test_offline_data_path_dies(void **state)
{
	(void)state;
	struct sim *s = linked_pair();
	link_offline(sim_link(s, 0, 1), s->now);
	sim_run(s, 20000);
	assert_non_null(sim_link(s, 0, 1));
	s->block_direct = true;
	uint64_t heard = gone_heard_ms(sim_link(s, 0, 1)), blocked = s->now;
	assert_true(blocked - heard < 7000); /* consent answers every 4-6 s */
	sim_run(s, heard + GONE_SILENT_MS - blocked - 100);
	assert_non_null(sim_link(s, 0, 1));
	sim_run(s, 1200);
	assert_null(sim_link(s, 0, 1));
	/* the other side, which still sees its peer online, keeps trying */
	assert_non_null(sim_link(s, 1, 0));
	sim_free(s);
}

static int setup(void **state)
{
	(void)state;
	log_init("test_link", getenv("TEST_LINK_LOG") ? LOG_LVL_DEBUG : LOG_LVL_WARN, false);
	return noise_init();
}

/* Multi-port probing between a hard and an easy NAT, bounded: the easy
 * side sends hard_ports primes a round (2 rounds) with the prime TTL, the
 * hard side asks for sockets once, sends one check per socket a round (10
 * rounds), then stops and gives the sockets back. (No NAT is modelled
 * here: nothing meets; bench/nat_hard measures the meeting.) */
static bool probing_over(struct sim *s, void *arg)
{
	(void)arg;
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	return a && b && a->hn.phase == HARDNAT_OVER && b->hn.phase == HARDNAT_OVER;
}

static void test_hard_nat_probing_bounded(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	for (int i = 0; i < 2; i++) {
		struct link_env *e = &s->node[i].t.env;
		e->nat = i == 0 ? SIGNAL_NAT_HARD : SIGNAL_NAT_EASY;
		e->prime_ttl = 2;
		e->hard_sockets = 8;
		e->hard_ports = 16;
	}
	sim_set_srflx(s, 0, "198.51.100.2:40000");
	sim_set_srflx(s, 1, "203.0.113.2:40000");
	sim_set_relay(s, 0, true, SIM_RELAY_BASE, "192.0.2.1:50000");
	sim_set_relay(s, 1, true, SIM_RELAY_BASE, "192.0.2.1:50001");
	s->block_direct = true; /* relayed: nothing direct ends the probing early */
	sim_local_changed(s, 0, false);
	sim_local_changed(s, 1, false);
	s->pool_grant = 8;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, both_up, NULL, 20000));
	assert_int_equal(sim_link(s, 0, 1)->hn.role, HARDNAT_SPRAY);
	assert_int_equal(sim_link(s, 1, 0)->hn.role, HARDNAT_PRIME);
	assert_true(sim_until(s, probing_over, NULL, 60000));
	sim_run(s, 30000);
	assert_int_equal(s->node[0].tx_pool, 8 * HARDNAT_ROUNDS);
	assert_int_equal(sim_link(s, 1, 0)->hn.sent, 16 * HARDNAT_PRIME_ROUNDS);
	/* every prime with the TTL (ICE primes its srflx pairs too, a few) */
	assert_true(s->node[1].tx_ttl >= 16 * HARDNAT_PRIME_ROUNDS && s->node[1].tx_ttl <= 16 * HARDNAT_PRIME_ROUNDS + 12);
	assert_int_equal(hardnat_pool_want(sim_link(s, 0, 1)), 0); /* given back */
	assert_true(s->node[0].pool_events >= 2);                     /* asked, then released */
	assert_true(both_up(s, NULL));
	sim_free(s);
}

/* Node 1 is under load (its handshake bucket is empty, as in a flood of
 * initiations): node 0's initiation gets a cookie reply, goes again at
 * once with mac2, and the link comes up without waiting for the 5 s
 * retry. With cookies off it waits for a token instead. */
static void test_handshake_under_load(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	struct noise_local *busy = &s->node[1].noise;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	uint64_t t0 = s->now;
	/* keep node 1's bucket empty for the whole setup */
	while (!both_up(s, NULL) && s->now - t0 < 3000) {
		busy->init_bucket.tokens_milli = 0;
		busy->init_bucket.last_ms = s->now;
		sim_run(s, 5);
	}
	assert_true(both_up(s, NULL));
	assert_true(s->node[1].cookie_replies >= 1);
	assert_true(busy->rx_mac2_ok >= 1);
	assert_true(s->now - t0 < NOISE_REKEY_TIMEOUT_MS); /* no retry timer waited for */
	assert_data_flows(s, 0, 1);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_answer),
		cmocka_unit_test(test_staged_packets_leave_after_handshake),
		cmocka_unit_test(test_lost_offer_is_repeated),
		cmocka_unit_test(test_crossed_offers_and_stale_answer),
		cmocka_unit_test(test_unanswered_offers_back_off),
		cmocka_unit_test(test_controlled_wait_is_bounded),
		cmocka_unit_test(test_setup_packets_take_overlay),
		cmocka_unit_test(test_bye_crosses_offer),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_ip6_and_routes_announced),
		cmocka_unit_test(test_restart_requests_cross),
		cmocka_unit_test(test_relay_upgrade_fallback),
		cmocka_unit_test(test_trickled_relay_candidate),
		cmocka_unit_test(test_roaming),
		cmocka_unit_test(test_relay_loss),
		cmocka_unit_test(test_offline_grace),
		cmocka_unit_test(test_hard_nat_probing_bounded),
		cmocka_unit_test(test_handshake_under_load),
		cmocka_unit_test(test_offline_data_path_alive),
		cmocka_unit_test(test_offline_data_path_dies),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
