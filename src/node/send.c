/* TUN -> peer: read a batch of packets from the TUN, look each destination
 * up in the routing table, seal it in place for that peer and send the
 * batch with one sendmmsg. A packet for an address without a link, or for
 * a peer without keys yet, is dropped and counted (the latter starts a
 * handshake). No allocation: the slots are preallocated in node_init. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <unistd.h>

#include "addr.h"
#include "ip_pkt.h"
#include "log.h"
#include "node.h"
#include "social.h"
#include "tunnel_packet.h"

/* Control messages of one datagram, or of one UDP_SEGMENT group when gso
 * is not 0: the source address (IP_PKTINFO) of a host base, and the
 * segment size. They live in the slot of the first datagram. */
static void set_cmsgs(struct node *n, struct msghdr *mh, struct node_slot *s, uint32_t base_id, uint16_t gso)
{
	char *at = s->c.cbuf;
	struct cmsghdr *cm;

	memset(s->c.cbuf, 0, sizeof(s->c.cbuf));
	if (base_id < n->nhosts) {
		cm = (struct cmsghdr *)(void *)at;
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		struct in_pktinfo pi;
		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = n->hosts[base_id].addr.sin_addr;
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		at += CMSG_SPACE(sizeof(struct in_pktinfo));
	}
	if (gso) {
		cm = (struct cmsghdr *)(void *)at;
		cm->cmsg_level = IPPROTO_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		at += CMSG_SPACE(sizeof(uint16_t));
	}
	mh->msg_controllen = (size_t)(at - s->c.cbuf);
	mh->msg_control = mh->msg_controllen ? s->c.cbuf : NULL;
}

int node_udp_send(struct node *n, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len)
{
	struct node_slot s;
	struct msghdr mh;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (base_id >= RELAY_BASE && base_id != UINT32_MAX)
		return relay_send(n, base_id, dst, buf, len);
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)dst;
	mh.msg_namelen = sizeof(*dst);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	set_cmsgs(n, &mh, &s, base_id, 0);
	if (sendmsg(n->udp_fd, &mh, MSG_DONTWAIT) < 0) {
		n->cnt.udp_tx_err++;
		return -errno;
	}
	n->cnt.udp_tx++;
	return 0;
}

/* Seals one slot for p; false when it must be dropped. */
static bool seal(struct node *n, struct peer *p, struct node_slot *s, uint64_t now_ms)
{
	struct tunnel_buf b = { .data = s->buf, .len = s->len, .cap = n->slot_cap };
	bool rekey = false;

	if (!p->have_path) {
		n->cnt.no_key++;
		peer_stage(p, s->buf, s->len);
		log_debug("peer %s: no path yet; packet staged", p->jid);
		return false;
	}
	/* With crypto workers, a packet sent from this batch's sendmmsg gets
	 * its counter and header now and its AEAD in flush (in parallel);
	 * one the relay wraps or streams must be complete at once. */
	bool defer = n->cpool.nworkers && p->base_id < RELAY_BASE;
	int ok = defer ? tunnel_seal_prepare(&p->sess, &b, now_ms, &rekey, &n->tx_jobs[n->ntx_jobs])
		       : tunnel_seal_batch(&p->sess, &b, 1, now_ms, &rekey);
	if (ok != 1) {
		n->cnt.no_key++;
		peer_stage(p, s->buf, s->len);
		log_debug("peer %s: no session key yet; packet staged, handshake wanted", p->jid);
		peer_initiate(p, now_ms);
		return false;
	}
	if (defer)
		n->ntx_jobs++;
	if (rekey)
		peer_initiate(p, now_ms);
	p->tx_bytes += s->len;
	p->tx_packets++;
	s->len = b.len;
	return true;
}

/* One sendmmsg batch: messages of one datagram, or UDP_SEGMENT groups of
 * consecutive datagrams to the same peer (all the same size but the last,
 * which may be shorter). */
struct tx_batch {
	unsigned nslot; /* tx slots taken (sealed or not) */
	unsigned niov;  /* datagrams queued */
	unsigned nmsg;
	const struct sockaddr_in *to; /* of the open group; NULL: none may grow */
	uint32_t base;
	unsigned first, cnt; /* open group: first slot, datagrams */
	size_t size, bytes;
	bool closed;
};

static void tx_add(struct node *n, struct tx_batch *b, struct peer *p, struct node_slot *s,
		   const struct sockaddr_in *to)
{
	struct iovec *iov = &n->tx_iov[b->niov++];
	iov->iov_base = s->buf;
	iov->iov_len = s->len;
	if (b->to == to && b->base == p->base_id && !b->closed && s->len <= b->size && b->cnt < NODE_GSO_SEGS &&
	    b->bytes + s->len <= NODE_GSO_BYTES) {
		struct msghdr *mh = &n->tx_msgs[b->nmsg - 1].msg_hdr;
		if (b->cnt++ == 1)
			set_cmsgs(n, mh, &n->tx[b->first], p->base_id, (uint16_t)b->size);
		mh->msg_iovlen++;
		b->bytes += s->len;
		b->closed = s->len < b->size;
		return;
	}
	struct msghdr *mh = &n->tx_msgs[b->nmsg++].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_name = (void *)to;
	mh->msg_namelen = sizeof(*to);
	set_cmsgs(n, mh, s, p->base_id, 0);
	/* Every datagram here is plain UDP from our socket: sealed packets to
	 * a peer, or ChannelData to a UDP relay server (which needs no
	 * padding), so a train of equal sizes to one address may be one
	 * UDP_SEGMENT send. */
	b->to = n->udp_gso ? to : NULL;
	b->base = p->base_id;
	b->first = (unsigned)(s - n->tx);
	b->cnt = 1;
	b->size = b->bytes = s->len;
	b->closed = false;
}

static void flush(struct node *n, struct tx_batch *b)
{
	unsigned done = 0, cnt = b->nmsg;

	if (n->ntx_jobs) { /* the deferred AEADs, before anything leaves */
		cpool_run(&n->cpool, n->tx_jobs, n->ntx_jobs);
		n->ntx_jobs = 0;
	}

	while (done < cnt) {
		int r = sendmmsg(n->udp_fd, &n->tx_msgs[done], cnt - done, MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			/* drop the message that failed (unreachable, buffer full) */
			struct msghdr *mh = &n->tx_msgs[done].msg_hdr;
			if (mh->msg_iovlen > 1 && r < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
				log_warn("udp: segmentation offload refused (%s); datagrams go one by one",
					 strerror(errno));
				n->udp_gso = false;
			}
			n->cnt.udp_tx_err += mh->msg_iovlen;
			done++;
			continue;
		}
		for (int i = 0; i < r; i++) {
			size_t k = n->tx_msgs[done + (unsigned)i].msg_hdr.msg_iovlen;
			n->cnt.udp_tx += k;
			n->cnt.udp_gso_sends += k > 1;
		}
		done += (unsigned)r;
	}
	memset(b, 0, sizeof(*b));
}

/* One plain TUN read into slot i. Returns packets read (1), 0 or -1 (none
 * left). */
static int read_plain(struct node *n, int fd, unsigned i)
{
	struct node_slot *s = &n->tx[i];
	ssize_t r = read(fd, s->buf + NODE_HEADROOM, n->slot_cap - NODE_HEADROOM - TUNNEL_TAG_LEN);
	if (r < 0)
		return -1;
	s->len = (size_t)r;
	return 1;
}

/* One TUN read with a virtio_net_hdr: a super-packet is split into slots
 * i, i+1, ... with complete checksums. */
static int read_offload(struct node *n, int fd, unsigned i)
{
	uint8_t *outs[NODE_TX_SEGS];
	size_t lens[NODE_TX_SEGS];
	struct virtio_net_hdr vh;
	unsigned max = NODE_TX_SEGS - i;

	ssize_t r = read(fd, n->tun_rbuf, TUN_VNET_HDR_LEN + TUN_GSO_MAX);
	if (r < 0)
		return -1;
	if ((size_t)r < TUN_VNET_HDR_LEN)
		return 0;
	memcpy(&vh, n->tun_rbuf, sizeof(vh));
	for (unsigned k = 0; k < max; k++)
		outs[k] = n->tx[i + k].buf + NODE_HEADROOM;
	int cnt = tun_offload_split(&vh, n->tun_rbuf + TUN_VNET_HDR_LEN, (size_t)r - TUN_VNET_HDR_LEN, outs,
				    n->slot_cap - NODE_HEADROOM - TUNNEL_TAG_LEN, lens, max);
	if (cnt < 0) {
		n->cnt.tun_split_bad++;
		log_debug("tun: packet of %zd bytes (gso type %u, size %u) not split: %s", r - TUN_VNET_HDR_LEN,
			  vh.gso_type, vh.gso_size, strerror(-cnt));
		return 0;
	}
	for (int k = 0; k < cnt; k++)
		n->tx[i + (unsigned)k].len = lens[k];
	return cnt;
}

/* Routes and seals one packet in slot s and queues it. */
static void route_one(struct node *n, struct tx_batch *b, struct node_slot *s, uint64_t now_ms)
{
	struct in_addr dst;

	if (!ip_pkt_dst4(s->buf + NODE_HEADROOM, s->len, &dst)) {
		n->cnt.tun_rx_bad++;
		return;
	}
	uint8_t *pkt = s->buf + NODE_HEADROOM;
	struct peer *p = routing_lookup(&n->rt, dst);
	if (!p && n->social && social_broadcast(n, pkt, s->len, now_ms))
		return;
	if (!p) {
		n->rt.no_route++;
		n->cnt.no_route++;
		log_debug("tun: no link for %s; packet dropped", inet_ntoa(dst));
		return;
	}
	if (n->social && !social_out(n, p, pkt, s->len))
		return;
	/* A host routed through us learns the tunnel's MSS (no PMTU black hole). */
	tun_clamp_mss(pkt, s->len, (uint16_t)(n->tun.mtu - 40));
	if (!seal(n, p, s, now_ms))
		return;
	const struct sockaddr_in *to = &p->endpoint;
	if (p->base_id >= RELAY_BASE && !(to = relay_wrap(n, s, p->base_id, &p->endpoint)))
		return; /* sent another way (stream, indication) or dropped */
	tx_add(n, b, p, s, to);
}

/* Room for the largest split: a 64 KB super-packet in MSS-sized pieces. */
static unsigned split_room(const struct node *n)
{
	if (!n->tun.vnet)
		return 1;
	size_t mss = n->slot_cap - NODE_HEADROOM - TUNNEL_TAG_LEN - 64 - 40;
	unsigned need = (unsigned)(TUN_GSO_MAX / (mss < 500 ? 500 : mss)) + 1;
	return need < NODE_TX_SEGS ? need : NODE_TX_SEGS;
}

void send_from_tun(struct node *n, uint64_t now_ms)
{
	int fd = n->tun.fds[0];
	unsigned room = split_room(n);
	struct tx_batch b;

	memset(&b, 0, sizeof(b));
	for (int rounds = 0; rounds < 8; rounds++) {
		unsigned got = 0;
		for (; got < NODE_BATCH; got++) {
			if (NODE_TX_SEGS - b.nslot < room)
				flush(n, &b);
			int k = n->tun.vnet ? read_offload(n, fd, b.nslot) : read_plain(n, fd, b.nslot);
			if (k < 0)
				break;
			n->cnt.tun_rx++;
			if (k == 0) {
				n->cnt.tun_rx_bad++;
				continue;
			}
			for (int i = 0; i < k; i++)
				route_one(n, &b, &n->tx[b.nslot + (unsigned)i], now_ms);
			b.nslot += (unsigned)k;
		}
		if (b.nmsg)
			flush(n, &b);
		else
			memset(&b, 0, sizeof(b));
		if (got < NODE_BATCH)
			return;
	}
}
