#include "turn_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "stun_auth.h"
#include "stun_chan.h"
#include "stun_msg.h"

enum { RX_CAP = 2 * TURN_CLIENT_STREAM_MAX_FRAME };

static bool is_stream(const struct turn_client *c)
{
	return c->cfg.transport != TURN_CLIENT_UDP;
}

static bool copy_str(char *dst, size_t cap, const char *src)
{
	if (!src)
		src = "";
	size_t n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

int turn_client_init(struct turn_client *c, const struct turn_client_config *cfg)
{
	memset(c, 0, sizeof(*c));
	if (cfg->server.ss_family != AF_INET && cfg->server.ss_family != AF_INET6)
		return -EINVAL;
	if (cfg->family != 0 && cfg->family != AF_INET && cfg->family != AF_INET6)
		return -EINVAL;
	if (cfg->transport > TURN_CLIENT_TLS)
		return -EINVAL;
	if (!copy_str(c->username, sizeof(c->username), cfg->username) ||
	    !copy_str(c->password, sizeof(c->password), cfg->password) ||
	    !copy_str(c->software, sizeof(c->software), cfg->software))
		return -EINVAL;
	c->cfg = *cfg;
	c->cfg.username = c->username;
	c->cfg.password = c->password;
	c->cfg.software = cfg->software ? c->software : NULL;
	c->next_channel = TURN_CHANNEL_MIN;
	if (is_stream(c)) {
		c->rx = malloc(RX_CAP);
		if (!c->rx)
			return -ENOMEM;
	}
	return 0;
}

void turn_client_free(struct turn_client *c)
{
	free(c->rx);
	c->rx = NULL;
	/* the key and password should not linger in freed memory */
	memset(c->key, 0, sizeof(c->key));
	memset(c->password, 0, sizeof(c->password));
}

/* ---- events ---- */

static struct turn_client_event *ev_push(struct turn_client *c, enum turn_client_event_type t,
					 int code)
{
	if (c->ev_count == TURN_CLIENT_MAX_EVENTS) {
		c->stats.events_dropped++;
		return NULL;
	}
	struct turn_client_event *ev =
		&c->events[(c->ev_head + c->ev_count) % TURN_CLIENT_MAX_EVENTS];
	c->ev_count++;
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->code = code;
	return ev;
}

static void ev_peer(struct turn_client *c, enum turn_client_event_type t, int code,
		    const struct turn_peer *p)
{
	struct turn_client_event *ev = ev_push(c, t, code);
	if (ev) {
		ev->addr = p->addr;
		ev->channel = p->channel;
	}
}

bool turn_client_poll_event(struct turn_client *c, struct turn_client_event *ev)
{
	if (c->ev_count == 0)
		return false;
	*ev = c->events[c->ev_head];
	c->ev_head = (c->ev_head + 1) % TURN_CLIENT_MAX_EVENTS;
	c->ev_count--;
	return true;
}

/* ---- peers ---- */

static int peer_find(const struct turn_client *c, const struct sockaddr *sa)
{
	for (int i = 0; i < TURN_CLIENT_MAX_PEERS; i++)
		if (c->peers[i].used && addr_equal((const struct sockaddr *)&c->peers[i].addr, sa))
			return i;
	return -1;
}

static int peer_get(struct turn_client *c, const struct sockaddr *sa)
{
	int i = peer_find(c, sa);
	if (i >= 0)
		return i;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	for (i = 0; i < TURN_CLIENT_MAX_PEERS; i++) {
		if (!c->peers[i].used) {
			memset(&c->peers[i], 0, sizeof(c->peers[i]));
			c->peers[i].used = true;
			memcpy(&c->peers[i].addr, sa, addr_len(sa));
			return i;
		}
	}
	return -ENOSPC;
}

static int peer_by_channel(const struct turn_client *c, uint16_t chan)
{
	for (int i = 0; i < TURN_CLIENT_MAX_PEERS; i++)
		if (c->peers[i].used && c->peers[i].chan_ok && c->peers[i].channel == chan)
			return i;
	return -1;
}

static bool channel_in_use(const struct turn_client *c, uint16_t chan)
{
	for (int i = 0; i < TURN_CLIENT_MAX_PEERS; i++)
		if (c->peers[i].used && c->peers[i].channel == chan)
			return true;
	return false;
}

/* Numbers rotate through the whole range so that a number freed by
 * remove_peer is not rebound to another peer soon (RFC 8656 12: the server
 * keeps the old binding until it expires). */
static uint16_t channel_alloc(struct turn_client *c)
{
	for (unsigned n = 0; n <= TURN_CHANNEL_MAX - TURN_CHANNEL_MIN; n++) {
		uint16_t ch = c->next_channel;
		c->next_channel = ch == TURN_CHANNEL_MAX ? TURN_CHANNEL_MIN : (uint16_t)(ch + 1);
		if (!channel_in_use(c, ch))
			return ch;
	}
	return 0;
}

/* ---- requests ---- */

static int tx_alloc(struct turn_client *c)
{
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++)
		if (!c->tx[i].used)
			return i;
	return -EBUSY;
}

static void add_auth(struct turn_client *c, struct stun_builder *b)
{
	stun_build_attr(b, STUN_ATTR_USERNAME, c->username, strlen(c->username));
	stun_build_attr(b, STUN_ATTR_REALM, c->realm, strlen(c->realm));
	stun_build_attr(b, STUN_ATTR_NONCE, c->nonce, c->nonce_len);
	if (c->pwalg) {
		uint8_t v[4] = { (uint8_t)(c->pwalg >> 8), (uint8_t)c->pwalg, 0, 0 };
		stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHMS, c->pwalgs, c->pwalgs_len);
		stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHM, v, sizeof(v));
	}
}

static void add_method_attrs(struct turn_client *c, struct turn_tx *t, struct stun_builder *b)
{
	const struct turn_peer *p = t->peer >= 0 ? &c->peers[t->peer] : NULL;

	switch (t->method) {
	case TURN_METHOD_ALLOCATE:
		stun_build_u8(b, TURN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP);
		if (c->cfg.family == AF_INET6)
			stun_build_u8(b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
		if (c->cfg.lifetime)
			stun_build_u32(b, TURN_ATTR_LIFETIME, c->cfg.lifetime);
		break;
	case TURN_METHOD_REFRESH:
		stun_build_u32(b, TURN_ATTR_LIFETIME, t->lifetime);
		break;
	case TURN_METHOD_CREATE_PERMISSION:
		stun_build_addr(b, TURN_ATTR_XOR_PEER_ADDRESS, (const struct sockaddr *)&p->addr);
		break;
	case TURN_METHOD_CHANNEL_BIND:
		stun_build_channel(b, p->channel);
		stun_build_addr(b, TURN_ATTR_XOR_PEER_ADDRESS, (const struct sockaddr *)&p->addr);
		break;
	default:
		break;
	}
}

/* Called right after a (re)send was queued: when to act next. Over UDP the
 * RTO doubles; after the last send we wait Rm * RTO (RFC 8489 6.2.1). */
static void tx_arm(struct turn_client *c, struct turn_tx *t, uint64_t now_ms)
{
	t->tries++;
	if (is_stream(c)) {
		t->deadline_ms = now_ms + TURN_CLIENT_STREAM_TIMEOUT_MS;
	} else if (t->tries >= TURN_CLIENT_RC) {
		t->deadline_ms = now_ms + (uint64_t)TURN_CLIENT_RM * TURN_CLIENT_RTO_MS;
	} else {
		t->deadline_ms = now_ms + t->rto_ms;
		t->rto_ms *= 2;
	}
}

/* (Re)builds the request with a fresh transaction id and the current
 * credentials, and arms the first send. */
static int tx_build(struct turn_client *c, struct turn_tx *t, uint64_t now_ms)
{
	struct stun_builder b;

	stun_tid_random(t->tid);
	stun_build_init(&b, t->msg, sizeof(t->msg), t->method, STUN_CLASS_REQUEST, t->tid);
	add_method_attrs(c, t, &b);
	if (c->cfg.software)
		stun_build_attr(&b, STUN_ATTR_SOFTWARE, c->software, strlen(c->software));
	t->authed = c->key_len > 0;
	if (t->authed) {
		add_auth(c, &b);
		stun_build_integrity(&b, c->key, c->key_len);
	}
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	if (n < 0)
		return n;
	t->len = (uint16_t)n;
	t->need_send = true;
	t->tries = 0;
	t->rto_ms = TURN_CLIENT_RTO_MS;
	tx_arm(c, t, now_ms);
	return 0;
}

static int tx_start(struct turn_client *c, uint16_t method, int peer, uint32_t lifetime,
		    uint64_t now_ms)
{
	int i = tx_alloc(c);
	if (i < 0)
		return i;
	struct turn_tx *t = &c->tx[i];
	memset(t, 0, sizeof(*t));
	t->used = true;
	t->method = method;
	t->peer = peer;
	t->lifetime = lifetime;
	int r = tx_build(c, t, now_ms);
	if (r < 0) {
		t->used = false;
		return r;
	}
	return 0;
}

int turn_client_poll_transmit(struct turn_client *c, uint8_t *buf, size_t cap)
{
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (!t->used || !t->need_send)
			continue;
		if (cap < t->len)
			return -ENOSPC;
		memcpy(buf, t->msg, t->len);
		t->need_send = false;
		return t->len;
	}
	return 0;
}

int turn_client_start(struct turn_client *c, uint64_t now_ms)
{
	if (c->state != TURN_CLIENT_IDLE)
		return -EALREADY;
	int r = tx_start(c, TURN_METHOD_ALLOCATE, -1, 0, now_ms);
	if (r < 0)
		return r;
	c->state = TURN_CLIENT_ALLOCATING;
	return 0;
}

int turn_client_close(struct turn_client *c, uint64_t now_ms)
{
	if (c->state != TURN_CLIENT_ALLOCATED)
		return -ENOTCONN;
	/* outstanding requests no longer matter */
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++)
		c->tx[i].used = false;
	int r = tx_start(c, TURN_METHOD_REFRESH, -1, 0, now_ms);
	if (r < 0)
		return r;
	c->state = TURN_CLIENT_CLOSING;
	return 0;
}

static bool allocated(const struct turn_client *c)
{
	return c->state == TURN_CLIENT_ALLOCATED;
}

int turn_client_create_permission(struct turn_client *c, const struct sockaddr *peer,
				  uint64_t now_ms)
{
	if (!allocated(c))
		return -ENOTCONN;
	int i = peer_get(c, peer);
	if (i < 0)
		return i;
	struct turn_peer *p = &c->peers[i];
	if (p->perm_pending)
		return 0;
	int r = tx_start(c, TURN_METHOD_CREATE_PERMISSION, i, 0, now_ms);
	if (r < 0) {
		if (!p->perm_ok && !p->chan_ok && !p->chan_pending)
			p->used = false;
		return r;
	}
	p->perm_pending = true;
	return 0;
}

int turn_client_bind_channel(struct turn_client *c, const struct sockaddr *peer, uint64_t now_ms)
{
	if (!allocated(c))
		return -ENOTCONN;
	int i = peer_get(c, peer);
	if (i < 0)
		return i;
	struct turn_peer *p = &c->peers[i];
	if (p->chan_pending || p->chan_ok)
		return 0;
	bool fresh = p->channel == 0;
	if (fresh)
		p->channel = channel_alloc(c);
	if (p->channel == 0)
		return -ENOSPC;
	int r = tx_start(c, TURN_METHOD_CHANNEL_BIND, i, 0, now_ms);
	if (r < 0) {
		if (fresh)
			p->channel = 0;
		if (!p->perm_ok && !p->perm_pending && !p->channel)
			p->used = false;
		return r;
	}
	p->chan_pending = true;
	return 0;
}

void turn_client_remove_peer(struct turn_client *c, const struct sockaddr *peer)
{
	int i = peer_find(c, peer);
	if (i < 0)
		return;
	for (int k = 0; k < TURN_CLIENT_MAX_TX; k++)
		if (c->tx[k].used && c->tx[k].peer == i)
			c->tx[k].used = false;
	memset(&c->peers[i], 0, sizeof(c->peers[i]));
}

bool turn_client_peer_at(const struct turn_client *c, unsigned i, struct sockaddr_storage *out)
{
	if (i >= TURN_CLIENT_MAX_PEERS || !c->peers[i].used)
		return false;
	*out = c->peers[i].addr;
	return true;
}

bool turn_client_has_peer(const struct turn_client *c, const struct sockaddr *peer)
{
	return peer_find(c, peer) >= 0;
}

uint16_t turn_client_channel(const struct turn_client *c, const struct sockaddr *peer)
{
	int i = peer_find(c, peer);
	return i >= 0 && c->peers[i].chan_ok ? c->peers[i].channel : 0;
}

/* ---- data ---- */

int turn_client_send(const struct turn_client *c, const struct sockaddr *peer,
		     const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
	if (!allocated(c))
		return -ENOTCONN;
	if (len > 65535 - 64)
		return -EMSGSIZE;
	uint16_t chan = turn_client_channel(c, peer);
	if (chan) {
		bool stream = is_stream(c);
		size_t pad = stun_chan_pad_len((uint16_t)len, stream);
		if (cap < STUN_CHANNEL_HEADER_LEN + len + pad)
			return -EMSGSIZE;
		size_t n = stun_chan_header(out, chan, (uint16_t)len, stream);
		memcpy(out + STUN_CHANNEL_HEADER_LEN, data, len);
		memset(out + STUN_CHANNEL_HEADER_LEN + len, 0, pad);
		return (int)n;
	}
	/* Indications are not authenticated (RFC 8656 11.1); the tid is only
	 * required to be random enough not to collide with our requests. */
	uint8_t tid[STUN_TID_LEN];
	struct stun_builder b;
	stun_tid_random(tid);
	stun_build_init(&b, out, cap, TURN_METHOD_SEND, STUN_CLASS_INDICATION, tid);
	stun_build_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_build_attr(&b, TURN_ATTR_DATA, data, len);
	int n = stun_build_finish(&b);
	return n < 0 ? -EMSGSIZE : n;
}

/* ---- responses ---- */

static void set_failed(struct turn_client *c, int code)
{
	c->state = TURN_CLIENT_FAILED;
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++)
		c->tx[i].used = false;
	ev_push(c, TURN_EV_FAILED, code);
}

/* Takes REALM/NONCE (and PASSWORD-ALGORITHMS) from a 401/438 and derives
 * the long-term key. Returns false when the response lacks them. */
static bool take_challenge(struct turn_client *c, const struct stun_msg *m)
{
	const struct stun_attr *realm = stun_msg_find(m, STUN_ATTR_REALM);
	const struct stun_attr *nonce = stun_msg_find(m, STUN_ATTR_NONCE);
	const struct stun_attr *algs = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);

	if (!nonce || nonce->len == 0 || nonce->len >= sizeof(c->nonce))
		return false;
	if (!realm && c->realm[0] == '\0')
		return false;
	if (realm && (realm->len == 0 || realm->len >= sizeof(c->realm)))
		return false;
	memcpy(c->nonce, stun_attr_value(m, nonce), nonce->len);
	c->nonce_len = nonce->len;
	if (realm) {
		memcpy(c->realm, stun_attr_value(m, realm), realm->len);
		c->realm[realm->len] = '\0';
	}
	c->pwalg = 0;
	if (algs && algs->len <= sizeof(c->pwalgs)) {
		uint16_t list[8];
		unsigned n = 0;
		if (stun_attr_get_pwalgs(m, algs, list, 8, &n) == 0) {
			for (unsigned i = 0; i < n && i < 8; i++)
				if (list[i] == STUN_PWALG_MD5 || (list[i] == STUN_PWALG_SHA256 && !c->pwalg))
					c->pwalg = list[i];
			if (c->pwalg) {
				memcpy(c->pwalgs, stun_attr_value(m, algs), algs->len);
				c->pwalgs_len = algs->len;
			}
		}
	}
	if (c->pwalg == STUN_PWALG_SHA256) {
		stun_key_sha256(c->username, c->realm, c->password, c->key);
		c->key_len = STUN_KEY_SHA256_LEN;
	} else {
		stun_key_md5(c->username, c->realm, c->password, c->key);
		c->key_len = STUN_KEY_MD5_LEN;
	}
	return true;
}

static void tx_fail(struct turn_client *c, struct turn_tx *t, int code)
{
	struct turn_peer *p = t->peer >= 0 ? &c->peers[t->peer] : NULL;
	uint16_t method = t->method;

	t->used = false;
	switch (method) {
	case TURN_METHOD_ALLOCATE:
		set_failed(c, code);
		break;
	case TURN_METHOD_REFRESH:
		if (c->state == TURN_CLIENT_CLOSING) {
			c->state = TURN_CLIENT_CLOSED;
			ev_push(c, TURN_EV_CLOSED, code);
		} else {
			set_failed(c, code);
		}
		break;
	case TURN_METHOD_CREATE_PERMISSION:
		p->perm_pending = false;
		p->perm_ok = false;
		p->perm_refresh_ms = 0;
		ev_peer(c, TURN_EV_PERMISSION, code, p);
		break;
	case TURN_METHOD_CHANNEL_BIND:
		p->chan_pending = false;
		p->chan_ok = false;
		p->chan_refresh_ms = 0;
		ev_peer(c, TURN_EV_CHANNEL, code, p);
		break;
	default:
		break;
	}
}

static void schedule_refresh(struct turn_client *c, uint32_t lifetime, uint64_t now_ms)
{
	c->lifetime = lifetime;
	c->expires_ms = now_ms + (uint64_t)lifetime * 1000;
	uint32_t before = lifetime > 2 * TURN_CLIENT_REFRESH_MARGIN_S ? lifetime - TURN_CLIENT_REFRESH_MARGIN_S
								       : lifetime / 2;
	c->refresh_ms = now_ms + (uint64_t)(before ? before : 1) * 1000;
}

static void on_allocate_ok(struct turn_client *c, const struct stun_msg *m, uint64_t now_ms)
{
	const struct stun_attr *rel = stun_msg_find(m, TURN_ATTR_XOR_RELAYED_ADDRESS);
	const struct stun_attr *map = stun_msg_find(m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	const struct stun_attr *lt = stun_msg_find(m, TURN_ATTR_LIFETIME);
	uint32_t lifetime = TURN_DEFAULT_LIFETIME;

	if (!rel || stun_attr_get_addr(m, rel, &c->relayed) < 0) {
		set_failed(c, -EBADMSG);
		return;
	}
	if (map && stun_attr_get_addr(m, map, &c->mapped) < 0)
		memset(&c->mapped, 0, sizeof(c->mapped));
	if (lt && stun_attr_get_u32(m, lt, &lifetime) < 0)
		lifetime = TURN_DEFAULT_LIFETIME;
	c->state = TURN_CLIENT_ALLOCATED;
	schedule_refresh(c, lifetime, now_ms);
	struct turn_client_event *ev = ev_push(c, TURN_EV_ALLOCATED, 0);
	if (ev) {
		ev->addr = c->relayed;
		ev->lifetime = lifetime;
	}
}

static void on_success(struct turn_client *c, struct turn_tx *t, const struct stun_msg *m,
		       uint64_t now_ms)
{
	struct turn_peer *p = t->peer >= 0 ? &c->peers[t->peer] : NULL;
	uint16_t method = t->method;
	uint32_t lifetime = 0;

	t->used = false;
	switch (method) {
	case TURN_METHOD_ALLOCATE:
		on_allocate_ok(c, m, now_ms);
		break;
	case TURN_METHOD_REFRESH:
		if (c->state == TURN_CLIENT_CLOSING) {
			c->state = TURN_CLIENT_CLOSED;
			ev_push(c, TURN_EV_CLOSED, 0);
			break;
		}
		{
			const struct stun_attr *lt = stun_msg_find(m, TURN_ATTR_LIFETIME);
			if (!lt || stun_attr_get_u32(m, lt, &lifetime) < 0)
				lifetime = c->lifetime;
		}
		schedule_refresh(c, lifetime, now_ms);
		struct turn_client_event *ev = ev_push(c, TURN_EV_REFRESHED, 0);
		if (ev)
			ev->lifetime = lifetime;
		break;
	case TURN_METHOD_CREATE_PERMISSION: {
		bool first = !p->perm_ok;
		p->perm_pending = false;
		p->perm_ok = true;
		p->perm_refresh_ms = now_ms + TURN_CLIENT_PERM_REFRESH_S * 1000ull;
		if (first)
			ev_peer(c, TURN_EV_PERMISSION, 0, p);
		break;
	}
	case TURN_METHOD_CHANNEL_BIND: {
		bool first = !p->chan_ok;
		p->chan_pending = false;
		p->chan_ok = true;
		p->chan_refresh_ms = now_ms + TURN_CLIENT_CHAN_REFRESH_S * 1000ull;
		/* ChannelBind installed the permission too (RFC 8656 12.2); keep
		 * it alive on the permission schedule. */
		if (!p->perm_ok || !p->perm_refresh_ms) {
			p->perm_ok = true;
			p->perm_refresh_ms = now_ms + TURN_CLIENT_PERM_REFRESH_S * 1000ull;
		}
		if (first)
			ev_peer(c, TURN_EV_CHANNEL, 0, p);
		break;
	}
	default:
		break;
	}
}

static void on_redirect(struct turn_client *c, struct turn_tx *t, const struct stun_msg *m)
{
	const struct stun_attr *alt = stun_msg_find(m, STUN_ATTR_ALTERNATE_SERVER);
	struct sockaddr_storage sa;

	if (t->method != TURN_METHOD_ALLOCATE || !alt || stun_attr_get_addr(m, alt, &sa) < 0) {
		tx_fail(c, t, STUN_ERR_TRY_ALTERNATE);
		return;
	}
	t->used = false;
	c->state = TURN_CLIENT_REDIRECTED;
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++)
		c->tx[i].used = false;
	struct turn_client_event *ev = ev_push(c, TURN_EV_REDIRECT, STUN_ERR_TRY_ALTERNATE);
	if (ev)
		ev->addr = sa;
}

static void on_error(struct turn_client *c, struct turn_tx *t, const struct stun_msg *m,
		     uint64_t now_ms)
{
	const struct stun_attr *ea = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	int code = 0;
	const char *reason;
	size_t rlen;

	if (!ea || stun_attr_get_error(m, ea, &code, &reason, &rlen) < 0) {
		c->stats.rx_bad++;
		return;
	}
	/* 401 to a request without credentials is the normal challenge; 401
	 * after credentials means they are wrong. 438 asks for a new nonce. */
	bool retry = (code == STUN_ERR_UNAUTHORIZED && !t->authed) || code == STUN_ERR_STALE_NONCE;
	if (retry && t->auth_retries < TURN_CLIENT_MAX_AUTH_RETRIES && take_challenge(c, m)) {
		t->auth_retries++;
		if (tx_build(c, t, now_ms) == 0)
			return;
	}
	if (code == STUN_ERR_TRY_ALTERNATE) {
		on_redirect(c, t, m);
		return;
	}
	tx_fail(c, t, code);
}

static struct turn_tx *tx_match(struct turn_client *c, const struct stun_msg *m)
{
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (t->used && t->method == m->method && !memcmp(t->tid, m->tid, STUN_TID_LEN))
			return t;
	}
	return NULL;
}

/* Success responses to authenticated requests must carry a valid
 * MESSAGE-INTEGRITY (RFC 8489 9.2.5). Error responses may lack it (the
 * challenge itself does); when present it must verify. */
static bool response_trusted(const struct turn_client *c, const struct turn_tx *t,
			     const struct stun_msg *m)
{
	if (!t->authed)
		return true;
	int r = stun_check_integrity(m, c->key, c->key_len);
	if (r == 0)
		return true;
	return r == -ENOENT && m->cls == STUN_CLASS_ERROR;
}

static void on_data_indication(struct turn_client *c, const struct stun_msg *m)
{
	const struct stun_attr *pa = stun_msg_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
	const struct stun_attr *da = stun_msg_find(m, TURN_ATTR_DATA);
	struct sockaddr_storage peer;

	if (!pa || !da || stun_attr_get_addr(m, pa, &peer) < 0) {
		c->stats.rx_bad++;
		return;
	}
	struct turn_client_event *ev = ev_push(c, TURN_EV_DATA, 0);
	if (ev) {
		ev->addr = peer;
		ev->data = stun_attr_value(m, da);
		ev->len = da->len;
	}
}

static int on_stun(struct turn_client *c, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len) < 0 || !stun_check_fingerprint(&m)) {
		c->stats.rx_bad++;
		return -EBADMSG;
	}
	if (m.cls == STUN_CLASS_INDICATION) {
		if (m.method == TURN_METHOD_DATA && allocated(c))
			on_data_indication(c, &m);
		return 0;
	}
	if (m.cls != STUN_CLASS_SUCCESS && m.cls != STUN_CLASS_ERROR)
		return 0;
	struct turn_tx *t = tx_match(c, &m);
	if (!t || !response_trusted(c, t, &m)) {
		c->stats.rx_bad++;
		return -EBADMSG;
	}
	if (m.cls == STUN_CLASS_SUCCESS)
		on_success(c, t, &m, now_ms);
	else
		on_error(c, t, &m, now_ms);
	return 0;
}

static int on_channel_data(struct turn_client *c, const uint8_t *buf, size_t len)
{
	uint16_t chan, dlen;
	const uint8_t *data;

	if (stun_chan_parse(buf, len, &chan, &data, &dlen) < 0) {
		c->stats.rx_bad++;
		return -EBADMSG;
	}
	int i = peer_by_channel(c, chan);
	if (i < 0) {
		c->stats.rx_unknown_chan++;
		return 0;
	}
	struct turn_client_event *ev = ev_push(c, TURN_EV_DATA, 0);
	if (ev) {
		ev->addr = c->peers[i].addr;
		ev->channel = chan;
		ev->data = data;
		ev->len = dlen;
	}
	return 0;
}

static int on_frame(struct turn_client *c, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	if (stun_is_channel_data(buf, len))
		return on_channel_data(c, buf, len);
	if (stun_is_message(buf, len))
		return on_stun(c, buf, len, now_ms);
	c->stats.rx_bad++;
	return -EBADMSG;
}

/* Stream input. Whole frames in buf are handled in place; a partial frame
 * is kept in rx. rx holds at most one frame completed in this call (its
 * event may point into it) plus the next partial, so 2 * max frame. */
static int stream_input(struct turn_client *c, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	if (c->rx_start > 0) {
		memmove(c->rx, c->rx + c->rx_start, c->rx_len - c->rx_start);
		c->rx_len -= c->rx_start;
		c->rx_start = 0;
	}
	while (len > 0) {
		if (c->rx_skip) {
			size_t n = len < c->rx_skip ? len : c->rx_skip;
			c->rx_skip -= n, buf += n, len -= n;
			continue;
		}
		size_t pending = c->rx_len - c->rx_start;
		if (pending == 0) {
			long f = stun_stream_frame_len(buf, len);
			if (f < 0)
				return -EPROTO;
			if (f > 0 && (size_t)f <= len) {
				if (f <= TURN_CLIENT_STREAM_MAX_FRAME)
					on_frame(c, buf, (size_t)f, now_ms);
				else
					c->stats.rx_skipped++;
				buf += f, len -= (size_t)f;
				continue;
			}
			if (f > TURN_CLIENT_STREAM_MAX_FRAME) {
				c->stats.rx_skipped++;
				c->rx_skip = (size_t)f - len;
				return 0;
			}
			/* partial: f == 0 (cannot tell yet) or f > len */
			memcpy(c->rx + c->rx_len, buf, len);
			c->rx_len += len;
			return 0;
		}
		/* complete the partial frame in rx, a header first */
		uint8_t *p = c->rx + c->rx_start;
		long f = stun_stream_frame_len(p, pending);
		size_t want = f > 0 ? (size_t)f - pending : STUN_CHANNEL_HEADER_LEN - pending;
		if (f < 0)
			return -EPROTO;
		if (f == 0 && pending >= STUN_CHANNEL_HEADER_LEN)
			want = 1; /* the framer needs more than a header to decide */
		if (f > TURN_CLIENT_STREAM_MAX_FRAME) {
			c->stats.rx_skipped++;
			c->rx_skip = (size_t)f - pending;
			c->rx_len = c->rx_start;
			continue;
		}
		size_t n = len < want ? len : want;
		memcpy(c->rx + c->rx_len, buf, n);
		c->rx_len += n, buf += n, len -= n;
		pending += n;
		if (f > 0 && pending == (size_t)f) {
			on_frame(c, p, pending, now_ms);
			c->rx_start = c->rx_len;
		}
	}
	return 0;
}

int turn_client_input(struct turn_client *c, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	if (is_stream(c))
		return stream_input(c, buf, len, now_ms);
	return on_frame(c, buf, len, now_ms);
}

/* ---- timers ---- */

uint64_t turn_client_timeout(const struct turn_client *c)
{
	uint64_t t = UINT64_MAX;

	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++)
		if (c->tx[i].used && c->tx[i].deadline_ms < t)
			t = c->tx[i].deadline_ms;
	if (!allocated(c))
		return t;
	if (c->refresh_ms < t)
		t = c->refresh_ms;
	for (int i = 0; i < TURN_CLIENT_MAX_PEERS; i++) {
		const struct turn_peer *p = &c->peers[i];
		if (!p->used)
			continue;
		if (p->perm_refresh_ms && !p->perm_pending && p->perm_refresh_ms < t)
			t = p->perm_refresh_ms;
		if (p->chan_refresh_ms && !p->chan_pending && p->chan_refresh_ms < t)
			t = p->chan_refresh_ms;
	}
	return t;
}

static void tx_timers(struct turn_client *c, uint64_t now_ms)
{
	for (int i = 0; i < TURN_CLIENT_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (!t->used || t->deadline_ms > now_ms)
			continue;
		if (is_stream(c) || t->tries >= TURN_CLIENT_RC) {
			tx_fail(c, t, -ETIMEDOUT);
		} else {
			t->need_send = true;
			c->stats.retransmits++;
			tx_arm(c, t, now_ms);
		}
	}
}

/* A refresh that finds no free transaction slot tries again in a second
 * rather than spinning. */
static void refresh_due(struct turn_client *c, uint64_t now_ms)
{
	if (c->refresh_ms <= now_ms) {
		if (tx_start(c, TURN_METHOD_REFRESH, -1, c->cfg.lifetime ? c->cfg.lifetime : c->lifetime,
			     now_ms) == 0)
			c->refresh_ms = c->expires_ms + 1000; /* until the answer reschedules */
		else
			c->refresh_ms = now_ms + 1000;
	}
	for (int i = 0; i < TURN_CLIENT_MAX_PEERS; i++) {
		struct turn_peer *p = &c->peers[i];
		if (!p->used)
			continue;
		if (p->perm_refresh_ms && !p->perm_pending && p->perm_refresh_ms <= now_ms) {
			if (tx_start(c, TURN_METHOD_CREATE_PERMISSION, i, 0, now_ms) == 0)
				p->perm_pending = true;
			else
				p->perm_refresh_ms = now_ms + 1000;
		}
		if (p->chan_refresh_ms && !p->chan_pending && p->chan_refresh_ms <= now_ms) {
			if (tx_start(c, TURN_METHOD_CHANNEL_BIND, i, 0, now_ms) == 0)
				p->chan_pending = true;
			else
				p->chan_refresh_ms = now_ms + 1000;
		}
	}
}

void turn_client_handle_timeout(struct turn_client *c, uint64_t now_ms)
{
	if (allocated(c))
		refresh_due(c, now_ms);
	tx_timers(c, now_ms);
}

/* ---- accessors ---- */

const struct sockaddr *turn_client_relayed(const struct turn_client *c)
{
	return (const struct sockaddr *)&c->relayed;
}

const struct sockaddr *turn_client_mapped(const struct turn_client *c)
{
	return (const struct sockaddr *)&c->mapped;
}

const char *turn_client_state_name(enum turn_client_state s)
{
	switch (s) {
	case TURN_CLIENT_IDLE: return "idle";
	case TURN_CLIENT_ALLOCATING: return "allocating";
	case TURN_CLIENT_ALLOCATED: return "allocated";
	case TURN_CLIENT_CLOSING: return "closing";
	case TURN_CLIENT_CLOSED: return "closed";
	case TURN_CLIENT_REDIRECTED: return "redirected";
	case TURN_CLIENT_FAILED: return "failed";
	}
	return "?";
}

const char *turn_client_event_name(enum turn_client_event_type t)
{
	switch (t) {
	case TURN_EV_NONE: return "none";
	case TURN_EV_ALLOCATED: return "allocated";
	case TURN_EV_REFRESHED: return "refreshed";
	case TURN_EV_FAILED: return "failed";
	case TURN_EV_REDIRECT: return "redirect";
	case TURN_EV_CLOSED: return "closed";
	case TURN_EV_PERMISSION: return "permission";
	case TURN_EV_CHANNEL: return "channel";
	case TURN_EV_DATA: return "data";
	}
	return "?";
}
