/* bench/handshake: what a flood of valid-looking handshake initiations
 * costs a node, with WireGuard's cookie (tunnel/cookie.h) and without it
 * (the global 200/s bucket alone, as before). In process, on the real
 * Noise code; the clock of part 2 is simulated, the CPU it reports is
 * measured.
 *
 * Part 1: the responder's CPU per message: a bad mac1, an unknown key
 * without load (two Diffie-Hellmans, then refused), a cookie reply under
 * load (each from a new address), one dropped under load because its
 * address is over its reply budget, a member's handshake (consume +
 * response).
 *
 * Part 2: FLOOD initiations per second (random static keys, valid mac1,
 * from 256 addresses and many ports) for SECONDS, while MEMBERS members (each its own
 * address) all start a handshake in the first second and retry as ipopd
 * does: every second; with a cookie at once and then every 250 ms. The
 * responder sees every datagram (no socket drops). Reported per mode:
 * member handshakes completed per second, the median and slowest time to
 * complete, and the responder's CPU per simulated second (above 1.0 it
 * could not keep up with the flood at all). Each millisecond's datagrams
 * arrive in random order; the network adds no delay.
 *
 *   build/bench/handshake [FLOOD=20000] [MEMBERS=500] [SECONDS=10] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bench_clock.h"
#include "noise.h"

enum { FLOOD_MSGS = 64, RESEND_MS = 1000, RESEND_LOAD_MS = 250 };

static void die(const char *what)
{
	fprintf(stderr, "bench/handshake: %s\n", what);
	exit(1);
}

/* ---- the responder and its members ---- */

struct member {
	struct noise_local local;   /* the member's own node */
	struct noise_peer to_resp;  /* its side of the handshake */
	struct noise_peer at_resp;  /* the responder's peer entry for it */
	struct cookie_src src;
	uint8_t init[TUNNEL_INITIATION_MAC2_LEN];
	size_t init_len;
	uint64_t start_ms, next_ms, done_ms;
	bool done;
};

static struct noise_local resp;
static struct member *members;
static unsigned nmembers;

static struct noise_peer *lookup(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	(void)ctx;
	for (unsigned i = 0; i < nmembers; i++)
		if (memcmp(members[i].at_resp.remote_static, pub, NOISE_KEY_LEN) == 0)
			return &members[i].at_resp;
	return NULL;
}

static void src_of(struct cookie_src *s, uint32_t ip, uint16_t port)
{
	uint32_t be = __builtin_bswap32(ip);
	cookie_src_ipv4(s, &be, __builtin_bswap16(port));
}

/* One initiation at the responder: 0 handshake done, 1 refused (retry
 * later), 2 a cookie came back (the member resends at once). */
static int deliver(struct member *m, uint64_t now, double *cpu)
{
	struct noise_handshake hs;
	struct noise_peer *who;
	struct noise_keys k;
	uint32_t ridx;
	uint8_t out[TUNNEL_RESPONSE_LEN], reply[TUNNEL_COOKIE_REPLY_LEN];
	size_t n;

	double t = (bench_cpu_ns() / 1e3);
	int rc = noise_consume_initiation(&resp, m->init, m->init_len, &m->src, now, lookup, NULL, &who, &hs, &ridx);
	if (rc == 0)
		rc = noise_create_response(&resp, who, &hs, 7, ridx, out, sizeof(out), &n, &k) ? -EIO : 0;
	else if (rc == -EAGAIN)
		noise_create_cookie_reply(&resp, m->init, &m->src, now, reply);
	*cpu += (bench_cpu_ns() / 1e3) - t;
	noise_handshake_wipe(&hs);
	if (rc == 0)
		return noise_consume_response(&m->local, &m->to_resp, out, n, &k) == 0 ? 0 : 1;
	if (rc == -EAGAIN && noise_consume_cookie_reply(&m->to_resp, reply, sizeof(reply), now) == 0) {
		noise_initiation_add_mac2(&m->to_resp, m->init, &m->init_len, sizeof(m->init), now);
		return 2;
	}
	return 1;
}

static void member_step(struct member *m, uint64_t now, double *cpu)
{
	if (m->done || now < m->next_ms)
		return;
	if (!m->init_len || now - m->to_resp.last_init_tx_ms >= NOISE_REKEY_TIMEOUT_MS) {
		if (noise_create_initiation(&m->local, &m->to_resp, 1, now, 1700000000000000000ull + now * 1000000,
					    m->init, sizeof(m->init), &m->init_len) != 0)
			die("initiation");
	}
	int r = deliver(m, now, cpu);
	if (r == 2)
		r = deliver(m, now, cpu);
	if (r == 0) {
		m->done = true;
		m->done_ms = now;
		return;
	}
	m->next_ms = now + (cookie_maker_fresh(&m->to_resp.cookie, now) ? RESEND_LOAD_MS : RESEND_MS);
}

/* ---- part 1 ---- */

static uint8_t flood[FLOOD_MSGS][TUNNEL_INITIATION_LEN];

static void make_flood(const uint8_t target[NOISE_KEY_LEN])
{
	static struct noise_local l;
	for (int i = 0; i < FLOOD_MSGS; i++) {
		struct noise_keypair kp;
		struct noise_peer p;
		size_t n;
		if (noise_keypair_generate(&kp) != 0)
			die("keygen");
		noise_local_init(&l, &kp, 0);
		noise_peer_init(&p, target);
		if (noise_create_initiation(&l, &p, (uint32_t)i, 0, 1, flood[i], sizeof(flood[i]), &n) != 0)
			die("flood initiation");
	}
}

static double per_msg(int kind, int rounds)
{
	struct noise_handshake hs;
	struct noise_peer *who;
	uint32_t ridx;
	struct cookie_src s;
	uint8_t bad[TUNNEL_INITIATION_LEN], reply[TUNNEL_COOKIE_REPLY_LEN];
	double best = 1e30;

	memcpy(bad, flood[0], sizeof(bad));
	bad[TUNNEL_INITIATION_LEN - 1] ^= 1;
	for (int r = 0; r < 5; r++) {
		double t = (bench_cpu_ns() / 1e3);
		for (int i = 0; i < rounds; i++) {
			/* kind 2: a new address each time (a reply each); 3: one
			 * address, over its reply budget at once (dropped) */
			src_of(&s, kind == 3 ? 0xcb007101u : 0x0a000000u + (uint32_t)(r * rounds + i), (uint16_t)(1024 + i));
			resp.load_until_ms = kind >= 2 ? UINT64_MAX : 0;
			noise_bucket_init(&resp.init_bucket, 1000000000, 1000000000, 0);
			const uint8_t *m = kind == 0 ? bad : flood[i % FLOOD_MSGS];
			int rc = noise_consume_initiation(&resp, m, TUNNEL_INITIATION_LEN, &s, 0, lookup, NULL, &who, &hs, &ridx);
			if (kind == 2 && rc == -EAGAIN)
				noise_create_cookie_reply(&resp, m, &s, 0, reply);
			noise_handshake_wipe(&hs);
		}
		double us = ((bench_cpu_ns() / 1e3) - t) / rounds;
		best = us < best ? us : best;
	}
	resp.load_until_ms = 0;
	return best;
}

static double per_handshake(int rounds)
{
	double best = 1e30, cpu = 0;
	for (int r = 0; r < 5; r++) {
		cpu = 0;
		for (int i = 0; i < rounds; i++) {
			struct member *m = &members[i % nmembers];
			noise_bucket_init(&resp.init_bucket, 1000000000, 1000000000, 0);
			m->to_resp.init_tx_seen = false;
			m->at_resp.init_rx_seen = false;
			if (noise_create_initiation(&m->local, &m->to_resp, 1, 0, 1000000000ull * (uint64_t)(r * rounds + i + 1),
						    m->init, sizeof(m->init), &m->init_len) != 0 ||
			    deliver(m, 0, &cpu) != 0)
				die("member handshake");
		}
		best = cpu / rounds < best ? cpu / rounds : best;
	}
	return best;
}

/* ---- part 2 ---- */

struct result {
	unsigned done;
	double rate, median_ms, max_ms, cpu_per_s;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct result simulate(bool cookies, unsigned flood_per_s, unsigned seconds)
{
	struct result res = { 0 };
	struct noise_handshake hs;
	struct noise_peer *who;
	uint32_t ridx;
	struct cookie_src s;
	uint8_t reply[TUNNEL_COOKIE_REPLY_LEN];
	double cpu = 0;
	uint64_t acc = 0, fsent = 0, last_done = 0;

	resp.cookies = cookies;
	resp.load_until_ms = 0;
	noise_bucket_init(&resp.init_bucket, NOISE_INIT_RX_RATE_PER_S, NOISE_INIT_RX_BURST, 0);
	for (unsigned i = 0; i < nmembers; i++) {
		struct member *m = &members[i];
		noise_peer_init(&m->to_resp, resp.s.pub);
		noise_peer_init(&m->at_resp, m->local.s.pub);
		m->init_len = 0;
		m->done = false;
		m->start_ms = m->next_ms = 100 + (uint64_t)i * 900 / nmembers; /* all in the first second */
	}
	int *order = calloc(flood_per_s / 1000 + 2 + nmembers, sizeof(*order));
	if (!order)
		die("memory");
	for (uint64_t now = 1; now <= (uint64_t)seconds * 1000; now++) {
		/* this ms's datagrams in random order: the flood's (-1) and the
		 * members' whose retry is due (their index) */
		unsigned k = 0;
		for (acc += flood_per_s; acc >= 1000; acc -= 1000)
			order[k++] = -1;
		for (unsigned i = 0; i < nmembers; i++)
			if (!members[i].done && now >= members[i].next_ms)
				order[k++] = (int)i;
		for (unsigned i = k; i > 1; i--) {
			unsigned j = randombytes_uniform(i);
			int t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (unsigned e = 0; e < k; e++) {
			if (order[e] >= 0) {
				member_step(&members[order[e]], now, &cpu);
				continue;
			}
			const uint8_t *m = flood[fsent % FLOOD_MSGS];
			src_of(&s, 0xcb007100u + (uint32_t)(fsent & 255), (uint16_t)(1024 + fsent % 60000));
			fsent++;
			double t = (bench_cpu_ns() / 1e3);
			int rc = noise_consume_initiation(&resp, m, TUNNEL_INITIATION_LEN, &s, now, lookup, NULL, &who, &hs, &ridx);
			if (rc == -EAGAIN)
				noise_create_cookie_reply(&resp, m, &s, now, reply);
			cpu += (bench_cpu_ns() / 1e3) - t;
			noise_handshake_wipe(&hs);
		}
	}
	free(order);
	uint64_t *lat = calloc(nmembers, sizeof(*lat));
	for (unsigned i = 0; i < nmembers; i++)
		if (members[i].done) {
			lat[res.done++] = members[i].done_ms - members[i].start_ms;
			if (members[i].done_ms > last_done)
				last_done = members[i].done_ms;
		}
	qsort(lat, res.done, sizeof(*lat), cmp_u64);
	if (res.done) {
		res.median_ms = (double)lat[res.done / 2];
		res.max_ms = (double)lat[res.done - 1];
		res.rate = res.done / ((last_done - 100 + 1) / 1000.0);
	}
	res.cpu_per_s = cpu / 1e6 / seconds;
	free(lat);
	return res;
}

int main(int argc, char **argv)
{
	unsigned flood_per_s = 20000, seconds = 10;
	nmembers = 500;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "FLOOD=", 6) == 0)
			flood_per_s = (unsigned)atoi(argv[i] + 6);
		else if (strncmp(argv[i], "MEMBERS=", 8) == 0)
			nmembers = (unsigned)atoi(argv[i] + 8);
		else if (strncmp(argv[i], "SECONDS=", 8) == 0)
			seconds = (unsigned)atoi(argv[i] + 8);
		else
			die("usage: handshake [FLOOD=N] [MEMBERS=N] [SECONDS=N]");
	}
	if (noise_init() != 0 || !nmembers || !seconds)
		die("init");
	struct noise_keypair kp;
	if (noise_keypair_generate(&kp) != 0)
		die("keygen");
	noise_local_init(&resp, &kp, 0);
	members = calloc(nmembers, sizeof(*members));
	if (!members)
		die("memory");
	for (unsigned i = 0; i < nmembers; i++) {
		if (noise_keypair_generate(&kp) != 0)
			die("keygen");
		noise_local_init(&members[i].local, &kp, 0);
		noise_peer_init(&members[i].to_resp, resp.s.pub);
		noise_peer_init(&members[i].at_resp, kp.pub);
		src_of(&members[i].src, 0xc6336400u + i, 40000);
	}
	make_flood(resp.s.pub);

	double bad = per_msg(0, 20000), dh = per_msg(1, 2000), ck = per_msg(2, 20000), drop = per_msg(3, 20000);
	double hsk = per_handshake(500);
	printf("bench/handshake: the responder's CPU per message (best of 5 rounds)\n");
	printf("  %-46s %8.2f us\n", "bad mac1 (dropped)", bad);
	printf("  %-46s %8.2f us  -> at most %.0f/s per core\n", "unknown key, no load (2 DH, then refused)", dh,
	       1e6 / dh);
	printf("  %-46s %8.2f us  -> at most %.0f/s per core\n", "under load: a cookie reply instead", ck, 1e6 / ck);
	printf("  %-46s %8.2f us\n", "under load, its address over 20 replies/s", drop);
	printf("  %-46s %8.2f us\n", "a member's handshake (consume + response)", hsk);
	printf("\n%u initiations/s of valid-looking junk for %u s; %u members each start a handshake in the\n"
	       "first second (own address each), retrying as ipopd does:\n",
	       flood_per_s, seconds, nmembers);
	printf("  %-12s %14s %10s %12s %12s %14s\n", "", "handshakes/s", "completed", "median", "slowest",
	       "responder CPU");
	for (int c = 0; c < 2; c++) {
		struct result r = simulate(c == 1, flood_per_s, seconds);
		printf("  %-12s %14.1f %6u/%-4u %9.0f ms %9.0f ms %10.2f s/s\n", c ? "cookies on" : "cookies off",
		       r.rate, r.done, nmembers, r.median_ms, r.max_ms, r.cpu_per_s);
	}
	return 0;
}
