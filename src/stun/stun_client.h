/* Sans-IO STUN Binding client (RFC 8489 6.2.1, 7.3): one transaction that
 * learns the server-reflexive address. Over UDP it retransmits with RTO
 * doubling from 500 ms, Rc = 7 sends, and gives up Rm * RTO after the last;
 * over a stream it sends once and waits Ti = 39.5 s. */
#ifndef IPOP_STUN_CLIENT_H
#define IPOP_STUN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun_proto.h"

enum {
	STUN_CLIENT_RTO_MS = 500,
	STUN_CLIENT_RC = 7,
	STUN_CLIENT_RM = 16,
	STUN_CLIENT_TI_MS = 39500,
	STUN_CLIENT_MSG_MAX = 128,
};

enum stun_client_state {
	STUN_CLIENT_IDLE = 0,
	STUN_CLIENT_RUNNING,
	STUN_CLIENT_DONE,    /* mapped address known */
	STUN_CLIENT_FAILED,  /* error: a STUN error code, or -ETIMEDOUT */
};

struct stun_client {
	enum stun_client_state state;
	bool stream;
	bool need_send;
	unsigned tries;
	uint32_t rto_ms, next_rto_ms;
	uint64_t deadline_ms;
	uint8_t tid[STUN_TID_LEN];
	size_t len;
	uint8_t msg[STUN_CLIENT_MSG_MAX];
	struct sockaddr_storage mapped;
	int error;
	uint64_t retransmits;
	/* RFC 5780: CHANGE-REQUEST flags to send (set after init, before
	 * start; 0 = none), and the answer's OTHER-ADDRESS (AF_UNSPEC when
	 * the server offers no behaviour discovery). */
	uint8_t change;
	struct sockaddr_storage other;
};

/* rto_ms 0 means the RFC default of 500 ms. */
void stun_client_init(struct stun_client *c, bool stream, uint32_t rto_ms);
/* Builds the Binding request (with FINGERPRINT) and queues it; restarts a
 * finished client with a new transaction. Returns 0 or -errno. */
int stun_client_start(struct stun_client *c, uint64_t now_ms);
/* Next bytes to send: length, 0 when none, -ENOSPC if cap is too small. */
int stun_client_poll_transmit(struct stun_client *c, uint8_t *buf, size_t cap);
/* A datagram or one whole stream frame. Returns 0 when it answered our
 * transaction, -ENOENT when it is not ours, -EBADMSG when malformed. */
int stun_client_input(struct stun_client *c, const uint8_t *buf, size_t len, uint64_t now_ms);
/* Absolute deadline, UINT64_MAX when nothing is pending. */
uint64_t stun_client_timeout(const struct stun_client *c);
void stun_client_handle_timeout(struct stun_client *c, uint64_t now_ms);

static inline enum stun_client_state stun_client_state(const struct stun_client *c)
{
	return c->state;
}
static inline const struct sockaddr *stun_client_mapped(const struct stun_client *c)
{
	return (const struct sockaddr *)&c->mapped;
}
const char *stun_client_state_name(enum stun_client_state s);

#endif
