#include "xmpp_roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

bool jid_split(const char *full, char *bare, size_t bare_cap, const char **resource)
{
	const char *slash = strchr(full, '/');
	size_t n = slash ? (size_t)(slash - full) : strlen(full);
	/* the '@' must be in the bare part: "example.test/a@b" is a server's
	 * resource, not a user's JID (found by fuzz_xmpp_roster) */
	if (n == 0 || n >= bare_cap || !memchr(full, '@', n))
		return false;
	for (size_t i = 0; i < n; i++)
		bare[i] = full[i] >= 'A' && full[i] <= 'Z' ? (char)(full[i] + 32) : full[i];
	bare[n] = '\0';
	if (resource)
		*resource = slash ? slash + 1 : NULL;
	return true;
}

bool jid_is_ipop_resource(const char *full)
{
	const char *slash = strchr(full, '/');
	return slash && strncmp(slash + 1, XMPP_IPOP_RESOURCE_PREFIX,
				strlen(XMPP_IPOP_RESOURCE_PREFIX)) == 0;
}

void roster_init(struct xmpp_roster *r, const char *own_full_jid, roster_event_fn fn, void *ctx)
{
	memset(r, 0, sizeof(*r));
	if (!jid_split(own_full_jid, r->own_bare, sizeof(r->own_bare), NULL))
		r->own_bare[0] = '\0';
	snprintf(r->own_full, sizeof(r->own_full), "%s", own_full_jid);
	r->fn = fn;
	r->ctx = ctx;
}

void roster_free(struct xmpp_roster *r)
{
	for (size_t i = 0; i < r->ncontacts; i++)
		free(r->contacts[i].bare);
	for (size_t i = 0; i < r->nonline; i++)
		free(r->online[i].full);
	free(r->contacts);
	free(r->online);
	memset(r, 0, sizeof(*r));
}

enum roster_sub roster_sub_parse(const char *s)
{
	if (!s)
		return ROSTER_SUB_NONE;
	if (strcmp(s, "both") == 0)
		return ROSTER_SUB_BOTH;
	if (strcmp(s, "to") == 0)
		return ROSTER_SUB_TO;
	if (strcmp(s, "from") == 0)
		return ROSTER_SUB_FROM;
	if (strcmp(s, "remove") == 0)
		return ROSTER_SUB_REMOVE;
	return ROSTER_SUB_NONE;
}

static struct roster_contact *find_contact(const struct xmpp_roster *r, const char *bare)
{
	for (size_t i = 0; i < r->ncontacts; i++)
		if (strcmp(r->contacts[i].bare, bare) == 0)
			return &r->contacts[i];
	return NULL;
}

bool roster_peer_allowed(const struct xmpp_roster *r, const char *full_jid)
{
	char bare[XMPP_JID_MAX];
	const char *res;
	if (!jid_is_ipop_resource(full_jid) || !jid_split(full_jid, bare, sizeof(bare), &res))
		return false;
	if (strcasecmp(full_jid, r->own_full) == 0)
		return false; /* ourselves */
	if (strcmp(bare, r->own_bare) == 0)
		return true;
	const struct roster_contact *c = find_contact(r, bare);
	return c && c->sub == ROSTER_SUB_BOTH;
}

/* Reports up/down for one online resource when its authorization changed. */
static void reevaluate(struct xmpp_roster *r, struct roster_online *o)
{
	bool allowed = roster_peer_allowed(r, o->full);
	if (allowed == o->linked)
		return;
	o->linked = allowed;
	if (r->fn)
		r->fn(r->ctx, allowed ? ROSTER_PEER_UP : ROSTER_PEER_REVOKED, o->full);
}

static void reevaluate_bare(struct xmpp_roster *r, const char *bare)
{
	char b[XMPP_JID_MAX];
	for (size_t i = 0; i < r->nonline; i++)
		if (jid_split(r->online[i].full, b, sizeof(b), NULL) && strcmp(b, bare) == 0)
			reevaluate(r, &r->online[i]);
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

void roster_set(struct xmpp_roster *r, const char *bare_in, enum roster_sub sub)
{
	char bare[XMPP_JID_MAX];
	if (!jid_split(bare_in, bare, sizeof(bare), NULL))
		return;
	struct roster_contact *c = find_contact(r, bare);
	if (sub == ROSTER_SUB_REMOVE) {
		if (c) {
			free(c->bare);
			*c = r->contacts[--r->ncontacts];
		}
	} else if (c) {
		c->sub = sub;
	} else {
		if (!grow((void **)&r->contacts, &r->capcontacts, r->ncontacts + 1, sizeof(*c)))
			return;
		char *dup = strdup(bare);
		if (!dup)
			return;
		r->contacts[r->ncontacts++] = (struct roster_contact){ dup, sub, false };
	}
	reevaluate_bare(r, bare);
}

void roster_presence(struct xmpp_roster *r, const char *full_jid, bool available)
{
	if (!jid_is_ipop_resource(full_jid) || strlen(full_jid) >= XMPP_JID_MAX)
		return;
	for (size_t i = 0; i < r->nonline; i++) {
		struct roster_online *o = &r->online[i];
		if (strcasecmp(o->full, full_jid) != 0)
			continue;
		if (!available) {
			bool was = o->linked;
			char *full = o->full;
			*o = r->online[--r->nonline];
			if (was && r->fn)
				r->fn(r->ctx, ROSTER_PEER_DOWN, full);
			free(full);
		}
		return;
	}
	if (!available)
		return;
	if (!grow((void **)&r->online, &r->caponline, r->nonline + 1, sizeof(*r->online)))
		return;
	char *dup = strdup(full_jid);
	if (!dup)
		return;
	r->online[r->nonline] = (struct roster_online){ dup, false };
	reevaluate(r, &r->online[r->nonline++]);
}

void roster_set_ask(struct xmpp_roster *r, const char *bare_in, bool ask)
{
	char bare[XMPP_JID_MAX];
	struct roster_contact *c = jid_split(bare_in, bare, sizeof(bare), NULL) ? find_contact(r, bare) : NULL;
	if (c)
		c->ask = ask;
}

bool roster_contact_get(const struct xmpp_roster *r, const char *bare_in, enum roster_sub *sub, bool *ask)
{
	char bare[XMPP_JID_MAX];
	const struct roster_contact *c = jid_split(bare_in, bare, sizeof(bare), NULL) ? find_contact(r, bare) : NULL;
	if (!c)
		return false;
	*sub = c->sub;
	*ask = c->ask;
	return true;
}

bool jid_pattern_match(const char *pattern, const char *bare)
{
	if (strcmp(pattern, "*") == 0)
		return true;
	if (strncmp(pattern, "*@", 2) == 0) {
		const char *at = strrchr(bare, '@');
		return at && strcasecmp(at + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, bare) == 0;
}

void roster_clear_presence(struct xmpp_roster *r)
{
	for (size_t i = 0; i < r->nonline; i++)
		free(r->online[i].full);
	r->nonline = 0;
}
