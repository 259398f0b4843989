/* TUN -> link: read a batch of packets from the TUN, look each destination
 * (IPv4 or IPv6) up in the prefix table, seal it in place for that link and
 * send the batch with one sendmmsg. A packet for an address without a
 * link is dropped and counted; so is an IPv6 packet that must stay on the
 * TUN's link (link-local, multicast, NDP); one larger than the tunnel's
 * MTU gets an ICMP error back (icmp_out.c); one for a link without keys
 * yet waits in the link's stage and starts a handshake (one for a link
 * still being set up takes the overlay when it reaches the member). No
 * allocation per packet: the slots are preallocated in dp_open, a link's
 * stage comes with its first staged packet (link_stage). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <unistd.h>

#include "addr.h"
#include "ip_pkt.h"
#include "log.h"
#include "datapath.h"
#include "tunnel_packet.h"

/* Seals one slot for p; false when it must be dropped. */
static bool seal(struct datapath *dp, struct link *p, struct dp_slot *s, uint64_t now_ms)
{
	struct tunnel_buf b = { .data = s->buf, .len = s->len, .cap = dp->slot_cap };
	bool rekey = false;

	if (!p->have_path) {
		dp->cnt.no_key++;
		link_stage(p, s->buf, s->len);
		log_debug("peer %s: no path yet; packet staged", p->jid);
		return false;
	}
	/* With crypto workers, a packet sent from this batch's sendmmsg gets
	 * its counter and header now and its AEAD in flush (in parallel);
	 * one the relay wraps or streams must be complete at once. */
	bool defer = dp->cpool.nworkers && !link_base_is_relay(p->base_id) && !link_base_is_pool(p->base_id) &&
		     !link_path_overlay(p);
	int ok = defer ? tunnel_seal_prepare(&p->sess, &b, now_ms, &rekey, &dp->tx_jobs[dp->ntx_jobs])
		       : tunnel_seal_batch(&p->sess, &b, 1, now_ms, &rekey);
	if (ok != 1) {
		dp->cnt.no_key++;
		link_stage(p, s->buf, s->len);
		log_debug("peer %s: no session key yet; packet staged, handshake wanted", p->jid);
		link_initiate(p, now_ms);
		return false;
	}
	if (defer)
		dp->ntx_jobs++;
	if (rekey)
		link_initiate(p, now_ms);
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

static void tx_add(struct datapath *dp, struct tx_batch *b, struct link *p, struct dp_slot *s,
		   const struct sockaddr_in *to)
{
	struct iovec *iov = &dp->tx_iov[b->niov++];
	iov->iov_base = s->buf;
	iov->iov_len = s->len;
	if (b->to == to && b->base == p->base_id && !b->closed && s->len <= b->size && b->cnt < DP_GSO_SEGS &&
	    b->bytes + s->len <= DP_GSO_BYTES) {
		struct msghdr *mh = &dp->tx_msgs[b->nmsg - 1].msg_hdr;
		if (b->cnt++ == 1)
			udp_set_cmsgs(dp->bases, mh, dp->tx[b->first].c.cbuf, sizeof(dp->tx[b->first].c.cbuf), p->base_id,
				      (uint16_t)b->size);
		mh->msg_iovlen++;
		b->bytes += s->len;
		b->closed = s->len < b->size;
		return;
	}
	struct msghdr *mh = &dp->tx_msgs[b->nmsg++].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_name = (void *)to;
	mh->msg_namelen = sizeof(*to);
	udp_set_cmsgs(dp->bases, mh, s->c.cbuf, sizeof(s->c.cbuf), p->base_id, 0);
	/* Every datagram here is plain UDP from our socket: sealed packets to
	 * a peer, or ChannelData to a UDP relay server (which needs no
	 * padding), so a train of equal sizes to one address may be one
	 * UDP_SEGMENT send. */
	b->to = dp->bases->udp_gso ? to : NULL;
	b->base = p->base_id;
	b->first = (unsigned)(s - dp->tx);
	b->cnt = 1;
	b->size = b->bytes = s->len;
	b->closed = false;
}

/* Sends msgs[0..cnt) from the UDP socket: a message the kernel refuses is
 * dropped and counted, and a refused UDP_SEGMENT group turns GSO off. */
void dp_send_msgs(struct datapath *dp, struct mmsghdr *msgs, unsigned cnt)
{
	unsigned done = 0;

	bases_tx_plain(dp->bases); /* no DF left on from a batch of checks */
	while (done < cnt) {
		int r = sendmmsg(dp->bases->udp_fd, &msgs[done], cnt - done, MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			/* drop the message that failed (unreachable, buffer full) */
			struct msghdr *mh = &msgs[done].msg_hdr;
			if (mh->msg_iovlen > 1 && r < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
				log_warn("udp: segmentation offload refused (%s); datagrams go one by one",
					 strerror(errno));
				dp->bases->udp_gso = false;
			}
			dp->cnt.udp_tx_err += mh->msg_iovlen;
			done++;
			continue;
		}
		for (int i = 0; i < r; i++) {
			size_t k = msgs[done + (unsigned)i].msg_hdr.msg_iovlen;
			dp->cnt.udp_tx += k;
			dp->cnt.udp_gso_sends += k > 1;
		}
		done += (unsigned)r;
	}
}

static void flush(struct datapath *dp, struct tx_batch *b)
{
	if (dp->ntx_jobs) { /* the deferred AEADs, before anything leaves */
		cpool_run(&dp->cpool, dp->tx_jobs, dp->ntx_jobs);
		dp->ntx_jobs = 0;
	}
	dp_send_msgs(dp, dp->tx_msgs, b->nmsg);
	memset(b, 0, sizeof(*b));
}

/* One plain TUN read into slot i. Returns packets read (1), 0 or -1 (none
 * left). */
static int read_plain(struct datapath *dp, int fd, unsigned i)
{
	struct dp_slot *s = &dp->tx[i];
	s->buf = s->mem + DP_OVL_ROOM; /* an overlay send moved it */
	ssize_t r = read(fd, s->buf + DP_HEADROOM, dp->slot_cap - DP_HEADROOM - TUNNEL_TAG_LEN);
	if (r < 0)
		return -1;
	s->len = (size_t)r;
	return 1;
}

/* One TUN read with a virtio_net_hdr: a super-packet is split into slots
 * i, i+1, ... with complete checksums. */
static int read_offload(struct datapath *dp, int fd, unsigned i, uint64_t now_ms)
{
	uint8_t *outs[DP_TX_SEGS];
	size_t lens[DP_TX_SEGS];
	struct virtio_net_hdr vh;
	unsigned max = DP_TX_SEGS - i;

	ssize_t r = read(fd, dp->tun_rbuf, TUN_VNET_HDR_LEN + TUN_GSO_MAX);
	if (r < 0)
		return -1;
	if ((size_t)r < TUN_VNET_HDR_LEN)
		return 0;
	memcpy(&vh, dp->tun_rbuf, sizeof(vh));
	for (unsigned k = 0; k < max; k++) {
		dp->tx[i + k].buf = dp->tx[i + k].mem + DP_OVL_ROOM; /* an overlay send moved it */
		outs[k] = dp->tx[i + k].buf + DP_HEADROOM;
	}
	size_t cap = dp->slot_cap - DP_HEADROOM - TUNNEL_TAG_LEN;
	const uint8_t *pkt = dp->tun_rbuf + TUN_VNET_HDR_LEN;
	size_t len = (size_t)r - TUN_VNET_HDR_LEN;
	int cnt = tun_offload_split(&vh, pkt, len, outs, cap, lens, max);
	if (cnt == -ENOBUFS && vh.gso_type == VIRTIO_NET_HDR_GSO_NONE && len > (size_t)dp->tun.mtu) {
		dp_too_big(dp, pkt, len, now_ms); /* the TUN's MTU was raised past ours */
		return 0;
	}
	if (cnt < 0) {
		dp->cnt.tun_split_bad++;
		log_debug("tun: packet of %zd bytes (gso type %u, size %u) not split: %s", r - TUN_VNET_HDR_LEN,
			  vh.gso_type, vh.gso_size, strerror(-cnt));
		return 0;
	}
	for (int k = 0; k < cnt; k++)
		dp->tx[i + (unsigned)k].len = lens[k];
	return cnt;
}

/* Social mode, a packet without a route: a broadcast or multicast packet
 * goes to every friend whose link is up, one sealed copy each. True when
 * it was taken (sent or dropped and counted). */
static bool broadcast(struct datapath *dp, uint8_t *pkt, size_t len, uint64_t now_ms)
{
	enum social_bcast what = social_bcast_out(dp->social, pkt, len);

	if (what != SOCIAL_BCAST_SEND)
		return what == SOCIAL_BCAST_DROP;
	for (unsigned i = 0; i < dp->links->n; i++) {
		struct link *p = dp->links->l[i];
		if (p->state != LINK_UP || !p->have_path || !p->have_info)
			continue;
		memcpy(dp->bcast_buf + DP_HEADROOM, pkt, len);
		struct tunnel_buf b = { .data = dp->bcast_buf, .len = len, .cap = dp->slot_cap };
		if (tunnel_seal_batch(&p->sess, &b, 1, now_ms, NULL) != 1)
			continue;
		p->tx_bytes += len;
		p->tx_packets++;
		dp->social->bcast_tx++;
		bases_send(dp->bases, p->base_id, &p->endpoint, b.data, b.len);
	}
	return true;
}

static void no_route(struct datapath *dp, int family, const unsigned char *dst)
{
	char a[INET6_ADDRSTRLEN];

	dp->cnt.no_route++;
	log_debug("tun: no link for %s; packet dropped", inet_ntop(family, dst, a, sizeof(a)));
}

/* Routes and seals one packet in slot s and queues it. */
static void route_one(struct datapath *dp, struct tx_batch *b, struct dp_slot *s, uint64_t now_ms)
{
	uint8_t *pkt = s->buf + DP_HEADROOM;
	int family;
	const unsigned char *dst = ip_pkt_dst(pkt, s->len, &family);

	if (!dst) {
		dp->cnt.tun_rx_bad++;
		return;
	}
	if (family == AF_INET6 && ip_pkt_link_scope6(pkt, s->len)) {
		dp->cnt.link_local++; /* router solicitations, MLD, NDP: this link only */
		return;
	}
	struct link *p = prefix_table_lookup(&dp->pt, family, dst);
	if (!p && dp->social && broadcast(dp, pkt, s->len, now_ms))
		return;
	if (!p && dp->ov)
		p = dp_overlay_link(dp, family, dst, now_ms); /* a group member without a link */
	if (!p) {
		no_route(dp, family, dst);
		return;
	}
	if (!p->have_path && dp->ov)
		dp_overlay_detour(dp, p, now_ms); /* set-up under way: not waiting on it */
	if (s->len > (size_t)dp->tun.mtu) {
		dp_too_big(dp, pkt, s->len, now_ms); /* never fragmented */
		return;
	}
	if (dp->social && !social_out(dp->social, p, pkt, s->len))
		return;
	/* A host routed through us learns the tunnel's MSS (no PMTU black
	 * hole); through the overlay a frame takes OVERLAY_OVERHEAD more. */
	bool ovl = link_path_overlay(p);
	tun_clamp_mss_mtu(pkt, s->len, (unsigned)dp->tun.mtu - (ovl ? OVERLAY_OVERHEAD : 0));
	if (!seal(dp, p, s, now_ms))
		return;
	if (ovl) {
		struct link *h = dp_overlay_wrap(dp, p, &s->buf, &s->len, dp->slot_cap, now_ms);
		if (!h)
			return;
		p = h; /* the datagram goes to the next hop */
	}
	const struct sockaddr_in *to = &p->endpoint;
	if (link_base_is_relay(p->base_id) && !(to = relay_wrap(dp->bases, s->buf, &s->len, p->base_id, &p->endpoint)))
		return; /* sent another way (stream, indication) or dropped */
	if (link_base_is_pool(p->base_id)) { /* through a hard NAT: the probing's socket, one by one */
		if (portpool_send(dp->bases, p->base_id, to, s->buf, s->len, false) < 0)
			dp->cnt.udp_tx_err++;
		else
			dp->cnt.udp_tx++;
		return;
	}
	tx_add(dp, b, p, s, to);
}

/* Room for the largest split: a 64 KB super-packet in MSS-sized pieces,
 * counted with IPv6's MSS (mtu - 60), the smaller of the two families. */
static unsigned split_room(const struct datapath *dp)
{
	if (!dp->tun.vnet)
		return 1;
	size_t mss = dp->slot_cap - DP_HEADROOM - TUNNEL_TAG_LEN - 64 - 60;
	unsigned need = (unsigned)(TUN_GSO_MAX / (mss < 500 ? 500 : mss)) + 1;
	return need < DP_TX_SEGS ? need : DP_TX_SEGS;
}

void dp_send_from_tun(struct datapath *dp, uint64_t now_ms)
{
	int fd = dp->tun.fds[0];
	unsigned room = split_room(dp);
	struct tx_batch b;

	memset(&b, 0, sizeof(b));
	for (int rounds = 0; rounds < 8; rounds++) {
		unsigned got = 0;
		for (; got < DP_BATCH; got++) {
			if (DP_TX_SEGS - b.nslot < room)
				flush(dp, &b);
			int k = dp->tun.vnet ? read_offload(dp, fd, b.nslot, now_ms) : read_plain(dp, fd, b.nslot);
			if (k < 0)
				break;
			dp->cnt.tun_rx++;
			if (k == 0) {
				dp->cnt.tun_rx_bad++;
				continue;
			}
			for (int i = 0; i < k; i++)
				route_one(dp, &b, &dp->tx[b.nslot + (unsigned)i], now_ms);
			b.nslot += (unsigned)k;
		}
		if (b.nmsg)
			flush(dp, &b);
		else
			memset(&b, 0, sizeof(b));
		if (got < DP_BATCH)
			return;
	}
}
