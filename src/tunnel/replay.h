/* Sliding replay window on a receive counter, RFC 6479 style: a ring of
 * 64-bit blocks where moving the window clears whole blocks. One block is
 * kept as slack so the newest counter's block never aliases the oldest, so
 * the usable window is (REPLAY_BLOCKS - 1) * 64 counters behind the highest
 * one seen. Check before decrypting (cheap), update after authenticating. */
#ifndef IPOP_REPLAY_H
#define IPOP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_BLOCKS = 32,                        /* 2048 bits */
	REPLAY_WINDOW = (REPLAY_BLOCKS - 1) * 64,  /* 1984 */
};
/* Counters at or above this are never accepted (the sender stops first). */
#define REPLAY_COUNTER_LIMIT (UINT64_MAX - REPLAY_WINDOW - 1)

struct replay_window {
	uint64_t last; /* highest counter accepted, valid when any */
	bool any;
	uint64_t blocks[REPLAY_BLOCKS];
};

void replay_init(struct replay_window *w);
/* True if `counter` would be accepted now. */
bool replay_check(const struct replay_window *w, uint64_t counter);
/* Marks `counter` seen; false (and no change) if it is a replay or too old. */
bool replay_update(struct replay_window *w, uint64_t counter);

#endif
