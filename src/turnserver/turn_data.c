/* The data paths of the relay core (RFC 8656 11, 12): Send indications and
 * ChannelData from clients, datagrams from peers. No allocation and no
 * payload copy: what goes out is an iovec over a small stack header and the
 * caller's buffer. Every drop is counted. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "stun_chan.h"
#include "stun_msg.h"
#include "turn_alloc.h"
#include "turn_self.h"

static const uint8_t zero_pad[4];

/* Permission, then the allocation's bandwidth budget. */
static bool may_relay(struct turn_server *s, struct turn_alloc *a, const struct sockaddr *peer,
		      size_t len, uint64_t now_ms)
{
	if (!turn_alloc_perm_ok(a, peer, now_ms)) {
		s->stats.dropped_no_perm++;
		return false;
	}
	if (!turn_alloc_bw_take(a, len, now_ms)) {
		s->stats.dropped_bw++;
		return false;
	}
	return true;
}

static void to_peer(struct turn_server *s, struct turn_alloc *a, const struct sockaddr *peer,
		    const uint8_t *data, size_t len)
{
	struct iovec iov = { (void *)data, len };
	s->io.to_peer(s->io.ctx, a->relay, peer, &iov, 1);
	s->stats.relayed_to_peer++;
	s->stats.relayed_to_peer_bytes += len;
}

void turn_data_send_indication(struct turn_server *s, const struct turn_conn *conn,
				const struct stun_msg *m, uint64_t now_ms)
{
	const struct stun_attr *pa = stun_msg_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
	const struct stun_attr *da = stun_msg_find(m, TURN_ATTR_DATA);
	struct sockaddr_storage peer;
	struct turn_alloc *a;

	bool df = stun_msg_find(m, TURN_ATTR_DONT_FRAGMENT) != NULL;

	/* Indications with unknown required attributes are dropped, and so is
	 * DONT-FRAGMENT when the worker cannot set DF. */
	if (!pa || !da || m->nunknown || (df && !s->io.relay_dont_fragment) ||
	    stun_attr_get_addr(m, pa, &peer)) {
		s->stats.bad_in++;
		return;
	}
	a = turn_find_live(s, conn, now_ms);
	if (!a || peer.ss_family != a->relay_addr.sa.sa_family) {
		s->stats.bad_in++;
		return;
	}
	/* DF is per socket: from the first indication that asks, the relay
	 * keeps it (RFC 8656 11.2 wants DF on these datagrams, and the batched
	 * sends cannot set it per datagram). */
	if (df && !a->dont_fragment) {
		if (s->io.relay_dont_fragment(s->io.ctx, a->relay) < 0) {
			s->stats.bad_in++;
			return;
		}
		a->dont_fragment = true;
	}
	const struct sockaddr *p = (const struct sockaddr *)&peer;
	/* The permission covers the peer's IP; the port is vetted here, per
	 * send (a denied_address port, this server's own ports). */
	if (!turn_peer_allowed(s, p, true)) {
		s->stats.dropped_policy++;
		return;
	}
	if (may_relay(s, a, p, da->len, now_ms))
		to_peer(s, a, p, stun_attr_value(m, da), da->len);
}

void turn_data_channel(struct turn_server *s, const struct turn_conn *conn,
			     const uint8_t *data, size_t len, uint64_t now_ms)
{
	const struct turn_chan *c;
	const uint8_t *d;
	uint16_t chan, dlen;
	struct turn_alloc *a;

	if (stun_chan_parse(data, len, &chan, &d, &dlen) < 0) {
		s->stats.bad_in++;
		return;
	}
	a = turn_find_live(s, conn, now_ms);
	if (!a) {
		s->stats.bad_in++;
		return;
	}
	c = turn_alloc_chan_by_num(a, chan, now_ms);
	if (!c) {
		s->stats.dropped_no_perm++;
		return;
	}
	/* To another allocation of this server: only while it lives. */
	if (c->self && turn_self_refused(turn_shared_self(s->shared), &c->peer.sa)) {
		s->stats.dropped_policy++;
		return;
	}
	if (may_relay(s, a, &c->peer.sa, dlen, now_ms))
		to_peer(s, a, &c->peer.sa, d, dlen);
}

static void send_channel_data(struct turn_server *s, struct turn_alloc *a, uint16_t num,
			      const uint8_t *data, size_t len)
{
	bool stream = a->conn.proto != TURN_PROTO_UDP;
	uint8_t hdr[STUN_CHANNEL_HEADER_LEN];
	uint16_t dlen = (uint16_t)len;
	size_t pad = stun_chan_pad_len(dlen, stream);
	struct iovec iov[3] = {
		{ hdr, sizeof(hdr) }, { (void *)data, len }, { (void *)zero_pad, pad },
	};

	stun_chan_header(hdr, num, dlen, stream);
	s->io.to_client(s->io.ctx, &a->conn, iov, pad ? 3 : 2);
	s->stats.relayed_to_client++;
	s->stats.relayed_to_client_bytes += len;
	s->stats.client_out++;
	s->stats.client_out_bytes += sizeof(hdr) + len + pad;
}

/* Data indication: header, XOR-PEER-ADDRESS and the DATA attribute header
 * are built on the stack; the payload and its padding follow as iovecs. */
static void send_data_indication(struct turn_server *s, struct turn_alloc *a,
				 const struct sockaddr *peer, const uint8_t *data, size_t len)
{
	uint8_t hdr[STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN + 20 + STUN_ATTR_HEADER_LEN];
	uint8_t tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	size_t pad = (4 - (len & 3)) & 3;

	/* Indication ids need only be distinct, not secret: a counter. */
	memcpy(tid, &s->data_seq, sizeof(s->data_seq));
	s->data_seq++;
	stun_build_init(&b, hdr, sizeof(hdr) - STUN_ATTR_HEADER_LEN, TURN_METHOD_DATA,
			STUN_CLASS_INDICATION, tid);
	stun_build_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
	int n = stun_build_finish(&b);
	if (n < 0)
		return;
	size_t body = (size_t)n - STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN + len + pad;
	if (body > 65532) {
		s->stats.dropped_bw++;
		return;
	}
	uint8_t *ah = hdr + n;
	ah[0] = (uint8_t)(TURN_ATTR_DATA >> 8);
	ah[1] = (uint8_t)TURN_ATTR_DATA;
	ah[2] = (uint8_t)(len >> 8);
	ah[3] = (uint8_t)len;
	hdr[2] = (uint8_t)(body >> 8);
	hdr[3] = (uint8_t)body;
	struct iovec iov[3] = {
		{ hdr, (size_t)n + STUN_ATTR_HEADER_LEN }, { (void *)data, len },
		{ (void *)zero_pad, pad },
	};
	s->io.to_client(s->io.ctx, &a->conn, iov, pad ? 3 : 2);
	s->stats.relayed_to_client++;
	s->stats.relayed_to_client_bytes += len;
	s->stats.client_out++;
	s->stats.client_out_bytes += (size_t)n + STUN_ATTR_HEADER_LEN + len + pad;
}

void turn_server_on_peer(struct turn_server *s, struct turn_alloc *a, const struct sockaddr *peer,
			 const uint8_t *data, size_t len, uint64_t now_ms)
{
	s->stats.peer_in++;
	s->stats.peer_in_bytes += len;
	/* An expired allocation waits for the sweep; it relays nothing meanwhile. */
	if (!a || now_ms >= a->expires_ms || len > 65535) {
		s->stats.dropped_no_perm++;
		return;
	}
	if (!may_relay(s, a, peer, len, now_ms))
		return;
	const struct turn_chan *c = turn_alloc_chan_by_peer(a, peer, now_ms);
	if (c)
		send_channel_data(s, a, c->num, data, len);
	else
		send_data_indication(s, a, peer, data, len);
}
