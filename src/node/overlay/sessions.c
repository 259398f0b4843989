/* Sessions through the overlay (see sessions.h). */
#include "sessions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ov_sessions_init(struct ov_sessions *t, size_t cap, unsigned idle_s)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap ? cap : 1;
	t->idle_s = idle_s ? idle_s : OV_SESSION_IDLE_S;
	t->s = calloc(t->cap, sizeof(*t->s));
	return t->s ? 0 : -ENOMEM;
}

void ov_sessions_free(struct ov_sessions *t)
{
	free(t->s);
	t->s = NULL;
	t->n = t->cap = 0;
}

static struct ov_session *find(const struct ov_sessions *t, const uint8_t *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->s[i].id, id, OV_SESSION_ID_LEN) == 0)
			return &t->s[i];
	return NULL;
}

static void drop(struct ov_sessions *t, struct ov_session *s)
{
	*s = t->s[--t->n];
}

/* Queues the ending of s and forgets it; false when the queue is full. */
static bool end(struct ov_sessions *t, struct ov_session *s)
{
	if (t->nend == OV_SESSION_ENDQ)
		return false;
	memcpy(t->endq[t->nend++], s->id, OV_SESSION_ID_LEN);
	drop(t, s);
	return true;
}

static struct ov_session *least_recent(const struct ov_sessions *t)
{
	struct ov_session *lru = NULL;

	for (size_t i = 0; i < t->n; i++)
		if (!lru || t->s[i].used_ms < lru->used_ms)
			lru = &t->s[i];
	return lru;
}

bool ov_sessions_used(struct ov_sessions *t, const uint8_t id[OV_SESSION_ID_LEN], uint64_t bytes,
		      uint64_t now_ms)
{
	struct ov_session *s = find(t, id);

	if (s) {
		if (bytes) {
			s->used_ms = now_ms;
			s->gone_ms = 0; /* it talks: whatever presence said */
		}
		return true;
	}
	if (t->n == t->cap) {
		if (!end(t, least_recent(t))) {
			t->st.deferred++;
			return false;
		}
		t->st.evicted++;
	}
	s = &t->s[t->n++];
	memset(s, 0, sizeof(*s));
	memcpy(s->id, id, OV_SESSION_ID_LEN);
	s->used_ms = now_ms;
	t->st.opened++;
	return true;
}

void ov_sessions_gone(struct ov_sessions *t, const uint8_t id[OV_SESSION_ID_LEN])
{
	struct ov_session *s = find(t, id);

	if (s)
		drop(t, s);
}

void ov_sessions_member(struct ov_sessions *t, const uint8_t id[OV_SESSION_ID_LEN], bool online, uint64_t now_ms)
{
	struct ov_session *s = find(t, id);

	if (s)
		s->gone_ms = online ? 0 : now_ms ? now_ms : 1;
}

static bool expired(const struct ov_sessions *t, const struct ov_session *s, uint64_t now_ms, bool *gone)
{
	uint64_t quiet = now_ms - s->used_ms;

	*gone = s->gone_ms && now_ms - s->gone_ms >= OV_SESSION_GONE_S * 1000ull &&
		quiet >= OV_SESSION_GONE_S * 1000ull;
	return *gone || quiet >= t->idle_s * 1000ull;
}

/* Once a second at most: sessions idle or of departed members to the queue. */
static void scan(struct ov_sessions *t, uint64_t now_ms)
{
	if (now_ms < t->next_scan_ms)
		return;
	t->next_scan_ms = now_ms + 1000;
	for (size_t i = 0; i < t->n;) {
		bool gone;
		if (!expired(t, &t->s[i], now_ms, &gone)) {
			i++;
			continue;
		}
		if (!end(t, &t->s[i]))
			return; /* the rest at the next scan */
		if (gone)
			t->st.gone++;
		else
			t->st.idle++;
		/* s[i] now holds the last entry: look at it too */
	}
}

bool ov_sessions_poll_end(struct ov_sessions *t, uint8_t id[OV_SESSION_ID_LEN], uint64_t now_ms)
{
	if (!t->nend)
		scan(t, now_ms);
	if (!t->nend)
		return false;
	memcpy(id, t->endq[0], OV_SESSION_ID_LEN);
	memmove(t->endq, t->endq + 1, (size_t)(t->nend - 1) * OV_SESSION_ID_LEN);
	t->nend--;
	return true;
}

size_t ov_sessions_count(const struct ov_sessions *t)
{
	return t->n;
}
