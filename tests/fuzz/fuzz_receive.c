/* libFuzzer harness for the node's receive demultiplexer
 * (datapath/receive.c): datagrams as they arrive on the UDP socket or
 * through the relay go by first byte to the tunnel (initiations, cookie
 * replies, responses, data for a link's session), to STUN (the gathering
 * client, the links' ICE agents), or are dropped; data that opens is
 * checked against the link's address and written to the "TUN" (/dev/null
 * here). The node has one link, to "a", whose session uses fixed keys
 * (those of fuzz_tunnel.c, whose seeds open here too):
 *   a's private key 32 x 0x41, ours 32 x 0x42; our session: local index
 *   0x01020304, remote 0x05060708, recv key 32 x 0x11, send 32 x 0x22;
 *   a's overlay address 172.31.0.2.
 * Input: the first byte's low bit puts the node under load (cookie
 * replies); then datagrams with a 2-byte length prefix. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath.h"
#include "links.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

enum { B_INDEX = 0x01020304, A_INDEX = 0x05060708, CAP = 2048 };

static struct links t;
static struct noise_local nl;
static struct bases b;
static struct datapath dp;
static struct link *la;

static void init_once(void)
{
	static bool done;
	struct noise_keypair ka, kb;
	uint8_t priv[NOISE_KEY_LEN], id[SIGNAL_ID_LEN];
	char hex[2 * SIGNAL_ID_LEN + 1], jid[128];

	if (done)
		return;
	done = true;
	CHECK(noise_init() == 0);
	memset(priv, 0x41, sizeof(priv));
	CHECK(noise_keypair_from_private(&ka, priv) == 0);
	memset(priv, 0x42, sizeof(priv));
	CHECK(noise_keypair_from_private(&kb, priv) == 0);
	noise_local_init(&nl, &kb, 0);
	links_init(&t);
	t.env.noise = &nl;
	t.env.slot_cap = CAP;
	crypto_generichash(t.env.self_id, SIGNAL_ID_LEN, kb.pub, NOISE_KEY_LEN, NULL, 0);
	inet_pton(AF_INET, "172.31.0.1", &t.env.self_ip4);
	crypto_generichash(id, SIGNAL_ID_LEN, ka.pub, NOISE_KEY_LEN, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), id, SIGNAL_ID_LEN);
	snprintf(jid, sizeof(jid), "a@example.test/ipop-%s", hex);
	la = links_get(&t, jid, 0, true);
	CHECK(la);
	la->have_info = true;
	memcpy(la->key, ka.pub, NOISE_KEY_LEN);
	inet_pton(AF_INET, "172.31.0.2", &la->ip4);
	b.udp_fd = b.nl_fd = -1;
	b.relay.fd = -1;
	dp.links = &t;
	dp.bases = &b;
	dp.slot_cap = dp.rx_cap = CAP;
	dp.tun.fds[0] = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dp.tun.mtu = 1280;
	CHECK(dp.tun.fds[0] >= 0);
}

/* Our session with a, rebuilt per input so every run starts alike. */
static void reset(bool load, uint64_t now)
{
	struct noise_keys k;

	session_peer_wipe(&la->sess);
	session_peer_init(&la->sess, la->key);
	memset(&k, 0, sizeof(k));
	memset(k.recv, 0x11, NOISE_KEY_LEN);
	memset(k.send, 0x22, NOISE_KEY_LEN);
	k.local_index = B_INDEX;
	k.remote_index = A_INDEX;
	session_install(&la->sess, &k, now);
	la->sess.next.confirmed = true;
	la->sess.current = la->sess.next;
	memset(&la->sess.next, 0, sizeof(la->sess.next));
	noise_bucket_init(&nl.init_bucket, NOISE_INIT_RX_RATE_PER_S, NOISE_INIT_RX_BURST, now);
	nl.load_until_ms = load ? UINT64_MAX : 0;
	t.idx_cache = NULL;
}

/* What the daemon's pump would take: outputs are dropped here. */
static void drain(uint64_t now)
{
	static uint8_t scratch[2048];
	struct link *l;
	struct link_tx tx;
	struct link_event ev;
	struct signal_msg m;

	while ((l = links_next_dirty(&t))) {
		while (link_poll_transmit(l, &tx, scratch, sizeof(scratch), now))
			CHECK(tx.len > 0);
		while (link_poll_event(l, &ev, &m))
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[CAP];
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(4000) };
	uint64_t now = 100000;

	init_once();
	if (size < 1)
		return 0;
	inet_pton(AF_INET, "198.51.100.7", &from.sin_addr);
	reset(data[0] & 1, now);
	data++, size--;
	while (size >= 2) {
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2, size -= 2;
		if (n > size)
			n = size;
		if (n > sizeof(buf) - TUNNEL_TAG_LEN)
			n = sizeof(buf) - TUNNEL_TAG_LEN;
		memcpy(buf, data, n);
		data += n, size -= n;
		dp_receive_relayed(&dp, 0, &from, buf, n, sizeof(buf), now += 3);
		CHECK(dp.nreplies == 0); /* the relay path sends its cookie replies at once */
		drain(now);
	}
	return 0;
}
