#include "turn_connlimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum { KEY_LEN = 9, NIL = UINT32_MAX };

struct entry {
	uint8_t key[KEY_LEN]; /* family tag, then the IPv4 address or the IPv6 /64 */
	uint32_t count;
	uint32_t next;        /* in its bucket's chain, or in the free list */
};

struct turn_connlimit {
	pthread_mutex_t lock;
	unsigned per_ip;
	uint32_t mask;        /* buckets - 1 */
	uint32_t *buckets;
	struct entry *pool;
	uint32_t free_head;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

struct turn_connlimit *turn_connlimit_new(unsigned capacity, unsigned per_ip)
{
	struct turn_connlimit *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->per_ip = per_ip;
	if (per_ip == 0)
		return cl;
	if (capacity == 0 || capacity > (1u << 26) || sodium_init() < 0) {
		free(cl);
		return NULL;
	}
	uint32_t n = 16;
	while (n < capacity)
		n <<= 1;
	cl->mask = n - 1;
	cl->buckets = malloc(n * sizeof(*cl->buckets));
	cl->pool = calloc(capacity, sizeof(*cl->pool));
	if (!cl->buckets || !cl->pool || pthread_mutex_init(&cl->lock, NULL)) {
		free(cl->buckets);
		free(cl->pool);
		free(cl);
		return NULL;
	}
	memset(cl->buckets, 0xff, n * sizeof(*cl->buckets)); /* NIL */
	for (unsigned i = 0; i < capacity; i++)
		cl->pool[i].next = i + 1 < capacity ? i + 1 : NIL;
	cl->free_head = 0;
	randombytes_buf(cl->hkey, sizeof(cl->hkey));
	return cl;
}

void turn_connlimit_free(struct turn_connlimit *cl)
{
	if (!cl)
		return;
	if (cl->per_ip)
		pthread_mutex_destroy(&cl->lock);
	free(cl->buckets);
	free(cl->pool);
	free(cl);
}

static void key_of(const struct sockaddr *src, uint8_t key[KEY_LEN])
{
	memset(key, 0, KEY_LEN);
	if (src->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)src)->sin_addr, 4);
	} else if (src->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)src)->sin6_addr, 8);
	}
}

static uint32_t *bucket_of(struct turn_connlimit *cl, const uint8_t key[KEY_LEN])
{
	unsigned char h[crypto_shorthash_BYTES];
	uint32_t v;
	crypto_shorthash(h, key, KEY_LEN, cl->hkey);
	memcpy(&v, h, sizeof(v));
	return &cl->buckets[v & cl->mask];
}

/* The link that points at key's entry (or the NIL at the chain's end). */
static uint32_t *find(struct turn_connlimit *cl, const uint8_t key[KEY_LEN])
{
	uint32_t *p = bucket_of(cl, key);
	while (*p != NIL && memcmp(cl->pool[*p].key, key, KEY_LEN) != 0)
		p = &cl->pool[*p].next;
	return p;
}

bool turn_connlimit_take(struct turn_connlimit *cl, const struct sockaddr *src)
{
	if (cl->per_ip == 0)
		return true;
	uint8_t key[KEY_LEN];
	bool ok = true;
	key_of(src, key);
	pthread_mutex_lock(&cl->lock);
	uint32_t *p = find(cl, key);
	if (*p != NIL) {
		struct entry *e = &cl->pool[*p];
		if (e->count >= cl->per_ip)
			ok = false;
		else
			e->count++;
	} else if (cl->free_head == NIL) {
		ok = false; /* more sources than connections: cannot happen */
	} else {
		uint32_t i = cl->free_head;
		struct entry *e = &cl->pool[i];
		cl->free_head = e->next;
		memcpy(e->key, key, KEY_LEN);
		e->count = 1;
		e->next = NIL;
		*p = i;
	}
	pthread_mutex_unlock(&cl->lock);
	return ok;
}

void turn_connlimit_release(struct turn_connlimit *cl, const struct sockaddr *src)
{
	if (cl->per_ip == 0)
		return;
	uint8_t key[KEY_LEN];
	key_of(src, key);
	pthread_mutex_lock(&cl->lock);
	uint32_t *p = find(cl, key);
	if (*p != NIL) {
		uint32_t i = *p;
		struct entry *e = &cl->pool[i];
		if (--e->count == 0) {
			*p = e->next;
			e->next = cl->free_head;
			cl->free_head = i;
		}
	}
	pthread_mutex_unlock(&cl->lock);
}

unsigned turn_connlimit_count(struct turn_connlimit *cl, const struct sockaddr *src)
{
	if (cl->per_ip == 0)
		return 0;
	uint8_t key[KEY_LEN];
	key_of(src, key);
	pthread_mutex_lock(&cl->lock);
	uint32_t *p = find(cl, key);
	unsigned n = *p != NIL ? cl->pool[*p].count : 0;
	pthread_mutex_unlock(&cl->lock);
	return n;
}
