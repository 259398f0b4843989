/* TUN -> peer: read a batch of packets from the TUN, look each destination
 * up in the routing table, seal it in place for that peer and send the
 * batch with one sendmmsg. A packet for an address without a link, or for
 * a peer without keys yet, is dropped and counted (the latter starts a
 * handshake). No allocation: the slots are preallocated in node_init. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "node.h"
#include "social.h"
#include "tunnel_packet.h"

static void set_pktinfo(struct node *n, struct msghdr *mh, struct node_slot *s, uint32_t base_id)
{
	if (base_id >= n->nhosts) {
		mh->msg_control = NULL;
		mh->msg_controllen = 0;
		return;
	}
	memset(s->c.cbuf, 0, sizeof(s->c.cbuf));
	mh->msg_control = s->c.cbuf;
	mh->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
	struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi;
	memset(&pi, 0, sizeof(pi));
	pi.ipi_spec_dst = n->hosts[base_id].addr.sin_addr;
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
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
	set_pktinfo(n, &mh, &s, base_id);
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
	if (tunnel_seal_batch(&p->sess, &b, 1, now_ms, &rekey) != 1) {
		n->cnt.no_key++;
		peer_stage(p, s->buf, s->len);
		log_debug("peer %s: no session key yet; packet staged, handshake wanted", p->jid);
		peer_initiate(p, now_ms);
		return false;
	}
	if (rekey)
		peer_initiate(p, now_ms);
	p->tx_bytes += s->len;
	p->tx_packets++;
	s->len = b.len;
	return true;
}

static void flush(struct node *n, unsigned cnt)
{
	unsigned done = 0;

	while (done < cnt) {
		int r = sendmmsg(n->udp_fd, &n->tx_msgs[done], cnt - done, MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			/* drop the datagram that failed (unreachable, buffer full) */
			n->cnt.udp_tx_err++;
			done++;
			continue;
		}
		n->cnt.udp_tx += (unsigned)r;
		done += (unsigned)r;
	}
}

void send_from_tun(struct node *n, uint64_t now_ms)
{
	int fd = n->tun.fds[0];

	for (int rounds = 0; rounds < 8; rounds++) {
		unsigned cnt = 0, got = 0;
		for (; got < NODE_BATCH; got++) {
			struct node_slot *s = &n->tx[cnt];
			ssize_t r = read(fd, s->buf + NODE_HEADROOM, n->slot_cap - NODE_HEADROOM - TUNNEL_TAG_LEN);
			if (r < 0)
				break;
			n->cnt.tun_rx++;
			struct in_addr dst;
			if (!tun_ipv4_dst(s->buf + NODE_HEADROOM, (size_t)r, &dst)) {
				n->cnt.tun_rx_bad++;
				continue;
			}
			struct peer *p = routing_lookup(&n->rt, dst);
			if (!p && n->social && social_broadcast(n, s->buf + NODE_HEADROOM, (size_t)r, now_ms))
				continue;
			if (!p) {
				n->rt.no_route++;
				n->cnt.no_route++;
				log_debug("tun: no link for %s; packet dropped", inet_ntoa(dst));
				continue;
			}
			s->len = (size_t)r;
			if (n->social && !social_out(n, p, s->buf + NODE_HEADROOM, s->len))
				continue;
			if (!seal(n, p, s, now_ms))
				continue;
			const struct sockaddr_in *to = &p->endpoint;
			if (p->base_id >= RELAY_BASE && !(to = relay_wrap(n, s, p->base_id, &p->endpoint)))
				continue; /* sent another way (stream, indication) or dropped */
			struct mmsghdr *m = &n->tx_msgs[cnt];
			memset(&m->msg_hdr, 0, sizeof(m->msg_hdr));
			s->iov.iov_base = s->buf;
			s->iov.iov_len = s->len;
			m->msg_hdr.msg_iov = &s->iov;
			m->msg_hdr.msg_iovlen = 1;
			m->msg_hdr.msg_name = (void *)to;
			m->msg_hdr.msg_namelen = sizeof(*to);
			set_pktinfo(n, &m->msg_hdr, s, p->base_id);
			cnt++;
		}
		if (cnt)
			flush(n, cnt);
		if (got < NODE_BATCH)
			return;
	}
}
