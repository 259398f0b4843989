/* ipopd's exposition for a known snapshot (node_prom.c): every line,
 * exactly; a node without peers or relay; label values that need
 * escaping. The snapshot itself is made on the data thread from what
 * ipopctl shows (node_metrics.c), which the lab test node_prometheus.sh
 * compares with ipopctl at the same moment. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "node_metrics.h"
#include "prom.h"

static char buf[64 * 1024];

static const char expected[] =
#include "test_node_prom.expected"
	;

static struct node_metrics_snap *known(void)
{
	struct node_metrics_snap *s = calloc(1, sizeof(*s) + 2 * sizeof(s->peers[0]));
	assert_non_null(s);
	s->version = "1.2.3";
	snprintf(s->bare_jid, sizeof(s->bare_jid), "alice@example.org");
	snprintf(s->st.node_id, sizeof(s->st.node_id), "0123456789abcdef0123456789abcdef01234567");
	snprintf(s->st.interface, sizeof(s->st.interface), "ipop0");
	inet_pton(AF_INET, "172.31.0.1", &s->st.ip4);
	s->st.xmpp = CTL_XMPP_ONLINE;
	s->relay_allocated = true;
	assert_int_equal(addr_parse("192.0.2.2:3478", 0, &s->st.relay_server), 0);
	assert_int_equal(addr_parse("192.0.2.2:50000", 0, &s->st.relay_addr), 0);
	snprintf(s->st.relay_transport, sizeof(s->st.relay_transport), "udp");
	for (int p = 1; p < NODE_METRICS_PATHS; p++) {
		s->rx_bytes[p] = 1000u * (unsigned)p;
		s->tx_bytes[p] = 2000u * (unsigned)p;
		s->rx_packets[p] = 10u * (unsigned)p;
		s->tx_packets[p] = 20u * (unsigned)p;
	}
	for (int d = 0; d < NODE_DROP_N; d++)
		s->drops[d] = (uint64_t)d + 1;
	s->hs_completed = 7;
	s->hs_rejected = 1;
	s->npeers = 2;
	struct node_metrics_peer *b = &s->peers[0], *c = &s->peers[1];
	snprintf(b->jid, sizeof(b->jid), "bob@example.org");
	snprintf(b->node_id, sizeof(b->node_id), "1111111111111111111111111111111111111111");
	snprintf(b->addr, sizeof(b->addr), "172.31.0.2");
	b->state = CTL_PEER_UP;
	b->path = CTL_PATH_DIRECT;
	b->has_rtt = true;
	b->rtt_us = 523;
	b->rtt_age_ms = 2500;
	b->rx_bytes = 1536;
	b->tx_bytes = 4096;
	b->rx_packets = 3;
	b->tx_packets = 4;
	b->last_handshake = 1700000000;
	b->handshake_age_ms = 61000;
	snprintf(c->jid, sizeof(c->jid), "ca\"rol@example.org");
	snprintf(c->node_id, sizeof(c->node_id), "2222222222222222222222222222222222222222");
	c->state = CTL_PEER_CHECKING;
	return s;
}

static void test_exact_exposition(void **state)
{
	(void)state;
	struct node_metrics_snap *s = known();
	struct prom_buf b;
	prom_init(&b, buf, sizeof(buf));
	node_prom_write(&b, s);
	assert_false(b.overflow);
	assert_false(b.bad_name);
	if (getenv("NODE_PROM_PRINT"))
		fputs(buf, stdout);
	if (strcmp(buf, expected) != 0) {
		size_t i = 0;
		while (buf[i] && buf[i] == expected[i])
			i++;
		fprintf(stderr, "differs at byte %zu: got:\n%s\n", i, buf + (i > 40 ? i - 40 : 0));
	}
	assert_string_equal(buf, expected);
	free(s);
}

/* No peer, no relay, the process metrics: no per-peer family at all (a
 * family without samples is legal but useless), relay_allocated 0. */
static void test_lonely_node(void **state)
{
	(void)state;
	struct node_metrics_snap *s = known();
	s->npeers = 0;
	s->relay_allocated = false;
	s->process = true;
	s->start_unix = 1700000000;
	struct prom_buf b;
	prom_init(&b, buf, sizeof(buf));
	node_prom_write(&b, s);
	assert_false(b.overflow);
	assert_null(strstr(buf, "ipop_node_peer_"));
	assert_null(strstr(buf, "ipop_node_relay_info"));
	assert_non_null(strstr(buf, "\nipop_node_relay_allocated 0\n"));
	assert_non_null(strstr(buf, "\nipop_node_links{state=\"up\"} 0\n"));
	assert_non_null(strstr(buf, "\nprocess_start_time_seconds 1700000000\n"));
	assert_non_null(strstr(buf, "\nprocess_open_fds "));
	free(s);
}

/* A buffer too small overflows cleanly (metrics_http retries bigger). */
static void test_overflow(void **state)
{
	(void)state;
	struct node_metrics_snap *s = known();
	struct prom_buf b;
	prom_init(&b, buf, 300);
	node_prom_write(&b, s);
	assert_true(b.overflow);
	assert_true(b.len <= 300);
	assert_true(b.len == 0 || buf[b.len - 1] == '\n');
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_exposition),
		cmocka_unit_test(test_lonely_node),
		cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
