/* A worker's outgoing UDP datagrams, batched. Datagrams queued during one
 * loop iteration go out with one sendmmsg per socket (order kept per
 * socket). A run of datagrams from one socket to one destination with the
 * same length (the last may be shorter) leaves as ONE message with
 * UDP_SEGMENT (UDP GSO): the kernel builds, routes and filters the run
 * once and cuts it into the same datagrams on the wire, which is most of
 * the relay's per-packet cost (bench/turnserver). Where the kernel refuses
 * GSO (no checksum offload on the route: EIO; a length over the path MTU:
 * EINVAL) the run is sent again datagram by datagram and such runs are not
 * merged any more. Not thread-safe: one per worker. */
#ifndef IPOP_TURN_UDP_TX_H
#define IPOP_TURN_UDP_TX_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum {
	TURN_UDP_TX_BATCH = 64,   /* datagrams queued before a flush is forced */
	TURN_UDP_TX_SLOT = 4096,  /* bytes per datagram; larger ones are dropped */
};

struct turn_udp_tx_stats {
	uint64_t out;           /* datagrams the kernel took */
	uint64_t send_failed;   /* datagrams it refused */
	uint64_t too_big;       /* datagrams over TURN_UDP_TX_SLOT, dropped */
	uint64_t gso_msgs;      /* GSO messages sent (each carried >= 2 datagrams) */
	uint64_t gso_fallbacks; /* GSO messages refused and sent again one by one */
	uint64_t ring_calls;    /* flushes sent with one io_uring call (or queued on a loop ring) */
};

struct turn_udp_tx;

enum {
	TURN_UDP_TX_GSO = 1,   /* runs may be merged into GSO messages */
	/* a flush sends the messages of all its sockets with one io_uring
	 * call (turn_udp_ring.h) where the kernel allows; else one sendmmsg
	 * per socket */
	TURN_UDP_TX_RING = 2,
};

/* NULL when out of memory. flags: TURN_UDP_TX_*. */
struct turn_udp_tx *turn_udp_tx_new(struct turn_udp_tx_stats *stats, int flags);
void turn_udp_tx_free(struct turn_udp_tx *tx);

/* Queues the concatenation of iov for fd -> to; src (or NULL) is the local
 * address to send from (IP_PKTINFO / IPV6_PKTINFO, for wildcard sockets).
 * Copies everything: the caller's buffers may be reused at once. Flushes
 * first when the batch is full. */
void turn_udp_tx_push(struct turn_udp_tx *tx, int fd, const struct sockaddr *to,
		      const struct sockaddr_storage *src, const struct iovec *iov, int iovcnt);
/* Sends everything queued. */
void turn_udp_tx_flush(struct turn_udp_tx *tx);
unsigned turn_udp_tx_pending(const struct turn_udp_tx *tx);

struct turn_udp_ring;
/* Sends through the worker's loop ring (turn_udp_ring_new_loop), which
 * the caller owns, instead of a ring of its own; NULL: stop using it (and
 * any ring: sendmmsg per socket from then on). */
void turn_udp_tx_use_ring(struct turn_udp_tx *tx, struct turn_udp_ring *ring);
/* Like turn_udp_tx_flush, but with a loop ring the messages are only
 * queued on it, to go out with the ring's next wait; call
 * turn_udp_tx_complete after that wait and before the next push. */
void turn_udp_tx_flush_deferred(struct turn_udp_tx *tx);
/* Handles the failures of the last deferred flush (a refused GSO run is
 * sent again one by one). */
void turn_udp_tx_complete(struct turn_udp_tx *tx);

#endif
