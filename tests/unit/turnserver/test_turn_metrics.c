/* ipop-turnserver's exposition for a known state of two workers: every
 * line, exactly (coturn's names, ours, labels, sums over the workers and
 * the per-worker series); and a real worker's published counters read
 * back through turn_metrics_render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"
#include "turn_metrics.h"
#include "turn_server.h"

static char buf[64 * 1024];

static void fill(struct turn_worker_stats *w, uint64_t k)
{
	memset(w, 0, sizeof(*w));
	struct turn_stats *c = &w->core;
	c->stun_in = 100 * k;
	c->bad_in = 3 * k;
	c->auth_fail = 2 * k;
	c->rate_limited = 5 * k;
	c->allocs_created = 10 * k;
	c->allocs_expired = k;
	c->allocs_active = 4 * k;
	c->allocs_by_proto[TURN_PROTO_UDP] = 2 * k;
	c->allocs_by_proto[TURN_PROTO_TCP] = k;
	c->allocs_by_proto[TURN_PROTO_TLS] = k;
	c->relayed_to_peer = 1000 * k;
	c->relayed_to_peer_bytes = 100000 * k;
	c->relayed_to_client = 900 * k;
	c->relayed_to_client_bytes = 90000 * k;
	c->dropped_no_perm = 7 * k;
	c->dropped_bw = 8 * k;
	c->dropped_policy = 6 * k;
	c->policy_special = 4 * k;
	c->client_in = 1200 * k;
	c->client_in_bytes = 120000 * k;
	c->client_out = 1100 * k;
	c->client_out_bytes = 110000 * k;
	c->peer_in = 950 * k;
	c->peer_in_bytes = 95000 * k;
	c->binding_req = 20 * k;
	c->binding_ok = 19 * k;
	c->binding_err = k;
	c->err_sent[0] = k;      /* 400 */
	c->err_sent[1] = 30 * k; /* 401 */
	c->err_sent[TURN_STATS_NERR - 1] = k; /* other */
	w->stream.tls_failed = k;
	w->stream.bad_framing = 2 * k;
	w->stream.dropped_wq = 3 * k;
	w->tx.out = 2000 * k;
	w->tx.send_failed = k;
	w->tx.too_big = k;
	w->tx.gso_msgs = 50 * k;
	w->tx.gso_fallbacks = k;
	w->tx.ring_calls = 70 * k;
	w->udp_in = 2100 * k;
	w->udp_truncated = k;
	w->udp_gro_trains = 40 * k;
	w->udp_rxq_drops = 9 * k;
	w->rx_moderated = 60 * k;
	w->relay_open_failed = k;
	w->relays_open = 4 * k;
	w->conns_open = 2 * k;
	w->conns_open_tls = k;
	w->conns_accepted = 5 * k;
	w->conns_accepted_tls = 2 * k;
	w->conns_rejected = k;
	w->conns_idle_closed = k;
	w->accept_paused = k;
}

static const char expected[] =
#include "test_turn_metrics.expected"
	;

static void test_exact_exposition(void **state)
{
	struct turn_worker_stats w[2];
	struct prom_buf b;
	struct turn_metrics_info info = { .version = "1.2.3", .realm = "ex\"ample", .max_client = 500 };
	(void)state;
	fill(&w[0], 1);
	fill(&w[1], 2);
	prom_init(&b, buf, sizeof(buf));
	turn_metrics_write(&b, &info, w, 2);
	assert_false(b.overflow);
	assert_false(b.bad_name);
	if (strcmp(buf, expected) != 0) {
		size_t i = 0;
		while (buf[i] && buf[i] == expected[i])
			i++;
		fprintf(stderr, "differs at byte %zu: got:\n%s\n", i, buf + (i > 40 ? i - 40 : 0));
	}
	assert_string_equal(buf, expected);
}

/* With the process metrics, and no worker at all: still well formed. */
static void test_process_and_no_workers(void **state)
{
	struct prom_buf b;
	struct turn_metrics_info info = { .version = "x", .realm = "r", .start_unix = 1700000000,
					  .process = true };
	(void)state;
	prom_init(&b, buf, sizeof(buf));
	turn_metrics_write(&b, &info, NULL, 0);
	assert_false(b.overflow);
	assert_non_null(strstr(buf, "\nipop_turn_workers 0\n"));
	assert_non_null(strstr(buf, "\nprocess_start_time_seconds 1700000000\n"));
	assert_non_null(strstr(buf, "\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "));
	assert_non_null(strstr(buf, "\nprocess_max_fds "));
	assert_null(strstr(buf, "process_open_fds")); /* too dear with many sockets */
	assert_null(strstr(buf, "worker=\"")); /* no per-worker sample without workers */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_exposition),
		cmocka_unit_test(test_process_and_no_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
