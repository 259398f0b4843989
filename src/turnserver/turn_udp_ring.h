/* Datagrams for many UDP sockets sent with one system call: io_uring
 * sendmsg requests, submitted together and all completed before the call
 * returns. With load spread over many light flows a worker's batch goes
 * to many relay sockets, one datagram each, which sendmmsg can only send
 * one system call per socket (issue 14). Not thread-safe: one per
 * worker, used from its thread only. */
#ifndef IPOP_TURN_UDP_RING_H
#define IPOP_TURN_UDP_RING_H

#include <sys/socket.h>

struct turn_udp_ring;

/* A ring for up to `depth` messages per call; NULL when the kernel has no
 * io_uring (or it is disabled: kernel.io_uring_disabled, seccomp), and
 * the caller sends without it. */
struct turn_udp_ring *turn_udp_ring_new(unsigned depth);
void turn_udp_ring_free(struct turn_udp_ring *r);

/* Sends mm[i].msg_hdr on fd[i] for i < n (n <= depth), in order, never
 * blocking; res[i] is then the bytes sent or -errno. Returns 0, or -errno
 * when the ring failed as a whole (nothing or only part was submitted:
 * res[i] is -ECANCELED for those not sent); then stop using it. */
int turn_udp_ring_send(struct turn_udp_ring *r, const int *fd, struct mmsghdr *mm, unsigned n,
		       int *res);

#endif
