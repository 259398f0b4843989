/* The relay's protocol core, one instance per worker thread. It owns the
 * allocations of that worker and answers STUN/TURN; it does no I/O and reads
 * no clock: the worker passes the time in and performs the sends and socket
 * operations through struct turn_io. */
#ifndef IPOP_TURN_SERVER_H
#define IPOP_TURN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct turn_conf;
struct turn_accounts;
struct turn_alloc;
struct turn_shared;

enum turn_proto { TURN_PROTO_UDP = 0, TURN_PROTO_TCP, TURN_PROTO_TLS };

/* Where a client message came from, and so where answers go. For TCP/TLS
 * `stream` is the worker's connection handle and identifies the 5-tuple. */
struct turn_conn {
	uint8_t proto;                 /* enum turn_proto */
	int fd;                        /* UDP: the listener socket that received */
	void *stream;                  /* TCP/TLS connection, NULL for UDP */
	struct sockaddr_storage client;
	struct sockaddr_storage local;
};

struct turn_io {
	void *ctx;
	/* Opens a UDP relay socket of `family` on a relay address with a port
	 * from [min_port, max_port]; `owner` is passed back on every datagram
	 * that arrives on it. Fills *bound and *relay. Returns 0 or -errno. */
	int (*relay_open)(void *ctx, struct turn_alloc *owner, int family,
			  struct sockaddr_storage *bound, void **relay);
	void (*relay_close)(void *ctx, void *relay);
	/* Sends one datagram from the relay socket to a peer. */
	void (*to_peer)(void *ctx, void *relay, const struct sockaddr *peer,
			const struct iovec *iov, int iovcnt);
	/* Sends one message to the client (datagram, or bytes on the stream). */
	void (*to_client)(void *ctx, const struct turn_conn *conn,
			  const struct iovec *iov, int iovcnt);
	/* Optional hooks; NULL refuses the feature as a server without it.
	 * RFC 8656 EVEN-PORT R=1: binds a UDP socket on exactly `addr` and
	 * only holds it (no events). The hold is released with port_release,
	 * callable from any thread and after the worker is gone, or becomes
	 * this worker's relay socket for `owner` with relay_adopt (which
	 * releases it on failure). 0 or -errno. */
	int (*port_hold)(void *ctx, const struct sockaddr *addr, void **hold);
	void (*port_release)(void *hold);
	int (*relay_adopt)(void *ctx, struct turn_alloc *owner, void *hold,
			   struct sockaddr_storage *bound, void **relay);
	/* RFC 8656 DONT-FRAGMENT: the relay's datagrams leave with DF set
	 * from now on. 0 or -errno. */
	int (*relay_dont_fragment)(void *ctx, void *relay);
	/* RFC 5780 CHANGE-REQUEST: sends to a UDP client from another of the
	 * server's addresses (`from`, which the worker listens on). */
	void (*to_client_from)(void *ctx, const struct turn_conn *conn, const struct sockaddr *from,
			       const struct iovec *iov, int iovcnt);
};

/* Error responses counted by code (err_sent), in this order; the last
 * slot counts any other code. */
#define TURN_STATS_ERR_CODES 400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 486, 508
enum { TURN_STATS_NERR = 13 };

/* Counters, per worker; summed for logs, metrics and the benchmark. Only
 * uint64_t fields: workers publish them as words (stats_pub.h). */
struct turn_stats {
	uint64_t stun_in, bad_in, auth_fail, rate_limited;
	uint64_t auth_limited; /* credentials not checked: too many failures (turn_authlimit.h) */
	uint64_t allocs_created, allocs_expired, allocs_active;
	uint64_t relayed_to_peer, relayed_to_client, dropped_no_perm, dropped_bw, dropped_policy;
	uint64_t allocs_by_proto[3];      /* active, by enum turn_proto */
	uint64_t policy_special;          /* of dropped_policy: built-in bans (loopback ...) */
	/* traffic as coturn counts it: every message from / to clients (STUN
	 * included, bytes as on the wire), every datagram from peers; bytes
	 * to peers are relayed_to_peer's payload */
	uint64_t client_in, client_in_bytes, client_out, client_out_bytes;
	uint64_t peer_in, peer_in_bytes, relayed_to_peer_bytes, relayed_to_client_bytes;
	uint64_t binding_req, binding_ok, binding_err;
	uint64_t err_sent[TURN_STATS_NERR];
};

/* The code counted in err_sent[i]; 0 for the last ("other") slot. */
int turn_stats_err_code(unsigned i);

/* State shared by all workers: quotas and capacity, behind a mutex (touched
 * only when allocations come and go). */
struct turn_shared *turn_shared_new(const struct turn_conf *conf);
void turn_shared_free(struct turn_shared *s);

struct turn_server *turn_server_new(const struct turn_conf *conf, struct turn_accounts *accounts,
				    struct turn_shared *shared, const uint8_t *nonce_key,
				    size_t nonce_key_len, const struct turn_io *io);
void turn_server_free(struct turn_server *s); /* closes every relay */

/* A STUN message or ChannelData from a client. now_ms is monotonic,
 * now_unix is wall-clock seconds (for REST expiry). */
void turn_server_on_client(struct turn_server *s, const struct turn_conn *conn,
			   const uint8_t *data, size_t len, uint64_t now_ms, int64_t now_unix);
/* A datagram a peer sent to an allocation's relay address. */
void turn_server_on_peer(struct turn_server *s, struct turn_alloc *a, const struct sockaddr *peer,
			 const uint8_t *data, size_t len, uint64_t now_ms);
/* A TCP/TLS client connection closed: its allocation goes with it. */
void turn_server_conn_closed(struct turn_server *s, const void *stream);
/* true while the TCP/TLS connection holds a live allocation. */
bool turn_server_conn_has_alloc(struct turn_server *s, const void *stream, uint64_t now_ms);
/* Expires allocations, permissions and channels. Returns the next deadline
 * (monotonic ms), or UINT64_MAX when there is nothing to expire. */
uint64_t turn_server_tick(struct turn_server *s, uint64_t now_ms);

const struct turn_stats *turn_server_stats(const struct turn_server *s);

#endif
