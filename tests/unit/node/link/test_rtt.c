/* A link's round-trip time (src/node/link/rtt.c): the estimator on its
 * own, then tunnel probes on the fake network of linksim.h with a one-way
 * latency in microseconds, on a direct and on a relayed path, a change of
 * delay, a change of path, and a peer that does not answer probes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link.h"
#include "linksim.h"
#include "rtt.h"
#include "tick.h"
#include "tunnel_packet.h"

static bool both_up(struct sim *s, void *arg)
{
	(void)arg;
	return sim_up(s, 0, 1) && sim_up(s, 1, 0);
}

static bool both_measured(struct sim *s, void *arg)
{
	(void)arg;
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	return a && b && a->rtt.est.samples && b->rtt.est.samples;
}

static struct sim *pair_with_latency(unsigned one_way_us)
{
	struct sim *s = sim_new(2);
	s->latency_us = one_way_us;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, both_up, NULL, 10000));
	return s;
}

/* Runs ms of time with a data packet each way every 500 ms: a link that
 * carries traffic. */
static void run_busy(struct sim *s, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 500) {
		sim_send_data(s, 0, 1, 100);
		sim_send_data(s, 1, 0, 100);
		sim_run(s, 500);
	}
}

/* The median of the last three round trips, smoothed by RFC 6298's rules
 * in integer microseconds; srtt follows the filtered value directly until
 * three are known. */
static void test_estimator(void **state)
{
	(void)state;
	struct rtt_est e;
	rtt_est_reset(&e);
	assert_int_equal(e.samples, 0);
	rtt_est_sample(&e, 1000, 7);
	assert_int_equal(e.srtt_us, 1000);
	assert_int_equal(e.rttvar_us, 500);
	assert_int_equal(e.min_us, 1000);
	assert_int_equal(e.at_ms, 7);
	rtt_est_sample(&e, 2000, 9); /* of two, the smaller */
	assert_int_equal(e.srtt_us, 1000);
	assert_int_equal(e.last_us, 2000);
	rtt_est_sample(&e, 3000, 11); /* median 2000, smoothed */
	/* rttvar = 3/4 * 500 + 1/4 * |1000 - 2000|; srtt = 7/8 * 1000 + 1/8 * 2000 */
	assert_int_equal(e.rttvar_us, 375 + 250);
	assert_int_equal(e.srtt_us, 875 + 250);
	assert_int_equal(e.last_us, 3000);
	assert_int_equal(e.min_us, 1000);
	assert_int_equal(e.samples, 3);
	assert_int_equal(e.at_ms, 11);
	/* one late answer counts as the median of its neighbours */
	rtt_est_sample(&e, 50000, 13);
	assert_int_equal(e.srtt_us, 1125 - 140 + 375);
	assert_int_equal(e.last_us, 50000);
	/* many equal samples converge on them */
	for (int i = 0; i < 100; i++)
		rtt_est_sample(&e, 400, 20);
	assert_true(e.srtt_us >= 400 && e.srtt_us < 410);
	assert_int_equal(e.min_us, 400);
	/* a slow first answer does not linger: three round trips replace it */
	rtt_est_reset(&e);
	rtt_est_sample(&e, 90000, 1);
	rtt_est_sample(&e, 300, 2);
	assert_int_equal(e.srtt_us, 300);
}

/* Both ends measure exactly twice the one-way latency, to the
 * microsecond, within a second of the link coming up, and again every
 * LINK_RTT_PROBE_MS while the path is new. Probes are not data: no byte
 * counter moves. */
static void test_direct_exact(void **state)
{
	(void)state;
	struct sim *s = pair_with_latency(12345);
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	assert_true(a->peer_probes && b->peer_probes);
	assert_true(sim_until(s, both_measured, NULL, 1500));
	assert_false(link_path_relayed(a));
	assert_int_equal(a->rtt.est.last_us, 24690);
	assert_int_equal(a->rtt.est.srtt_us, 24690);
	assert_int_equal(b->rtt.est.last_us, 24690);
	uint64_t n = a->rtt.est.samples, rx = s->node[1].rx_data;
	uint64_t bytes = a->rx_bytes + a->tx_bytes + b->rx_bytes + b->tx_bytes;
	sim_run(s, 3 * LINK_RTT_PROBE_MS);
	assert_true(a->rtt.est.samples >= n + 2);
	assert_int_equal(a->rtt.est.srtt_us, 24690);
	assert_int_equal(a->rtt.est.min_us, 24690);
	assert_true(s->now - a->rtt.est.at_ms <= LINK_RTT_PROBE_MS + 50);
	assert_int_equal(s->node[1].rx_data, rx);
	assert_int_equal(a->rx_bytes + a->tx_bytes + b->rx_bytes + b->tx_bytes, bytes);
	assert_int_equal(a->rtt.pongs_stale + b->rtt.pongs_stale, 0);
	sim_free(s);
}

/* The delay grows: the last sample shows it at once, the smoothed value
 * follows from the second (the median) and within a few more. */
static void test_delay_change(void **state)
{
	(void)state;
	struct sim *s = pair_with_latency(500);
	struct link *a = sim_link(s, 0, 1);
	assert_true(sim_until(s, both_measured, NULL, 2000));
	assert_int_equal(a->rtt.est.srtt_us, 1000);
	s->latency_us = 40000;
	run_busy(s, 2 * LINK_RTT_PROBE_MS + 500);
	assert_int_equal(a->rtt.est.last_us, 80000);
	assert_true(a->rtt.est.srtt_us > 1000 && a->rtt.est.srtt_us < 80000);
	run_busy(s, 45 * LINK_RTT_PROBE_MS);
	assert_true(a->rtt.est.srtt_us > 79000 && a->rtt.est.srtt_us <= 80000);
	assert_int_equal(a->rtt.est.min_us, 1000);
	sim_free(s);
}

static bool path_relayed(struct sim *s, void *arg)
{
	(void)arg;
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	return a && b && link_path_relayed(a) && link_path_relayed(b);
}

/* A relayed link is measured as well, and a move from one path to
 * another starts the estimate over on the new path. */
static void test_relayed_and_path_change(void **state)
{
	(void)state;
	struct sim *s = sim_new(2);
	s->latency_us = 3000;
	sim_set_relay(s, 0, true, SIM_RELAY_BASE, "192.0.2.1:50000");
	sim_set_relay(s, 1, true, SIM_RELAY_BASE, "192.0.2.1:50001");
	sim_local_changed(s, 0, false);
	sim_local_changed(s, 1, false);
	s->block_direct = true;
	sim_online(s, 0, 1);
	sim_online(s, 1, 0);
	assert_true(sim_until(s, both_up, NULL, 20000));
	assert_true(sim_until(s, path_relayed, NULL, 20000));
	assert_true(sim_until(s, both_measured, NULL, 2 * LINK_RTT_PROBE_MS));
	struct link *a = sim_link(s, 0, 1);
	assert_int_equal(a->rtt.est.last_us, 6000);
	uint32_t relayed_base = a->base_id;
	/* the direct path opens: the link upgrades, and is measured there */
	s->block_direct = false;
	s->latency_us = 1000;
	for (int i = 0; i < 600 && (a->base_id == relayed_base || !a->rtt.est.samples); i++)
		sim_run(s, 100);
	assert_false(link_path_relayed(a));
	assert_true(a->rtt.est.samples >= 1);
	assert_int_equal(a->rtt.est.last_us, 2000);
	assert_int_equal(a->rtt.est.min_us, 2000); /* the relayed samples are gone */
	sim_free(s);
}

/* A link that carries no data is pinged every LINK_RTT_IDLE_PROBE_MS, not
 * every LINK_RTT_PROBE_MS; once data moves again the next ping goes within
 * LINK_RTT_PROBE_MS (plus the 1 s tick) and they keep that pace. */
static void test_idle_link_probes_rarely(void **state)
{
	(void)state;
	struct sim *s = pair_with_latency(1000);
	struct link *a = sim_link(s, 0, 1);
	sim_run(s, LINK_RTT_IDLE_AFTER_MS + LINK_RTT_IDLE_PROBE_MS); /* settle into the idle pace */
	uint64_t sent = a->rtt.pings_tx;
	sim_run(s, 4 * LINK_RTT_IDLE_PROBE_MS);
	uint64_t idle = a->rtt.pings_tx - sent;
	assert_true(idle >= 3 && idle <= 5);
	assert_true(s->now - a->rtt.est.at_ms <= LINK_RTT_IDLE_PROBE_MS + 1100);
	/* the next one leaves on a whole second, with the link's other timers */
	assert_int_equal(a->rtt.next_ms % TICK_GRID_MS, 0);
	assert_true(a->rtt.next_ms > s->now && a->rtt.next_ms <= s->now + LINK_RTT_IDLE_PROBE_MS);

	sent = a->rtt.pings_tx;
	sim_send_data(s, 0, 1, 100);
	sim_run(s, LINK_RTT_PROBE_MS + 1100);
	assert_true(a->rtt.pings_tx > sent);
	assert_true(s->now - a->rtt.est.at_ms <= LINK_RTT_PROBE_MS + 1100);
	sent = a->rtt.pings_tx;
	run_busy(s, 10 * LINK_RTT_PROBE_MS);
	assert_true(a->rtt.pings_tx - sent >= 9);
	sim_free(s);
}

/* A peer whose offer/answer did not say "probes" is never pinged (a node
 * before them would count a ping as a packet from a wrong source). */
static void test_no_probes_to_old_peers(void **state)
{
	(void)state;
	struct sim *s = pair_with_latency(1000);
	struct link *a = sim_link(s, 0, 1), *b = sim_link(s, 1, 0);
	a->peer_probes = false;
	uint64_t sent = a->rtt.pings_tx;
	sim_run(s, 3 * LINK_RTT_PROBE_MS);
	assert_int_equal(a->rtt.pings_tx, sent);
	assert_true(b->rtt.pings_tx > 0); /* the other way still measures */
	assert_true(b->rtt.est.samples > 0);
	sim_free(s);
}

/* Pongs that do not answer the last ping, short ones and unknown types
 * change nothing; a ping is answered with its own sequence number. */
static void test_bad_probes(void **state)
{
	(void)state;
	struct sim *s = pair_with_latency(1000);
	struct link *a = sim_link(s, 0, 1);
	assert_true(sim_until(s, both_measured, NULL, 2000));
	struct rtt_est before = a->rtt.est;
	struct tunnel_probe p = { .type = TUNNEL_PROBE_PONG };
	tunnel_put_le32(p.seq, a->rtt.seq + 7);
	link_probe_rx(a, (const uint8_t *)&p, sizeof(p), s->now * 1000);
	link_probe_rx(a, (const uint8_t *)&p, 3, s->now * 1000);
	p.type = 9;
	link_probe_rx(a, (const uint8_t *)&p, sizeof(p), s->now * 1000);
	assert_memory_equal(&a->rtt.est, &before, sizeof(before));
	assert_true(a->rtt.pongs_stale >= 1);
	assert_false(link_probe_is((const uint8_t *)"\x45", 1));
	assert_false(link_probe_is((const uint8_t *)"", 0));

	p.type = TUNNEL_PROBE_PING;
	tunnel_put_le32(p.seq, 4242);
	link_probe_rx(a, (const uint8_t *)&p, sizeof(p), s->now * 1000);
	assert_true(a->rtt.pong_owed);
	assert_int_equal(a->rtt.pong_seq, 4242);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estimator),
		cmocka_unit_test(test_direct_exact),
		cmocka_unit_test(test_delay_change),
		cmocka_unit_test(test_relayed_and_path_change),
		cmocka_unit_test(test_idle_link_probes_rarely),
		cmocka_unit_test(test_no_probes_to_old_peers),
		cmocka_unit_test(test_bad_probes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
