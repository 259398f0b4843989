/* Fuzzes the ICE agent: the input is a script of operations -- raw
 * datagrams, well-authenticated checks with fuzzed attributes, answers to
 * the agent's own transactions, trickled candidates, clock jumps, lost
 * bases -- so the fuzzer gets past MESSAGE-INTEGRITY into the state
 * machine. After every step the agent's invariants are checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ice_agent.h"
#include "stun_msg.h"

static const char *const LUFRAG = "locl", *const LPWD = "localpassword0123456789";
static const char *const RUFRAG = "remo", *const RPWD = "remotepassword012345678";

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct cursor *c)
{
	if (c->n == 0)
		return 0;
	c->n--;
	return *c->p++;
}

static uint32_t u32(struct cursor *c)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | u8(c);
	return v;
}

static uint64_t u64(struct cursor *c)
{
	return (uint64_t)u32(c) << 32 | u32(c);
}

static void peer_addr(struct cursor *c, struct sockaddr_storage *ss)
{
	static const char *const hosts[] = { "10.0.0.2", "10.0.0.3", "203.0.113.9", "[2001:db8::2]", "198.51.100.7" };
	char buf[64];
	uint8_t h = u8(c) % 5;
	uint16_t port = (uint16_t)(2000 + u8(c) % 4);
	snprintf(buf, sizeof buf, "%s:%u", hosts[h], port);
	if (addr_parse(buf, 0, ss) < 0)
		abort();
}

static void add_local(struct ice_agent *a, enum ice_cand_type t, const char *addr, uint32_t base)
{
	struct sockaddr_storage ss;
	struct ice_cand c;
	if (addr_parse(addr, 0, &ss) < 0 ||
	    ice_cand_init(&c, t, (const struct sockaddr *)&ss, NULL, base, 65535, NULL) < 0 ||
	    ice_agent_add_local_candidate(a, &c, 0) < 0)
		abort();
}

static void setup(struct ice_agent *a, bool controlling)
{
	if (ice_agent_init(a, NULL, controlling, 1000, LUFRAG, LPWD) < 0 ||
	    ice_agent_set_remote_credentials(a, RUFRAG, RPWD) < 0)
		abort();
	add_local(a, ICE_CAND_HOST, "10.0.0.1:1000", 1);
	add_local(a, ICE_CAND_HOST, "[2001:db8::1]:1000", 2);
	add_local(a, ICE_CAND_RELAY, "198.51.100.1:3000", 3);
	struct ice_cand r;
	if (ice_cand_parse("rf1 1 udp 2130706431 10.0.0.2 2000 typ host", &r) < 0 ||
	    ice_agent_add_remote_candidate(a, &r, 0) < 0)
		abort();
}

static void check_invariants(const struct ice_agent *a, uint64_t now)
{
	if (a->cl.n > ICE_MAX_PAIRS || a->nlocal > ICE_MAX_LOCAL || a->nremote > ICE_MAX_REMOTE)
		abort();
	if (a->selected >= 0 && (a->selected >= (int)a->cl.n ||
				 a->cl.pairs[a->selected].state != ICE_PAIR_SUCCEEDED))
		abort();
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *p = &a->cl.pairs[i];
		if (p->local >= a->nlocal || p->remote >= a->nremote)
			abort();
		if (p->state == ICE_PAIR_WAITING && p->tx.active)
			abort();
	}
	/* after handle_timeout and a full drain nothing may be due now, or
	 * the daemon's loop would spin */
	if (ice_agent_next_deadline(a, now) <= now)
		abort();
}

static void drain(struct ice_agent *a, uint64_t now)
{
	uint8_t buf[512];
	struct ice_transmit t;
	struct ice_event ev;
	char why[256];
	for (int i = 0; i < 400; i++) {
		int n = ice_agent_poll_transmit(a, &t, buf, sizeof buf, now);
		if (n < 0)
			abort();
		if (n == 0)
			break;
		/* everything we send must parse back as STUN */
		struct stun_msg m;
		if (stun_msg_parse(&m, buf, (size_t)n) < 0)
			abort();
	}
	while (ice_agent_poll_event(a, &ev))
		;
	(void)ice_agent_describe(a, why, sizeof why);
}

static void op_request(struct ice_agent *a, struct cursor *c, uint64_t now)
{
	uint8_t buf[512], tid[STUN_TID_LEN];
	struct stun_builder b;
	struct sockaddr_storage from;
	uint8_t flags = u8(c);
	char user[32];
	peer_addr(c, &from);
	for (int i = 0; i < STUN_TID_LEN; i++)
		tid[i] = u8(c);
	snprintf(user, sizeof user, "%s:%s", LUFRAG, (flags & 1) ? RUFRAG : "zzzz");
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, user, strlen(user));
	if (flags & 2)
		stun_build_u32(&b, ICE_ATTR_PRIORITY, u32(c));
	if (flags & 4)
		stun_build_u64(&b, ICE_ATTR_CONTROLLING, u64(c));
	if (flags & 8)
		stun_build_u64(&b, ICE_ATTR_CONTROLLED, u64(c));
	if (flags & 16)
		stun_build_flag(&b, ICE_ATTR_USE_CANDIDATE);
	stun_build_integrity(&b, (const uint8_t *)LPWD, strlen(LPWD));
	if (!(flags & 32))
		stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	if (n > 0)
		ice_agent_input(a, 1 + (flags >> 6) % 3, (const struct sockaddr *)&from, buf, (size_t)n, now);
}

static void op_response(struct ice_agent *a, struct cursor *c, uint64_t now)
{
	uint8_t buf[512];
	struct stun_builder b;
	struct sockaddr_storage from;
	unsigned pi = a->cl.n ? u8(c) % a->cl.n : 0;
	uint8_t flags = u8(c);
	if (a->cl.n == 0 || !a->cl.pairs[pi].tx.active)
		return;
	const struct ice_pair *p = &a->cl.pairs[pi];
	if (flags & 1)
		peer_addr(c, &from);
	else
		addr_ip_store(&from, &a->remote[p->remote].addr); /* symmetric, usually */
	uint16_t cls = (flags & 2) ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS;
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, cls, p->tx.tid);
	if (flags & 2)
		stun_build_error(&b, (flags & 4) ? STUN_ERR_ROLE_CONFLICT : 400 + u8(c) % 100, "x");
	else
		stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (const struct sockaddr *)&from);
	stun_build_integrity(&b, (const uint8_t *)RPWD, strlen(RPWD));
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	uint32_t base = (flags & 8) ? 1 + u8(c) % 3 : a->local[p->local].base_id;
	if (n > 0)
		ice_agent_input(a, base, (const struct sockaddr *)&from, buf, (size_t)n, now);
}

static void op_candidate(struct ice_agent *a, struct cursor *c, uint64_t now)
{
	char line[128];
	size_t n = u8(c) % (sizeof line - 1);
	if (n > c->n)
		n = c->n;
	memcpy(line, c->p, n);
	line[n] = '\0';
	c->p += n;
	c->n -= n;
	struct ice_cand r;
	if (ice_cand_parse(line, &r) == 0)
		ice_agent_add_remote_candidate(a, &r, now);
}

static void op_raw(struct ice_agent *a, struct cursor *c, uint64_t now)
{
	struct sockaddr_storage from;
	peer_addr(c, &from);
	uint32_t base = 1 + u8(c) % 3;
	size_t n = (size_t)u8(c) << 2;
	if (n > c->n)
		n = c->n;
	ice_agent_input(a, base, (const struct sockaddr *)&from, c->p, n, now);
	c->p += n;
	c->n -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ice_agent a;
	struct cursor c = { data, size };
	uint64_t now = 1;
	setup(&a, u8(&c) & 1);
	for (int steps = 0; c.n > 0 && steps < 64; steps++) {
		switch (u8(&c) % 7) {
		case 0: op_raw(&a, &c, now); break;
		case 1: op_request(&a, &c, now); break;
		case 2: op_response(&a, &c, now); break;
		case 3: op_candidate(&a, &c, now); break;
		case 4: now += (uint64_t)u8(&c) * 256 * 8; break;
		case 5: ice_agent_base_failed(&a, 1 + u8(&c) % 3, now); break;
		default: ice_agent_remote_end_of_candidates(&a); break;
		}
		ice_agent_handle_timeout(&a, now);
		drain(&a, now);
		check_invariants(&a, now);
	}
	return 0;
}
