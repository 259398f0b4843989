#include "turn_udp_tx.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "turn_udp_ring.h"

enum {
	CMSG_BYTES = 64,         /* pktinfo (<= 40) + UDP_SEGMENT (24) */
	GSO_MAX_SEGS = 64,       /* the kernel's UDP_MAX_SEGMENTS on older kernels */
	GSO_MAX_BYTES = 65000,   /* one UDP message */
	GSO_OFF = 0,
	GSO_ANY = 65536,
};

struct turn_udp_tx {
	struct turn_udp_tx_stats *st;
	unsigned n;
	unsigned gso_limit;  /* runs of datagrams shorter than this may merge */
	bool warned;
	bool want_ring;               /* TURN_UDP_TX_RING, until the ring fails */
	struct turn_udp_ring *ring;   /* made by the first flush that needs it */
	bool ring_borrowed;           /* the worker's loop ring, not ours to free */
	unsigned inflight;            /* messages of a deferred flush not completed */
	/* the queue, in push order */
	int fd[TURN_UDP_TX_BATCH];
	uint16_t len[TURN_UDP_TX_BATCH];
	bool has_src[TURN_UDP_TX_BATCH];
	struct sockaddr_storage to[TURN_UDP_TX_BATCH];
	struct sockaddr_storage src[TURN_UDP_TX_BATCH];
	uint8_t buf[TURN_UDP_TX_BATCH][TURN_UDP_TX_SLOT];
	/* the messages of a flush, grouped by socket (a group's messages
	 * are adjacent, in push order) */
	int msg_fd[TURN_UDP_TX_BATCH];
	int res[TURN_UDP_TX_BATCH];
	struct mmsghdr mm[TURN_UDP_TX_BATCH];
	struct iovec iov[TURN_UDP_TX_BATCH];
	uint8_t cmsg[TURN_UDP_TX_BATCH][CMSG_BYTES];
	size_t plain_cmsg_len[TURN_UDP_TX_BATCH]; /* the pktinfo part only */
	uint8_t head[TURN_UDP_TX_BATCH];          /* queue index of the first datagram */
	uint8_t segs[TURN_UDP_TX_BATCH];          /* datagrams in the message */
	uint32_t bytes[TURN_UDP_TX_BATCH];
	bool open[TURN_UDP_TX_BATCH];             /* every segment so far full-size */
};

struct turn_udp_tx *turn_udp_tx_new(struct turn_udp_tx_stats *stats, int flags)
{
	struct turn_udp_tx *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return NULL;
	tx->st = stats;
	tx->gso_limit = flags & TURN_UDP_TX_GSO ? GSO_ANY : GSO_OFF;
	tx->want_ring = flags & TURN_UDP_TX_RING;
	return tx;
}

void turn_udp_tx_free(struct turn_udp_tx *tx)
{
	if (tx && !tx->ring_borrowed)
		turn_udp_ring_free(tx->ring);
	free(tx);
}

unsigned turn_udp_tx_pending(const struct turn_udp_tx *tx)
{
	return tx->n;
}

void turn_udp_tx_push(struct turn_udp_tx *tx, int fd, const struct sockaddr *to,
		      const struct sockaddr_storage *src, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > TURN_UDP_TX_SLOT) {
		tx->st->too_big++;
		return;
	}
	if (tx->n == TURN_UDP_TX_BATCH)
		turn_udp_tx_flush(tx);
	unsigned n = tx->n++;
	uint8_t *p = tx->buf[n];
	for (int i = 0; i < iovcnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	tx->fd[n] = fd;
	tx->len[n] = (uint16_t)total;
	memcpy(&tx->to[n], to, addr_len(to));
	tx->has_src[n] = src != NULL;
	if (src)
		tx->src[n] = *src;
}

/* Writes the control data of message m: the source address first (so
 * that a fallback can keep just that part), then UDP_SEGMENT if it is a
 * run. */
static void build_cmsg(struct turn_udp_tx *tx, unsigned m)
{
	struct msghdr *mh = &tx->mm[m].msg_hdr;
	unsigned q = tx->head[m];
	uint8_t *cbuf = tx->cmsg[m];
	size_t used = 0;

	memset(cbuf, 0, CMSG_BYTES);
	if (tx->has_src[q]) {
		struct cmsghdr *c = (struct cmsghdr *)cbuf;
		if (tx->src[q].ss_family == AF_INET) {
			struct in_pktinfo pi = { 0 };
			pi.ipi_spec_dst = ((const struct sockaddr_in *)&tx->src[q])->sin_addr;
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			used = CMSG_SPACE(sizeof(pi));
		} else {
			struct in6_pktinfo pi = { 0 };
			pi.ipi6_addr = ((const struct sockaddr_in6 *)&tx->src[q])->sin6_addr;
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			used = CMSG_SPACE(sizeof(pi));
		}
	}
	tx->plain_cmsg_len[m] = used;
	if (tx->segs[m] > 1) {
		struct cmsghdr *c = (struct cmsghdr *)(cbuf + used);
		uint16_t gso_size = tx->len[q];
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(gso_size));
		memcpy(CMSG_DATA(c), &gso_size, sizeof(gso_size));
		used += CMSG_SPACE(sizeof(gso_size));
	}
	mh->msg_control = used ? cbuf : NULL;
	mh->msg_controllen = used;
}

static bool same_source(const struct turn_udp_tx *tx, unsigned a, unsigned b)
{
	if (tx->has_src[a] != tx->has_src[b])
		return false;
	return !tx->has_src[a] ||
	       addr_equal_ip((const struct sockaddr *)&tx->src[a], (const struct sockaddr *)&tx->src[b]);
}

/* Whether queued datagram q may join message m as its next segment. */
static bool can_join(const struct turn_udp_tx *tx, unsigned m, unsigned q)
{
	unsigned h = tx->head[m];

	return tx->open[m] && tx->len[h] < tx->gso_limit && tx->len[q] <= tx->len[h] &&
	       tx->len[q] > 0 && tx->segs[m] < GSO_MAX_SEGS &&
	       tx->bytes[m] + tx->len[q] <= GSO_MAX_BYTES &&
	       addr_equal((const struct sockaddr *)&tx->to[h], (const struct sockaddr *)&tx->to[q]) &&
	       same_source(tx, h, q);
}

/* Builds the messages for the datagrams of fd from queue index first on,
 * marking them done, as messages k.. and iovecs *v.. . Returns the
 * message index after the last. */
static unsigned build_group(struct turn_udp_tx *tx, int fd, unsigned first, bool *done,
			    unsigned k, unsigned *vp)
{
	unsigned k0 = k, v = *vp;

	for (unsigned q = first; q < tx->n; q++) {
		if (done[q] || tx->fd[q] != fd)
			continue;
		done[q] = true;
		tx->iov[v] = (struct iovec){ tx->buf[q], tx->len[q] };
		if (k > k0 && can_join(tx, k - 1, q)) {
			unsigned m = k - 1;
			tx->mm[m].msg_hdr.msg_iovlen++;
			tx->segs[m]++;
			tx->bytes[m] += tx->len[q];
			tx->open[m] = tx->len[q] == tx->len[tx->head[m]];
			v++;
			continue;
		}
		tx->mm[k].msg_hdr = (struct msghdr){
			.msg_name = &tx->to[q],
			.msg_namelen = addr_len((const struct sockaddr *)&tx->to[q]),
			.msg_iov = &tx->iov[v],
			.msg_iovlen = 1,
		};
		tx->msg_fd[k] = fd;
		tx->head[k] = (uint8_t)q;
		tx->segs[k] = 1;
		tx->bytes[k] = tx->len[q];
		tx->open[k] = true;
		v++;
		k++;
	}
	for (unsigned m = k0; m < k; m++)
		build_cmsg(tx, m);
	*vp = v;
	return k;
}

/* The kernel refused run m. If GSO was the reason, stop merging what it
 * cannot take and send the run's datagrams one by one; otherwise they are
 * lost like any datagram the kernel refuses. */
static void gso_fallback(struct turn_udp_tx *tx, int fd, unsigned m, int err)
{
	struct msghdr *mh = &tx->mm[m].msg_hdr;
	struct mmsghdr one[GSO_MAX_SEGS];
	unsigned len = tx->len[tx->head[m]];

	/* A segment over the path MTU: EMSGSIZE on recent kernels (6.x),
	 * EINVAL on older ones. Without DF each datagram still leaves
	 * fragmented; with DF each one fails on its own below. */
	bool over_mtu = err == EINVAL || err == EMSGSIZE;

	if (!over_mtu && err != EIO && err != EOPNOTSUPP && err != ENOPROTOOPT) {
		/* not about GSO (buffer full, no route...): one by one would fail too */
		tx->st->send_failed += tx->segs[m];
		return;
	}
	tx->st->gso_fallbacks++;
	if (over_mtu) {
		if (len < tx->gso_limit)
			tx->gso_limit = len; /* over the path MTU: only shorter runs from now on */
	} else if (tx->gso_limit != GSO_OFF) {
		tx->gso_limit = GSO_OFF;
		if (!tx->warned) {
			tx->warned = true;
			log_info("udp: the kernel refuses UDP GSO (%s); sending datagrams one by one",
				 strerror(err));
		}
	}
	memset(one, 0, sizeof(one));
	for (unsigned s = 0; s < tx->segs[m]; s++) {
		one[s].msg_hdr = (struct msghdr){ .msg_name = mh->msg_name,
						  .msg_namelen = mh->msg_namelen,
						  .msg_iov = &mh->msg_iov[s], .msg_iovlen = 1,
						  .msg_control = tx->plain_cmsg_len[m] ? mh->msg_control : NULL,
						  .msg_controllen = tx->plain_cmsg_len[m] };
	}
	unsigned off = 0;
	while (off < tx->segs[m]) {
		int r = sendmmsg(fd, one + off, tx->segs[m] - off, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			tx->st->send_failed++;
			off++;
			continue;
		}
		tx->st->out += (unsigned)r;
		off += (unsigned)r;
	}
}

/* Counts message m sent (res >= 0) or handles its failure. */
static void sent_one(struct turn_udp_tx *tx, unsigned m, int res)
{
	if (res >= 0) {
		tx->st->out += tx->segs[m];
		tx->st->gso_msgs += tx->segs[m] > 1;
	} else if (tx->segs[m] > 1) {
		gso_fallback(tx, tx->msg_fd[m], m, -res);
	} else {
		tx->st->send_failed++;
	}
}

/* Messages [first, end) of one socket with sendmmsg. */
static void send_group(struct turn_udp_tx *tx, unsigned first, unsigned end)
{
	unsigned off = first;
	int fd = tx->msg_fd[first];

	while (off < end) {
		int r = sendmmsg(fd, tx->mm + off, end - off, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			sent_one(tx, off, -errno);
			off++; /* the first one failed: handled, go on with the rest */
			continue;
		}
		for (unsigned m = off; m < off + (unsigned)r; m++)
			sent_one(tx, m, 0);
		off += (unsigned)r;
	}
}

/* All k messages with one io_uring call; false when the ring is not there
 * (or has just failed: what it did not send is left to sendmmsg, from
 * message *first on). */
static bool send_ring(struct turn_udp_tx *tx, unsigned k, unsigned *first)
{
	if (!tx->ring) {
		tx->ring = turn_udp_ring_new(TURN_UDP_TX_BATCH);
		if (!tx->ring) {
			tx->want_ring = false;
			log_info("udp: no io_uring here; one sendmmsg per relay socket");
			return false;
		}
	}
	int err = turn_udp_ring_send(tx->ring, tx->msg_fd, tx->mm, k, tx->res);
	unsigned m = 0;
	for (; m < k && tx->res[m] != -ECANCELED; m++)
		sent_one(tx, m, tx->res[m]);
	if (err == 0) {
		tx->st->ring_calls++;
		return true;
	}
	log_warn("udp: io_uring send failed (%s); one sendmmsg per relay socket from now on",
		 strerror(-err));
	if (!tx->ring_borrowed)
		turn_udp_ring_free(tx->ring);
	tx->ring = NULL;
	tx->ring_borrowed = false;
	tx->want_ring = false;
	*first = m;
	return false;
}

/* Builds the messages of everything queued, grouped by socket. Returns
 * how many; *groups: how many sockets. */
static unsigned build_all(struct turn_udp_tx *tx, unsigned *groups)
{
	bool done[TURN_UDP_TX_BATCH] = { false };
	unsigned k = 0, v = 0;

	*groups = 0;
	for (unsigned i = 0; i < tx->n; i++) {
		if (done[i])
			continue;
		k = build_group(tx, tx->fd[i], i, done, k, &v);
		(*groups)++;
	}
	tx->n = 0;
	return k;
}

static void send_built(struct turn_udp_tx *tx, unsigned k, unsigned groups)
{
	unsigned first = 0;

	/* one socket: sendmmsg is one call already */
	if (groups > 1 && tx->want_ring && send_ring(tx, k, &first))
		return;
	while (first < k) {
		unsigned end = first + 1;
		while (end < k && tx->msg_fd[end] == tx->msg_fd[first])
			end++;
		send_group(tx, first, end);
		first = end;
	}
}

void turn_udp_tx_flush(struct turn_udp_tx *tx)
{
	unsigned groups, k = build_all(tx, &groups);

	send_built(tx, k, groups);
}

void turn_udp_tx_use_ring(struct turn_udp_tx *tx, struct turn_udp_ring *ring)
{
	if (!tx->ring_borrowed)
		turn_udp_ring_free(tx->ring);
	tx->ring = ring;
	tx->ring_borrowed = ring != NULL;
	/* given back (the worker's loop ring failed): the sends make a ring
	 * of their own again, as before the loop lent its own */
	if (ring)
		tx->want_ring = true;
}

void turn_udp_tx_flush_deferred(struct turn_udp_tx *tx)
{
	unsigned groups, k = build_all(tx, &groups);

	if (k == 0)
		return;
	/* even one socket: the wait submits it, no call of its own */
	if (!tx->ring_borrowed || turn_udp_ring_queue_send(tx->ring, tx->msg_fd, tx->mm, k, tx->res) < 0) {
		send_built(tx, k, groups);
		return;
	}
	/* counted as sent now (a failure is taken back by _complete), so
	 * that the caller sees its GSO runs in this iteration's counters */
	for (unsigned m = 0; m < k; m++)
		sent_one(tx, m, 0);
	tx->st->ring_calls++;
	tx->inflight = k;
}

void turn_udp_tx_complete(struct turn_udp_tx *tx)
{
	for (unsigned m = 0; m < tx->inflight; m++) {
		if (tx->res[m] >= 0)
			continue;
		tx->st->out -= tx->segs[m];
		tx->st->gso_msgs -= tx->segs[m] > 1;
		sent_one(tx, m, tx->res[m]);
	}
	tx->inflight = 0;
}
