/* Port reservations for RFC 8656 EVEN-PORT with R=1 (7.2): an Allocate
 * that asks for one gets an even relay port and the next port is held for
 * TURN_RESERVE_HOLD_MS under an 8-byte RESERVATION-TOKEN; a later Allocate
 * that presents the token gets that port. The later Allocate comes from
 * another client 5-tuple and so, with SO_REUSEPORT, usually to another
 * worker: the table is shared by all workers behind its own mutex (taken
 * only when reservations come and go). It is bounded in total and per user
 * and lives outside the allocations, which it costs nothing.
 *
 * A held port is the worker's opaque handle (struct turn_io port_hold),
 * released with the function stored beside it, which must work from any
 * thread. Times are monotonic milliseconds. */
#ifndef IPOP_TURN_RESERVE_H
#define IPOP_TURN_RESERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	TURN_RESERVE_TOKEN_LEN = 8,
	TURN_RESERVE_HOLD_MS = 30000, /* RFC 8656 7.2: "approximately 30 seconds" */
	TURN_RESERVE_MAX = 1024,      /* held ports, all users together */
};

struct turn_reserve;

/* cap: entries in all (0 = TURN_RESERVE_MAX); per_user: entries per
 * username (0 = no per-user bound). NULL when out of memory. */
struct turn_reserve *turn_reserve_new(unsigned cap, unsigned per_user);
/* Releases every hold still in the table. */
void turn_reserve_free(struct turn_reserve *r);

/* Stores a hold of addr (the reserved relay address and port) made by
 * `user`'s Allocate with transaction id tid, until now_ms +
 * TURN_RESERVE_HOLD_MS, and writes its new random token. 0, or -ENOSPC
 * when the table or the user's share is full (the hold is then still the
 * caller's). */
int turn_reserve_put(struct turn_reserve *r, const char *user, const uint8_t tid[12], void *hold,
		     void (*release)(void *hold), const struct sockaddr *addr, uint64_t now_ms,
		     uint8_t token[TURN_RESERVE_TOKEN_LEN]);
/* Takes the reservation of token out of the table: returns its hold and
 * fills *addr, or NULL when there is none (never issued, taken already, or
 * expired: an expired one is released here). */
void *turn_reserve_take(struct turn_reserve *r, const uint8_t token[TURN_RESERVE_TOKEN_LEN],
			uint64_t now_ms, struct sockaddr_storage *addr);
/* The token of the live reservation that the Allocate with transaction id
 * tid made, for answering its retransmission; false when none. */
bool turn_reserve_token_of(struct turn_reserve *r, const uint8_t tid[12], uint64_t now_ms,
			   uint8_t token[TURN_RESERVE_TOKEN_LEN]);
/* Releases the expired reservations; returns how many remain. */
unsigned turn_reserve_expire(struct turn_reserve *r, uint64_t now_ms);

#endif
