/* A worker's io_uring. Two uses:
 *
 * - Sends only (turn_udp_ring_new): datagrams for many UDP sockets sent
 *   with one system call, io_uring sendmsg requests submitted together
 *   and all completed before the call returns. With load spread over
 *   many light flows a worker's batch goes to many relay sockets, one
 *   datagram each, which sendmmsg can only send one system call per
 *   socket (issue 14).
 * - The worker's whole wait (turn_udp_ring_new_loop): multishot recvmsg
 *   on UDP sockets into a ring of provided buffers, so received datagrams
 *   arrive as completions; the sends of the previous iteration queued as
 *   requests (turn_udp_ring_queue_send) and submitted by the same
 *   io_uring_enter that waits for the next datagrams (turn_udp_ring_wait).
 *   One system call per wakeup where epoll took three (epoll_wait,
 *   recvmmsg, the send). Other descriptors (an epoll set) are watched
 *   with a one-shot poll request.
 *
 * Not thread-safe: one per worker, used from its thread only (a loop
 * ring must also be created by that thread). */
#ifndef IPOP_TURN_UDP_RING_H
#define IPOP_TURN_UDP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct turn_udp_ring;

/* A ring for up to `depth` messages per call; NULL when the kernel has no
 * io_uring (or it is disabled: kernel.io_uring_disabled, seccomp), and
 * the caller sends without it. */
struct turn_udp_ring *turn_udp_ring_new(unsigned depth);
/* A loop ring: as above, plus nbufs (a power of two) receive buffers of
 * payload_max bytes each (plus room for the source address and control
 * data) shared by every socket it receives on. NULL when the kernel
 * lacks what it needs (multishot recvmsg, buffer rings: Linux 6.0). */
struct turn_udp_ring *turn_udp_ring_new_loop(unsigned depth, unsigned nbufs, size_t payload_max);
void turn_udp_ring_free(struct turn_udp_ring *r);

/* Sends mm[i].msg_hdr on fd[i] for i < n (n <= depth), in order, never
 * blocking; res[i] is then the bytes sent or -errno. Returns 0, or -errno
 * when the ring failed as a whole (nothing or only part was submitted:
 * res[i] is -ECANCELED for those not sent); then stop using it. On a loop
 * ring, completions of other requests that arrive meanwhile are kept for
 * turn_udp_ring_wait. */
int turn_udp_ring_send(struct turn_udp_ring *r, const int *fd, struct mmsghdr *mm, unsigned n,
		       int *res);

/* ---- loop rings only ---- */

/* Queues the same sends, unsubmitted: the next turn_udp_ring_wait (or
 * turn_udp_ring_submit) sends them. Until then mm, the buffers it points
 * to and res must stay as they are. res[i] is 0 now and becomes -errno
 * if message i fails (a success posts nothing); read it after that call.
 * Returns 0, or -errno when not everything could be queued (nothing is). */
int turn_udp_ring_queue_send(struct turn_udp_ring *r, const int *fd, struct mmsghdr *mm,
			     unsigned n, int *res);
/* Starts a multishot recvmsg on fd: each datagram (or GRO train) arrives
 * as an event with this tag (not 0, bit 63 clear: a pointer will do). */
int turn_udp_ring_recv_start(struct turn_udp_ring *r, int fd, uint64_t tag);
/* Starts a one-shot poll for POLLIN on fd; one event with this tag. */
int turn_udp_ring_poll_start(struct turn_udp_ring *r, int fd, uint64_t tag);

enum {
	TURN_UDP_RING_MORE = 1, /* the request stays armed (else: start it again) */
	TURN_UDP_RING_BUF = 2,  /* the event holds a buffer: turn_udp_ring_msg, then _put */
};

struct turn_udp_ring_ev {
	uint64_t tag;
	int res;        /* bytes, the poll mask, or -errno */
	uint16_t flags; /* TURN_UDP_RING_* */
	uint16_t bid;   /* the buffer, with TURN_UDP_RING_BUF */
};

/* Submits what is queued and waits until an event is there or timeout_ms
 * has passed; then moves up to max events into out. Returns how many
 * (0: timed out, interrupted, or only queued sends completed), or -errno
 * when the ring failed. */
int turn_udp_ring_wait(struct turn_udp_ring *r, int timeout_ms, struct turn_udp_ring_ev *out,
		       unsigned max);
/* Submits what is queued without waiting. 0 or -errno. */
int turn_udp_ring_submit(struct turn_udp_ring *r);

/* A received message: its bytes, its source, and a msghdr holding only
 * its control data (for the cmsg parsers). */
struct turn_udp_ring_msg {
	uint8_t *data;
	size_t len;
	const struct sockaddr_storage *from;
	bool truncated;  /* longer than the buffer: the datagram is cut */
	struct msghdr mh;
};

/* The message of an event with TURN_UDP_RING_BUF; false when it is
 * malformed (then only _put it). */
bool turn_udp_ring_msg(struct turn_udp_ring *r, const struct turn_udp_ring_ev *ev,
		       struct turn_udp_ring_msg *m);
/* Gives the event's buffer back for new datagrams. */
void turn_udp_ring_put(struct turn_udp_ring *r, const struct turn_udp_ring_ev *ev);

#endif
