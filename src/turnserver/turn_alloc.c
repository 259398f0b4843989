#include "turn_alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hash.h"
#include "stun_proto.h"
#include "turn_authlimit.h"
#include "turn_conf.h"
#include "turn_reserve.h"
#include "turn_self.h"

/* ---- allocation ---- */

struct turn_alloc *turn_alloc_new(const struct turn_conn *conn, const char *user)
{
	struct turn_alloc *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->user = strdup(user);
	if (!a->user) {
		free(a);
		return NULL;
	}
	a->conn = *conn;
	a->perms = a->perm_inline;
	a->capperm = TURN_ALLOC_INLINE_PERMS;
	a->chans = a->chan_inline;
	a->capchan = TURN_ALLOC_INLINE_CHANS;
	return a;
}

void turn_alloc_free(struct turn_alloc *a)
{
	if (!a)
		return;
	if (a->perms != a->perm_inline)
		free(a->perms);
	if (a->chans != a->chan_inline)
		free(a->chans);
	free(a->user);
	free(a);
}

/* ---- permissions ---- */

static bool perm_matches(const struct turn_perm *p, const struct sockaddr *peer)
{
	if (peer->sa_family != p->family)
		return false;
	if (peer->sa_family == AF_INET)
		return memcmp(p->ip, &((const struct sockaddr_in *)peer)->sin_addr, 4) == 0;
	return memcmp(p->ip, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16) == 0;
}

static struct turn_perm *perm_find(const struct turn_alloc *a, const struct sockaddr *peer)
{
	for (unsigned i = 0; i < a->nperm; i++)
		if (perm_matches(&a->perms[i], peer))
			return &a->perms[i];
	return NULL;
}

bool turn_alloc_perm_ok(const struct turn_alloc *a, const struct sockaddr *peer, uint64_t now_ms)
{
	const struct turn_perm *p = perm_find(a, peer);
	return p && now_ms < p->expires_ms;
}

/* Grows an inline array onto the heap (or a heap one by doubling). */
static int grow(void **arr, void *inline_arr, uint16_t *cap, size_t elem, unsigned max)
{
	unsigned ncap = *cap * 2u;
	if (*cap >= max)
		return -ENOSPC;
	if (ncap > max)
		ncap = max;
	void *n = malloc(ncap * elem);
	if (!n)
		return -ENOSPC;
	memcpy(n, *arr, *cap * elem);
	if (*arr != inline_arr)
		free(*arr);
	*arr = n;
	*cap = (uint16_t)ncap;
	return 0;
}

int turn_alloc_perm_add(struct turn_alloc *a, const struct sockaddr *peer, uint64_t now_ms)
{
	uint64_t exp = now_ms + (uint64_t)TURN_PERMISSION_LIFETIME * 1000;
	struct turn_perm *p = perm_find(a, peer);
	if (p) {
		p->expires_ms = exp;
		return 0;
	}
	if (a->nperm == a->capperm) {
		void *arr = a->perms;
		int rc = grow(&arr, a->perm_inline, &a->capperm, sizeof(*p), TURN_ALLOC_MAX_PERMS);
		if (rc)
			return rc;
		a->perms = arr;
	}
	p = &a->perms[a->nperm++];
	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)peer->sa_family;
	if (peer->sa_family == AF_INET)
		memcpy(p->ip, &((const struct sockaddr_in *)peer)->sin_addr, 4);
	else
		memcpy(p->ip, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
	p->expires_ms = exp;
	return 0;
}

/* ---- channels ---- */

static struct turn_chan *chan_find_num(const struct turn_alloc *a, uint16_t num)
{
	for (unsigned i = 0; i < a->nchan; i++)
		if (a->chans[i].num == num)
			return &a->chans[i];
	return NULL;
}

static struct turn_chan *chan_find_peer(const struct turn_alloc *a, const struct sockaddr *peer)
{
	for (unsigned i = 0; i < a->nchan; i++)
		if (addr_equal(&a->chans[i].peer.sa, peer))
			return &a->chans[i];
	return NULL;
}

const struct turn_chan *turn_alloc_chan_by_num(const struct turn_alloc *a, uint16_t num,
					       uint64_t now_ms)
{
	const struct turn_chan *c = chan_find_num(a, num);
	return c && now_ms < c->expires_ms ? c : NULL;
}

const struct turn_chan *turn_alloc_chan_by_peer(const struct turn_alloc *a,
						const struct sockaddr *peer, uint64_t now_ms)
{
	const struct turn_chan *c = chan_find_peer(a, peer);
	return c && now_ms < c->expires_ms ? c : NULL;
}

/* An entry past its binding and its reuse guard no longer reserves anything. */
void turn_alloc_chan_set_self(struct turn_alloc *a, uint16_t num, bool self)
{
	struct turn_chan *c = chan_find_num(a, num);
	if (c)
		c->self = self;
}

static bool chan_reserved(const struct turn_chan *c, uint64_t now_ms)
{
	return now_ms < c->expires_ms + (uint64_t)TURN_CHANNEL_REUSE_GUARD * 1000;
}

int turn_alloc_chan_check(const struct turn_alloc *a, uint16_t num, const struct sockaddr *peer,
			  uint64_t now_ms)
{
	const struct turn_chan *byn = chan_find_num(a, num);
	const struct turn_chan *byp = chan_find_peer(a, peer);
	if (byn && chan_reserved(byn, now_ms) && !addr_equal(&byn->peer.sa, peer))
		return -EEXIST;
	if (byp && chan_reserved(byp, now_ms) && byp->num != num)
		return -EEXIST;
	return 0;
}

int turn_alloc_chan_bind(struct turn_alloc *a, uint16_t num, const struct sockaddr *peer,
			 uint64_t now_ms)
{
	int rc = turn_alloc_chan_check(a, num, peer, now_ms);
	if (rc)
		return rc;
	uint64_t exp = now_ms + (uint64_t)TURN_CHANNEL_LIFETIME * 1000;
	struct turn_chan *c = chan_find_num(a, num);
	if (c && addr_equal(&c->peer.sa, peer)) {
		c->expires_ms = exp;
		return 0;
	}
	/* Stale entries (guard over) for this number or peer are reused in place. */
	if (!c)
		c = chan_find_peer(a, peer);
	if (!c) {
		if (a->nchan == a->capchan) {
			void *arr = a->chans;
			rc = grow(&arr, a->chan_inline, &a->capchan, sizeof(*c), TURN_ALLOC_MAX_CHANS);
			if (rc)
				return rc;
			a->chans = arr;
		}
		c = &a->chans[a->nchan++];
	}
	memset(c, 0, sizeof(*c));
	memcpy(&c->peer, peer, addr_len(peer));
	c->num = num;
	c->expires_ms = exp;
	return 0;
}

uint64_t turn_alloc_expire(struct turn_alloc *a, uint64_t now_ms)
{
	uint64_t next = a->expires_ms;
	for (unsigned i = 0; i < a->nperm;) {
		if (now_ms >= a->perms[i].expires_ms) {
			a->perms[i] = a->perms[--a->nperm];
			continue;
		}
		if (a->perms[i].expires_ms < next)
			next = a->perms[i].expires_ms;
		i++;
	}
	for (unsigned i = 0; i < a->nchan;) {
		uint64_t end = a->chans[i].expires_ms + (uint64_t)TURN_CHANNEL_REUSE_GUARD * 1000;
		if (now_ms >= end) {
			a->chans[i] = a->chans[--a->nchan];
			continue;
		}
		uint64_t t = now_ms < a->chans[i].expires_ms ? a->chans[i].expires_ms : end;
		if (t < next)
			next = t;
		i++;
	}
	return next;
}

/* ---- bandwidth ---- */

void turn_alloc_bw_set(struct turn_alloc *a, uint32_t kbps, uint64_t now_ms)
{
	uint64_t rate = (uint64_t)kbps * 1024;
	if (rate > UINT32_MAX / 2)
		rate = UINT32_MAX / 2;
	a->bw_rate = (uint32_t)rate;
	/* One second of traffic, but at least two full-size datagrams. */
	a->bw_burst = a->bw_rate < 3000 ? 3000 : a->bw_rate;
	a->bw_tokens = a->bw_burst;
	a->bw_last_ms = now_ms;
}

bool turn_alloc_bw_take(struct turn_alloc *a, size_t bytes, uint64_t now_ms)
{
	if (a->bw_rate == 0)
		return true;
	if (now_ms > a->bw_last_ms) {
		uint64_t dt = now_ms - a->bw_last_ms;
		uint64_t t = a->bw_tokens + (dt > 10000 ? 10000 : dt) * a->bw_rate / 1000;
		a->bw_tokens = t > a->bw_burst ? a->bw_burst : (uint32_t)t;
		a->bw_last_ms = now_ms;
	}
	if (bytes > a->bw_tokens)
		return false;
	a->bw_tokens -= (uint32_t)bytes;
	return true;
}

/* ---- table ---- */

static uint64_t stream_hash(const struct turn_alloc_table *t, const void *stream)
{
	return hash_mix64((uint64_t)(uintptr_t)stream ^ t->seed);
}

uint64_t turn_alloc_conn_hash(const struct turn_alloc_table *t, const struct turn_conn *conn)
{
	if (conn->stream)
		return stream_hash(t, conn->stream);
	uint64_t h = addr_hash((const struct sockaddr *)&conn->client, t->seed);
	h ^= hash_mix64(addr_hash((const struct sockaddr *)&conn->local, t->seed) + conn->proto);
	return h;
}

static bool conn_same(const struct turn_conn *a, const struct turn_conn *b)
{
	if (a->stream || b->stream)
		return a->stream == b->stream;
	return a->proto == b->proto && addr_equal((const struct sockaddr *)&a->client,
						  (const struct sockaddr *)&b->client) &&
	       addr_equal((const struct sockaddr *)&a->local, (const struct sockaddr *)&b->local);
}

int turn_alloc_table_init(struct turn_alloc_table *t, size_t nbuckets, uint64_t seed)
{
	size_t n = 16;
	while (n < nbuckets)
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = n;
	t->count = 0;
	t->seed = seed;
	return 0;
}

void turn_alloc_table_free(struct turn_alloc_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

struct turn_alloc *turn_alloc_find(const struct turn_alloc_table *t, const struct turn_conn *conn)
{
	uint64_t h = turn_alloc_conn_hash(t, conn);
	for (struct turn_alloc *a = t->buckets[h & (t->nbuckets - 1)]; a; a = a->next)
		if (a->hash == h && conn_same(&a->conn, conn))
			return a;
	return NULL;
}

struct turn_alloc *turn_alloc_find_stream(const struct turn_alloc_table *t, const void *stream)
{
	uint64_t h = stream_hash(t, stream);
	for (struct turn_alloc *a = t->buckets[h & (t->nbuckets - 1)]; a; a = a->next)
		if (a->hash == h && a->conn.stream == stream)
			return a;
	return NULL;
}

static int table_grow(struct turn_alloc_table *t)
{
	size_t n = t->nbuckets * 2;
	struct turn_alloc **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct turn_alloc *a = t->buckets[i];
		while (a) {
			struct turn_alloc *next = a->next;
			a->next = nb[a->hash & (n - 1)];
			nb[a->hash & (n - 1)] = a;
			a = next;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	return 0;
}

int turn_alloc_insert(struct turn_alloc_table *t, struct turn_alloc *a)
{
	/* A failed grow only makes chains longer; the insert still works. */
	if (t->count >= t->nbuckets)
		(void)table_grow(t);
	a->hash = turn_alloc_conn_hash(t, &a->conn);
	struct turn_alloc **b = &t->buckets[a->hash & (t->nbuckets - 1)];
	a->next = *b;
	*b = a;
	t->count++;
	return 0;
}

void turn_alloc_remove(struct turn_alloc_table *t, struct turn_alloc *a)
{
	for (struct turn_alloc **p = &t->buckets[a->hash & (t->nbuckets - 1)]; *p; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			a->next = NULL;
			t->count--;
			return;
		}
	}
}

/* ---- shared quotas ---- */

enum { SHARED_BUCKETS = 1024 };

struct shared_user {
	struct shared_user *next;
	unsigned count;
	char name[];
};

struct turn_shared {
	pthread_mutex_t lock;
	unsigned max_total, max_per_user; /* 0 = unlimited */
	unsigned total;
	struct shared_user *buckets[SHARED_BUCKETS];
	struct turn_reserve *reserve; /* EVEN-PORT R=1 reservations, own lock */
	struct turn_self *self;          /* lock-free, see turn_self.h */
	struct turn_authlimit *authlimit; /* lock-free, see turn_authlimit.h */
};

static unsigned user_bucket(const char *user)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % SHARED_BUCKETS;
}

struct turn_shared *turn_shared_new(const struct turn_conf *conf)
{
	struct turn_shared *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->self = turn_self_new(conf);
	s->authlimit = turn_authlimit_new();
	if (!s->self || !s->authlimit) {
		turn_shared_free(s);
		return NULL;
	}
	s->max_total = conf->max_client;
	s->max_per_user = conf->max_relay_per_username;
	s->reserve = turn_reserve_new(0, conf->max_relay_per_username);
	if (!s->reserve) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	return s;
}

void turn_shared_free(struct turn_shared *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < SHARED_BUCKETS; i++) {
		struct shared_user *u = s->buckets[i];
		while (u) {
			struct shared_user *n = u->next;
			free(u);
			u = n;
		}
	}
	turn_reserve_free(s->reserve);
	turn_self_free(s->self);
	turn_authlimit_free(s->authlimit);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct turn_reserve *turn_shared_reserve(struct turn_shared *s)
{
	return s->reserve;
}

struct turn_self *turn_shared_self(struct turn_shared *s)
{
	return s->self;
}

struct turn_authlimit *turn_shared_authlimit(struct turn_shared *s)
{
	return s->authlimit;
}

static struct shared_user **user_slot(struct turn_shared *s, const char *user)
{
	struct shared_user **p = &s->buckets[user_bucket(user)];
	while (*p && strcmp((*p)->name, user) != 0)
		p = &(*p)->next;
	return p;
}

int turn_shared_acquire(struct turn_shared *s, const char *user)
{
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	struct shared_user **p = user_slot(s, user);
	if (s->max_total && s->total >= s->max_total) {
		rc = -ENOSPC;
	} else if (*p && s->max_per_user && (*p)->count >= s->max_per_user) {
		rc = -EDQUOT;
	} else if (!*p) {
		size_t n = strlen(user) + 1;
		struct shared_user *u = malloc(sizeof(*u) + n);
		if (!u) {
			rc = -ENOSPC;
		} else {
			u->next = NULL;
			u->count = 0;
			memcpy(u->name, user, n);
			*p = u;
		}
	}
	if (rc == 0) {
		(*p)->count++;
		s->total++;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void turn_shared_release(struct turn_shared *s, const char *user)
{
	pthread_mutex_lock(&s->lock);
	struct shared_user **p = user_slot(s, user);
	if (*p) {
		if (--(*p)->count == 0) {
			struct shared_user *u = *p;
			*p = u->next;
			free(u);
		}
		if (s->total)
			s->total--;
	}
	pthread_mutex_unlock(&s->lock);
}

unsigned turn_shared_total(struct turn_shared *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->total;
	pthread_mutex_unlock(&s->lock);
	return n;
}
