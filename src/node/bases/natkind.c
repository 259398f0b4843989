/* How our NAT maps (RFC 4787 4.1), as ipopd needs it for multi-port
 * probing (docs/nat.md "Hard NATs"): the same public address toward every
 * destination ("easy": cone NATs, or none) or a new one per destination
 * ("hard": symmetric). The STUN server that gave our server-reflexive
 * address may name a second address of its own (OTHER-ADDRESS, RFC 5780;
 * ipop-turnserver's alt_listen_address): one more Binding from the same
 * socket to it tells. A UDP TURN allocation on another server address is
 * a second view for free. Neither: the kind stays unknown, and links do
 * no multi-port probing. */
#include <string.h>

#include "addr.h"
#include "bases.h"
#include "log.h"

const char *natkind_name(enum bases_nat k)
{
	static const char *const n[] = { "unknown", "easy (endpoint-independent mapping)",
					 "hard (endpoint-dependent mapping)" };
	return (unsigned)k < 3 ? n[k] : "?";
}

static void set_kind(struct bases *b, enum bases_nat k, const struct sockaddr_in *server,
		     const struct sockaddr_in *mapped, uint64_t now_ms)
{
	char a[ADDR_STRLEN], s1[ADDR_STRLEN], m2[ADDR_STRLEN], s2[ADDR_STRLEN];

	if (k == b->nat)
		return;
	b->nat = k;
	log_info("gather: our NAT is %s: %s via %s, %s via %s", natkind_name(k),
		 addr_format((const struct sockaddr *)&b->srflx, true, a),
		 addr_format((const struct sockaddr *)&b->stun_server, true, s1),
		 addr_format((const struct sockaddr *)mapped, true, m2),
		 addr_format((const struct sockaddr *)server, true, s2));
	if (b->ops.nat_kind)
		b->ops.nat_kind(b->ops.ctx, now_ms);
}

void natkind_seen(struct bases *b, const struct sockaddr_in *server, const struct sockaddr_in *mapped,
		  uint64_t now_ms)
{
	if (!b->have_srflx || addr_equal((const struct sockaddr *)server, (const struct sockaddr *)&b->stun_server))
		return; /* the same view as the srflx */
	bool same = addr_equal((const struct sockaddr *)mapped, (const struct sockaddr *)&b->srflx);
	set_kind(b, same ? BASES_NAT_EASY : BASES_NAT_HARD, server, mapped, now_ms);
}

static void flush(struct bases *b)
{
	uint8_t buf[STUN_CLIENT_MSG_MAX];
	int len;
	while ((len = stun_client_poll_transmit(&b->stun2, buf, sizeof(buf))) > 0)
		udp_send_one(b, LINK_BASE_ANY, &b->stun2_server, buf, (size_t)len);
}

void natkind_srflx(struct bases *b, uint64_t now_ms)
{
	const struct sockaddr *other = (const struct sockaddr *)&b->stun.other;

	if (other->sa_family != AF_INET || b->stun2_running ||
	    addr_equal(other, (const struct sockaddr *)&b->stun_server))
		return;
	memcpy(&b->stun2_server, other, sizeof(b->stun2_server));
	stun_client_init(&b->stun2, false, 0);
	if (stun_client_start(&b->stun2, now_ms) < 0)
		return;
	b->stun2_running = true;
	flush(b);
}

bool natkind_input(struct bases *b, const struct sockaddr_in *from, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	if (!b->stun2_running || !addr_equal((const struct sockaddr *)from, (const struct sockaddr *)&b->stun2_server))
		return false;
	if (stun_client_input(&b->stun2, buf, len, now_ms) != 0)
		return false;
	b->stun2_running = false;
	const struct sockaddr *m = stun_client_mapped(&b->stun2);
	if (stun_client_state(&b->stun2) == STUN_CLIENT_DONE && m->sa_family == AF_INET) {
		struct sockaddr_in mapped;
		memcpy(&mapped, m, sizeof(mapped));
		natkind_seen(b, &b->stun2_server, &mapped, now_ms);
	}
	return true;
}

void natkind_tick(struct bases *b, uint64_t now_ms)
{
	if (!b->stun2_running)
		return;
	if (now_ms >= stun_client_timeout(&b->stun2))
		stun_client_handle_timeout(&b->stun2, now_ms);
	if (stun_client_state(&b->stun2) == STUN_CLIENT_FAILED) {
		b->stun2_running = false;
		log_info("gather: no answer from the STUN server's other address; our NAT's kind stays %s",
			 natkind_name(b->nat));
		return;
	}
	flush(b);
}

uint64_t natkind_deadline(const struct bases *b)
{
	return b->stun2_running ? stun_client_timeout(&b->stun2) : UINT64_MAX;
}
