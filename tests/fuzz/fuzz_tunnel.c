/* libFuzzer harness for everything a tunnel socket hands us: the strict
 * parser, then the handler each type goes to (initiation consume on a
 * responder, response consume on an initiator with a pending handshake,
 * data open on an established session with fixed keys so seeds can hold
 * valid packets). An initiation is also fed to B under load, where it
 * gets a cookie reply (its mac2 cannot be right) that A then consumes; a
 * cookie reply goes to A's pending initiation. Finally the input as a
 * plaintext must seal and open back to itself. Every opened plaintext then
 * goes through what ipopd's receive path does with it (receive.c), for IPv4
 * and IPv6 alike (the seeds hold both): link-scope IPv6 kept off, the
 * cryptokey check against a prefix table where A owns 172.31.0.1/32,
 * fd00::1/128, 10.77.0.0/24 and fd00:77::/64 and another peer owns
 * 10.77.0.128/25 and fd00:77::/80 inside them, then the MSS clamp. Checks: a
 * packet passes only when its source lies in one of A's prefixes and in none
 * of the other peer's (longest match). Keys (fixed, for reproducible seeds):
 *   node A private key 32 x 0x41, node B private key 32 x 0x42;
 *   B's session: local index 0x01020304, remote 0x05060708,
 *   recv key 32 x 0x11 (A->B), send key 32 x 0x22. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ip_pkt.h"
#include "ip_prefix.h"
#include "noise.h"
#include "prefix_table.h"
#include "session.h"
#include "tun_offload.h"
#include "tunnel_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

enum { B_INDEX = 0x01020304, A_INDEX = 0x05060708 };

static struct noise_local la, lb;
static struct session_peer a_sees_b, b_sees_a;
static struct session_peer mirror; /* A's side of B's session, for sealing */
static uint64_t now_ms = 1000;

static struct noise_peer *lookup(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	(void)ctx;
	return memcmp(b_sees_a.noise.remote_static, pub, NOISE_KEY_LEN) == 0 ? &b_sees_a.noise : NULL;
}

static struct prefix_table pt;
static const char *const a_owns[] = { "172.31.0.1/32", "fd00::1/128", "10.77.0.0/24", "fd00:77::/64" };
static const char *const c_owns[] = { "10.77.0.128/25", "fd00:77::/80" };
static struct ip_prefix a_pfx[4], c_pfx[2];
static int peer_a, peer_c; /* owners: their addresses */

static void table_init(void)
{
	CHECK(prefix_table_init(&pt, 64) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(ip_prefix_parse(a_owns[i], &a_pfx[i], NULL) == NULL);
		CHECK(prefix_table_insert(&pt, &a_pfx[i], &peer_a) == 0);
	}
	for (int i = 0; i < 2; i++) {
		CHECK(ip_prefix_parse(c_owns[i], &c_pfx[i], NULL) == NULL);
		CHECK(prefix_table_insert(&pt, &c_pfx[i], &peer_c) == 0);
	}
}

static bool in_any(const struct ip_prefix *p, int n, int family, const unsigned char *addr)
{
	for (int i = 0; i < n; i++)
		if (p[i].family == family && ip_prefix_has_addr(&p[i], family, addr))
			return true;
	return false;
}

/* What receive.c does with a plaintext from A's link: true when it would
 * reach the TUN. pkt is writable (the clamp patches it in place). */
static bool deliver_from_a(uint8_t *pkt, size_t len)
{
	int family;
	if (ip_pkt_link_scope6(pkt, len)) {
		CHECK(ip_pkt_version(pkt, len) == 6);
		return false;
	}
	const unsigned char *src = ip_pkt_src(pkt, len, &family);
	if (!src || prefix_table_lookup(&pt, family, src) != &peer_a) {
		/* dropped: no source, or one that is not (only) A's */
		CHECK(!src || !in_any(a_pfx, 4, family, src) || in_any(c_pfx, 2, family, src));
		return false;
	}
	CHECK(family == (ip_pkt_version(pkt, len) == 4 ? AF_INET : AF_INET6));
	CHECK(in_any(a_pfx, 4, family, src) && !in_any(c_pfx, 2, family, src));
	size_t before = ip_pkt_len(pkt, len);
	tun_clamp_mss_mtu(pkt, len, 1280);
	CHECK(ip_pkt_len(pkt, len) == before);
	return true;
}

static void fixed_keys(struct noise_keys *k, bool for_b)
{
	memset(k, 0, sizeof(*k));
	memset(for_b ? k->recv : k->send, 0x11, NOISE_KEY_LEN);
	memset(for_b ? k->send : k->recv, 0x22, NOISE_KEY_LEN);
	k->local_index = for_b ? B_INDEX : A_INDEX;
	k->remote_index = for_b ? A_INDEX : B_INDEX;
	k->initiator = !for_b;
}

/* B's session is rebuilt per input so every run starts alike. */
static void reset_sessions(void)
{
	struct noise_keys k;

	memset(&b_sees_a.current, 0, sizeof(b_sees_a.current));
	memset(&b_sees_a.previous, 0, sizeof(b_sees_a.previous));
	memset(&b_sees_a.next, 0, sizeof(b_sees_a.next));
	fixed_keys(&k, true);
	session_install(&b_sees_a, &k, now_ms);
	b_sees_a.next.confirmed = true;
	b_sees_a.current = b_sees_a.next;
	memset(&b_sees_a.next, 0, sizeof(b_sees_a.next));
	memset(b_sees_a.noise.last_timestamp, 0, NOISE_TIMESTAMP_LEN);
	b_sees_a.noise.init_rx_seen = false;
	noise_bucket_init(&lb.init_bucket, NOISE_INIT_RX_RATE_PER_S, NOISE_INIT_RX_BURST, now_ms);
	lb.load_until_ms = 0;

	memset(&mirror, 0, sizeof(mirror));
	fixed_keys(&k, false);
	session_install(&mirror, &k, now_ms);
}

static void init_once(void)
{
	static bool done;
	struct noise_keypair ka, kb;
	uint8_t priv[NOISE_KEY_LEN], msg[TUNNEL_INITIATION_LEN];
	size_t n;

	if (done)
		return;
	done = true;
	table_init();
	CHECK(noise_init() == 0);
	memset(priv, 0x41, sizeof(priv));
	CHECK(noise_keypair_from_private(&ka, priv) == 0);
	memset(priv, 0x42, sizeof(priv));
	CHECK(noise_keypair_from_private(&kb, priv) == 0);
	noise_local_init(&la, &ka, 0);
	noise_local_init(&lb, &kb, 0);
	session_peer_init(&a_sees_b, kb.pub);
	session_peer_init(&b_sees_a, ka.pub);
	/* A has an initiation pending, index A_INDEX, for responses to hit */
	CHECK(noise_create_initiation(&la, &a_sees_b.noise, A_INDEX, 0, 1, msg, sizeof(msg), &n) == 0);
}

static void check_parse(const uint8_t *data, size_t size, const struct tunnel_packet *tp)
{
	CHECK(tp->type == data[0]);
	CHECK(tunnel_packet_is_tunnel(data, size));
	if (tp->type == TUNNEL_MSG_INITIATION)
		CHECK(size == TUNNEL_INITIATION_LEN || size == TUNNEL_INITIATION_MAC2_LEN);
	else if (tp->type == TUNNEL_MSG_COOKIE_REPLY)
		CHECK(size == TUNNEL_COOKIE_REPLY_LEN && tp->receiver_index == tunnel_get_le32(data + 4));
	else if (tp->type == TUNNEL_MSG_RESPONSE)
		CHECK(size == TUNNEL_RESPONSE_LEN && tp->receiver_index == tunnel_get_le32(data + 8));
	else
		CHECK(tp->type == TUNNEL_MSG_DATA && tp->payload_len + TUNNEL_DATA_MIN_LEN == size);
}

/* B under load: without the cookie for this source, an initiation can only
 * earn a cookie reply, which A accepts only for its own pending one. */
static void under_load(const uint8_t *data, size_t size)
{
	struct noise_handshake hs;
	struct noise_peer *who = NULL;
	struct cookie_src src;
	uint8_t ip[4] = { 198, 51, 100, 7 }, reply[TUNNEL_COOKIE_REPLY_LEN];
	uint32_t ridx;

	cookie_src_ipv4(&src, ip, 0x1234);
	lb.init_bucket.tokens_milli = 0;
	lb.init_bucket.last_ms = now_ms;
	int rc = noise_consume_initiation(&lb, data, size, &src, now_ms, lookup, NULL, &who, &hs, &ridx);
	CHECK(rc != 0);
	if (rc != -EAGAIN)
		return;
	noise_create_cookie_reply(&lb, data, &src, now_ms, reply);
	CHECK(tunnel_get_le32(reply + 4) == tunnel_get_le32(data + 4));
	rc = noise_consume_cookie_reply(&a_sees_b.noise, reply, sizeof(reply), now_ms);
	CHECK(rc == 0 || rc == -ESTALE || rc == -EBADMSG);
	a_sees_b.noise.cookie.have_cookie = false;
}

static void handle(const uint8_t *data, size_t size, const struct tunnel_packet *tp)
{
	if (tp->type == TUNNEL_MSG_COOKIE_REPLY) {
		/* only B, with A's mac1, could make one that decrypts */
		int rc = noise_consume_cookie_reply(&a_sees_b.noise, data, size, now_ms);
		CHECK(rc == -ESTALE || rc == -EBADMSG);
		CHECK(!a_sees_b.noise.cookie.have_cookie);
	} else if (tp->type == TUNNEL_MSG_INITIATION) {
		struct noise_handshake hs;
		struct noise_peer *who = NULL;
		uint32_t ridx;
		uint8_t resp[TUNNEL_RESPONSE_LEN];
		size_t n;
		struct noise_keys keys;

		under_load(data, size);
		noise_bucket_init(&lb.init_bucket, NOISE_INIT_RX_RATE_PER_S, NOISE_INIT_RX_BURST, now_ms);
		lb.load_until_ms = 0;
		if (noise_consume_initiation(&lb, data, size, NULL, now_ms, lookup, NULL, &who, &hs, &ridx) != 0)
			return;
		CHECK(who == &b_sees_a.noise && ridx == tp->sender_index);
		CHECK(noise_create_response(&lb, who, &hs, B_INDEX + 1, ridx, resp, sizeof(resp), &n, &keys) == 0);
		noise_keys_wipe(&keys);
	} else if (tp->type == TUNNEL_MSG_RESPONSE) {
		struct noise_keys keys;
		/* only a response made with A's ephemeral could pass */
		CHECK(noise_consume_response(&la, &a_sees_b.noise, data, size, &keys) != 0);
		CHECK(a_sees_b.noise.state == NOISE_PEER_INIT_SENT);
	} else {
		uint8_t *copy = malloc(size);
		CHECK(copy);
		memcpy(copy, data, size);
		struct tunnel_buf b = { copy, size, size, 0 };
		int opened = tunnel_open_batch(&b_sees_a, &b, 1, now_ms);
		CHECK(opened == (b.err == 0));
		if (opened) {
			CHECK(b.len == tp->payload_len && tp->receiver_index == B_INDEX);
			deliver_from_a(copy + TUNNEL_DATA_HEADER_LEN, b.len);
		}
		free(copy);
	}
}

/* The input as plaintext: seal on A's side, open on B's, same bytes. */
static void roundtrip(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return;
	size_t cap = size + TUNNEL_DATA_OVERHEAD;
	uint8_t *buf = malloc(cap);
	CHECK(buf);
	memcpy(buf + TUNNEL_DATA_HEADER_LEN, data, size);
	struct tunnel_buf b = { buf, size, cap, 0 };
	CHECK(tunnel_seal_batch(&mirror, &b, 1, now_ms, NULL) == 1);
	CHECK(b.len == cap);
	CHECK(tunnel_open_batch(&b_sees_a, &b, 1, now_ms) == 1);
	CHECK(b.len == size && memcmp(buf + TUNNEL_DATA_HEADER_LEN, data, size) == 0);
	deliver_from_a(buf + TUNNEL_DATA_HEADER_LEN, size);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tunnel_packet tp;

	init_once();
	reset_sessions();
	if (tunnel_packet_parse(data, size, &tp) == 0) {
		check_parse(data, size, &tp);
		handle(data, size, &tp);
		reset_sessions(); /* a valid input packet would make a replay of the next */
	}
	roundtrip(data, size);
	return 0;
}
