/* Sans-IO TURN client (RFC 8656 client side, long-term credentials).
 *
 * The caller owns the socket and the clock. It feeds bytes received from the
 * server to turn_client_input(), drains turn_client_poll_transmit() and
 * turn_client_poll_event() after every call, and calls
 * turn_client_handle_timeout() when turn_client_timeout() has passed.
 * Over UDP requests are retransmitted (RFC 8489 6.2.1: RTO 500 ms doubling,
 * Rc = 7, give up after 39.5 s). Over TCP/TLS the caller does the TLS and
 * the socket; the client frames and deframes STUN and padded ChannelData. */
#ifndef IPOP_TURN_CLIENT_H
#define IPOP_TURN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun_proto.h"

enum {
	TURN_CLIENT_MAX_PEERS = 64,  /* permissions/channels kept (ipopd: remote candidates) */
	TURN_CLIENT_MAX_TX = 8,       /* concurrent transactions */
	TURN_CLIENT_TX_BUF = 512,     /* a request never carries data */
	TURN_CLIENT_MAX_EVENTS = 16,
	TURN_CLIENT_STR_MAX = 128,    /* username, password, realm, nonce */
	/* Over streams, frames larger than this are skipped and counted. */
	TURN_CLIENT_STREAM_MAX_FRAME = 4096,
	TURN_CLIENT_RTO_MS = 500,
	TURN_CLIENT_RC = 7,
	TURN_CLIENT_RM = 16,
	TURN_CLIENT_STREAM_TIMEOUT_MS = 39500,
	/* Refresh this long before the allocation expires. */
	TURN_CLIENT_REFRESH_MARGIN_S = 60,
	TURN_CLIENT_PERM_REFRESH_S = 240,  /* permissions last 300 s */
	TURN_CLIENT_CHAN_REFRESH_S = 540,  /* channels last 600 s */
	TURN_CLIENT_MAX_AUTH_RETRIES = 3,  /* 401/438 loops per request */
};

enum turn_client_transport {
	TURN_CLIENT_UDP = 0,
	TURN_CLIENT_TCP,
	TURN_CLIENT_TLS, /* framed like TCP; the caller runs TLS */
};

enum turn_client_state {
	TURN_CLIENT_IDLE = 0,
	TURN_CLIENT_ALLOCATING,
	TURN_CLIENT_ALLOCATED,
	TURN_CLIENT_CLOSING,
	TURN_CLIENT_CLOSED,
	TURN_CLIENT_REDIRECTED,
	TURN_CLIENT_FAILED,
};

enum turn_client_event_type {
	TURN_EV_NONE = 0,
	TURN_EV_ALLOCATED,      /* addr = relayed address, lifetime */
	TURN_EV_REFRESHED,      /* lifetime */
	TURN_EV_FAILED,         /* code: STUN error code, or -ETIMEDOUT / -EACCES */
	TURN_EV_REDIRECT,       /* addr = ALTERNATE-SERVER; make a new client */
	TURN_EV_CLOSED,
	TURN_EV_PERMISSION,     /* addr = peer; code 0 ok, else the failure */
	TURN_EV_CHANNEL,        /* addr = peer, channel; code 0 ok, else the failure */
	TURN_EV_DATA,           /* addr = peer, channel (0 for Data indication), data/len */
};

struct turn_client_event {
	enum turn_client_event_type type;
	int code;
	uint32_t lifetime;
	uint16_t channel;
	struct sockaddr_storage addr;
	/* TURN_EV_DATA: points into the bytes given to turn_client_input (or
	 * the client's stream buffer); valid until the next turn_client_input
	 * and while the caller leaves its buffer alone. */
	const uint8_t *data;
	size_t len;
};

struct turn_client_config {
	struct sockaddr_storage server;
	const char *username;
	const char *password;
	enum turn_client_transport transport;
	int family;          /* AF_INET (default when 0) or AF_INET6 for the relayed address */
	uint32_t lifetime;   /* requested allocation lifetime in s; 0 = server default */
	const char *software; /* SOFTWARE attribute, NULL = none */
};

struct turn_client_stats {
	uint64_t rx_bad;          /* unparsable, wrong integrity, unknown transaction */
	uint64_t rx_unknown_chan; /* ChannelData for a channel we did not bind */
	uint64_t rx_skipped;      /* oversized stream frames skipped */
	uint64_t retransmits;
	uint64_t events_dropped;  /* the event queue was full */
};

/* Implementation state; read it through the functions below. */
struct turn_peer {
	bool used;
	struct sockaddr_storage addr;
	uint16_t channel;        /* 0 = none requested */
	bool perm_ok, chan_ok;
	bool perm_pending, chan_pending;
	uint64_t perm_refresh_ms, chan_refresh_ms; /* 0 = nothing scheduled */
};

struct turn_tx {
	bool used;
	bool need_send;
	bool authed;             /* sent with MESSAGE-INTEGRITY */
	uint8_t tries;           /* sends so far */
	uint8_t auth_retries;
	uint16_t method;
	int peer;                /* index in peers, or -1 */
	uint32_t lifetime;       /* REFRESH: requested lifetime (0 = delete) */
	uint32_t rto_ms;
	uint64_t deadline_ms;    /* next retransmission, or give-up */
	uint8_t tid[STUN_TID_LEN];
	uint16_t len;
	uint8_t msg[TURN_CLIENT_TX_BUF];
};

struct turn_client {
	struct turn_client_config cfg;
	char username[TURN_CLIENT_STR_MAX];
	char password[TURN_CLIENT_STR_MAX];
	char software[64];
	char realm[TURN_CLIENT_STR_MAX];
	uint8_t nonce[TURN_CLIENT_STR_MAX];
	size_t nonce_len;
	uint8_t pwalgs[32];      /* PASSWORD-ALGORITHMS to echo (RFC 8489 9.2.4) */
	size_t pwalgs_len;
	uint16_t pwalg;          /* 0 = none sent */
	uint8_t key[32];
	size_t key_len;          /* 0 = no credentials yet */

	enum turn_client_state state;
	struct sockaddr_storage relayed, mapped;
	uint32_t lifetime;
	uint64_t expires_ms, refresh_ms;
	uint16_t next_channel;

	struct turn_peer peers[TURN_CLIENT_MAX_PEERS];
	struct turn_tx tx[TURN_CLIENT_MAX_TX];

	struct turn_client_event events[TURN_CLIENT_MAX_EVENTS];
	unsigned ev_head, ev_count;

	/* stream reassembly (TCP/TLS only) */
	uint8_t *rx;             /* 2 * max frame: a delivered frame + the next partial */
	size_t rx_start, rx_len, rx_skip;

	struct turn_client_stats stats;
};

/* Copies the strings. Returns 0, -EINVAL (bad config) or -ENOMEM. */
int turn_client_init(struct turn_client *c, const struct turn_client_config *cfg);
/* Frees the stream buffer; the struct may be reused with turn_client_init. */
void turn_client_free(struct turn_client *c);

/* Queues the first Allocate. Returns 0 or -EALREADY. */
int turn_client_start(struct turn_client *c, uint64_t now_ms);

/* Bytes from the server (a datagram, or any chunk of the stream). Returns 0,
 * -EBADMSG for a dropped datagram, or -EPROTO when a stream is no longer
 * STUN/ChannelData (the caller should close the connection). */
int turn_client_input(struct turn_client *c, const uint8_t *buf, size_t len, uint64_t now_ms);

/* Next message to send, copied into buf: its length, 0 when none, or
 * -ENOSPC when cap is too small (the message stays queued). */
int turn_client_poll_transmit(struct turn_client *c, uint8_t *buf, size_t cap);

/* Absolute time of the next timer, or UINT64_MAX when none. */
uint64_t turn_client_timeout(const struct turn_client *c);
void turn_client_handle_timeout(struct turn_client *c, uint64_t now_ms);

/* Installs (and keeps refreshing) a permission for the peer's IP.
 * Returns 0, -ENOTCONN (not allocated), -ENOSPC (peer table full) or
 * -EBUSY (no free transaction; retry later). */
int turn_client_create_permission(struct turn_client *c, const struct sockaddr *peer,
				  uint64_t now_ms);
/* Binds a channel to the peer (which also installs the permission) and
 * keeps it bound. Same returns as above. */
int turn_client_bind_channel(struct turn_client *c, const struct sockaddr *peer,
			     uint64_t now_ms);
/* Stops refreshing the peer's permission and channel. */
void turn_client_remove_peer(struct turn_client *c, const struct sockaddr *peer);
/* The i-th peer slot (0 <= i < TURN_CLIENT_MAX_PEERS): false when unused,
 * else its address in *out. For walking the peers the client keeps. */
bool turn_client_peer_at(const struct turn_client *c, unsigned i, struct sockaddr_storage *out);
/* A permission/channel for the peer was asked for (and is kept up). */
bool turn_client_has_peer(const struct turn_client *c, const struct sockaddr *peer);
/* The bound channel for the peer, or 0. */
uint16_t turn_client_channel(const struct turn_client *c, const struct sockaddr *peer);

/* Encodes data toward the peer into out: ChannelData when a channel is
 * bound, else a Send indication. Returns the length to put on the wire,
 * -ENOTCONN (not allocated) or -EMSGSIZE (does not fit cap / too long). */
int turn_client_send(const struct turn_client *c, const struct sockaddr *peer,
		     const uint8_t *data, size_t len, uint8_t *out, size_t cap);

/* Pops the next event. Returns true when ev was filled. */
bool turn_client_poll_event(struct turn_client *c, struct turn_client_event *ev);

/* Deletes the allocation (Refresh with LIFETIME 0). TURN_EV_CLOSED follows
 * the answer or the give-up. Returns 0 or -ENOTCONN. */
int turn_client_close(struct turn_client *c, uint64_t now_ms);

static inline enum turn_client_state turn_client_state(const struct turn_client *c)
{
	return c->state;
}
const struct sockaddr *turn_client_relayed(const struct turn_client *c);
const struct sockaddr *turn_client_mapped(const struct turn_client *c);
const char *turn_client_state_name(enum turn_client_state s);
const char *turn_client_event_name(enum turn_client_event_type t);

#endif
