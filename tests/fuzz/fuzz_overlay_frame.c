/* libFuzzer harness for the overlay frames a member receives (forward.c,
 * dp_overlay_in): the opened payload of a data packet from a linked
 * member, which authenticated but may carry anything. The input is that
 * payload (its first byte is forced to the frame type, on which receive.c
 * dispatches), laid out as in a receive slot: the hop's 16-byte tunnel
 * header in front, the 16-byte tag room behind.
 *
 * The node (position 0x10…) has two direct links in its overlay: "hop"
 * (0x50…) with a session to seal for, and "from" (0x90…), which the frames
 * come from; and one session through the overlay, "e" (a member whose
 * packets reach us in frames). A frame for us goes to the receive path
 * (tunnel packet of e: opened, cryptokey-checked, written to /dev/null as
 * the TUN); a frame for a position after hop is sealed for hop and sent to
 * a loopback socket, where the harness opens it again. Checks:
 *  - exactly one outcome per frame (for us, forwarded, or dropped and
 *    counted: too short, hop limit, no next hop);
 *  - a frame is forwarded only with ttl > 1, never back to "from", and
 *    comes out as the same frame with ttl one less and hops one more
 *    (saturating), sealed for hop: nothing else changed, nothing read or
 *    written outside the slot (ASan).
 * Keys and indices are fixed so that seeds can hold valid inner packets:
 *   us->hop: send 32 x 0x22, recv 0x11, indices local 0x11110001 remote 0x22220001;
 *   e->us:   e's data to us sealed with 32 x 0x33 for index 0x33330001
 *            (our send key 0x44, e's index 0x44440001); e's ip4 172.31.0.9. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath.h"
#include "links.h"
#include "log.h"
#include "noise.h"
#include "session.h"
#include "tunnel_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

enum {
	HOP_LOCAL = 0x11110001,
	HOP_REMOTE = 0x22220001,
	E_LOCAL = 0x33330001,
	E_REMOTE = 0x44440001,
	NOW_MS = 100000,
};

static struct links t;
static struct noise_local local;
static struct overlay ov;
static struct bases bs;
static struct datapath dp;
static struct link *from, *hop, *e;
static struct session_peer hop_mirror; /* hop's side, to open what we forward */
static int sink = -1;
static struct ov_member mem[3]; /* sorted by position: self, hop, from */

static void fill_id(uint8_t id[SIGNAL_ID_LEN], uint8_t b)
{
	memset(id, b, SIGNAL_ID_LEN);
}

static void jid_of(char *jid, size_t cap, const uint8_t id[SIGNAL_ID_LEN])
{
	int n = snprintf(jid, cap, "m%02x@example.test/ipop-", id[0]);
	for (int i = 0; i < SIGNAL_ID_LEN; i++)
		n += snprintf(jid + n, cap - (size_t)n, "%02x", id[i]);
}

static void keys(struct session_peer *p, uint8_t send, uint8_t recv, uint32_t local_idx, uint32_t remote_idx)
{
	struct noise_keys k;

	memset(&p->current, 0, sizeof(p->current));
	memset(&p->previous, 0, sizeof(p->previous));
	memset(&p->next, 0, sizeof(p->next));
	memset(&k, 0, sizeof(k));
	memset(k.send, send, NOISE_KEY_LEN);
	memset(k.recv, recv, NOISE_KEY_LEN);
	k.local_index = local_idx;
	k.remote_index = remote_idx;
	k.initiator = true; /* installed as current and confirmed */
	session_install(p, &k, NOW_MS);
}

static struct link *direct(const uint8_t id[SIGNAL_ID_LEN], const struct sockaddr_in *at)
{
	char jid[128];
	jid_of(jid, sizeof(jid), id);
	struct link *l = link_new(&t, jid, id, NOW_MS);
	CHECK(l);
	l->have_path = true;
	l->base_id = 0;
	l->endpoint = *at;
	return l;
}

static int udp_loopback(struct sockaddr_in *bound)
{
	socklen_t alen = sizeof(*bound);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	memset(bound, 0, sizeof(*bound));
	bound->sin_family = AF_INET;
	bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)bound, sizeof(*bound)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)bound, &alen) == 0);
	return fd;
}

static void init_once(void)
{
	uint8_t self_id[SIGNAL_ID_LEN], hop_id[SIGNAL_ID_LEN], from_id[SIGNAL_ID_LEN], e_id[SIGNAL_ID_LEN];
	uint8_t priv[NOISE_KEY_LEN], e_key[SIGNAL_KEY_LEN];
	struct noise_keypair kp;
	struct overlay_conf c;
	struct sockaddr_in tx_at, sink_at;
	struct ip_prefix pfx;

	log_set_level(LOG_LVL_ERROR);
	CHECK(noise_init() == 0);
	memset(priv, 0x41, sizeof(priv));
	CHECK(noise_keypair_from_private(&kp, priv) == 0);
	noise_local_init(&local, &kp, NOW_MS);
	fill_id(self_id, 0x10);
	fill_id(hop_id, 0x50);
	fill_id(from_id, 0x90);
	fill_id(e_id, 0xc0);

	links_init(&t);
	t.env.slot_cap = 1600;
	t.env.noise = &local;
	memcpy(t.env.self_id, self_id, SIGNAL_ID_LEN);
	memcpy(t.env.self_key, kp.pub, SIGNAL_KEY_LEN);
	inet_pton(AF_INET, "172.31.0.1", &t.env.self_ip4);

	/* the bases: a loopback socket, sending to the sink in hop's place */
	memset(&bs, 0, sizeof(bs));
	bs.udp_fd = udp_loopback(&tx_at);
	sink = udp_loopback(&sink_at);
	from = direct(from_id, &tx_at);
	hop = direct(hop_id, &sink_at);

	overlay_conf_default(&c);
	CHECK(overlay_init(&ov, &c, self_id) == 0);
	memcpy(mem[0].id, self_id, SIGNAL_ID_LEN);
	memcpy(mem[1].id, hop_id, SIGNAL_ID_LEN);
	memcpy(mem[2].id, from_id, SIGNAL_ID_LEN);
	for (int i = 0; i < 3; i++)
		mem[i].pos = ring_pos_of(mem[i].id, OVERLAY_ID_LEN);
	overlay_set_members(&ov, mem, 3, NOW_MS);
	overlay_link_up(&ov, hop_id, hop, NOW_MS);
	overlay_link_up(&ov, from_id, from, NOW_MS);
	CHECK(ov.nhops == 2);

	/* e: a member reached through the overlay */
	char jid[128];
	jid_of(jid, sizeof(jid), e_id);
	memset(e_key, 0x45, sizeof(e_key));
	struct in_addr e_ip4;
	inet_pton(AF_INET, "172.31.0.9", &e_ip4);
	e = links_overlay(&t, jid, e_key, e_ip4, NULL, NOW_MS);
	CHECK(e && link_path_overlay(e));

	memset(&dp, 0, sizeof(dp));
	dp.links = &t;
	dp.bases = &bs;
	dp.ov = &ov;
	dp.slot_cap = 1600;
	dp.tun.mtu = 1280;
	dp.tun.fds[0] = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(dp.tun.fds[0] >= 0);
	CHECK(prefix_table_init(&dp.pt, 8) == 0);
	CHECK(ip_prefix_parse("172.31.0.9/32", &pfx, NULL) == NULL);
	CHECK(prefix_table_insert(&dp.pt, &pfx, e) == 0);
}

static uint64_t outcomes(void)
{
	const struct dp_overlay_counters *o = &dp.cnt.ovl;
	return o->in + o->forwarded + o->ttl_expired + o->no_hop + o->off;
}

/* The datagram forwarded to hop, opened with hop's keys: its payload
 * must be the frame we received with ttl - 1 and hops + 1. */
static void check_forwarded(const uint8_t *frame, size_t len)
{
	uint8_t out[2048 + 64];
	ssize_t n = recv(sink, out, sizeof(out), 0);
	CHECK(n == (ssize_t)(len + TUNNEL_DATA_MIN_LEN));
	struct tunnel_buf b = { .data = out, .len = (size_t)n, .cap = sizeof(out) };
	CHECK(tunnel_open_batch(&hop_mirror, &b, 1, NOW_MS) == 1);
	CHECK(b.len == len);
	const uint8_t *f = out + TUNNEL_DATA_HEADER_LEN;
	CHECK(f[0] == OVERLAY_FRAME_TYPE && f[2] == frame[2]);
	CHECK(frame[OVERLAY_FRAME_OFF_TTL] > 1 && f[OVERLAY_FRAME_OFF_TTL] == frame[OVERLAY_FRAME_OFF_TTL] - 1);
	uint8_t hops = frame[OVERLAY_FRAME_OFF_HOPS];
	CHECK(f[OVERLAY_FRAME_OFF_HOPS] == (hops == UINT8_MAX ? hops : hops + 1));
	CHECK(memcmp(f + OVERLAY_FRAME_OFF_DST, frame + OVERLAY_FRAME_OFF_DST, len - OVERLAY_FRAME_OFF_DST) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	uint8_t drain[64];

	if (!init) {
		init_once();
		init = true;
	}
	if (!size || size > 2048)
		return 0;
	/* every run starts from the same keys and replay windows */
	keys(&hop->sess, 0x22, 0x11, HOP_LOCAL, HOP_REMOTE);
	keys(&hop_mirror, 0x11, 0x22, HOP_REMOTE, HOP_LOCAL);
	keys(&e->sess, 0x44, 0x33, E_LOCAL, E_REMOTE);
	while (recv(sink, drain, sizeof(drain), 0) > 0)
		;

	/* the slot: header | frame | tag room, allocated to its exact size */
	uint8_t *buf = malloc(TUNNEL_DATA_HEADER_LEN + size + TUNNEL_TAG_LEN);
	uint8_t *frame = malloc(size);
	CHECK(buf && frame);
	memset(buf, 0, TUNNEL_DATA_HEADER_LEN);
	memcpy(buf + TUNNEL_DATA_HEADER_LEN, data, size);
	buf[TUNNEL_DATA_HEADER_LEN] = OVERLAY_FRAME_TYPE;
	memcpy(frame, buf + TUNNEL_DATA_HEADER_LEN, size);

	struct dp_overlay_counters before = dp.cnt.ovl;
	uint64_t n0 = outcomes();
	dp_overlay_in(&dp, from, buf, size, NOW_MS);
	const struct dp_overlay_counters *o = &dp.cnt.ovl;

	if (size < OVERLAY_FRAME_HDR_LEN + TUNNEL_DATA_MIN_LEN) {
		CHECK(o->nested == before.nested + 1 && outcomes() == n0);
	} else {
		CHECK(outcomes() == n0 + 1);
		ring_pos dst = 0;
		for (int i = 0; i < 8; i++)
			dst = dst << 8 | frame[OVERLAY_FRAME_OFF_DST + i];
		if (dst == ov.self)
			CHECK(o->in == before.in + 1);
		else if (frame[OVERLAY_FRAME_OFF_TTL] <= 1)
			CHECK(o->ttl_expired == before.ttl_expired + 1);
		if (o->forwarded != before.forwarded)
			check_forwarded(frame, size);
		else
			CHECK(recv(sink, drain, sizeof(drain), 0) < 0);
		CHECK(recv(bs.udp_fd, drain, sizeof(drain), 0) < 0); /* nothing back to "from" */
	}
	free(buf);
	free(frame);
	return 0;
}
