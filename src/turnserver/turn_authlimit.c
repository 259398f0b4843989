#include "turn_authlimit.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum {
	PAIR_SLOTS = 16384, IP_SLOTS = 4096, USER_SLOTS = 4096, /* 192 KB in all */
	DEFICIT_BITS = 20,  /* milli-tokens owed; the largest burst is 40000 */
	KEY_MAX = 16 + 1 + 513,
};
#define TIME_MASK ((UINT64_C(1) << (64 - DEFICIT_BITS)) - 1) /* 557 years of ms */
#define DEFICIT_MASK ((UINT64_C(1) << DEFICIT_BITS) - 1)

_Static_assert(TURN_AUTHLIMIT_USER_BURST * 1000 <= DEFICIT_MASK, "deficit fits its bits");

struct bucket_kind {
	uint32_t rate;  /* tokens per second = milli-tokens per ms */
	uint32_t burst; /* tokens */
};

static const struct bucket_kind PAIR = { TURN_AUTHLIMIT_PAIR_RATE, TURN_AUTHLIMIT_PAIR_BURST };
static const struct bucket_kind IP = { TURN_AUTHLIMIT_IP_RATE, TURN_AUTHLIMIT_IP_BURST };
static const struct bucket_kind USER = { TURN_AUTHLIMIT_USER_RATE, TURN_AUTHLIMIT_USER_BURST };

/* A slot is (last update ms << DEFICIT_BITS) | milli-tokens missing from
 * a full bucket, so the zeroed table is all full buckets. */
struct turn_authlimit {
	unsigned char key[crypto_shorthash_KEYBYTES];
	atomic_uint_least64_t pair[PAIR_SLOTS];
	atomic_uint_least64_t ip[IP_SLOTS];
	atomic_uint_least64_t user[USER_SLOTS];
};

struct keys {
	uint64_t pair, ip, user;
};

struct turn_authlimit *turn_authlimit_new(void)
{
	if (sodium_init() < 0)
		return NULL;
	struct turn_authlimit *al = calloc(1, sizeof(*al));
	if (!al)
		return NULL;
	randombytes_buf(al->key, sizeof(al->key));
	return al;
}

void turn_authlimit_free(struct turn_authlimit *al)
{
	if (al)
		sodium_memzero(al->key, sizeof(al->key));
	free(al);
}

static uint64_t hash(const struct turn_authlimit *al, const uint8_t *p, size_t n)
{
	uint64_t h;
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, p, n, al->key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The source's key bytes: an IPv4 address, or an IPv6 /64, tagged. */
static size_t source_bytes(const struct sockaddr *src, uint8_t out[17])
{
	if (src->sa_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &((const struct sockaddr_in *)src)->sin_addr, 4);
		return 5;
	}
	if (src->sa_family == AF_INET6) {
		out[0] = 6;
		memcpy(out + 1, &((const struct sockaddr_in6 *)src)->sin6_addr, 8);
		return 9;
	}
	out[0] = 0;
	return 1;
}

static struct keys keys_of(const struct turn_authlimit *al, const struct sockaddr *src,
			   const char *user)
{
	uint8_t buf[KEY_MAX];
	size_t ulen = strnlen(user, 513);
	size_t n = source_bytes(src, buf);
	struct keys k;

	k.ip = hash(al, buf, n);
	buf[n++] = 0; /* between the source and the name: no ambiguity */
	memcpy(buf + n, user, ulen);
	k.pair = hash(al, buf, n + ulen);
	k.user = hash(al, (const uint8_t *)user, ulen);
	return k;
}

static uint64_t deficit_at(uint64_t v, uint64_t now, const struct bucket_kind *k)
{
	uint64_t last = v >> DEFICIT_BITS, def = v & DEFICIT_MASK;
	uint64_t back = now > last ? (now - last) * k->rate : 0;
	return back >= def ? 0 : def - back;
}

static bool has_token(atomic_uint_least64_t *slot, uint64_t now, const struct bucket_kind *k)
{
	uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
	return (uint64_t)k->burst * 1000 - deficit_at(v, now, k) >= 1000;
}

static void take(atomic_uint_least64_t *slot, uint64_t now, const struct bucket_kind *k)
{
	uint64_t full = (uint64_t)k->burst * 1000;
	uint64_t v = atomic_load_explicit(slot, memory_order_relaxed), nv;
	do {
		uint64_t last = v >> DEFICIT_BITS;
		uint64_t def = deficit_at(v, now, k) + 1000;
		if (def > full)
			def = full;
		/* Workers' clocks differ by a little: time never goes back. */
		nv = ((now > last ? now : last) << DEFICIT_BITS) | def;
	} while (!atomic_compare_exchange_weak_explicit(slot, &v, nv, memory_order_relaxed,
							memory_order_relaxed));
}

enum turn_authlimit_verdict turn_authlimit_check(struct turn_authlimit *al,
						 const struct sockaddr *src, const char *user,
						 uint64_t now_ms)
{
	struct keys k = keys_of(al, src, user);
	uint64_t now = now_ms & TIME_MASK;

	if (!has_token(&al->pair[k.pair % PAIR_SLOTS], now, &PAIR))
		return TURN_AUTHLIMIT_PAIR;
	if (!has_token(&al->ip[k.ip % IP_SLOTS], now, &IP))
		return TURN_AUTHLIMIT_IP;
	if (!has_token(&al->user[k.user % USER_SLOTS], now, &USER))
		return TURN_AUTHLIMIT_USER;
	return TURN_AUTHLIMIT_OK;
}

void turn_authlimit_failed(struct turn_authlimit *al, const struct sockaddr *src,
			   const char *user, uint64_t now_ms)
{
	struct keys k = keys_of(al, src, user);
	uint64_t now = now_ms & TIME_MASK;

	take(&al->pair[k.pair % PAIR_SLOTS], now, &PAIR);
	take(&al->ip[k.ip % IP_SLOTS], now, &IP);
	take(&al->user[k.user % USER_SLOTS], now, &USER);
}

const char *turn_authlimit_verdict_name(enum turn_authlimit_verdict v)
{
	switch (v) {
	case TURN_AUTHLIMIT_OK: return "ok";
	case TURN_AUTHLIMIT_PAIR: return "this source and username";
	case TURN_AUTHLIMIT_IP: return "this source";
	case TURN_AUTHLIMIT_USER: return "this username";
	}
	return "?";
}
