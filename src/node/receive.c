/* UDP -> TUN: one recvmmsg batch at a time from the node's socket, then
 * demultiplexing by first byte (RFC 7983): tunnel messages (0xE1..0xEF) are
 * handshakes or data; STUN (0..3) is an ICE check for the agent whose
 * local ufrag the USERNAME names, a response for the agent that owns the
 * transaction, or the answer of the STUN server we asked for our
 * server-reflexive address. Data opens in place; the inner packet goes to
 * the TUN only if its source is the sending peer's virtual address
 * (cryptokey routing). Anything malformed is counted and dropped. */
#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <unistd.h>

#include "addr.h"
#include "ip_pkt.h"
#include "log.h"
#include "node.h"
#include "social.h"
#include "roam.h"
#include "stun_msg.h"
#include "tunnel_packet.h"

static struct peer *peer_by_index(struct node *n, uint32_t index)
{
	if (n->idx_cache && session_owns_index(&n->idx_cache->sess, index))
		return n->idx_cache;
	for (unsigned i = 0; i < n->npeers; i++) {
		if (n->peers[i]->have_info && session_owns_index(&n->peers[i]->sess, index)) {
			n->idx_cache = n->peers[i];
			return n->peers[i];
		}
	}
	return NULL;
}

static void use_source_if_pathless(struct peer *p, const struct node_slot *s)
{
	if (p->have_path)
		return;
	p->endpoint = s->addr;
	p->base_id = s->base_id;
	p->have_path = true;
}

static void tun_emit(void *ctx, uint8_t *buf, size_t len)
{
	struct node *n = ctx;

	if (write(n->tun.fds[0], buf, len) < 0)
		n->cnt.tun_tx_err++;
	else
		n->cnt.tun_tx++;
}

/* A decrypted packet for the TUN. With a vnet header, TCP segments wait in
 * the coalescer until the end of the receive batch (tun_co_flush); the
 * header bytes in front of pkt are the opened tunnel header's. */
static void tun_deliver(struct node *n, uint8_t *pkt, size_t len)
{
	if (n->tun.vnet)
		tun_co_add(&n->co, pkt, len, tun_emit, n);
	else
		tun_emit(n, pkt, len);
}

/* The rest of a data packet once it opened: path, handshake state, the
 * cryptokey check and delivery. */
static void data_opened(struct node *n, struct peer *p, uint8_t *buf, size_t len, uint32_t base_id,
			const struct sockaddr_in *from, uint64_t now_ms)
{
	struct in_addr src;

	roam_rx(p, base_id, from, now_ms);
	if (p->state == PEER_HANDSHAKE)
		peer_handshake_done(p, now_ms);
	if (p->nstaged) /* a responder may send once the initiator's first packet arrived */
		peer_flush_staged(p, now_ms);
	if (len == 0)
		return; /* keepalive */
	uint8_t *pkt = buf + TUNNEL_DATA_HEADER_LEN;
	if (!ip_pkt_src4(pkt, len, &src) || src.s_addr != p->ip4.s_addr) {
		n->cnt.cryptokey_drop++;
		p->cryptokey_drops++;
		return;
	}
	if (n->social && !social_in(n, p, pkt, len))
		return;
	p->rx_bytes += len;
	p->rx_packets++;
	tun_clamp_mss(pkt, len, (uint16_t)(n->tun.mtu - 40));
	tun_deliver(n, pkt, len);
}

/* Opens the data packets collected by defer_data: the AEADs in the pool,
 * then, in arrival order, the replay window, keypair promotion and
 * delivery (tunnel_open_finish: a forged packet touches nothing). */
static void run_pending(struct node *n, uint64_t now_ms)
{
	unsigned cnt = n->nrx_jobs;

	if (!cnt)
		return;
	cpool_run(&n->cpool, n->rx_jobs, cnt);
	n->nrx_jobs = 0;
	for (unsigned i = 0; i < cnt; i++) {
		struct node_rx_pend *d = &n->rx_pend[i];
		struct tunnel_buf b = { .data = d->buf, .len = d->len, .cap = n->slot_cap };
		if (tunnel_open_finish(&d->peer->sess, &b, &n->rx_jobs[i], now_ms) != 0) {
			n->cnt.tunnel_bad++;
			continue;
		}
		data_opened(n, d->peer, d->buf, b.len, d->base_id, &d->addr, now_ms);
	}
}

/* With crypto workers: everything of the open that depends on order
 * before the AEAD now, the AEAD and the rest in run_pending. */
static void defer_data(struct node *n, struct peer *p, struct node_slot *s, uint64_t now_ms)
{
	if (n->nrx_jobs == NODE_RX_JOBS)
		run_pending(n, now_ms);
	struct tunnel_buf b = { .data = s->buf, .len = s->len, .cap = n->slot_cap };
	if (tunnel_open_prepare(&p->sess, &b, now_ms, &n->rx_jobs[n->nrx_jobs]) != 0) {
		n->cnt.tunnel_bad++;
		return;
	}
	struct node_rx_pend *d = &n->rx_pend[n->nrx_jobs++];
	d->peer = p;
	d->buf = s->buf;
	d->len = s->len;
	d->addr = s->addr;
	d->base_id = s->base_id;
}

static void on_data(struct node *n, struct node_slot *s, const struct tunnel_packet *tp, uint64_t now_ms)
{
	struct peer *p = peer_by_index(n, tp->receiver_index);

	if (!p) {
		n->cnt.tunnel_unknown_index++;
		return;
	}
	if (n->rx_defer) {
		defer_data(n, p, s, now_ms);
		return;
	}
	struct tunnel_buf b = { .data = s->buf, .len = s->len, .cap = n->slot_cap };
	if (tunnel_open_batch(&p->sess, &b, 1, now_ms) != 1) {
		n->cnt.tunnel_bad++;
		return;
	}
	data_opened(n, p, s->buf, b.len, s->base_id, &s->addr, now_ms);
}

static void on_initiation(struct node *n, struct node_slot *s, uint64_t now_ms)
{
	struct session_peer *sp = NULL;
	size_t len;
	char a[ADDR_STRLEN];

	int rc = session_respond(&n->noise, s->buf, s->len, now_ms, node_noise_lookup, n, node_new_index(n),
				 n->ctl_buf, n->ctl_cap, &len, &sp);
	if (rc != 0) {
		n->cnt.hs_rejected++;
		log_debug("handshake initiation from %s refused: %s",
			  addr_format((struct sockaddr *)&s->addr, true, a), strerror(-rc));
		return;
	}
	struct peer *p = (struct peer *)sp;
	use_source_if_pathless(p, s);
	roam_rx(p, s->base_id, &s->addr, now_ms);
	/* Answer where the initiation came from: it authenticated. */
	node_udp_send(n, s->base_id, &s->addr, n->ctl_buf, len);
	log_info("peer %s: handshake initiation from %s answered", p->jid,
		 addr_format((struct sockaddr *)&s->addr, true, a));
	peer_handshake_done(p, now_ms);
}

static void on_response(struct node *n, struct node_slot *s, const struct tunnel_packet *tp, uint64_t now_ms)
{
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (!p->have_info || p->sess.noise.state != NOISE_PEER_INIT_SENT ||
		    p->sess.noise.hs_local_index != tp->receiver_index)
			continue;
		if (session_handle_response(&n->noise, &p->sess, s->buf, s->len, now_ms) != 0) {
			n->cnt.hs_rejected++;
			return;
		}
		use_source_if_pathless(p, s);
		roam_rx(p, s->base_id, &s->addr, now_ms);
		peer_handshake_done(p, now_ms);
		peer_send_keepalive(p, now_ms); /* confirms the keypair to the responder */
		return;
	}
	n->cnt.tunnel_unknown_index++;
}

static void on_tunnel(struct node *n, struct node_slot *s, uint64_t now_ms)
{
	struct tunnel_packet tp;

	if (tunnel_packet_parse(s->buf, s->len, &tp) != 0) {
		n->cnt.tunnel_bad++;
		return;
	}
	switch (tp.type) {
	case TUNNEL_MSG_DATA:
		on_data(n, s, &tp, now_ms);
		break;
	case TUNNEL_MSG_INITIATION:
		on_initiation(n, s, now_ms);
		break;
	case TUNNEL_MSG_RESPONSE:
		on_response(n, s, &tp, now_ms);
		break;
	default:
		n->cnt.tunnel_bad++;
	}
}

/* The local ufrag in a Binding request's USERNAME ("ours:theirs"). */
static struct peer *peer_by_username(struct node *n, const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_USERNAME);

	if (!a)
		return NULL;
	const char *u = (const char *)stun_attr_value(m, a);
	const char *colon = memchr(u, ':', a->len);
	if (!colon)
		return NULL;
	size_t ulen = (size_t)(colon - u);
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p->ice_on && strlen(p->lufrag) == ulen && memcmp(p->lufrag, u, ulen) == 0)
			return p;
	}
	return NULL;
}

static void on_stun(struct node *n, struct node_slot *s, uint64_t now_ms)
{
	struct stun_msg m;
	const struct sockaddr *from = (const struct sockaddr *)&s->addr;

	if (gather_stun_input(n, &s->addr, s->base_id, s->buf, s->len, now_ms))
		return;
	if (stun_msg_parse(&m, s->buf, s->len) != 0) {
		n->cnt.stun_unmatched++;
		return;
	}
	if (m.cls == STUN_CLASS_REQUEST) {
		struct peer *p = peer_by_username(n, &m);
		if (p && ice_agent_input(&p->ice, s->base_id, from, s->buf, s->len, now_ms)) {
			peer_tick(p, now_ms);
			return;
		}
	} else if (m.cls == STUN_CLASS_SUCCESS || m.cls == STUN_CLASS_ERROR) {
		for (unsigned i = 0; i < n->npeers; i++) {
			struct peer *p = n->peers[i];
			if (p->ice_on && ice_agent_input(&p->ice, s->base_id, from, s->buf, s->len, now_ms)) {
				peer_tick(p, now_ms);
				return;
			}
		}
	} else {
		return; /* indications: keepalives, nothing to do */
	}
	n->cnt.stun_unmatched++;
}

static void prepare(struct node *n)
{
	for (unsigned i = 0; i < NODE_BATCH; i++) {
		struct node_slot *s = &n->rx[i];
		struct msghdr *mh = &n->rx_msgs[i].msg_hdr;
		s->iov.iov_base = s->buf;
		s->iov.iov_len = n->rx_cap;
		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &s->addr;
		mh->msg_namelen = sizeof(s->addr);
		mh->msg_iov = &s->iov;
		mh->msg_iovlen = 1;
		mh->msg_control = s->c.cbuf;
		mh->msg_controllen = sizeof(s->c.cbuf);
	}
}

/* The local base (IP_PKTINFO) and, for a GRO'd message, the size of its
 * datagrams (UDP_GRO; 0 when it is one datagram). */
static uint32_t base_of(struct node *n, struct msghdr *mh, size_t *gro)
{
	uint32_t base = 0;

	*gro = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			base = gather_base_of(n, pi.ipi_addr);
		} else if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
			int v;
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			*gro = v > 0 ? (size_t)v : 0;
		}
	}
	return base;
}

/* A datagram from the socket: the relay server's, or for receive_datagram. */
static void dispatch(struct node *n, struct node_slot *s, uint64_t now_ms)
{
	/* With crypto workers a data datagram from a peer (in place in its
	 * rx slot until the batch ends) waits for the batch's parallel open;
	 * anything else first completes the waiting ones, so that order is
	 * the same as without workers. */
	if (n->cpool.nworkers && s->len && s->buf[0] == TUNNEL_MSG_DATA && !relay_udp_from_server(n, s)) {
		n->rx_defer = true;
		receive_datagram(n, s, now_ms);
		n->rx_defer = false;
		return;
	}
	run_pending(n, now_ms);
	if (!relay_udp_input(n, s, now_ms))
		receive_datagram(n, s, now_ms);
}

/* A GRO'd message holds datagrams of `gro` bytes (the last may be
 * shorter) from one source; each goes through dispatch on its own, in
 * place. */
static void dispatch_gro(struct node *n, struct node_slot *s, size_t gro, uint64_t now_ms)
{
	size_t total = s->len;

	for (size_t off = 0; off < total; off += gro) {
		struct node_slot d = *s;
		d.buf = s->buf + off;
		d.len = total - off < gro ? total - off : gro;
		if (off)
			n->cnt.udp_rx++;
		dispatch(n, &d, now_ms);
	}
}

void receive_datagram(struct node *n, struct node_slot *s, uint64_t now_ms)
{
	if (tunnel_packet_is_tunnel(s->buf, s->len))
		on_tunnel(n, s, now_ms);
	else if (stun_is_message(s->buf, s->len))
		on_stun(n, s, now_ms);
	else
		n->cnt.stun_unmatched++;
}

void node_tun_flush(struct node *n)
{
	if (n->tun.vnet)
		tun_co_flush(&n->co, tun_emit, n);
}

void receive_udp(struct node *n, uint64_t now_ms)
{
	for (int rounds = 0; rounds < 8; rounds++) {
		prepare(n);
		int r = recvmmsg(n->udp_fd, n->rx_msgs, NODE_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;
		for (int i = 0; i < r; i++) {
			struct node_slot *s = &n->rx[i];
			struct msghdr *mh = &n->rx_msgs[i].msg_hdr;
			n->cnt.udp_rx++;
			if ((mh->msg_flags & MSG_TRUNC) || s->addr.sin_family != AF_INET) {
				n->cnt.udp_rx_trunc++;
				continue;
			}
			size_t gro;
			s->len = n->rx_msgs[i].msg_len;
			s->base_id = base_of(n, mh, &gro);
			if (gro && gro < s->len)
				dispatch_gro(n, s, gro, now_ms);
			else
				dispatch(n, s, now_ms);
		}
		run_pending(n, now_ms);
		node_tun_flush(n);
		if (r < NODE_BATCH)
			return;
	}
}
