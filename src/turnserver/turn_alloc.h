/* TURN allocation state (RFC 8656 2.2, 9, 12): one struct per allocation
 * with its permissions and channel bindings, the per-worker table that finds
 * an allocation by its 5-tuple, and the cross-worker quota counters.
 *
 * Size: an allocation is one malloc of 616 bytes on x86-64 (the client's
 * turn_conn kept whole so replies need no copy, four permission and two
 * channel slots inline) plus its username; permission and channel arrays
 * move to the heap only when a client uses more than the inline slots.
 *
 * Times are monotonic milliseconds. Expiry is exact at the point of use
 * (a permission is valid while now < expires_ms); the periodic sweep only
 * reclaims memory. */
#ifndef IPOP_TURN_ALLOC_H
#define IPOP_TURN_ALLOC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"
#include "turn_ratelimit.h"
#include "turn_server.h"

union turn_sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Per peer IP; the port does not matter (RFC 8656 9). */
struct turn_perm {
	uint64_t expires_ms;
	uint8_t family;
	uint8_t ip[16];
};

/* A binding lives until expires_ms; the entry is kept for the reuse guard
 * (RFC 8656 12: neither the number nor the peer is rebound to something
 * else for 5 minutes after expiry) and dropped after that. */
struct turn_chan {
	uint64_t expires_ms;
	union turn_sa peer;
	uint16_t num;
	bool self;          /* peer is a relayed address of this server: checked per packet */
};

enum {
	TURN_ALLOC_INLINE_PERMS = 4,
	TURN_ALLOC_INLINE_CHANS = 2,
	TURN_ALLOC_MAX_PERMS = 256, /* beyond: 508, bounds what one user can pin */
	TURN_ALLOC_MAX_CHANS = 256,
};

struct turn_alloc {
	struct turn_alloc *next; /* hash chain */
	uint64_t hash;
	struct turn_conn conn;   /* where the client is; replies go here */
	uint64_t expires_ms;
	void *relay;             /* the worker's relay socket handle */
	union turn_sa relay_addr;
	char *user;
	uint8_t alloc_tid[12];   /* last Allocate, to answer its retransmissions */
	bool restricted;
	bool dont_fragment;      /* DF set on the relay socket (RFC 8656 DONT-FRAGMENT) */
	/* bandwidth: token bucket in bytes; rate 0 = unlimited */
	uint32_t bw_rate, bw_burst, bw_tokens;
	uint64_t bw_last_ms;
	uint16_t nperm, capperm, nchan, capchan;
	struct turn_perm *perms;
	struct turn_chan *chans;
	struct turn_perm perm_inline[TURN_ALLOC_INLINE_PERMS];
	struct turn_chan chan_inline[TURN_ALLOC_INLINE_CHANS];
};

struct turn_alloc *turn_alloc_new(const struct turn_conn *conn, const char *user);
/* Frees the allocation's memory; the relay is the caller's to close. */
void turn_alloc_free(struct turn_alloc *a);

/* Permissions. perm_add installs or refreshes for 300 s: 0, or -ENOSPC. */
bool turn_alloc_perm_ok(const struct turn_alloc *a, const struct sockaddr *peer, uint64_t now_ms);
int turn_alloc_perm_add(struct turn_alloc *a, const struct sockaddr *peer, uint64_t now_ms);

/* Channels. The lookups return only bindings that are live at now_ms. */
const struct turn_chan *turn_alloc_chan_by_num(const struct turn_alloc *a, uint16_t num,
					       uint64_t now_ms);
const struct turn_chan *turn_alloc_chan_by_peer(const struct turn_alloc *a,
						const struct sockaddr *peer, uint64_t now_ms);
/* 0 when num may be bound to peer (new, or the same pair again), -EEXIST
 * when either is bound, or reserved, to something else. */
int turn_alloc_chan_check(const struct turn_alloc *a, uint16_t num, const struct sockaddr *peer,
			  uint64_t now_ms);
/* Binds or refreshes for 600 s; does not touch permissions. 0, -EEXIST,
 * -ENOSPC. */
int turn_alloc_chan_bind(struct turn_alloc *a, uint16_t num, const struct sockaddr *peer,
			 uint64_t now_ms);

/* Marks the binding of num as one to this server's own relay address,
 * whose port must be checked on every packet (turn_self.h). */
void turn_alloc_chan_set_self(struct turn_alloc *a, uint16_t num, bool self);

/* Drops expired permissions and channels whose reuse guard ended. Returns
 * the earliest time something of this allocation (itself included) needs
 * attention. */
uint64_t turn_alloc_expire(struct turn_alloc *a, uint64_t now_ms);

/* Bandwidth in KB/s (0 = unlimited); take returns false when the packet
 * exceeds the allocation's budget. */
void turn_alloc_bw_set(struct turn_alloc *a, uint32_t kbps, uint64_t now_ms);
bool turn_alloc_bw_take(struct turn_alloc *a, size_t bytes, uint64_t now_ms);

/* Chained hash table keyed by the 5-tuple: (proto, client, local) for UDP,
 * the stream handle for TCP/TLS. Grows by doubling. */
struct turn_alloc_table {
	struct turn_alloc **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t seed;
};

int turn_alloc_table_init(struct turn_alloc_table *t, size_t nbuckets, uint64_t seed);
void turn_alloc_table_free(struct turn_alloc_table *t); /* the allocations are the caller's */
uint64_t turn_alloc_conn_hash(const struct turn_alloc_table *t, const struct turn_conn *conn);
struct turn_alloc *turn_alloc_find(const struct turn_alloc_table *t, const struct turn_conn *conn);
struct turn_alloc *turn_alloc_find_stream(const struct turn_alloc_table *t, const void *stream);
/* Sets a->hash from a->conn and links it in; 0 or -ENOMEM (the table is
 * unchanged then). */
int turn_alloc_insert(struct turn_alloc_table *t, struct turn_alloc *a);
void turn_alloc_remove(struct turn_alloc_table *t, struct turn_alloc *a);

/* Quotas shared by all workers (struct turn_shared, behind a mutex).
 * acquire: 0, -EDQUOT (max_relay_per_username: 486) or -ENOSPC
 * (max_client: 508). Every successful acquire is paired with a release. */
int turn_shared_acquire(struct turn_shared *s, const char *user);
void turn_shared_release(struct turn_shared *s, const char *user);
unsigned turn_shared_total(struct turn_shared *s);
/* The port reservations of EVEN-PORT R=1 (turn_reserve.h). */
struct turn_reserve *turn_shared_reserve(struct turn_shared *s);
/* The host's own addresses and the live relay ports (turn_self.h), and
 * the failed-authentication buckets (turn_authlimit.h), both shared. */
struct turn_self *turn_shared_self(struct turn_shared *s);
struct turn_authlimit *turn_shared_authlimit(struct turn_shared *s);

/* ---- The worker's core, shared by turn_server.c (requests, lifecycle)
 * and turn_data.c (data paths). Private to these files. ---- */

struct stun_msg;

enum { AUTH_LOG_FAILED = 0, AUTH_LOG_LIMITED = 1 };

struct turn_server {
	const struct turn_conf *conf;
	struct turn_accounts *accounts;
	struct turn_shared *shared;
	uint8_t *nonce_key;
	size_t nonce_key_len;
	struct turn_io io;
	struct turn_alloc_table table;
	struct turn_ratelimit rl;   /* answers to unauthenticated requests */
	struct turn_stats stats;
	struct log_ratelimit log_rl; /* debug lines remote input can trigger */
	struct turn_auth_log {
		struct log_ratelimit rl;
		uint64_t reported;  /* rl.suppressed at the last line */
	} auth_log[2];              /* AUTH_LOG_FAILED, AUTH_LOG_LIMITED */
	/* expiry sweep: a bounded slice of buckets per tick, a full pass a second */
	size_t sweep_cursor;
	uint64_t sweep_next_ms;
	uint64_t data_seq;          /* transaction ids of Data indications */
	bool reserve_pending;       /* this core made port reservations not yet seen expire */
};

void turn_send_client(struct turn_server *s, const struct turn_conn *conn, const void *buf,
		      size_t len);
/* The allocation of that 5-tuple if alive; an expired one is deleted. */
struct turn_alloc *turn_find_live(struct turn_server *s, const struct turn_conn *conn,
				  uint64_t now_ms);
/* Closes the relay, releases the quota, logs and frees. */
void turn_delete_alloc(struct turn_server *s, struct turn_alloc *a, bool expired);
/* The configured policy, then this host's own addresses: with the port
 * (a send, a channel) or the address only (a permission). */
bool turn_peer_allowed(struct turn_server *s, const struct sockaddr *peer, bool port_matters);
void turn_data_channel(struct turn_server *s, const struct turn_conn *conn,
			     const uint8_t *data, size_t len, uint64_t now_ms);
void turn_data_send_indication(struct turn_server *s, const struct turn_conn *conn,
				const struct stun_msg *m, uint64_t now_ms);
/* One error answer sent, by code (for /metrics). */
void turn_count_error(struct turn_server *s, int code);
/* turn_binding.c: a Binding request (RFC 8489, RFC 5780), and any message
 * in the RFC 3489 format (only Binding requests are answered). */
void turn_binding_request(struct turn_server *s, const struct turn_conn *conn,
			  const struct stun_msg *m, uint64_t now_ms);
void turn_binding_classic(struct turn_server *s, const struct turn_conn *conn,
			  const struct stun_msg *m, uint64_t now_ms);

#endif
