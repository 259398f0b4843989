/* RFC 8656 port reservations (see turn_reserve.h). A flat array scanned
 * linearly: it holds at most TURN_RESERVE_MAX entries, is touched only by
 * Allocates with EVEN-PORT R=1 or RESERVATION-TOKEN and by the once-a-second
 * sweep, and a scan of 1024 small entries costs less than the bind that
 * goes with it. */
#include "turn_reserve.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "stun_msg.h"

struct entry {
	bool used;
	uint64_t expires_ms;
	uint64_t user_hash;
	uint8_t token[TURN_RESERVE_TOKEN_LEN];
	uint8_t tid[STUN_TID_LEN];
	void *hold;
	void (*release)(void *hold);
	struct sockaddr_storage addr;
};

struct turn_reserve {
	pthread_mutex_t lock;
	unsigned cap, per_user, count;
	uint64_t seed;
	struct entry *e;
};

static uint64_t user_hash(const struct turn_reserve *r, const char *user)
{
	uint64_t h = 1469598103934665603ull ^ r->seed; /* FNV-1a, seeded */
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

struct turn_reserve *turn_reserve_new(unsigned cap, unsigned per_user)
{
	struct turn_reserve *r = calloc(1, sizeof(*r));
	uint8_t seed[STUN_TID_LEN];

	if (!r)
		return NULL;
	r->cap = cap ? cap : TURN_RESERVE_MAX;
	r->per_user = per_user;
	r->e = calloc(r->cap, sizeof(*r->e));
	if (!r->e || pthread_mutex_init(&r->lock, NULL)) {
		free(r->e);
		free(r);
		return NULL;
	}
	stun_tid_random(seed);
	memcpy(&r->seed, seed, sizeof(r->seed));
	return r;
}

static void drop(struct turn_reserve *r, struct entry *e)
{
	if (e->release)
		e->release(e->hold);
	memset(e, 0, sizeof(*e));
	r->count--;
}

void turn_reserve_free(struct turn_reserve *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->cap; i++)
		if (r->e[i].used)
			drop(r, &r->e[i]);
	pthread_mutex_destroy(&r->lock);
	free(r->e);
	free(r);
}

int turn_reserve_put(struct turn_reserve *r, const char *user, const uint8_t tid[12], void *hold,
		     void (*release)(void *hold), const struct sockaddr *addr, uint64_t now_ms,
		     uint8_t token[TURN_RESERVE_TOKEN_LEN])
{
	uint64_t uh = user_hash(r, user);
	struct entry *slot = NULL;
	unsigned mine = 0;
	uint8_t rnd[STUN_TID_LEN];

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->cap; i++) {
		struct entry *e = &r->e[i];
		if (e->used && now_ms >= e->expires_ms)
			drop(r, e); /* expired: make room */
		if (!e->used) {
			if (!slot)
				slot = e;
		} else if (e->user_hash == uh) {
			mine++;
		}
	}
	if (!slot || (r->per_user && mine >= r->per_user)) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	stun_tid_random(rnd);
	memcpy(token, rnd, TURN_RESERVE_TOKEN_LEN);
	*slot = (struct entry){ .used = true, .expires_ms = now_ms + TURN_RESERVE_HOLD_MS,
				.user_hash = uh, .hold = hold, .release = release };
	memcpy(slot->token, token, TURN_RESERVE_TOKEN_LEN);
	memcpy(slot->tid, tid, STUN_TID_LEN);
	memcpy(&slot->addr, addr, addr_len(addr));
	r->count++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void *turn_reserve_take(struct turn_reserve *r, const uint8_t token[TURN_RESERVE_TOKEN_LEN],
			uint64_t now_ms, struct sockaddr_storage *addr)
{
	void *hold = NULL;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->cap && r->count; i++) {
		struct entry *e = &r->e[i];
		if (!e->used || memcmp(e->token, token, TURN_RESERVE_TOKEN_LEN) != 0)
			continue;
		if (now_ms >= e->expires_ms) {
			drop(r, e);
			break;
		}
		hold = e->hold;
		*addr = e->addr;
		e->release = NULL; /* the hold is the caller's now */
		drop(r, e);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return hold;
}

bool turn_reserve_token_of(struct turn_reserve *r, const uint8_t tid[12], uint64_t now_ms,
			   uint8_t token[TURN_RESERVE_TOKEN_LEN])
{
	bool found = false;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->cap && r->count && !found; i++) {
		struct entry *e = &r->e[i];
		if (e->used && now_ms < e->expires_ms && memcmp(e->tid, tid, STUN_TID_LEN) == 0) {
			memcpy(token, e->token, TURN_RESERVE_TOKEN_LEN);
			found = true;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

unsigned turn_reserve_expire(struct turn_reserve *r, uint64_t now_ms)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->cap && r->count; i++)
		if (r->e[i].used && now_ms >= r->e[i].expires_ms)
			drop(r, &r->e[i]);
	unsigned n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}
