/* Binding requests: RFC 8489 (XOR-MAPPED-ADDRESS), classic RFC 3489
 * clients (no magic cookie: MAPPED-ADDRESS, as RFC 8489 12 asks), and
 * RFC 5780 NAT behaviour discovery when turn.conf gives the server a second
 * address (alt_listen_address).
 *
 * RFC 5780: the server answers on four UDP addresses, its primary and
 * alternate IP each on udp_port and alt_udp_port. Every answer on one of
 * them carries RESPONSE-ORIGIN (where it leaves from) and OTHER-ADDRESS (the
 * address that differs in both IP and port); CHANGE-REQUEST sends it from
 * the address with the IP and/or port changed. Classic answers carry the
 * RFC 3489 names of the same two, SOURCE-ADDRESS and CHANGED-ADDRESS.
 * Without a second address, and over TCP/TLS, a CHANGE-REQUEST that asks for
 * a change cannot be honoured: 420 listing it (RFC 5780 6.1); one with no
 * flag set is answered normally (RFC 3489 clients send it in every test).
 * A classic client asking for a change gets no answer instead: Debian's
 * `stun` counts any answer, a 420 too, as the change having got through,
 * and would report a full-cone NAT where there is none.
 *
 * Amplification: a spoofed Binding gets a small answer. The modern answer
 * adds MAPPED-ADDRESS and SOFTWARE only while it stays within twice the
 * request. The RFC 5780 pair is always added to modern answers when
 * configured (RFC 5780 clients send bare 20-byte requests and need it): 56
 * bytes for a 20-byte IPv4 request. A classic answer is MAPPED-ADDRESS
 * alone, 32 bytes for the smallest (20-byte) request, plus the RFC 3489
 * pair only within twice the request. Classic answers, answers from a
 * changed address and errors pass the per-source-IP token bucket of the
 * unauthenticated answers (100/s, bursts of 200). */
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "stun_msg.h"
#include "turn_alloc.h"
#include "turn_conf.h"

enum { BIND_BUF = 512 };

/* The RFC 5780 address quadruple the request arrived on. */
struct quad {
	const struct sockaddr_storage *ip[2]; /* primary, alternate */
	uint16_t port[2];                     /* udp_port, alt_udp_port */
	unsigned ipi, porti;                  /* which of them the request came to */
};

static bool quad_of(const struct turn_server *s, const struct turn_conn *conn, struct quad *q)
{
	const struct turn_conf *c = s->conf;
	const struct sockaddr *local = (const struct sockaddr *)&conn->local;
	uint16_t port = addr_port(local);

	if (!c->n_alt || conn->proto != TURN_PROTO_UDP || !s->io.to_client_from)
		return false;
	q->port[0] = c->udp_port;
	q->port[1] = c->alt_udp_port;
	if (port != q->port[0] && port != q->port[1])
		return false;
	q->porti = port == q->port[1];
	for (unsigned i = 0; i < c->n_alt; i++) {
		q->ip[0] = &c->alt_primary[i];
		q->ip[1] = &c->alt_listen[i];
		for (unsigned k = 0; k < 2; k++) {
			if (addr_equal_ip(local, (const struct sockaddr *)q->ip[k])) {
				q->ipi = k;
				return true;
			}
		}
	}
	return false;
}

static void quad_addr(const struct quad *q, unsigned ipi, unsigned porti,
		      struct sockaddr_storage *out)
{
	*out = *q->ip[ipi];
	addr_set_port((struct sockaddr *)out, q->port[porti]);
}

static bool rate_ok(struct turn_server *s, const struct turn_conn *conn, uint64_t now_ms)
{
	if (turn_ratelimit_allow(&s->rl, (const struct sockaddr *)&conn->client, now_ms))
		return true;
	s->stats.rate_limited++;
	return false;
}

static void send_built(struct turn_server *s, const struct turn_conn *conn, struct stun_builder *b,
		       const struct sockaddr *from)
{
	int n = stun_build_finish(b);
	if (n < 0)
		return;
	if (!from) {
		turn_send_client(s, conn, b->buf, (size_t)n);
		return;
	}
	struct iovec iov = { b->buf, (size_t)n };
	s->io.to_client_from(s->io.ctx, conn, from, &iov, 1);
}

static void binding_error(struct turn_server *s, const struct turn_conn *conn,
			  const struct stun_msg *m, int code, const uint16_t *unknown,
			  unsigned nunknown, uint64_t now_ms)
{
	uint8_t buf[BIND_BUF];
	struct stun_builder b;

	if (!rate_ok(s, conn, now_ms))
		return;
	stun_build_response(&b, buf, sizeof(buf), m, STUN_CLASS_ERROR);
	stun_build_error(&b, code, m->len >= 64 ? NULL : ""); /* small answers to small requests */
	if (nunknown)
		stun_build_unknown(&b, unknown, nunknown);
	if (m->fp >= 0 && !m->classic)
		stun_build_fingerprint(&b);
	send_built(s, conn, &b, NULL);
	s->stats.binding_err++;
	turn_count_error(s, code);
}

/* The change flags asked for; -1 when CHANGE-REQUEST is malformed. */
static int change_flags(const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_CHANGE_REQUEST);
	uint32_t v = 0;

	if (a && stun_attr_get_u32(m, a, &v))
		return -1;
	return (int)(v & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
}

void turn_binding_request(struct turn_server *s, const struct turn_conn *conn,
			  const struct stun_msg *m, uint64_t now_ms)
{
	const struct sockaddr *client = (const struct sockaddr *)&conn->client;
	uint16_t unknown[STUN_MAX_UNKNOWN + 1];
	unsigned nunknown = m->nunknown;
	struct sockaddr_storage origin, other;
	uint8_t buf[BIND_BUF];
	struct stun_builder b;
	struct quad q;
	bool disc = quad_of(s, conn, &q);
	size_t alen = client->sa_family == AF_INET6 ? 24 : 12; /* an address attribute */
	int change = change_flags(m);

	s->stats.binding_req++;
	if (change < 0) {
		s->stats.bad_in++;
		binding_error(s, conn, m, STUN_ERR_BAD_REQUEST, NULL, 0, now_ms);
		return;
	}
	if (change && !disc && m->classic)
		return; /* RFC 3489 clients take any answer, a 420 too, as "it got through" */
	memcpy(unknown, m->unknown, sizeof(m->unknown));
	if (change && !disc)
		unknown[nunknown++] = STUN_ATTR_CHANGE_REQUEST;
	if (nunknown) {
		binding_error(s, conn, m, STUN_ERR_UNKNOWN_ATTRIBUTE, unknown, nunknown, now_ms);
		return;
	}
	if ((m->classic || change) && !rate_ok(s, conn, now_ms))
		return;
	stun_build_response(&b, buf, sizeof(buf), m, STUN_CLASS_SUCCESS);
	stun_build_addr(&b, m->classic ? STUN_ATTR_MAPPED_ADDRESS : STUN_ATTR_XOR_MAPPED_ADDRESS,
			client);
	if (disc)
		quad_addr(&q, q.ipi ^ !!(change & STUN_CHANGE_IP), q.porti ^ !!(change & STUN_CHANGE_PORT),
			  &origin);
	/* Classic answers keep within twice the request here too: stun(1)'s
	 * 28-byte requests get exactly the 56 bytes they need. */
	if (disc && (!m->classic || b.len + 2 * alen <= 2 * m->len)) {
		quad_addr(&q, !q.ipi, !q.porti, &other);
		stun_build_addr(&b, m->classic ? STUN_ATTR_SOURCE_ADDRESS : STUN_ATTR_RESPONSE_ORIGIN,
				(const struct sockaddr *)&origin);
		stun_build_addr(&b, m->classic ? STUN_ATTR_CHANGED_ADDRESS : STUN_ATTR_OTHER_ADDRESS,
				(const struct sockaddr *)&other);
	}
	if (!m->classic) {
		/* Old clients that understand only MAPPED-ADDRESS, and SOFTWARE,
		 * while the answer stays within twice the request. */
		size_t sw = strlen(s->conf->software ? s->conf->software : "ipop-turnserver");
		size_t extra = alen + 4 + ((sw + 3) & ~(size_t)3) + (m->fp >= 0 ? 8 : 0);
		if (b.len + extra <= 2 * m->len) {
			stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, client);
			stun_build_attr(&b, STUN_ATTR_SOFTWARE,
					s->conf->software ? s->conf->software : "ipop-turnserver", sw);
		}
		if (m->fp >= 0)
			stun_build_fingerprint(&b);
	}
	send_built(s, conn, &b, change ? (const struct sockaddr *)&origin : NULL);
	s->stats.binding_ok++;
}

void turn_binding_classic(struct turn_server *s, const struct turn_conn *conn,
			  const struct stun_msg *m, uint64_t now_ms)
{
	/* RFC 3489 also had Shared Secret (over TLS); nothing but Binding
	 * requests is answered, and nothing else is ever created. */
	if (m->cls != STUN_CLASS_REQUEST || m->method != STUN_METHOD_BINDING ||
	    conn->proto != TURN_PROTO_UDP) {
		s->stats.bad_in++;
		return;
	}
	turn_binding_request(s, conn, m, now_ms);
}
