/* The overlay in the data path (overlay_proto.h): packets for a group
 * member without a direct link go end-to-end encrypted for that member,
 * framed, and sealed again for the linked member closest to it on the
 * ring (node/overlay); a member that receives a frame for someone else
 * passes it on the same way, in place, with the hop limit one less. A
 * forwarding member sees only the endpoints' ciphertext. */
#include <errno.h>
#include <string.h>

#include "byteorder.h"
#include "datapath.h"
#include "log.h"
#include "tunnel_packet.h"

static void put_pos(uint8_t *p, ring_pos pos)
{
	be32_put(p, (uint32_t)(pos >> 32));
	be32_put(p + 4, (uint32_t)pos);
}

static ring_pos get_pos(const uint8_t *p)
{
	return (ring_pos)be32_get(p) << 32 | be32_get(p + 4);
}

/* The linked member to hand a frame for dst to: one with a path of its own. */
static struct link *next_hop(const struct datapath *dp, ring_pos dst)
{
	struct link *h = dp->ov ? overlay_next_hop(dp->ov, dst) : NULL;
	return h && h->have_path && !link_path_overlay(h) ? h : NULL;
}

/* Seals bytes [data + 16, data + 16 + len) for hop h in place; false when
 * h has no key (a handshake is started). */
static bool seal_for(struct link *h, uint8_t *data, size_t len, size_t cap, size_t *out, uint64_t now_ms)
{
	struct tunnel_buf b = { .data = data, .len = len, .cap = cap };
	bool rekey = false;

	if (tunnel_seal_batch(&h->sess, &b, 1, now_ms, &rekey) != 1) {
		link_initiate(h, now_ms);
		return false;
	}
	if (rekey)
		link_initiate(h, now_ms);
	h->tx_bytes += len;
	h->tx_packets++;
	*out = b.len;
	return true;
}

struct link *dp_overlay_wrap(struct datapath *dp, struct link *e, uint8_t **buf, size_t *len, size_t cap,
			     uint64_t now_ms)
{
	struct link *h = dp->ov && dp->ov->c.multihop ? next_hop(dp, ring_pos_of(e->id, SIGNAL_ID_LEN)) : NULL;
	uint8_t *f = *buf - OVERLAY_FRAME_HDR_LEN;

	if (!h) {
		dp->cnt.ovl.no_hop++;
		return NULL;
	}
	f[0] = OVERLAY_FRAME_TYPE;
	f[OVERLAY_FRAME_OFF_TTL] = (uint8_t)dp->ov->c.hop_limit;
	f[2] = 0;
	f[OVERLAY_FRAME_OFF_HOPS] = 1;
	put_pos(f + OVERLAY_FRAME_OFF_DST, ring_pos_of(e->id, SIGNAL_ID_LEN));
	put_pos(f + OVERLAY_FRAME_OFF_SRC, dp->ov->self);
	uint8_t *start = *buf - DP_OVL_ROOM;
	if (!seal_for(h, start, OVERLAY_FRAME_HDR_LEN + *len, cap + DP_OVL_ROOM, len, now_ms)) {
		dp->cnt.ovl.no_hop++;
		return NULL;
	}
	*buf = start;
	dp->cnt.ovl.out++;
	return h;
}

int dp_overlay_send(struct datapath *dp, struct link *e, const uint8_t *data, size_t len, uint64_t now_ms)
{
	uint8_t buf[DP_OVL_ROOM + 2048 + TUNNEL_TAG_LEN];
	uint8_t *p = buf + DP_OVL_ROOM;
	size_t n = len;

	if (len > 2048)
		return -EMSGSIZE;
	memcpy(p, data, len);
	struct link *h = dp_overlay_wrap(dp, e, &p, &n, sizeof(buf) - DP_OVL_ROOM, now_ms);
	if (!h)
		return -ENETUNREACH;
	return bases_send(dp->bases, h->base_id, &h->endpoint, p, n);
}

/* A frame may wait for the end of the batch only where it came in: a
 * receive slot, which lives until the next recvmmsg. */
static bool in_rx_slot(const struct datapath *dp, const uint8_t *p)
{
	for (unsigned i = 0; i < DP_BATCH; i++)
		if (p >= dp->rx[i].buf && p < dp->rx[i].buf + dp->rx_cap)
			return true;
	return false;
}

static bool same_dst(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* Queues a sealed frame for next hop h: it joins the last message as one
 * more UDP_SEGMENT datagram when it goes to the same place and fits the
 * run (all equal but the last), else it starts a message. */
static void fwd_add(struct datapath *dp, const struct link *h, uint8_t *buf, size_t len)
{
	struct dp_fwd_batch *f = &dp->fwd;

	if (f->niov == DP_FWD_MAX)
		dp_overlay_flush(dp);
	struct iovec *iov = &f->iov[f->niov++];
	iov->iov_base = buf;
	iov->iov_len = len;
	unsigned m = f->nmsg;
	if (m && dp->bases->udp_gso && f->base == h->base_id && same_dst(&f->to[m - 1], &h->endpoint) && !f->closed &&
	    len <= f->size && f->cnt < DP_GSO_SEGS && f->bytes + len <= DP_GSO_BYTES) {
		struct msghdr *last = &f->msgs[m - 1].msg_hdr;
		if (f->cnt++ == 1)
			udp_set_cmsgs(dp->bases, last, f->c[m - 1].cbuf, sizeof(f->c[m - 1].cbuf), h->base_id,
				      (uint16_t)f->size);
		last->msg_iovlen++;
		f->bytes += len;
		f->closed = len < f->size;
		return;
	}
	struct msghdr *mh = &f->msgs[f->nmsg++].msg_hdr;
	f->to[m] = h->endpoint;
	memset(mh, 0, sizeof(*mh));
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_name = &f->to[m];
	mh->msg_namelen = sizeof(f->to[m]);
	udp_set_cmsgs(dp->bases, mh, f->c[m].cbuf, sizeof(f->c[m].cbuf), h->base_id, 0);
	f->base = h->base_id;
	f->cnt = 1;
	f->size = f->bytes = len;
	f->closed = false;
}

void dp_overlay_in(struct datapath *dp, struct link *from, uint8_t *buf, size_t len, uint64_t now_ms)
{
	uint8_t *f = buf + TUNNEL_DATA_HEADER_LEN;

	if (!dp->ov || !dp->ov->c.multihop) {
		dp->cnt.ovl.off++;
		return;
	}
	if (len < OVERLAY_FRAME_HDR_LEN + TUNNEL_DATA_MIN_LEN || link_path_overlay(from)) {
		dp->cnt.ovl.nested++; /* too short, or a frame inside a frame */
		return;
	}
	ring_pos dst = get_pos(f + OVERLAY_FRAME_OFF_DST);
	if (dst == dp->ov->self) {
		dp->cnt.ovl.in++;
		dp->ovl_rx_hops = f[OVERLAY_FRAME_OFF_HOPS];
		dp_receive_overlay(dp, f + OVERLAY_FRAME_HDR_LEN, len - OVERLAY_FRAME_HDR_LEN,
				   len - OVERLAY_FRAME_HDR_LEN + TUNNEL_TAG_LEN, now_ms);
		return;
	}
	uint8_t ttl = f[OVERLAY_FRAME_OFF_TTL];
	if (ttl <= 1) {
		dp->cnt.ovl.ttl_expired++;
		return;
	}
	struct link *h = next_hop(dp, dst);
	if (!h || h == from) {
		dp->cnt.ovl.no_hop++;
		return;
	}
	f[OVERLAY_FRAME_OFF_TTL] = (uint8_t)(ttl - 1);
	if (f[OVERLAY_FRAME_OFF_HOPS] < UINT8_MAX)
		f[OVERLAY_FRAME_OFF_HOPS]++;
	size_t out;
	/* the sealed frame is exactly as long as the packet it came in */
	if (!seal_for(h, buf, len, len + TUNNEL_DATA_MIN_LEN, &out, now_ms)) {
		dp->cnt.ovl.no_hop++;
		return;
	}
	dp->cnt.ovl.forwarded++;
	if (dp->in_rx_batch && !link_base_is_relay(h->base_id) && in_rx_slot(dp, buf))
		fwd_add(dp, h, buf, out);
	else
		bases_send(dp->bases, h->base_id, &h->endpoint, buf, out);
}

void dp_overlay_flush(struct datapath *dp)
{
	struct dp_fwd_batch *f = &dp->fwd;

	dp_send_msgs(dp, f->msgs, f->nmsg);
	f->nmsg = f->niov = 0;
}

struct link *dp_overlay_member(struct datapath *dp, const struct member *m, uint64_t now_ms)
{
	if (!m || !m->has_key || !m->has_ip4 || !dp->ov)
		return NULL;
	if (!dp->ov->c.multihop) {
		/* nothing carries it until a direct link is up: this packet
		 * is dropped, and asks for the link */
		overlay_want(dp->ov, m->id, now_ms);
		return NULL;
	}
	struct link *l = links_overlay(dp->links, m->jid, m->key, m->ip4, m->has_ip6 ? &m->ip6 : NULL, now_ms);
	if (!l)
		return NULL;
	/* its prefixes come with the link's PEER_INFO event (node_routes.c);
	 * until then each packet finds the link here */
	dp->cnt.ovl.sessions++;
	return l;
}

struct link *dp_overlay_link(struct datapath *dp, int family, const void *dst, uint64_t now_ms)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!dp->members || !dp->ov)
		return NULL;
	if (family == AF_INET6) {
		memcpy(&a6, dst, sizeof(a6)); /* dst points into a packet: no alignment */
		return dp_overlay_member(dp, members_by_ip6(dp->members, &a6), now_ms);
	}
	memcpy(&a4, dst, sizeof(a4));
	return dp_overlay_member(dp, members_by_ip4(dp->members, a4), now_ms);
}

void dp_overlay_detour(struct datapath *dp, struct link *p, uint64_t now_ms)
{
	if (p->have_path || p->state == LINK_UP || !dp->ov || !dp->ov->c.multihop || !dp->members)
		return;
	const struct member *m = members_by_id(dp->members, p->id);
	if (m && next_hop(dp, ring_pos_of(p->id, SIGNAL_ID_LEN)))
		dp_overlay_member(dp, m, now_ms);
}
