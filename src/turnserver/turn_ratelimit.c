#include "turn_ratelimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int turn_ratelimit_init(struct turn_ratelimit *rl, uint32_t nslots, uint32_t rate_per_s,
			uint32_t burst, uint64_t seed)
{
	memset(rl, 0, sizeof(*rl));
	if (nslots == 0 || nslots > (1u << 24) || rate_per_s == 0 || burst == 0 ||
	    burst > UINT32_MAX / 1000)
		return -EINVAL;
	uint32_t n = 1;
	while (n < nslots)
		n <<= 1;
	rl->slots = calloc(n, sizeof(*rl->slots));
	if (!rl->slots)
		return -ENOMEM;
	rl->mask = n - 1;
	rl->rate = rate_per_s;
	rl->burst = burst;
	rl->seed = seed;
	/* last_ms == 0 marks an untouched slot: it starts full on first use. */
	return 0;
}

void turn_ratelimit_free(struct turn_ratelimit *rl)
{
	free(rl->slots);
	rl->slots = NULL;
}

/* The source IP without port; an IPv6 source reduced to its /64. */
static uint64_t source_key(const struct turn_ratelimit *rl, const struct sockaddr *src)
{
	struct sockaddr_storage k;
	memset(&k, 0, sizeof(k));
	if (src->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&k;
		in->sin_family = AF_INET;
		in->sin_addr = ((const struct sockaddr_in *)src)->sin_addr;
	} else if (src->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&k;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, &((const struct sockaddr_in6 *)src)->sin6_addr, 8);
	} else {
		return rl->seed;
	}
	return addr_hash((const struct sockaddr *)&k, rl->seed);
}

bool turn_ratelimit_allow(struct turn_ratelimit *rl, const struct sockaddr *src, uint64_t now_ms)
{
	struct turn_rl_slot *sl = &rl->slots[source_key(rl, src) & rl->mask];
	uint64_t full = (uint64_t)rl->burst * 1000;
	uint64_t t;

	if (sl->last_ms == 0 && sl->milli_tokens == 0) {
		t = full;
	} else {
		uint64_t dt = now_ms > sl->last_ms ? now_ms - sl->last_ms : 0;
		if (dt > 100000000) /* keeps dt * rate far from overflow */
			dt = 100000000;
		t = sl->milli_tokens + dt * rl->rate; /* rate tokens/s = rate milli-tokens/ms */
		if (t > full)
			t = full;
	}
	sl->last_ms = now_ms ? now_ms : 1;
	if (t < 1000) {
		sl->milli_tokens = (uint32_t)t;
		return false;
	}
	sl->milli_tokens = (uint32_t)(t - 1000);
	return true;
}
