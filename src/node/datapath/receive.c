/* UDP -> TUN: one recvmmsg batch at a time from the node's socket, then
 * demultiplexing by first byte (RFC 7983): tunnel messages (0xE1..0xEF) are
 * handshakes (the link table answers them, or under load a cookie reply
 * goes back), cookie replies for our own initiations, or data; STUN (0..3) is the
 * answer of the STUN server we asked for our server-reflexive address, or
 * an ICE check or answer for a link's agent; datagrams from our TURN
 * server go to the relay, which hands relayed ones back through
 * dp_receive_relayed. Data opens in place; the inner packet goes to the
 * TUN only if its source belongs to the sending link in the prefix table:
 * its ip4 or ip6, or a route it was authorised for (cryptokey routing; in
 * social mode its ip4). IPv6 link-scope packets never pass. Anything
 * malformed is counted and dropped. */
#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <unistd.h>

#include "addr.h"
#include "datapath.h"
#include "ip_pkt.h"
#include "log.h"
#include "stun_msg.h"
#include "tunnel_packet.h"
#include "udp_gro.h"

static void tun_emit(void *ctx, uint8_t *buf, size_t len)
{
	struct datapath *dp = ctx;

	if (write(dp->tun.fds[0], buf, len) < 0)
		dp->cnt.tun_tx_err++;
	else
		dp->cnt.tun_tx++;
}

/* A decrypted packet for the TUN. With a vnet header, TCP segments wait in
 * the coalescer until the end of the receive batch (tun_co_flush); the
 * header bytes in front of pkt are the opened tunnel header's. */
static void tun_deliver(struct datapath *dp, uint8_t *pkt, size_t len)
{
	if (dp->tun.vnet)
		tun_co_add(&dp->co, pkt, len, tun_emit, dp);
	else
		tun_emit(dp, pkt, len);
}

/* Cryptokey routing: the inner source is an address the prefix table
 * gives to the link the packet came from. A member's own LAN hosts pass;
 * a source from another member's prefix (or nobody's) does not. Social
 * mode: the friend's own ip4 (translation maps it afterwards). */
static bool source_ok(const struct datapath *dp, const struct link *p, const uint8_t *pkt, size_t len)
{
	int family;
	const unsigned char *src = ip_pkt_src(pkt, len, &family);

	if (!src)
		return false;
	if (dp->social)
		return family == AF_INET && memcmp(src, &p->ip4, 4) == 0;
	return prefix_table_lookup(&dp->pt, family, src) == p;
}

/* The rest of a data packet once it opened: the link's path and
 * handshake state, the cryptokey check and delivery. */
static void data_opened(struct datapath *dp, struct link *p, uint8_t *buf, size_t len, uint32_t base_id,
			const struct sockaddr_in *from, uint64_t now_ms)
{
	link_data_rx(p, base_id, from, len, now_ms);
	if (base_id == LINK_BASE_OVERLAY)
		p->ovl_hops = dp->ovl_rx_hops;
	if (len == 0)
		return; /* keepalive */
	uint8_t *pkt = buf + TUNNEL_DATA_HEADER_LEN;
	if (link_probe_is(pkt, len)) {
		link_probe_rx(p, pkt, len, dp->rx_us); /* a ping or pong: not for the TUN */
		return;
	}
	if (pkt[0] == OVERLAY_FRAME_TYPE) {
		dp_overlay_in(dp, p, buf, len, now_ms);
		return;
	}
	if (ip_pkt_link_scope6(pkt, len)) {
		dp->cnt.link_local++;
		return;
	}
	if (!source_ok(dp, p, pkt, len)) {
		dp->cnt.cryptokey_drop++;
		p->cryptokey_drops++;
		return;
	}
	if (dp->social && !social_in(dp->social, p, pkt, len))
		return;
	p->rx_bytes += len;
	p->rx_packets++;
	tun_clamp_mss_mtu(pkt, len, (unsigned)dp->tun.mtu);
	tun_deliver(dp, pkt, len);
}

/* Opens the data packets collected by defer_data: the AEADs in the pool,
 * then, in arrival order, the replay window, keypair promotion and
 * delivery (tunnel_open_finish: a forged packet touches nothing). */
static void run_pending(struct datapath *dp, uint64_t now_ms)
{
	unsigned cnt = dp->nrx_jobs;

	if (!cnt)
		return;
	cpool_run(&dp->cpool, dp->rx_jobs, cnt);
	dp->nrx_jobs = 0;
	for (unsigned i = 0; i < cnt; i++) {
		struct dp_rx_pend *d = &dp->rx_pend[i];
		struct tunnel_buf b = { .data = d->buf, .len = d->len, .cap = dp->slot_cap };
		if (tunnel_open_finish(&d->link->sess, &b, &dp->rx_jobs[i], now_ms) != 0) {
			dp->cnt.tunnel_bad++;
			continue;
		}
		data_opened(dp, d->link, d->buf, b.len, d->base_id, &d->addr, now_ms);
	}
}

/* With crypto workers: everything of the open that depends on order
 * before the AEAD now, the AEAD and the rest in run_pending. */
static void defer_data(struct datapath *dp, struct link *p, struct dp_slot *s, uint64_t now_ms)
{
	if (dp->nrx_jobs == DP_RX_JOBS)
		run_pending(dp, now_ms);
	struct tunnel_buf b = { .data = s->buf, .len = s->len, .cap = dp->slot_cap };
	if (tunnel_open_prepare(&p->sess, &b, now_ms, &dp->rx_jobs[dp->nrx_jobs]) != 0) {
		dp->cnt.tunnel_bad++;
		return;
	}
	struct dp_rx_pend *d = &dp->rx_pend[dp->nrx_jobs++];
	d->link = p;
	d->buf = s->buf;
	d->len = s->len;
	d->addr = s->addr;
	d->base_id = s->base_id;
}

/* defer: the datagram stays in its rx slot until the batch ends, so its
 * AEAD may run in the pool with the others. */
static void on_data(struct datapath *dp, struct dp_slot *s, const struct tunnel_packet *tp, bool defer,
		    uint64_t now_ms)
{
	struct link *p = links_by_index(dp->links, tp->receiver_index);

	if (!p) {
		dp->links->unknown_index++;
		return;
	}
	if (defer) {
		defer_data(dp, p, s, now_ms);
		return;
	}
	struct tunnel_buf b = { .data = s->buf, .len = s->len, .cap = dp->slot_cap };
	if (tunnel_open_batch(&p->sess, &b, 1, now_ms) != 1) {
		dp->cnt.tunnel_bad++;
		return;
	}
	data_opened(dp, p, s->buf, b.len, s->base_id, &s->addr, now_ms);
}

static void on_tunnel(struct datapath *dp, struct dp_slot *s, bool defer, uint64_t now_ms)
{
	struct tunnel_packet tp;

	if (tunnel_packet_parse(s->buf, s->len, &tp) != 0) {
		dp->cnt.tunnel_bad++;
		return;
	}
	switch (tp.type) {
	case TUNNEL_MSG_DATA:
		on_data(dp, s, &tp, defer, now_ms);
		break;
	case TUNNEL_MSG_INITIATION: {
		struct link_tx tx;
		links_on_initiation(dp->links, s->base_id, &s->addr, s->buf, s->len, now_ms);
		if (links_poll_reply(dp->links, &tx)) /* under load: a cookie instead */
			dp_reply_queue(dp, &tx);
		break;
	}
	case TUNNEL_MSG_RESPONSE:
		links_on_response(dp->links, s->base_id, &s->addr, s->buf, s->len, tp.receiver_index, now_ms);
		break;
	case TUNNEL_MSG_COOKIE_REPLY:
		links_on_cookie_reply(dp->links, s->base_id, &s->addr, s->buf, s->len, tp.receiver_index, now_ms);
		break;
	default:
		dp->cnt.tunnel_bad++;
	}
}

static void on_stun(struct datapath *dp, struct dp_slot *s, uint64_t now_ms)
{
	if (gather_stun_input(dp->bases, &s->addr, s->base_id, s->buf, s->len, now_ms))
		return;
	if (!links_on_stun(dp->links, s->base_id, (const struct sockaddr *)&s->addr, s->buf, s->len, now_ms))
		dp->cnt.stun_unmatched++;
}

/* One datagram from the socket or from the relay: tunnel or STUN. */
static void receive_datagram(struct datapath *dp, struct dp_slot *s, bool defer, uint64_t now_ms)
{
	if (tunnel_packet_is_tunnel(s->buf, s->len))
		on_tunnel(dp, s, defer, now_ms);
	else if (stun_is_message(s->buf, s->len))
		on_stun(dp, s, now_ms);
	else
		dp->cnt.stun_unmatched++;
}

void dp_receive_overlay(struct datapath *dp, uint8_t *buf, size_t len, size_t cap, uint64_t now_ms)
{
	struct dp_slot s = { .buf = buf, .len = len, .base_id = LINK_BASE_OVERLAY };

	(void)cap; /* the frame's tunnel packet opens in place, within it */
	if (tunnel_packet_is_tunnel(buf, len))
		on_tunnel(dp, &s, false, now_ms);
	else
		dp->cnt.ovl.nested++; /* only tunnel packets ride in frames */
}

void dp_receive_relayed(struct datapath *dp, uint32_t base_id, const struct sockaddr_in *from, uint8_t *buf,
			size_t len, size_t cap, uint64_t now_ms)
{
	struct dp_slot s = { .buf = buf, .len = len, .addr = *from, .base_id = base_id };

	(void)cap; /* relay slots are slot_cap bytes, as the open needs */
	if (!dp->in_rx_batch) /* from a relay stream, not a datagram of our socket's batch */
		dp->rx_us = evloop_now_us();
	run_pending(dp, now_ms); /* keep arrival order with deferred opens */
	receive_datagram(dp, &s, false, now_ms);
	dp_reply_flush(dp);
}

static void prepare(struct datapath *dp)
{
	for (unsigned i = 0; i < DP_BATCH; i++) {
		struct dp_slot *s = &dp->rx[i];
		struct msghdr *mh = &dp->rx_msgs[i].msg_hdr;
		s->iov.iov_base = s->buf;
		s->iov.iov_len = dp->rx_cap;
		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &s->addr;
		mh->msg_namelen = sizeof(s->addr);
		mh->msg_iov = &s->iov;
		mh->msg_iovlen = 1;
		mh->msg_control = s->c.cbuf;
		mh->msg_controllen = sizeof(s->c.cbuf);
	}
}

/* The local base a datagram arrived on (IP_PKTINFO). */
static uint32_t base_of(const struct datapath *dp, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return udp_base_of(dp->bases, pi.ipi_addr);
		}
	}
	return 0;
}

/* A datagram from the socket: the relay server's, or for receive_datagram.
 * With crypto workers a data datagram from a peer (in place in its rx slot
 * until the batch ends) waits for the batch's parallel open; anything else
 * first completes the waiting ones, so that order is the same as without
 * workers. */
static void dispatch(struct datapath *dp, struct dp_slot *s, uint64_t now_ms)
{
	if (dp->cpool.nworkers && s->len && s->buf[0] == TUNNEL_MSG_DATA && !relay_udp_from_server(dp->bases, &s->addr)) {
		receive_datagram(dp, s, true, now_ms);
		return;
	}
	run_pending(dp, now_ms);
	if (!relay_udp_input(dp->bases, &s->addr, s->base_id, s->buf, s->len, now_ms))
		receive_datagram(dp, s, false, now_ms);
}

/* One received message: a datagram, or a GRO train of datagrams from one
 * source, each handled on its own in place. */
static void dispatch_msg(struct datapath *dp, struct dp_slot *s, struct msghdr *mh, uint64_t now_ms)
{
	struct udp_gro_iter it;
	const uint8_t *p;
	size_t len;
	bool first = true;

	udp_gro_iter_init(&it, s->buf, s->len, udp_gro_segment_size(mh));
	while (udp_gro_next(&it, &p, &len)) {
		struct dp_slot d = *s;
		d.buf = s->buf + (p - s->buf);
		d.len = len;
		if (!first)
			dp->cnt.udp_rx++;
		first = false;
		dispatch(dp, &d, now_ms);
	}
}

void dp_tun_flush(struct datapath *dp)
{
	if (dp->tun.vnet)
		tun_co_flush(&dp->co, tun_emit, dp);
}

void dp_receive_udp(struct datapath *dp, uint64_t now_ms)
{
	for (int rounds = 0; rounds < 8; rounds++) {
		prepare(dp);
		int r = recvmmsg(dp->bases->udp_fd, dp->rx_msgs, DP_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;
		dp->rx_us = evloop_now_us();
		dp->in_rx_batch = true;
		for (int i = 0; i < r; i++) {
			struct dp_slot *s = &dp->rx[i];
			struct msghdr *mh = &dp->rx_msgs[i].msg_hdr;
			dp->cnt.udp_rx++;
			if ((mh->msg_flags & MSG_TRUNC) || s->addr.sin_family != AF_INET) {
				dp->cnt.udp_rx_trunc++;
				continue;
			}
			s->len = dp->rx_msgs[i].msg_len;
			s->base_id = base_of(dp, mh);
			dispatch_msg(dp, s, mh, now_ms);
		}
		run_pending(dp, now_ms);
		dp->in_rx_batch = false;
		dp_reply_flush(dp);
		dp_overlay_flush(dp);
		dp_tun_flush(dp);
		if (r < DP_BATCH)
			return;
	}
}
