#include "turn_udp_ring.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

enum {
	/* user_data of our own sends: bit 63 (callers' tags keep it clear),
	 * bit 62 for queued (deferred) ones, the message index below */
	SEND_BIT = 63,
	DEFER_BIT = 62,
	BGID = 0,            /* the one buffer group */
	CMSG_ROOM = 128,     /* pktinfo (<= 40) + UDP_GRO (24) + SO_RXQ_OVFL (20) */
	STASH = 1024,        /* events kept between waits */
	/* room left in the stash for events that must not be dropped
	 * (requests that ended, polls): at most one per armed request */
	STASH_RESERVE = 128,
	BUF_PAD = 320,       /* keeps buffers' first lines apart in the cache */
};

#define TAG_SEND (1ull << SEND_BIT)
#define TAG_DEFER (1ull << DEFER_BIT)

struct turn_udp_ring {
	struct io_uring ring;
	unsigned depth;
	bool loop;
	/* the send being waited for (turn_udp_ring_send) */
	int *sync_res;
	unsigned sync_n, sync_done;
	/* queued sends (turn_udp_ring_queue_send) */
	int *def_res;
	unsigned def_n;
	/* receive buffers */
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	size_t stride, buf_len; /* apart / long: header, name, control, payload */
	unsigned nbufs;
	struct msghdr tmpl; /* the multishot recvmsg's name and control sizes */
	/* events of the caller's requests, in arrival order */
	struct turn_udp_ring_ev *stash;
	unsigned st_head, st_n;
};

static int ring_init(struct turn_udp_ring *r, unsigned depth, bool loop)
{
	struct io_uring_params p;
	/* SUBMIT_ALL: one refused message does not stop the ones after it;
	 * COOP_TASKRUN: no interrupt of the worker for completion work. A
	 * loop ring's completions may also wait until the worker waits
	 * (DEFER_TASKRUN: a wakeup then finds them together). Older kernels
	 * know none of them: then plain. */
	const unsigned try[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int err = -EINVAL;

	for (unsigned i = loop ? 0 : 1; i < sizeof(try) / sizeof(try[0]) && err == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = try[i];
		if (loop) { /* room for a burst of receive events */
			p.flags |= IORING_SETUP_CQSIZE;
			p.cq_entries = 4 * depth;
		}
		err = io_uring_queue_init_params(depth, &r->ring, &p);
	}
	if (err < 0)
		return err;
	(void)io_uring_register_ring_fd(&r->ring); /* saves a file lookup per call */
	r->depth = depth;
	return 0;
}

struct turn_udp_ring *turn_udp_ring_new(unsigned depth)
{
	struct turn_udp_ring *r = calloc(1, sizeof(*r));
	if (r && ring_init(r, depth, false) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

/* Offers buffer bid as the ring's off-th new entry (published by advance). */
static void buf_add(struct turn_udp_ring *r, unsigned bid, int off)
{
	io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * r->stride, (unsigned)r->buf_len,
			      (unsigned short)bid, io_uring_buf_ring_mask(r->nbufs), off);
}

static int bufs_init(struct turn_udp_ring *r, unsigned nbufs, size_t payload_max)
{
	size_t head = sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_storage) +
		      CMSG_ROOM;
	void *br;

	if (nbufs == 0 || (nbufs & (nbufs - 1)) || nbufs > 32768)
		return -EINVAL;
	r->nbufs = nbufs;
	r->buf_len = head + payload_max;
	r->stride = (r->buf_len + 63) / 64 * 64 + BUF_PAD;
	/* zeroed: the kernel fills them, which memory checkers do not see
	 * (a large calloc is fresh pages: no RSS until used) */
	r->bufs = calloc(nbufs, r->stride);
	if (!r->bufs || posix_memalign(&br, 4096, nbufs * sizeof(struct io_uring_buf)))
		return -ENOMEM;
	r->br = br;
	io_uring_buf_ring_init(r->br);
	struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)br, .ring_entries = nbufs,
					.bgid = BGID };
	int err = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (err < 0) {
		free(br);
		r->br = NULL;
		return err;
	}
	for (unsigned i = 0; i < nbufs; i++)
		buf_add(r, i, (int)i);
	io_uring_buf_ring_advance(r->br, (int)nbufs);
	r->tmpl.msg_namelen = sizeof(struct sockaddr_storage);
	r->tmpl.msg_controllen = CMSG_ROOM;
	return 0;
}

struct turn_udp_ring *turn_udp_ring_new_loop(unsigned depth, unsigned nbufs, size_t payload_max)
{
	struct turn_udp_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (ring_init(r, depth, true) < 0) {
		free(r);
		return NULL;
	}
	r->loop = true;
	r->stash = calloc(STASH, sizeof(*r->stash));
	if (!r->stash || bufs_init(r, nbufs, payload_max) < 0) {
		turn_udp_ring_free(r);
		return NULL;
	}
	return r;
}

void turn_udp_ring_free(struct turn_udp_ring *r)
{
	if (!r)
		return;
	/* cancels what is still armed, before the buffers go */
	io_uring_queue_exit(&r->ring);
	free(r->br);
	free(r->bufs);
	free(r->stash);
	free(r);
}

/* An event for the caller, kept for turn_udp_ring_wait. When the stash is
 * nearly full (it cannot be: the buffers run out first) a datagram is
 * dropped rather than an event that says a request ended. */
static void stash_push(struct turn_udp_ring *r, const struct io_uring_cqe *cqe)
{
	struct turn_udp_ring_ev ev = { .tag = cqe->user_data, .res = cqe->res };

	if (cqe->flags & IORING_CQE_F_MORE)
		ev.flags |= TURN_UDP_RING_MORE;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		ev.flags |= TURN_UDP_RING_BUF;
		ev.bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	}
	if (r->st_n >= STASH - STASH_RESERVE && (ev.flags & TURN_UDP_RING_MORE)) {
		if (ev.flags & TURN_UDP_RING_BUF)
			turn_udp_ring_put(r, &ev);
		return;
	}
	if (r->st_n == STASH) /* cannot happen: one reserve slot per armed request */
		return;
	r->stash[(r->st_head + r->st_n++) % STASH] = ev;
}

/* Takes every completion there is: results of sends into their slots,
 * the caller's events into the stash. Returns the sync sends completed. */
static unsigned reap(struct turn_udp_ring *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, got = 0, sends = 0;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		uint64_t ud = cqe->user_data;
		unsigned i = (unsigned)(ud & 0xffff);
		got++;
		if (!(ud & TAG_SEND)) {
			if (r->loop)
				stash_push(r, cqe);
		} else if (ud & TAG_DEFER) {
			if (i < r->def_n)
				r->def_res[i] = cqe->res;
		} else if (i < r->sync_n) {
			r->sync_res[i] = cqe->res;
			sends++;
		}
	}
	io_uring_cq_advance(&r->ring, got);
	return sends;
}

int turn_udp_ring_send(struct turn_udp_ring *r, const int *fd, struct mmsghdr *mm, unsigned n,
		       int *res)
{
	unsigned i;

	if (n > r->depth)
		return -EINVAL;
	if (io_uring_sq_space_left(&r->ring) < n)
		(void)io_uring_submit(&r->ring); /* a loop ring's pending requests */
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			break;
		res[i] = -ECANCELED; /* until its completion says otherwise */
		/* MSG_DONTWAIT: a full socket buffer completes with -EAGAIN
		 * at once, as with sendmmsg, instead of waiting for room. */
		io_uring_prep_sendmsg(sqe, fd[i], &mm[i].msg_hdr, MSG_DONTWAIT);
		io_uring_sqe_set_data64(sqe, TAG_SEND | i);
	}
	unsigned queued = i;
	for (; i < n; i++)
		res[i] = -ECANCELED;
	r->sync_res = res;
	r->sync_n = n;
	r->sync_done = 0;
	unsigned pending = io_uring_sq_ready(&r->ring);
	int sub = io_uring_submit_and_wait(&r->ring, queued);
	while (sub == -EINTR)
		sub = io_uring_submit_and_wait(&r->ring, queued);
	if (sub < 0) {
		r->sync_n = 0;
		return sub;
	}
	/* UDP sends complete inline; anything else is waited for here so
	 * that the caller may reuse the messages. */
	int err = 0;
	if ((unsigned)sub == pending) {
		r->sync_done += reap(r);
		while (r->sync_done < queued) {
			struct io_uring_cqe *cqe;
			err = io_uring_wait_cqe(&r->ring, &cqe);
			if (err < 0 && err != -EINTR)
				break;
			err = 0;
			r->sync_done += reap(r);
		}
	}
	r->sync_n = 0;
	if (err < 0)
		return err;
	return (unsigned)sub == pending && queued == n ? 0 : -EIO;
}

int turn_udp_ring_queue_send(struct turn_udp_ring *r, const int *fd, struct mmsghdr *mm,
			     unsigned n, int *res)
{
	if (!r->loop || n > r->depth)
		return -EINVAL;
	if (io_uring_sq_space_left(&r->ring) < n) {
		int err = io_uring_submit(&r->ring);
		if (err < 0)
			return err;
		if (io_uring_sq_space_left(&r->ring) < n)
			return -EBUSY;
	}
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		res[i] = 0;
		io_uring_prep_sendmsg(sqe, fd[i], &mm[i].msg_hdr, MSG_DONTWAIT);
		/* a completion only for a failure: the wait it is submitted
		 * with then sleeps until datagrams come, not until it ends */
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, TAG_SEND | TAG_DEFER | i);
	}
	r->def_res = res;
	r->def_n = n;
	return 0;
}

/* A free entry for a loop request tagged tag, submitting what is queued
 * when the ring is full; NULL and *err when there is none. */
static struct io_uring_sqe *loop_sqe(struct turn_udp_ring *r, uint64_t tag, int *err)
{
	*err = -EINVAL;
	if (!r->loop || !tag || (tag & TAG_SEND))
		return NULL;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) {
		*err = io_uring_submit(&r->ring);
		if (*err < 0)
			return NULL;
		sqe = io_uring_get_sqe(&r->ring);
		*err = -EBUSY;
	}
	return sqe;
}

int turn_udp_ring_recv_start(struct turn_udp_ring *r, int fd, uint64_t tag)
{
	int err;
	struct io_uring_sqe *sqe = loop_sqe(r, tag, &err);
	if (!sqe)
		return err;
	io_uring_prep_recvmsg_multishot(sqe, fd, &r->tmpl, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

int turn_udp_ring_poll_start(struct turn_udp_ring *r, int fd, uint64_t tag)
{
	int err;
	struct io_uring_sqe *sqe = loop_sqe(r, tag, &err);
	if (!sqe)
		return err;
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

int turn_udp_ring_submit(struct turn_udp_ring *r)
{
	if (!io_uring_sq_ready(&r->ring))
		return 0;
	int err = io_uring_submit(&r->ring);
	return err < 0 ? err : 0;
}

int turn_udp_ring_wait(struct turn_udp_ring *r, int timeout_ms, struct turn_udp_ring_ev *out,
		       unsigned max)
{
	int err;

	if (!r->loop)
		return -EINVAL;
	if (r->st_n || io_uring_cq_ready(&r->ring)) {
		err = turn_udp_ring_submit(r);
	} else {
		struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
						.tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
		struct io_uring_cqe *cqe;
		err = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
		if (err == -ETIME || err == -EINTR || err > 0)
			err = 0;
	}
	/* sends that were queued have completed now, submitted or not */
	reap(r);
	r->def_n = 0;
	if (err < 0 && err != -EINTR && err != -EAGAIN)
		return err;
	unsigned n = 0;
	for (; n < max && r->st_n; n++, r->st_n--) {
		out[n] = r->stash[r->st_head];
		r->st_head = (r->st_head + 1) % STASH;
	}
	return (int)n;
}

bool turn_udp_ring_msg(struct turn_udp_ring *r, const struct turn_udp_ring_ev *ev,
		       struct turn_udp_ring_msg *m)
{
	if (!(ev->flags & TURN_UDP_RING_BUF) || ev->bid >= r->nbufs || ev->res < 0)
		return false;
	uint8_t *buf = r->bufs + (size_t)ev->bid * r->stride;
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, ev->res, &r->tmpl);
	if (!o)
		return false;
	m->data = io_uring_recvmsg_payload(o, &r->tmpl);
	m->len = io_uring_recvmsg_payload_length(o, ev->res, &r->tmpl);
	m->from = (const struct sockaddr_storage *)io_uring_recvmsg_name(o);
	m->truncated = o->flags & MSG_TRUNC;
	memset(&m->mh, 0, sizeof(m->mh));
	m->mh.msg_control = o->controllen ? (uint8_t *)m->from + r->tmpl.msg_namelen : NULL;
	m->mh.msg_controllen = o->controllen;
	return true;
}

void turn_udp_ring_put(struct turn_udp_ring *r, const struct turn_udp_ring_ev *ev)
{
	if (!(ev->flags & TURN_UDP_RING_BUF) || ev->bid >= r->nbufs)
		return;
	buf_add(r, ev->bid, 0);
	io_uring_buf_ring_advance(r->br, 1);
}
