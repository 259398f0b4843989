/* Node id pins, see pins.h. */
#include "pins.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp_roster.h"

void pins_init(struct pins *t)
{
	memset(t, 0, sizeof(*t));
}

void pins_free(struct pins *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->p[i].bare);
	free(t->p);
	memset(t, 0, sizeof(*t));
}

const struct pin *pins_find(const struct pins *t, const uint8_t id[SIGNAL_ID_LEN])
{
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->p[i].id, id, SIGNAL_ID_LEN) == 0)
			return &t->p[i];
	return NULL;
}

enum pin_verdict pins_check(const struct pins *t, const uint8_t id[SIGNAL_ID_LEN], const uint8_t key[SIGNAL_KEY_LEN],
			    const char *bare, const struct pin **found)
{
	const struct pin *p = pins_find(t, id);

	if (found)
		*found = p;
	if (!p)
		return PIN_NEW;
	if (sodium_memcmp(p->key, key, SIGNAL_KEY_LEN) != 0)
		return PIN_OTHER_KEY;
	if (strcmp(p->bare, bare) != 0)
		return PIN_OTHER_MEMBER;
	return PIN_OK;
}

static void drop_at(struct pins *t, size_t i)
{
	free(t->p[i].bare);
	t->p[i] = t->p[--t->n];
	t->dirty = true;
}

/* The least recently seen pin (of one member, or of all: bare NULL). */
static size_t oldest(const struct pins *t, const char *bare, size_t *count)
{
	size_t best = t->n, c = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (bare && strcmp(t->p[i].bare, bare) != 0)
			continue;
		c++;
		if (best == t->n || t->p[i].seen_s < t->p[best].seen_s)
			best = i;
	}
	*count = c;
	return best;
}

static void make_room(struct pins *t, const char *bare)
{
	size_t c, i = oldest(t, bare, &c);

	if (c >= PINS_PER_MEMBER)
		drop_at(t, i);
	if (t->n >= PINS_MAX && (i = oldest(t, NULL, &c)) < t->n)
		drop_at(t, i);
}

int pins_note(struct pins *t, const uint8_t id[SIGNAL_ID_LEN], const uint8_t key[SIGNAL_KEY_LEN], const char *bare,
	      int64_t now_s)
{
	for (size_t i = 0; i < t->n; i++) {
		if (memcmp(t->p[i].id, id, SIGNAL_ID_LEN) != 0)
			continue;
		if (t->p[i].seen_s / 86400 != now_s / 86400)
			t->dirty = true; /* saved at most daily for a mere "seen" */
		t->p[i].seen_s = now_s;
		return 0;
	}
	make_room(t, bare);
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct pin *np = realloc(t->p, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		t->p = np;
		t->cap = cap;
	}
	char *b = strdup(bare);
	if (!b)
		return -ENOMEM;
	struct pin *p = &t->p[t->n++];
	memcpy(p->id, id, SIGNAL_ID_LEN);
	memcpy(p->key, key, SIGNAL_KEY_LEN);
	p->bare = b;
	p->seen_s = now_s;
	t->dirty = true;
	return 0;
}

static bool is_id_hex(const char *s, uint8_t id[SIGNAL_ID_LEN])
{
	size_t got;
	return strlen(s) == 2 * SIGNAL_ID_LEN && strspn(s, "0123456789abcdefABCDEF") == 2 * SIGNAL_ID_LEN &&
	       sodium_hex2bin(id, SIGNAL_ID_LEN, s, 2 * SIGNAL_ID_LEN, NULL, &got, NULL) == 0 && got == SIGNAL_ID_LEN;
}

size_t pins_forget(struct pins *t, const char *what)
{
	uint8_t id[SIGNAL_ID_LEN];
	char bare[XMPP_JID_MAX];
	bool by_id = is_id_hex(what, id);
	bool by_jid = !by_id && jid_split(what, bare, sizeof(bare), NULL);
	size_t gone = 0;

	if (!by_id && !by_jid)
		return 0;
	for (size_t i = t->n; i-- > 0;) {
		if (by_id ? memcmp(t->p[i].id, id, SIGNAL_ID_LEN) == 0 : strcmp(t->p[i].bare, bare) == 0) {
			drop_at(t, i);
			gone++;
		}
	}
	return gone;
}

bool pins_id_matches(const uint8_t id[SIGNAL_ID_LEN], const uint8_t key[SIGNAL_KEY_LEN])
{
	uint8_t h[SIGNAL_ID_LEN];
	crypto_generichash(h, sizeof(h), key, SIGNAL_KEY_LEN, NULL, 0);
	return sodium_memcmp(h, id, SIGNAL_ID_LEN) == 0;
}

void pins_key_b64(const uint8_t key[SIGNAL_KEY_LEN], char out[45])
{
	sodium_bin2base64(out, 45, key, SIGNAL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int pins_format_line(const struct pin *p, char *buf, size_t cap)
{
	char hex[2 * SIGNAL_ID_LEN + 1], b64[45];

	sodium_bin2hex(hex, sizeof(hex), p->id, SIGNAL_ID_LEN);
	pins_key_b64(p->key, b64);
	int n = snprintf(buf, cap, "pin %s %s %s %" PRId64 "\n", hex, b64, p->bare, p->seen_s);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* A bare JID as jid_split makes it: "user@domain", lower case, no blanks. */
static bool plain_bare(const char *s)
{
	char b[XMPP_JID_MAX];
	return jid_split(s, b, sizeof(b), NULL) && !strchr(s, '/') && strcmp(b, s) == 0 && !strpbrk(s, " \t\r\n");
}

const char *pins_parse_line(struct pins *t, const char *rest)
{
	char hex[64], b64[64], bare[XMPP_JID_MAX];
	long long seen;
	uint8_t id[SIGNAL_ID_LEN], key[SIGNAL_KEY_LEN];
	size_t got;
	char tail;

	if (strlen(rest) >= PINS_LINE_MAX)
		return "line too long";
	if (sscanf(rest, "%63s %63s %767s %lld %c", hex, b64, bare, &seen, &tail) != 4)
		return "expected: pin NODE_ID KEY JID SEEN";
	if (!is_id_hex(hex, id))
		return "node id is not 40 hex digits";
	if (sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != SIGNAL_KEY_LEN)
		return "key is not 32 bytes of base64";
	if (!pins_id_matches(id, key))
		return "node id is not the key's (BLAKE2b)";
	if (!plain_bare(bare))
		return "not a bare JID in lower case";
	if (pins_find(t, id))
		return "node id pinned twice";
	if (pins_note(t, id, key, bare, (int64_t)seen) != 0)
		return "out of memory";
	return NULL;
}
