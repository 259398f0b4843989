#include "turn_udp_ring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>

struct turn_udp_ring {
	struct io_uring ring;
	unsigned depth;
};

struct turn_udp_ring *turn_udp_ring_new(unsigned depth)
{
	struct turn_udp_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	/* SUBMIT_ALL: one refused message does not stop the ones after it;
	 * COOP_TASKRUN: no interrupt of the worker for completion work. Older
	 * kernels know neither: then plain. */
	int err = io_uring_queue_init(depth, &r->ring,
				      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN);
	if (err == -EINVAL)
		err = io_uring_queue_init(depth, &r->ring, 0);
	if (err < 0) {
		free(r);
		return NULL;
	}
	(void)io_uring_register_ring_fd(&r->ring); /* saves a file lookup per call */
	r->depth = depth;
	return r;
}

void turn_udp_ring_free(struct turn_udp_ring *r)
{
	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	free(r);
}

/* Collects every completion there is into res. Returns how many. */
static unsigned reap(struct turn_udp_ring *r, unsigned n, int *res)
{
	struct io_uring_cqe *cqe;
	unsigned head, got = 0;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		if (cqe->user_data < n)
			res[cqe->user_data] = cqe->res;
		got++;
	}
	io_uring_cq_advance(&r->ring, got);
	return got;
}

int turn_udp_ring_send(struct turn_udp_ring *r, const int *fd, struct mmsghdr *mm, unsigned n,
		       int *res)
{
	unsigned i;

	if (n > r->depth)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			break;
		res[i] = -ECANCELED; /* until its completion says otherwise */
		/* MSG_DONTWAIT: a full socket buffer completes with -EAGAIN
		 * at once, as with sendmmsg, instead of waiting for room. */
		io_uring_prep_sendmsg(sqe, fd[i], &mm[i].msg_hdr, MSG_DONTWAIT);
		io_uring_sqe_set_data64(sqe, i);
	}
	for (; i < n; i++)
		res[i] = -ECANCELED;
	int sub = io_uring_submit_and_wait(&r->ring, n);
	while (sub == -EINTR)
		sub = io_uring_submit_and_wait(&r->ring, n);
	if (sub < 0)
		return sub;
	unsigned done = reap(r, n, res);
	/* UDP sends complete inline; anything else is waited for here so
	 * that the caller may reuse the messages. */
	while (done < (unsigned)sub) {
		struct io_uring_cqe *cqe;
		int err = io_uring_wait_cqe(&r->ring, &cqe);
		if (err < 0 && err != -EINTR)
			return err;
		done += reap(r, n, res);
	}
	return (unsigned)sub == n ? 0 : -EIO;
}
