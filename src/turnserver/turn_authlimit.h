/* Online password guessing: failed authentications (a request that carries
 * credentials and a valid nonce, and does not verify) are counted in three
 * token buckets, and while any of a request's buckets is empty the request
 * is answered 401 without its password being checked, so the guessing
 * itself slows down, not only the answers. A valid nonce is bound to the
 * client's address, so a spoofed source can neither charge a bucket nor
 * be charged.
 *
 *   bucket                 rate    burst   what it bounds
 *   source IP + username   5/s     10      one IP guessing one account
 *   source IP              10/s    20      one IP trying many accounts
 *   username               20/s    40      many IPs guessing one account
 *
 * One IP guessing one account fills only its own pair bucket (its IP and
 * username buckets refill faster than it can drain them), so another user
 * behind the same IP, and the same user from another IP, are not slowed.
 * IPv6 sources count by their /64.
 *
 * The tables are fixed-size and shared by all workers (the kernel spreads
 * one client's ports over them), lock-free: each slot is one 64-bit word
 * (last update time, token deficit) changed with compare-and-swap. Keys are
 * SipHash values under a random key, not stored: sources that collide
 * share a bucket, which an attacker cannot aim at. Time is passed in. */
#ifndef IPOP_TURN_AUTHLIMIT_H
#define IPOP_TURN_AUTHLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct turn_authlimit;

enum turn_authlimit_verdict {
	TURN_AUTHLIMIT_OK = 0,
	TURN_AUTHLIMIT_PAIR, /* this source has failed too often for this username */
	TURN_AUTHLIMIT_IP,   /* this source has failed too often, any username */
	TURN_AUTHLIMIT_USER, /* this username has failed too often, any source */
};

enum {
	TURN_AUTHLIMIT_PAIR_RATE = 5, TURN_AUTHLIMIT_PAIR_BURST = 10,
	TURN_AUTHLIMIT_IP_RATE = 10, TURN_AUTHLIMIT_IP_BURST = 20,
	TURN_AUTHLIMIT_USER_RATE = 20, TURN_AUTHLIMIT_USER_BURST = 40,
};

/* NULL on allocation failure. */
struct turn_authlimit *turn_authlimit_new(void);
void turn_authlimit_free(struct turn_authlimit *al);
/* May the credentials of user from src be checked now? Takes nothing. */
enum turn_authlimit_verdict turn_authlimit_check(struct turn_authlimit *al,
						 const struct sockaddr *src, const char *user,
						 uint64_t now_ms);
/* A check failed: one token from each of the three buckets. */
void turn_authlimit_failed(struct turn_authlimit *al, const struct sockaddr *src,
			   const char *user, uint64_t now_ms);
const char *turn_authlimit_verdict_name(enum turn_authlimit_verdict v);

#endif
