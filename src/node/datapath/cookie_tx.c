/* Cookie replies of a receive batch (a node under load answers each
 * initiation without a valid mac2 with one, see tunnel/cookie.h): queued
 * while the batch is handled, then sent with one sendmmsg, since a flood
 * brings tens of thousands a second and a system call each would cost
 * more than the replies themselves. A reply through our relay goes at
 * once (the relay wraps it). */
#include <errno.h>
#include <string.h>

#include "datapath.h"

void dp_reply_queue(struct datapath *dp, const struct link_tx *tx)
{
	if (link_base_is_relay(tx->base_id) || tx->len != TUNNEL_COOKIE_REPLY_LEN) {
		bases_send(dp->bases, tx->base_id, &tx->dst, tx->data, tx->len);
		return;
	}
	if (dp->nreplies == DP_REPLIES)
		dp_reply_flush(dp);
	struct dp_reply *r = &dp->replies[dp->nreplies++];
	r->dst = tx->dst;
	r->base_id = tx->base_id;
	memcpy(r->buf, tx->data, TUNNEL_COOKIE_REPLY_LEN);
}

void dp_reply_flush(struct datapath *dp)
{
	unsigned n = dp->nreplies;

	dp->nreplies = 0;
	for (unsigned i = 0; i < n; i++) {
		struct dp_reply *r = &dp->replies[i];
		struct msghdr *mh = &dp->reply_msgs[i].msg_hdr;
		r->iov.iov_base = r->buf;
		r->iov.iov_len = TUNNEL_COOKIE_REPLY_LEN;
		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &r->dst;
		mh->msg_namelen = sizeof(r->dst);
		mh->msg_iov = &r->iov;
		mh->msg_iovlen = 1;
		udp_set_cmsgs(dp->bases, mh, r->c.cbuf, sizeof(r->c.cbuf), r->base_id, 0);
	}
	bases_tx_plain(dp->bases); /* no DF left on from a batch of checks */
	for (unsigned off = 0; off < n;) {
		int k = sendmmsg(dp->bases->udp_fd, dp->reply_msgs + off, n - off, MSG_DONTWAIT);
		if (k <= 0) { /* a full socket buffer: the rest are dropped, like any reply */
			dp->cnt.udp_tx_err += n - off;
			return;
		}
		dp->cnt.udp_tx += (unsigned)k;
		off += (unsigned)k;
	}
}
