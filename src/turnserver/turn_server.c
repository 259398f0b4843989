/* The relay's protocol core (RFC 8656 with RFC 6156 address families,
 * RFC 8489 long-term credentials): request dispatch, authentication and
 * the per-method handlers. The data paths (Send, ChannelData, peer
 * datagrams) are in turn_data.c; allocation state is in turn_alloc.c.
 *
 * Decisions where RFC 8656 leaves a choice:
 * - LIFETIME: max(600, min(requested, max)) as RFC 8656 7.2/7.3 say, where
 *   max is conf->allocation_lifetime capped at 3600; an administrator's
 *   max below 600 wins over the default.
 * - DONT-FRAGMENT sets DF on the allocation's relay socket
 *   (IP_PMTUDISC_DO / IPV6_DONTFRAG, as coturn does): the worker sends in
 *   batches and cannot set DF per datagram, so once an Allocate or a Send
 *   indication asks for it, every datagram of that allocation has DF. A
 *   worker without the hook gets the RFC 8656 7.2 answer of servers without
 *   DF support: 420 listing it.
 * - EVEN-PORT with R=0 is honoured by reopening the relay until the port is
 *   even; with R=1 the port after it (on the same relay address) is also
 *   bound and held for 30 s under a RESERVATION-TOKEN (turn_reserve.c); an
 *   Allocate presenting the token gets that port. A token that is unknown,
 *   taken or expired gets 508; combined with EVEN-PORT or
 *   REQUESTED-ADDRESS-FAMILY, 400 (RFC 8656 7.2).
 * - Binding, classic RFC 3489 Binding and RFC 5780 are in turn_binding.c.
 * - Channel numbers up to 0x7FFF (RFC 5766) are accepted, see
 *   turn_channel_valid() in stun_chan.h.
 * - A refused account and an unknown user both get 401.
 * - Failed authentications are limited per source, username and pair
 *   (turn_authlimit.h): over the limit, a request with credentials is
 *   dropped without its password being checked, and unanswered. A 401
 *   would tell the guesser nothing new but would spend the source's share
 *   of unauthenticated answers (the 401 bucket below), which other clients
 *   behind the same IP need for their own challenges; and a client that
 *   only just fixed its password retransmits (STUN: 7 tries over 39.5 s)
 *   and gets through once the bucket refilled, where a 401 would have made
 *   it give up. Requests from the 5-tuple of an allocation of the same
 *   user are never held back, so an attack on a shared IP or account does
 *   not cut live allocations off.
 * - Every answer to an unauthenticated request (401, 438, 400, 420 ...)
 *   passes a per-source-IP token bucket and carries nothing optional, so the
 *   relay is no useful amplifier: a 401 is 88 bytes (header, ERROR-CODE with
 *   an empty reason for small requests, REALM, a 46-byte NONCE), about 3x
 *   the smallest valid Allocate. Requests lacking an attribute their method
 *   requires get a 28-byte 400 before authentication instead of a 401. */
#include "turn_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "stun_auth.h"
#include "stun_chan.h"
#include "stun_msg.h"
#include "stun_nonce.h"
#include "turn_accounts.h"
#include "turn_alloc.h"
#include "turn_authlimit.h"
#include "turn_conf.h"
#include "turn_policy.h"
#include "turn_ratelimit.h"
#include "turn_reserve.h"
#include "turn_self.h"

enum {
	NONCE_LIFETIME_S = 600,
	RESP_BUF = 1024,
	USER_MAX = 513, /* RFC 8489 14.3 */
	EVEN_PORT_TRIES = 16, /* 2^-16 odds of 508 with random ports */
	/* Unauthenticated answers per source IP (/64 for IPv6): enough for a
	 * big NAT's clients starting allocations, while a spoofed victim gets
	 * at most ~70 kbit/s of 88-byte 401s. */
	RL_SLOTS = 4096, RL_RATE = 100, RL_BURST = 200,
};

struct turn_req {
	const struct turn_conn *conn;
	struct stun_msg m;
	uint64_t now_ms;
	int64_t now_unix;
	bool authed;
	uint8_t key[STUN_KEY_SHA256_LEN];
	size_t keylen;
	struct turn_account_lookup acct;
	char user[USER_MAX + 1];
};

static const char *realm_of(const struct turn_server *s)
{
	return s->conf->realm ? s->conf->realm : "ipop";
}

static const char *software_of(const struct turn_server *s)
{
	return s->conf->software ? s->conf->software : "ipop-turnserver";
}

/* ---- sending replies ---- */

void turn_send_client(struct turn_server *s, const struct turn_conn *conn, const void *buf,
		      size_t len)
{
	struct iovec iov = { (void *)buf, len };
	s->io.to_client(s->io.ctx, conn, &iov, 1);
	s->stats.client_out++;
	s->stats.client_out_bytes += len;
}

static const uint16_t err_codes[TURN_STATS_NERR - 1] = { TURN_STATS_ERR_CODES };
_Static_assert(sizeof((uint16_t[]){ TURN_STATS_ERR_CODES }) / sizeof(uint16_t) == TURN_STATS_NERR - 1,
	       "TURN_STATS_NERR matches TURN_STATS_ERR_CODES");

int turn_stats_err_code(unsigned i)
{
	return i < TURN_STATS_NERR - 1 ? err_codes[i] : 0;
}

void turn_count_error(struct turn_server *s, int code)
{
	unsigned i = 0;
	while (i < TURN_STATS_NERR - 1 && err_codes[i] != code)
		i++;
	s->stats.err_sent[i]++;
}

/* Adds the trailer the request asked for and sends. */
static void finish_and_send(struct turn_server *s, struct turn_req *r, struct stun_builder *b)
{
	if (r->authed) {
		stun_build_integrity(b, r->key, r->keylen);
		if (r->m.mi256 >= 0)
			stun_build_integrity_sha256(b, r->key, r->keylen);
	}
	if (r->m.fp >= 0)
		stun_build_fingerprint(b);
	int n = stun_build_finish(b);
	if (n < 0) {
		log_warn("turn: reply to %s did not fit (%d)", stun_method_name(r->m.method), n);
		return;
	}
	turn_send_client(s, r->conn, b->buf, (size_t)n);
}

/* Unauthenticated replies pass the per-IP limiter; false when dropped. */
static bool unauth_allowed(struct turn_server *s, struct turn_req *r)
{
	if (turn_ratelimit_allow(&s->rl, (const struct sockaddr *)&r->conn->client, r->now_ms))
		return true;
	s->stats.rate_limited++;
	return false;
}

static void add_realm_nonce(struct turn_server *s, struct turn_req *r, struct stun_builder *b)
{
	char nonce[STUN_NONCE_MAX];
	size_t nlen = stun_nonce_make(s->nonce_key, s->nonce_key_len, (uint64_t)r->now_unix,
				      NONCE_LIFETIME_S, (const struct sockaddr *)&r->conn->client,
				      nonce);
	stun_build_attr(b, STUN_ATTR_REALM, realm_of(s), strlen(realm_of(s)));
	stun_build_attr(b, STUN_ATTR_NONCE, nonce, nlen);
}

/* Errors: authenticated ones carry integrity; the others are rate-limited
 * and minimal (401 and 438 add REALM and NONCE, which the client needs). */
static void reply_error(struct turn_server *s, struct turn_req *r, int code)
{
	uint8_t buf[RESP_BUF];
	struct stun_builder b;

	if (!r->authed && !unauth_allowed(s, r))
		return;
	stun_build_response(&b, buf, sizeof(buf), &r->m, STUN_CLASS_ERROR);
	/* An empty reason phrase keeps answers to tiny requests small. */
	stun_build_error(&b, code, r->authed || r->m.len >= 64 ? NULL : "");
	if (code == STUN_ERR_UNAUTHORIZED || code == STUN_ERR_STALE_NONCE)
		add_realm_nonce(s, r, &b);
	if (code == STUN_ERR_UNKNOWN_ATTRIBUTE)
		stun_build_unknown(&b, r->m.unknown, r->m.nunknown);
	finish_and_send(s, r, &b);
	turn_count_error(s, code);
	if (r->m.method == STUN_METHOD_BINDING)
		s->stats.binding_err++;
}

/* A username as it may appear in a log line: printable ASCII, at most 64
 * bytes (remote input must neither forge lines nor flood the log). */
static const char *printable(const char *in, char out[72])
{
	size_t i = 0;
	for (; in[i] && i < 64; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f && in[i] != '\'' ? in[i] : '?';
	if (in[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* Warnings about failed (AUTH_LOG_FAILED) and held-back (AUTH_LOG_LIMITED)
 * authentications, each kind rate-limited per worker. Never the password,
 * a key or an integrity value. */
static void log_auth(struct turn_server *s, struct turn_req *r, int kind, const char *what)
{
	struct turn_auth_log *l = &s->auth_log[kind];
	char ab[ADDR_STRLEN], ub[72];
	if (!log_ratelimit_ok(&l->rl, r->now_ms))
		return;
	uint64_t missed = l->rl.suppressed - l->reported;
	l->reported = l->rl.suppressed;
	log_warn("turn: %s: user '%s' from %s (this worker: auth_fail=%llu auth_limited=%llu, "
		 "%llu lines like this suppressed)", what, printable(r->user, ub),
		 addr_format((const struct sockaddr *)&r->conn->client, true, ab),
		 (unsigned long long)s->stats.auth_fail, (unsigned long long)s->stats.auth_limited,
		 (unsigned long long)missed);
}

static void log_attack(struct turn_server *s, struct turn_req *r, const char *what)
{
	char ab[ADDR_STRLEN];
	if (log_get_level() >= LOG_LVL_DEBUG && log_ratelimit_ok(&s->log_rl, r->now_ms))
		log_debug("turn: %s from %s", what,
			  addr_format((const struct sockaddr *)&r->conn->client, true, ab));
}

/* ---- authentication (RFC 8489 9.2.4) ---- */

static int attr_string(const struct stun_msg *m, uint16_t type, char *out, size_t cap)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	if (!a || a->len == 0 || a->len >= cap)
		return -EBADMSG;
	memcpy(out, stun_attr_value(m, a), a->len);
	out[a->len] = '\0';
	return strlen(out) == a->len ? 0 : -EBADMSG; /* no embedded NUL */
}

/* PASSWORD-ALGORITHM picks the key derivation; absent means MD5. */
static int pick_key(struct turn_req *r)
{
	const struct stun_attr *a = stun_msg_find(&r->m, STUN_ATTR_PASSWORD_ALGORITHM);
	uint16_t alg = STUN_PWALG_MD5;
	if (a) {
		const uint8_t *v = stun_attr_value(&r->m, a);
		if (a->len < 4)
			return -EBADMSG;
		alg = (uint16_t)(v[0] << 8 | v[1]);
	}
	if (alg == STUN_PWALG_MD5) {
		memcpy(r->key, r->acct.key, STUN_KEY_MD5_LEN);
		r->keylen = STUN_KEY_MD5_LEN;
	} else if (alg == STUN_PWALG_SHA256) {
		memcpy(r->key, r->acct.key256, STUN_KEY_SHA256_LEN);
		r->keylen = STUN_KEY_SHA256_LEN;
	} else {
		return -EBADMSG;
	}
	return 0;
}

/* The request comes from the 5-tuple of a live allocation of the user it
 * names: a client refreshing what it has, never held back. */
static bool own_session(struct turn_server *s, const struct turn_req *r)
{
	const struct turn_alloc *a = turn_alloc_find(&s->table, r->conn);
	return a && r->now_ms < a->expires_ms && strcmp(a->user, r->user) == 0;
}

/* 0 when authenticated; otherwise the error was sent (or rate-limited), or,
 * for a guess held back (turn_authlimit.h), nothing at all. */
static int authenticate(struct turn_server *s, struct turn_req *r)
{
	char realm[256];
	const struct stun_attr *na;

	if (r->m.mi < 0 && r->m.mi256 < 0) {
		reply_error(s, r, STUN_ERR_UNAUTHORIZED);
		return -EACCES;
	}
	na = stun_msg_find(&r->m, STUN_ATTR_NONCE);
	if (attr_string(&r->m, STUN_ATTR_USERNAME, r->user, sizeof(r->user)) ||
	    attr_string(&r->m, STUN_ATTR_REALM, realm, sizeof(realm)) || !na) {
		s->stats.bad_in++;
		reply_error(s, r, STUN_ERR_BAD_REQUEST);
		return -EBADMSG;
	}
	if (stun_nonce_check(s->nonce_key, s->nonce_key_len, (uint64_t)r->now_unix,
			     (const struct sockaddr *)&r->conn->client, stun_attr_value(&r->m, na),
			     na->len) != 0) {
		reply_error(s, r, STUN_ERR_STALE_NONCE);
		return -ESTALE;
	}
	/* Credentials with a nonce this address was given: a guess. */
	const struct sockaddr *src = (const struct sockaddr *)&r->conn->client;
	struct turn_authlimit *al = turn_shared_authlimit(s->shared);
	if (!own_session(s, r)) {
		enum turn_authlimit_verdict v = turn_authlimit_check(al, src, r->user, r->now_ms);
		if (v != TURN_AUTHLIMIT_OK) {
			s->stats.auth_limited++;
			char what[96];
			snprintf(what, sizeof(what), "too many failed authentications for %s, "
				 "not checked", turn_authlimit_verdict_name(v));
			log_auth(s, r, AUTH_LOG_LIMITED, what);
			return -EACCES; /* no answer, see the top of this file */
		}
	}
	if (strcmp(realm, realm_of(s)) != 0 || !s->accounts ||
	    turn_accounts_lookup(s->accounts, r->user, r->now_unix, &r->acct) != 0 ||
	    r->acct.state == TURN_ACCT_REFUSED || pick_key(r) != 0 ||
	    stun_check_integrity(&r->m, r->key, r->keylen) != 0) {
		s->stats.auth_fail++;
		turn_authlimit_failed(al, src, r->user, r->now_ms);
		log_auth(s, r, AUTH_LOG_FAILED, "authentication failed");
		reply_error(s, r, STUN_ERR_UNAUTHORIZED);
		return -EACCES;
	}
	r->authed = true;
	return 0;
}

/* ---- allocation lifecycle ---- */

static void log_alloc(const struct turn_alloc *a, const char *what)
{
	char cb[ADDR_STRLEN], rb[ADDR_STRLEN];
	log_info("turn: allocation %s: user %s client %s relay %s", what, a->user,
		 addr_format((const struct sockaddr *)&a->conn.client, true, cb),
		 addr_format(&a->relay_addr.sa, true, rb));
}

void turn_delete_alloc(struct turn_server *s, struct turn_alloc *a, bool expired)
{
	log_alloc(a, expired ? "expired" : "deleted");
	turn_alloc_remove(&s->table, a);
	if (a->relay) {
		turn_self_relay_live(turn_shared_self(s->shared), &a->relay_addr.sa, false);
		s->io.relay_close(s->io.ctx, a->relay);
	}
	turn_shared_release(s->shared, a->user);
	if (expired)
		s->stats.allocs_expired++;
	if (s->stats.allocs_active)
		s->stats.allocs_active--;
	if (a->conn.proto < 3 && s->stats.allocs_by_proto[a->conn.proto])
		s->stats.allocs_by_proto[a->conn.proto]--;
	turn_alloc_free(a);
}

/* The allocation of this 5-tuple, if it is still alive. */
struct turn_alloc *turn_find_live(struct turn_server *s, const struct turn_conn *conn,
				  uint64_t now_ms)
{
	struct turn_alloc *a = turn_alloc_find(&s->table, conn);
	if (a && now_ms >= a->expires_ms) {
		turn_delete_alloc(s, a, true);
		return NULL;
	}
	return a;
}

static uint32_t max_lifetime(const struct turn_server *s)
{
	unsigned m = s->conf->allocation_lifetime;
	return m == 0 || m > TURN_MAX_LIFETIME ? TURN_MAX_LIFETIME : m;
}

/* RFC 8656 7.2 step 9 / 7.3: max(default, min(requested, max)). */
static int desired_lifetime(const struct turn_server *s, const struct turn_req *r, uint32_t *out)
{
	const struct stun_attr *a = stun_msg_find(&r->m, TURN_ATTR_LIFETIME);
	uint32_t want = TURN_DEFAULT_LIFETIME, maxl = max_lifetime(s);
	if (a) {
		if (stun_attr_get_u32(&r->m, a, &want))
			return -EBADMSG;
		if (want == 0) {
			*out = 0;
			return 0;
		}
		if (want > maxl)
			want = maxl;
		if (want < TURN_DEFAULT_LIFETIME)
			want = TURN_DEFAULT_LIFETIME;
	}
	*out = want < maxl ? want : maxl;
	return 0;
}

/* ---- Allocate (RFC 8656 7.2) ---- */

static void reply_alloc_success(struct turn_server *s, struct turn_req *r,
				const struct turn_alloc *a, const uint8_t *token)
{
	uint8_t buf[RESP_BUF];
	struct stun_builder b;
	uint64_t left = a->expires_ms > r->now_ms ? (a->expires_ms - r->now_ms + 999) / 1000 : 0;

	stun_build_response(&b, buf, sizeof(buf), &r->m, STUN_CLASS_SUCCESS);
	stun_build_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a->relay_addr.sa);
	stun_build_u32(&b, TURN_ATTR_LIFETIME, (uint32_t)left);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (const struct sockaddr *)&r->conn->client);
	if (token)
		stun_build_attr(&b, TURN_ATTR_RESERVATION_TOKEN, token, TURN_RESERVE_TOKEN_LEN);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, software_of(s), strlen(software_of(s)));
	finish_and_send(s, r, &b);
}

static bool family_configured(const struct turn_server *s, int family)
{
	const struct turn_conf *c = s->conf;
	const struct sockaddr_storage *list = c->n_relay ? c->relay : c->listen;
	unsigned n = c->n_relay ? c->n_relay : c->n_listen;
	if (n == 0)
		return true; /* nothing configured: let relay_open decide */
	for (unsigned i = 0; i < n; i++)
		if (list[i].ss_family == family)
			return true;
	return false;
}

/* What an Allocate asks for, beyond its lifetime. */
struct alloc_params {
	int family;
	bool even, reserve, df;
	const uint8_t *token; /* RESERVATION-TOKEN's 8 bytes, or NULL */
};

/* Checks the Allocate attributes in RFC 8656 7.2 order. Returns 0 and the
 * parameters, or the error code to send. */
static int allocate_params(struct turn_server *s, struct turn_req *r, struct alloc_params *p)
{
	const struct stun_msg *m = &r->m;
	const struct stun_attr *rt = stun_msg_find(m, TURN_ATTR_REQUESTED_TRANSPORT);
	const struct stun_attr *ep = stun_msg_find(m, TURN_ATTR_EVEN_PORT);
	const struct stun_attr *raf = stun_msg_find(m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
	const struct stun_attr *tok = stun_msg_find(m, TURN_ATTR_RESERVATION_TOKEN);
	uint8_t v;

	memset(p, 0, sizeof(*p));
	if (!rt || rt->len != 4 || stun_attr_get_u8(m, rt, &v))
		return STUN_ERR_BAD_REQUEST;
	if (v != TURN_TRANSPORT_UDP)
		return TURN_ERR_UNSUPPORTED_TRANSPORT;
	p->df = stun_msg_find(m, TURN_ATTR_DONT_FRAGMENT) != NULL;
	if (tok) {
		if (ep || raf || tok->len != TURN_RESERVE_TOKEN_LEN)
			return STUN_ERR_BAD_REQUEST;
		if (!s->io.relay_adopt)
			return TURN_ERR_INSUFFICIENT_CAPACITY;
		p->token = stun_attr_value(m, tok);
		return 0; /* the family is the reservation's */
	}
	if (ep) {
		if (ep->len != 1 || stun_attr_get_u8(m, ep, &v))
			return STUN_ERR_BAD_REQUEST;
		p->even = true;
		p->reserve = v & 0x80;
		if (p->reserve && !s->io.port_hold)
			return TURN_ERR_INSUFFICIENT_CAPACITY; /* no port reservations */
	}
	p->family = AF_INET;
	if (raf) {
		if (raf->len != 4 || stun_attr_get_u8(m, raf, &v))
			return STUN_ERR_BAD_REQUEST;
		if (v == STUN_FAMILY_IPV6)
			p->family = AF_INET6;
		else if (v != STUN_FAMILY_IPV4)
			return TURN_ERR_ADDRESS_FAMILY;
	}
	if (!family_configured(s, p->family))
		return TURN_ERR_ADDRESS_FAMILY;
	return 0;
}

/* Binds and holds the port after the relay's (EVEN-PORT R=1): 0 or -errno. */
static int hold_next(struct turn_server *s, const struct sockaddr_storage *relay, void **hold)
{
	struct sockaddr_storage next = *relay;
	uint16_t port = addr_port((const struct sockaddr *)relay);

	if (port >= s->conf->max_port)
		return -EADDRINUSE;
	addr_set_port((struct sockaddr *)&next, (uint16_t)(port + 1));
	return s->io.port_hold(s->io.ctx, (const struct sockaddr *)&next, hold);
}

/* Opens the relay socket, retrying for an even port when asked, and with
 * the next port held when hold is not NULL. Rejected sockets stay open
 * while retrying so the worker cannot hand the same port back. */
static int open_relay(struct turn_server *s, struct turn_alloc *a, int family, bool even,
		      void **hold)
{
	void *odd[EVEN_PORT_TRIES];
	unsigned nodd = 0;
	int rc;

	for (;;) {
		struct sockaddr_storage bound;
		void *relay = NULL;
		memset(&bound, 0, sizeof(bound));
		rc = s->io.relay_open(s->io.ctx, a, family, &bound, &relay);
		if (rc < 0)
			break;
		if (bound.ss_family != family) {
			s->io.relay_close(s->io.ctx, relay);
			rc = -EAFNOSUPPORT;
			break;
		}
		if (!even || (addr_port((const struct sockaddr *)&bound) % 2 == 0 &&
			      (!hold || hold_next(s, &bound, hold) == 0))) {
			a->relay = relay;
			memcpy(&a->relay_addr, &bound, addr_len((const struct sockaddr *)&bound));
			rc = 0;
			break;
		}
		if (nodd == EVEN_PORT_TRIES) {
			s->io.relay_close(s->io.ctx, relay);
			rc = -EADDRINUSE;
			break;
		}
		odd[nodd++] = relay;
	}
	while (nodd)
		s->io.relay_close(s->io.ctx, odd[--nodd]);
	return rc;
}

/* The relay of a RESERVATION-TOKEN: the held port becomes this
 * allocation's relay socket. -ENOENT when the token is not (or no longer)
 * valid. */
static int adopt_reserved(struct turn_server *s, struct turn_alloc *a, const uint8_t *token,
			  uint64_t now_ms)
{
	struct sockaddr_storage addr, bound;
	void *relay = NULL;
	void *hold = turn_reserve_take(turn_shared_reserve(s->shared), token, now_ms, &addr);

	if (!hold)
		return -ENOENT;
	memset(&bound, 0, sizeof(bound));
	int rc = s->io.relay_adopt(s->io.ctx, a, hold, &bound, &relay);
	if (rc < 0)
		return rc;
	a->relay = relay;
	memcpy(&a->relay_addr, &bound, addr_len((const struct sockaddr *)&bound));
	return 0;
}

/* Opens the allocation's relay as p asks; for R=1 the held next port is
 * stored under a new token. 0 or -errno. */
static int open_for(struct turn_server *s, struct turn_req *r, struct turn_alloc *a,
		    const struct alloc_params *p, uint8_t *token, bool *reserved)
{
	void *hold = NULL;
	int rc;

	*reserved = false;
	if (p->token)
		rc = adopt_reserved(s, a, p->token, r->now_ms);
	else
		rc = open_relay(s, a, p->family, p->even, p->reserve ? &hold : NULL);
	if (!rc && p->df) {
		rc = s->io.relay_dont_fragment(s->io.ctx, a->relay);
		a->dont_fragment = rc == 0;
	}
	if (!rc && hold) {
		struct sockaddr_storage next;
		memset(&next, 0, sizeof(next));
		memcpy(&next, &a->relay_addr, addr_len(&a->relay_addr.sa));
		addr_set_port((struct sockaddr *)&next, (uint16_t)(addr_port(&a->relay_addr.sa) + 1));
		rc = turn_reserve_put(turn_shared_reserve(s->shared), r->user, r->m.tid, hold,
				      s->io.port_release, (const struct sockaddr *)&next, r->now_ms,
				      token);
		*reserved = rc == 0;
		s->reserve_pending |= *reserved;
	}
	if (rc && hold)
		s->io.port_release(hold);
	if (rc && a->relay) {
		s->io.relay_close(s->io.ctx, a->relay);
		a->relay = NULL;
	}
	return rc;
}

static int create_alloc(struct turn_server *s, struct turn_req *r, const struct alloc_params *p,
			uint32_t lifetime, struct turn_alloc **out, uint8_t *token, bool *reserved)
{
	int rc = turn_shared_acquire(s->shared, r->user);
	if (rc)
		return rc == -EDQUOT ? TURN_ERR_ALLOCATION_QUOTA : TURN_ERR_INSUFFICIENT_CAPACITY;
	struct turn_alloc *a = turn_alloc_new(r->conn, r->user);
	if (!a) {
		turn_shared_release(s->shared, r->user);
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	}
	rc = open_for(s, r, a, p, token, reserved);
	if (rc) {
		turn_shared_release(s->shared, r->user);
		turn_alloc_free(a);
		if (rc != -ENOENT && log_ratelimit_ok(&s->log_rl, r->now_ms))
			log_warn("turn: relay_open for %s failed: %s", r->user, strerror(-rc));
		return rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL ? TURN_ERR_ADDRESS_FAMILY
								   : TURN_ERR_INSUFFICIENT_CAPACITY;
	}
	a->expires_ms = r->now_ms + (uint64_t)lifetime * 1000;
	memcpy(a->alloc_tid, r->m.tid, STUN_TID_LEN);
	a->restricted = r->acct.state == TURN_ACCT_RESTRICTED;
	turn_alloc_bw_set(a, a->restricted ? s->conf->restricted_bandwidth
					   : s->conf->bandwidth_per_allocation, r->now_ms);
	turn_alloc_insert(&s->table, a);
	turn_self_relay_live(turn_shared_self(s->shared), &a->relay_addr.sa, true);
	s->stats.allocs_created++;
	s->stats.allocs_active++;
	if (a->conn.proto < 3)
		s->stats.allocs_by_proto[a->conn.proto]++;
	log_alloc(a, "created");
	*out = a;
	return 0;
}

static void do_allocate(struct turn_server *s, struct turn_req *r)
{
	struct turn_alloc *a = turn_find_live(s, r->conn, r->now_ms);
	struct alloc_params p;
	uint8_t token[TURN_RESERVE_TOKEN_LEN];
	bool reserved = false;
	uint32_t lifetime;
	int code;

	if (a) {
		if (memcmp(a->alloc_tid, r->m.tid, STUN_TID_LEN) == 0 && strcmp(a->user, r->user) == 0) {
			/* a retransmission: the same answer, token included */
			reserved = turn_reserve_token_of(turn_shared_reserve(s->shared), r->m.tid,
							 r->now_ms, token);
			reply_alloc_success(s, r, a, reserved ? token : NULL);
		} else {
			reply_error(s, r, TURN_ERR_ALLOCATION_MISMATCH);
		}
		return;
	}
	code = allocate_params(s, r, &p);
	if (!code && desired_lifetime(s, r, &lifetime))
		code = STUN_ERR_BAD_REQUEST;
	if (!code && lifetime == 0)
		lifetime = TURN_DEFAULT_LIFETIME < max_lifetime(s) ? TURN_DEFAULT_LIFETIME
								   : max_lifetime(s);
	if (!code)
		code = create_alloc(s, r, &p, lifetime, &a, token, &reserved);
	if (code)
		reply_error(s, r, code);
	else
		reply_alloc_success(s, r, a, reserved ? token : NULL);
}

/* ---- requests on an existing allocation ---- */

/* The caller's allocation, or NULL after answering 437 / 441. */
static struct turn_alloc *own_alloc(struct turn_server *s, struct turn_req *r)
{
	struct turn_alloc *a = turn_find_live(s, r->conn, r->now_ms);
	if (!a) {
		reply_error(s, r, TURN_ERR_ALLOCATION_MISMATCH);
		return NULL;
	}
	if (strcmp(a->user, r->user) != 0) {
		reply_error(s, r, TURN_ERR_WRONG_CREDENTIALS);
		return NULL;
	}
	return a;
}

static void reply_ok(struct turn_server *s, struct turn_req *r, bool with_lifetime, uint32_t lt)
{
	uint8_t buf[RESP_BUF];
	struct stun_builder b;
	stun_build_response(&b, buf, sizeof(buf), &r->m, STUN_CLASS_SUCCESS);
	if (with_lifetime)
		stun_build_u32(&b, TURN_ATTR_LIFETIME, lt);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, software_of(s), strlen(software_of(s)));
	finish_and_send(s, r, &b);
}

static void do_refresh(struct turn_server *s, struct turn_req *r)
{
	struct turn_alloc *a = own_alloc(s, r);
	const struct stun_attr *raf = stun_msg_find(&r->m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
	uint32_t lifetime;
	uint8_t v;

	if (!a)
		return;
	if (raf) {
		if (stun_attr_get_u8(&r->m, raf, &v)) {
			reply_error(s, r, STUN_ERR_BAD_REQUEST);
			return;
		}
		int fam = v == STUN_FAMILY_IPV6 ? AF_INET6 : v == STUN_FAMILY_IPV4 ? AF_INET : -1;
		if (fam != a->relay_addr.sa.sa_family) {
			reply_error(s, r, TURN_ERR_PEER_ADDRESS_FAMILY);
			return;
		}
	}
	if (desired_lifetime(s, r, &lifetime)) {
		reply_error(s, r, STUN_ERR_BAD_REQUEST);
		return;
	}
	if (lifetime == 0)
		turn_delete_alloc(s, a, false);
	else
		a->expires_ms = r->now_ms + (uint64_t)lifetime * 1000;
	reply_ok(s, r, true, lifetime);
}

bool turn_peer_allowed(struct turn_server *s, const struct sockaddr *peer, bool port_matters)
{
	if (!turn_policy_peer_allowed(s->conf, peer))
		return false;
	const struct turn_self *self = turn_shared_self(s->shared);
	if (port_matters)
		return !turn_self_refused(self, peer);
	return turn_self_classify(self, peer) != TURN_SELF_HOST;
}

/* Reads and vets one XOR-PEER-ADDRESS: 0 or the error code. A permission
 * covers a whole IP (a relay address of this server included: its live
 * ports are checked per send); a channel is vetted with its port. */
static int peer_of(struct turn_server *s, struct turn_req *r, const struct turn_alloc *a,
		   const struct stun_attr *at, bool port_matters, struct sockaddr_storage *peer)
{
	if (stun_attr_get_addr(&r->m, at, peer))
		return STUN_ERR_BAD_REQUEST;
	if (peer->ss_family != a->relay_addr.sa.sa_family)
		return TURN_ERR_PEER_ADDRESS_FAMILY;
	if (!turn_peer_allowed(s, (const struct sockaddr *)peer, port_matters)) {
		s->stats.dropped_policy++;
		if (turn_policy_always_banned((const struct sockaddr *)peer))
			s->stats.policy_special++;
		log_attack(s, r, "peer refused by policy");
		return STUN_ERR_FORBIDDEN;
	}
	return 0;
}

static void do_create_permission(struct turn_server *s, struct turn_req *r)
{
	struct turn_alloc *a = own_alloc(s, r);
	struct sockaddr_storage peer;
	unsigned n = 0;
	int code = 0;

	if (!a)
		return;
	/* Vet every address before installing any (RFC 8656 9.2: all or none). */
	for (unsigned i = 0; i < r->m.nattrs && !code; i++) {
		if (r->m.attrs[i].type != TURN_ATTR_XOR_PEER_ADDRESS)
			continue;
		code = peer_of(s, r, a, &r->m.attrs[i], false, &peer);
		n++;
	}
	if (!code && n == 0)
		code = STUN_ERR_BAD_REQUEST;
	for (unsigned i = 0; i < r->m.nattrs && !code; i++) {
		if (r->m.attrs[i].type != TURN_ATTR_XOR_PEER_ADDRESS)
			continue;
		stun_attr_get_addr(&r->m, &r->m.attrs[i], &peer);
		if (turn_alloc_perm_add(a, (const struct sockaddr *)&peer, r->now_ms))
			code = TURN_ERR_INSUFFICIENT_CAPACITY;
	}
	if (code)
		reply_error(s, r, code);
	else
		reply_ok(s, r, false, 0);
}

static void do_channel_bind(struct turn_server *s, struct turn_req *r)
{
	struct turn_alloc *a = own_alloc(s, r);
	const struct stun_attr *ca = stun_msg_find(&r->m, TURN_ATTR_CHANNEL_NUMBER);
	const struct stun_attr *pa = stun_msg_find(&r->m, TURN_ATTR_XOR_PEER_ADDRESS);
	struct sockaddr_storage peer;
	uint16_t chan = 0;
	int code = 0;

	if (!a)
		return;
	if (!ca || !pa || stun_attr_get_channel(&r->m, ca, &chan) || !turn_channel_valid(chan))
		code = STUN_ERR_BAD_REQUEST;
	if (!code)
		code = peer_of(s, r, a, pa, true, &peer);
	const struct sockaddr *p = (const struct sockaddr *)&peer;
	if (!code && turn_alloc_chan_check(a, chan, p, r->now_ms))
		code = STUN_ERR_BAD_REQUEST;
	if (!code && (turn_alloc_perm_add(a, p, r->now_ms) || turn_alloc_chan_bind(a, chan, p, r->now_ms)))
		code = TURN_ERR_INSUFFICIENT_CAPACITY;
	if (!code)
		turn_alloc_chan_set_self(a, chan, turn_self_classify(turn_shared_self(s->shared), p) ==
							  TURN_SELF_RELAY_IP);
	if (code)
		reply_error(s, r, code);
	else
		reply_ok(s, r, false, 0);
}

/* ---- dispatch ---- */

/* DONT-FRAGMENT is known to the codec but may not be supported by the
 * worker (no relay_dont_fragment hook). */
static void note_unsupported(struct stun_msg *m, uint16_t type)
{
	if (stun_msg_find(m, type) && m->nunknown < STUN_MAX_UNKNOWN)
		m->unknown[m->nunknown++] = type;
}

/* Requests that cannot succeed whatever the credentials get their 400
 * before authentication: a 401 (with REALM and NONCE) would be four times
 * the size of such a bare request, and a spoofed source gains less so. */
static bool lacks_required(const struct stun_msg *m)
{
	switch (m->method) {
	case TURN_METHOD_ALLOCATE:
		return !stun_msg_find(m, TURN_ATTR_REQUESTED_TRANSPORT);
	case TURN_METHOD_CREATE_PERMISSION:
		return !stun_msg_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
	case TURN_METHOD_CHANNEL_BIND:
		return !stun_msg_find(m, TURN_ATTR_CHANNEL_NUMBER) ||
		       !stun_msg_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
	default:
		return false;
	}
}

static void handle_request(struct turn_server *s, struct turn_req *r)
{
	switch (r->m.method) {
	case STUN_METHOD_BINDING:
		turn_binding_request(s, r->conn, &r->m, r->now_ms);
		return;
	case TURN_METHOD_ALLOCATE:
	case TURN_METHOD_REFRESH:
	case TURN_METHOD_CREATE_PERMISSION:
	case TURN_METHOD_CHANNEL_BIND:
		break;
	default:
		s->stats.bad_in++;
		reply_error(s, r, STUN_ERR_BAD_REQUEST);
		return;
	}
	if (lacks_required(&r->m)) {
		s->stats.bad_in++;
		reply_error(s, r, STUN_ERR_BAD_REQUEST);
		return;
	}
	if (authenticate(s, r))
		return;
	if (!s->io.relay_dont_fragment)
		note_unsupported(&r->m, TURN_ATTR_DONT_FRAGMENT);
	if (r->m.nunknown) {
		reply_error(s, r, STUN_ERR_UNKNOWN_ATTRIBUTE);
		return;
	}
	if (r->m.method == TURN_METHOD_ALLOCATE)
		do_allocate(s, r);
	else if (r->m.method == TURN_METHOD_REFRESH)
		do_refresh(s, r);
	else if (r->m.method == TURN_METHOD_CREATE_PERMISSION)
		do_create_permission(s, r);
	else
		do_channel_bind(s, r);
}

/* A STUN-looking request that does not parse still gets a 400 (RFC 8489
 * 6.3), built from its header alone. */
static void reply_malformed(struct turn_server *s, struct turn_req *r, const uint8_t *data,
			    size_t len)
{
	if (!stun_is_message(data, len))
		return;
	uint16_t type = (uint16_t)(data[0] << 8 | data[1]);
	if ((type & 0x0110) != STUN_CLASS_REQUEST)
		return;
	memset(&r->m, 0, sizeof(r->m));
	r->m.buf = data;
	r->m.len = len;
	r->m.method = (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
	r->m.cls = STUN_CLASS_REQUEST;
	memcpy(r->m.tid, data + 8, STUN_TID_LEN);
	r->m.mi = r->m.mi256 = r->m.fp = -1;
	reply_error(s, r, STUN_ERR_BAD_REQUEST);
}

void turn_server_on_client(struct turn_server *s, const struct turn_conn *conn,
			   const uint8_t *data, size_t len, uint64_t now_ms, int64_t now_unix)
{
	struct turn_req r;

	s->stats.client_in++;
	s->stats.client_in_bytes += len;
	if (stun_is_channel_data(data, len)) {
		turn_data_channel(s, conn, data, len, now_ms);
		return;
	}
	s->stats.stun_in++;
	r.conn = conn;
	r.now_ms = now_ms;
	r.now_unix = now_unix;
	r.authed = false;
	r.keylen = 0;
	/* RFC 3489 requests carry no magic cookie; RFC 8489 12 asks servers
	 * to answer their Bindings all the same. */
	if (stun_msg_parse(&r.m, data, len) < 0 && stun_msg_parse_classic(&r.m, data, len) < 0) {
		s->stats.bad_in++;
		log_attack(s, &r, "malformed STUN");
		reply_malformed(s, &r, data, len);
		return;
	}
	if (r.m.fp >= 0 && !stun_check_fingerprint(&r.m)) {
		s->stats.bad_in++;
		log_attack(s, &r, "bad FINGERPRINT");
		return;
	}
	if (r.m.classic) {
		turn_binding_classic(s, conn, &r.m, now_ms);
		return;
	}
	if (r.m.cls == STUN_CLASS_REQUEST) {
		handle_request(s, &r);
		explicit_bzero(r.key, sizeof(r.key)); /* keys do not linger on the stack */
		explicit_bzero(&r.acct, sizeof(r.acct));
		return;
	}
	if (r.m.cls == STUN_CLASS_INDICATION && r.m.method == TURN_METHOD_SEND)
		turn_data_send_indication(s, conn, &r.m, now_ms);
	/* Other indications (Binding keepalives) and stray responses: dropped. */
}

/* ---- lifecycle ---- */

struct turn_server *turn_server_new(const struct turn_conf *conf, struct turn_accounts *accounts,
				    struct turn_shared *shared, const uint8_t *nonce_key,
				    size_t nonce_key_len, const struct turn_io *io)
{
	uint8_t seed[STUN_TID_LEN];
	uint64_t s1, s2;
	struct turn_server *s;

	if (!conf || !shared || !io || !nonce_key || nonce_key_len == 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->conf = conf;
	s->accounts = accounts;
	s->shared = shared;
	s->io = *io;
	s->nonce_key = malloc(nonce_key_len);
	stun_tid_random(seed); /* hash seeds an attacker cannot predict */
	memcpy(&s1, seed, 8);
	memcpy(&s2, seed + 4, 8);
	if (!s->nonce_key || turn_alloc_table_init(&s->table, 64, s1) ||
	    turn_ratelimit_init(&s->rl, RL_SLOTS, RL_RATE, RL_BURST, s2)) {
		turn_alloc_table_free(&s->table);
		free(s->nonce_key);
		free(s);
		return NULL;
	}
	memcpy(s->nonce_key, nonce_key, nonce_key_len);
	s->nonce_key_len = nonce_key_len;
	s->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1000);
	for (int i = 0; i < 2; i++)
		s->auth_log[i].rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5, 2000);
	return s;
}

void turn_server_free(struct turn_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->table.nbuckets; i++)
		while (s->table.buckets[i])
			turn_delete_alloc(s, s->table.buckets[i], false);
	turn_alloc_table_free(&s->table);
	turn_ratelimit_free(&s->rl);
	free(s->nonce_key);
	free(s);
}

void turn_server_conn_closed(struct turn_server *s, const void *stream)
{
	struct turn_alloc *a = stream ? turn_alloc_find_stream(&s->table, stream) : NULL;
	if (a)
		turn_delete_alloc(s, a, false);
}

bool turn_server_conn_has_alloc(struct turn_server *s, const void *stream, uint64_t now_ms)
{
	const struct turn_alloc *a = stream ? turn_alloc_find_stream(&s->table, stream) : NULL;
	return a && now_ms < a->expires_ms;
}

const struct turn_stats *turn_server_stats(const struct turn_server *s)
{
	return &s->stats;
}

/* ---- expiry ---- */

/* Expiry is exact where it matters (every use compares against now), so the
 * sweep only reclaims: a full pass over the table once a second, at most
 * SWEEP_SLICE buckets per call so one tick never stalls the worker. */
enum { SWEEP_SLICE = 1024, SWEEP_PERIOD_MS = 1000 }; /* ~0.1 ms per slice at 10k allocations */

static void sweep_bucket(struct turn_server *s, size_t i, uint64_t now_ms)
{
	struct turn_alloc *a = s->table.buckets[i];
	while (a) {
		struct turn_alloc *next = a->next;
		if (now_ms >= a->expires_ms)
			turn_delete_alloc(s, a, true);
		else
			(void)turn_alloc_expire(a, now_ms);
		a = next;
	}
}

uint64_t turn_server_tick(struct turn_server *s, uint64_t now_ms)
{
	if (s->sweep_cursor == 0 && now_ms < s->sweep_next_ms)
		return s->table.count || s->reserve_pending ? s->sweep_next_ms : UINT64_MAX;
	size_t end = s->sweep_cursor + SWEEP_SLICE;
	if (end > s->table.nbuckets)
		end = s->table.nbuckets;
	for (size_t i = s->sweep_cursor; i < end; i++)
		sweep_bucket(s, i, now_ms);
	if (end < s->table.nbuckets) {
		s->sweep_cursor = end;
		return now_ms; /* more slices to do */
	}
	s->sweep_cursor = 0;
	s->sweep_next_ms = now_ms + SWEEP_PERIOD_MS;
	if (s->reserve_pending) /* ours or another worker's: any sweep releases them */
		s->reserve_pending = turn_reserve_expire(turn_shared_reserve(s->shared), now_ms) > 0;
	return s->table.count || s->reserve_pending ? s->sweep_next_ms : UINT64_MAX;
}
