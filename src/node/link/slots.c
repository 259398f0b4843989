/* Bounded links per member, see slots.h. */
#include "slots.h"

#include <string.h>

#include "log.h"
#include "xmpp_roster.h"

static bool same_member(const struct link *l, const char *bare)
{
	char b[XMPP_JID_MAX];
	return jid_split(l->jid, b, sizeof(b), NULL) && strcmp(b, bare) == 0;
}

static bool evictable(const struct link *l)
{
	return !l->ever_up && l->state != LINK_UP;
}

/* The oldest never-up link of bare; NULL when none. */
static struct link *oldest_pending(const struct links *t, const char *bare)
{
	struct link *v = NULL;

	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (evictable(l) && same_member(l, bare) && (!v || l->created_ms < v->created_ms))
			v = l;
	}
	return v;
}

static unsigned count_member(const struct links *t, const char *bare)
{
	unsigned c = 0;

	for (unsigned i = 0; i < t->n; i++)
		c += same_member(t->l[i], bare);
	return c;
}

/* The member with the most links among those with a never-up one, and
 * that link. */
static struct link *crowded_victim(const struct links *t)
{
	struct link *v = NULL;
	unsigned most = 0;
	char b[XMPP_JID_MAX];

	for (unsigned i = 0; i < t->n; i++) {
		if (!evictable(t->l[i]) || !jid_split(t->l[i]->jid, b, sizeof(b), NULL))
			continue;
		unsigned c = count_member(t, b);
		struct link *o = oldest_pending(t, b);
		if (c > most || (c == most && o->created_ms < v->created_ms)) {
			most = c;
			v = o;
		}
	}
	return v;
}

enum slots_verdict slots_admit(const struct links *t, const char *jid, unsigned per_member, struct link **victim,
			       const char **why)
{
	char bare[XMPP_JID_MAX];

	*victim = NULL;
	*why = NULL;
	if (!jid_split(jid, bare, sizeof(bare), NULL)) {
		*why = "not a JID";
		return SLOTS_FULL;
	}
	if (count_member(t, bare) >= per_member) {
		*victim = oldest_pending(t, bare);
		*why = *victim ? "the member's oldest link that never came up makes room"
			       : "the member holds max_links_per_member links already, all up";
		return *victim ? SLOTS_EVICT : SLOTS_FULL;
	}
	if (t->n < LINKS_MAX)
		return SLOTS_ROOM;
	*victim = crowded_victim(t);
	*why = *victim ? "the table is full: the most crowded member's oldest link that never came up makes room"
		       : "the table is full of links that are up";
	return *victim ? SLOTS_EVICT : SLOTS_FULL;
}

void slots_tick(struct link *l, uint64_t now_ms, uint64_t *d)
{
	if (l->presence || l->ever_up || l->gone_why)
		return;
	uint64_t end = l->created_ms + SLOTS_UNSEEN_MS;
	if (now_ms >= end) {
		l->gone_why = "it never showed presence and never came up";
		link_queue_event(l, LINK_EV_GONE);
	} else if (end < *d) {
		*d = end;
	}
}
