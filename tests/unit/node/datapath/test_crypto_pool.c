/* The crypto worker pool (src/node/crypto_pool.c): random batches sealed
 * and opened through the pool with 1..3 workers give byte-for-byte the
 * packets, errors, replay windows and keypair states that the sequential
 * data path gives; every job runs exactly once (a job run twice or never
 * leaves different bytes); forged, replayed and duplicate packets in a
 * batch are dropped without touching the window; the "auto" default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#include "crypto_pool.h"
#include "session.h"
#include "tunnel_packet.h"

enum { MAXN = 300, CAP = 1600, ROUNDS = 40 };

static uint8_t seq_buf[MAXN][CAP], par_buf[MAXN][CAP];
static struct tunnel_buf seq_b[MAXN], par_b[MAXN];
static struct tunnel_crypt_job jobs[MAXN];

/* Two ends of one keypair: tx seals, rx opens. */
static void make_pair(struct session_peer *tx, struct session_peer *rx, uint64_t now_ms)
{
	struct noise_keys k;
	uint8_t key[NOISE_KEY_LEN];

	memset(tx, 0, sizeof(*tx));
	memset(rx, 0, sizeof(*rx));
	randombytes_buf(key, sizeof(key));
	memset(&k, 0, sizeof(k));
	memcpy(k.send, key, sizeof(key));
	k.local_index = 11;
	k.remote_index = 22;
	k.initiator = true;
	session_install(tx, &k, now_ms);
	memset(&k, 0, sizeof(k));
	memcpy(k.recv, key, sizeof(key));
	k.local_index = 22;
	k.remote_index = 11;
	k.initiator = true;
	session_install(rx, &k, now_ms);
}

static void fill_random(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		size_t len = randombytes_uniform(1420 + 1);
		randombytes_buf(seq_buf[i] + TUNNEL_DATA_HEADER_LEN, len);
		memcpy(par_buf[i], seq_buf[i], CAP);
		seq_b[i] = (struct tunnel_buf){ .data = seq_buf[i], .len = len, .cap = CAP };
		par_b[i] = seq_b[i];
		par_b[i].data = par_buf[i];
	}
}

/* Seals a batch both ways and checks the bytes and the counters. */
static void seal_both(struct cpool *cp, struct session_peer *a, struct session_peer *b, unsigned n,
		      uint64_t now_ms)
{
	fill_random(n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(tunnel_seal_batch(a, &seq_b[i], 1, now_ms, NULL), 1);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(tunnel_seal_prepare(b, &par_b[i], now_ms, NULL, &jobs[i]), 1);
	cpool_run_min(cp, jobs, n, 1);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(seq_b[i].len, par_b[i].len);
		assert_memory_equal(seq_buf[i], par_buf[i], seq_b[i].len);
	}
	assert_true(a->current.send_counter == b->current.send_counter);
}

/* Tampers with some packets and repeats others (the same bytes in both
 * copies), then opens sequentially and through the pool. */
static void open_both(struct cpool *cp, struct session_peer *a, struct session_peer *b, unsigned n,
		      uint64_t now_ms)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t r = randombytes_uniform(10);
		if (r == 0 && seq_b[i].len > TUNNEL_DATA_HEADER_LEN) /* forged */
			seq_buf[i][TUNNEL_DATA_HEADER_LEN + randombytes_uniform(
								      (uint32_t)(seq_b[i].len - TUNNEL_DATA_HEADER_LEN))] ^= 1;
		else if (r == 1 && i > 0) { /* a duplicate of an earlier packet of the batch */
			unsigned j = randombytes_uniform(i);
			memcpy(seq_buf[i], seq_buf[j], CAP);
			seq_b[i].len = seq_b[j].len;
		}
		memcpy(par_buf[i], seq_buf[i], CAP);
		par_b[i].len = seq_b[i].len;
	}
	int opened = tunnel_open_batch(a, seq_b, n, now_ms);
	int pre[MAXN];
	for (unsigned i = 0; i < n; i++)
		pre[i] = tunnel_open_prepare(b, &par_b[i], now_ms, &jobs[i]);
	cpool_run_min(cp, jobs, n, 1);
	int popened = 0;
	for (unsigned i = 0; i < n; i++) {
		int rc = pre[i] ? pre[i] : tunnel_open_finish(b, &par_b[i], &jobs[i], now_ms);
		assert_int_equal(rc, seq_b[i].err);
		if (rc)
			continue;
		popened++;
		assert_int_equal(par_b[i].len, seq_b[i].len);
		assert_memory_equal(par_buf[i] + TUNNEL_DATA_HEADER_LEN, seq_buf[i] + TUNNEL_DATA_HEADER_LEN,
				    par_b[i].len);
	}
	assert_int_equal(popened, opened);
	assert_memory_equal(&a->current.replay, &b->current.replay, sizeof(a->current.replay));
	assert_true(a->rx_dropped_auth == b->rx_dropped_auth);
	assert_true(a->rx_dropped_replay == b->rx_dropped_replay);
}

static void random_batches(unsigned workers)
{
	struct cpool cp;
	struct session_peer tx_a, rx_a, tx_b, rx_b;
	uint64_t now_ms = 1000;

	assert_int_equal(cpool_init(&cp, workers), 0);
	assert_int_equal(cp.nworkers, workers);
	make_pair(&tx_a, &rx_a, now_ms);
	tx_b = tx_a;
	rx_b = rx_a;
	for (int r = 0; r < ROUNDS; r++) {
		unsigned n = 1 + randombytes_uniform(MAXN);
		seal_both(&cp, &tx_a, &tx_b, n, now_ms);
		open_both(&cp, &rx_a, &rx_b, n, now_ms);
	}
	/* the batches that had 2+ jobs really went through the pool */
	assert_true(cp.batches > 0);
	cpool_free(&cp);
	session_peer_wipe(&tx_a);
	session_peer_wipe(&rx_a);
	session_peer_wipe(&tx_b);
	session_peer_wipe(&rx_b);
}

static void test_one_worker(void **state)
{
	(void)state;
	random_batches(1);
}

static void test_two_workers(void **state)
{
	(void)state;
	random_batches(2);
}

static void test_three_workers(void **state)
{
	(void)state;
	random_batches(3);
}

/* Without workers, or under the threshold, everything runs on the caller
 * (and the same bytes come out). */
static void test_inline(void **state)
{
	struct cpool cp;
	struct session_peer tx_a, rx_a, tx_b, rx_b;
	(void)state;

	assert_int_equal(cpool_init(&cp, 0), 0);
	make_pair(&tx_a, &rx_a, 1000);
	tx_b = tx_a;
	rx_b = rx_a;
	seal_both(&cp, &tx_a, &tx_b, 50, 1000);
	open_both(&cp, &rx_a, &rx_b, 50, 1000);
	assert_true(cp.batches == 0);
	cpool_free(&cp);
	assert_int_equal(cpool_init(&cp, 2), 0);
	fill_random(CPOOL_MIN_JOBS - 1);
	for (unsigned i = 0; i < CPOOL_MIN_JOBS - 1; i++)
		assert_int_equal(tunnel_seal_prepare(&tx_b, &par_b[i], 1000, NULL, &jobs[i]), 1);
	cpool_run(&cp, jobs, CPOOL_MIN_JOBS - 1);
	assert_true(cp.batches == 0);
	for (unsigned i = 0; i < CPOOL_MIN_JOBS - 1; i++) /* sealed: the plaintext is gone */
		assert_memory_not_equal(par_buf[i] + TUNNEL_DATA_HEADER_LEN, seq_buf[i] + TUNNEL_DATA_HEADER_LEN,
					par_b[i].len - TUNNEL_DATA_HEADER_LEN);
	cpool_free(&cp);
	session_peer_wipe(&tx_a);
	session_peer_wipe(&rx_a);
	session_peer_wipe(&tx_b);
	session_peer_wipe(&rx_b);
}

/* Many back-to-back small batches: a late worker never claims from the
 * next batch (each seal would otherwise show up twice or not at all). */
static void test_many_batches(void **state)
{
	struct cpool cp;
	struct session_peer tx_a, rx_a, tx_b, rx_b;
	(void)state;

	assert_int_equal(cpool_init(&cp, 3), 0);
	make_pair(&tx_a, &rx_a, 1000);
	tx_b = tx_a;
	rx_b = rx_a;
	for (int r = 0; r < 2000; r++)
		seal_both(&cp, &tx_a, &tx_b, 2 + (unsigned)(r % 7), 1000);
	assert_true(cp.batches == 2000);
	cpool_free(&cp);
	session_peer_wipe(&tx_a);
	session_peer_wipe(&rx_a);
	session_peer_wipe(&tx_b);
	session_peer_wipe(&rx_b);
}

static void test_auto(void **state)
{
	(void)state;
	assert_int_equal(cpool_workers_for(-1, 1), 0);
	assert_int_equal(cpool_workers_for(-1, 2), 0);
	assert_int_equal(cpool_workers_for(-1, 3), 2);
	assert_int_equal(cpool_workers_for(-1, 4), 3);
	assert_int_equal(cpool_workers_for(-1, 64), 4);
	assert_int_equal(cpool_workers_for(0, 64), 0);
	assert_int_equal(cpool_workers_for(2, 2), 2);
	assert_int_equal(cpool_workers_for(99, 2), CPOOL_MAX_WORKERS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto),	     cmocka_unit_test(test_inline),
		cmocka_unit_test(test_one_worker),   cmocka_unit_test(test_two_workers),
		cmocka_unit_test(test_three_workers), cmocka_unit_test(test_many_batches),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
