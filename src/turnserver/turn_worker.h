/* A relay worker: one thread with its own loop, its own SO_REUSEPORT
 * UDP/TCP/TLS listeners (so the kernel hashes each client 5-tuple to one
 * worker), its own turn_server core, and the relay sockets of the
 * allocations that core owns. The core's sends are batched
 * (turn_udp_tx.h) and flushed at the end of every loop iteration. The
 * loop is epoll's, or with IPOP_TURN_URING=loop io_uring's where the
 * kernel allows (turn_udp_ring.h: the UDP listeners' datagrams arrive as
 * multishot recvmsg completions, and one io_uring_enter submits an
 * iteration's sends and waits for the next datagrams); relay sockets,
 * TCP/TLS and the stop event are in an epoll set either way (read with
 * recvmmsg into preallocated slots), which the io_uring loop polls
 * through the ring. */
#ifndef IPOP_TURN_WORKER_H
#define IPOP_TURN_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "turn_connlimit.h"
#include "turn_server.h"
#include "turn_stream.h"
#include "turn_udp_tx.h"

/* Process-wide state, owned by main and read by every worker. */
struct turn_worker_shared {
	const struct turn_conf *conf;
	struct turn_accounts *accounts;
	struct turn_shared *shared;
	const uint8_t *nonce_key;
	size_t nonce_key_len;
	SSL_CTX *tls;            /* NULL when the TLS listener is off */
	int stop_fd;             /* an eventfd; once readable, every worker exits */
	unsigned max_conns;      /* TCP + TLS connections, all workers together */
	atomic_uint conns;
	struct turn_connlimit *connlimit; /* connections per source IP */
	struct turn_stream_budget wq_budget; /* write-queue memory of all connections */
};

struct turn_worker_stats {
	struct turn_stats core;
	struct turn_stream_stats stream;
	struct turn_udp_tx_stats tx; /* datagrams sent, refused, too big; GSO runs */
	uint64_t udp_in, udp_truncated;
	uint64_t udp_gro_trains;      /* messages received holding >= 2 datagrams (UDP_GRO) */
	uint64_t udp_rxq_drops;       /* dropped by the kernel: receive queue full (SO_RXQ_OVFL) */
	uint64_t rx_moderated;        /* sleeps of receive moderation */
	uint64_t relay_open_failed, relays_open;
	uint64_t conns_open, conns_accepted, conns_rejected, conns_idle_closed, accept_paused;
	uint64_t conns_open_tls, conns_accepted_tls; /* of conns_open / conns_accepted */
	uint64_t conns_ip_limited;    /* refused: max_connections_per_ip reached */
	uint64_t conns_shed;          /* closed as slow readers when queue memory ran short */
};

/* Seconds a TCP/TLS connection may take to deliver its first frame (and
 * finish its TLS handshake); then it is closed. */
#define TURN_WORKER_FIRST_FRAME_S 10
/* Seconds a TCP/TLS connection may go without an allocation (since it was
 * accepted, or since its allocation ended), whatever it sends meanwhile:
 * a connection is for one allocation (RFC 8656 3.1), and STUN Bindings
 * alone must not keep a slot taken. Checked once a second. */
#define TURN_WORKER_NOALLOC_S 30

struct turn_worker;

/* Opens the worker's listeners (call before dropping privileges) and its
 * core. NULL on error, after logging why. */
struct turn_worker *turn_worker_new(struct turn_worker_shared *sh, unsigned id);
int turn_worker_start(struct turn_worker *w);
/* Waits for the thread (after sh->stop_fd was signalled). */
void turn_worker_join(struct turn_worker *w);
/* Frees the core, every relay, connection and listener. */
void turn_worker_free(struct turn_worker *w);
/* The counters as the worker last published them: every 100 ms while it
 * is busy, at least once a second. Any thread; it never blocks the worker
 * (a sequence lock, stats_pub.h). */
void turn_worker_get_stats(struct turn_worker *w, struct turn_worker_stats *out);
/* Adds b into a, field by field. */
void turn_worker_stats_add(struct turn_worker_stats *a, const struct turn_worker_stats *b);

#endif
