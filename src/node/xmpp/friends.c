/* Friends list of the daemon (friends.h). */
#include "friends.h"

#include <stdlib.h>
#include <string.h>

void friends_init(struct friends *fl)
{
	memset(fl, 0, sizeof(*fl));
}

void friends_free(struct friends *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		free(fl->f[i].bare);
	free(fl->f);
	memset(fl, 0, sizeof(*fl));
}

const struct node_friend *friends_find(const struct friends *fl, const char *bare)
{
	for (size_t i = 0; i < fl->n; i++)
		if (strcmp(fl->f[i].bare, bare) == 0)
			return &fl->f[i];
	return NULL;
}

static struct node_friend *get(struct friends *fl, const char *bare)
{
	struct node_friend *f = (struct node_friend *)friends_find(fl, bare);
	if (f)
		return f;
	if (fl->n == fl->cap) {
		size_t ncap = fl->cap ? fl->cap * 2 : 16;
		struct node_friend *nf = realloc(fl->f, ncap * sizeof(*nf));
		if (!nf)
			return NULL;
		fl->f = nf;
		fl->cap = ncap;
	}
	char *dup = strdup(bare);
	if (!dup)
		return NULL;
	f = &fl->f[fl->n++];
	*f = (struct node_friend){ .bare = dup };
	return f;
}

static void drop(struct friends *fl, struct node_friend *f)
{
	free(f->bare);
	*f = fl->f[--fl->n];
}

void friends_event(struct friends *fl, enum xmpp_friend_ev ev, const char *bare_in, enum roster_sub sub, bool ask)
{
	char bare[XMPP_JID_MAX];
	if (ev == XMPP_FRIEND_RESET) {
		/* a full roster follows; pending requests are re-sent by the
		 * server at login */
		for (size_t i = 0; i < fl->n; i++)
			free(fl->f[i].bare);
		fl->n = 0;
		return;
	}
	if (!jid_split(bare_in, bare, sizeof(bare), NULL))
		return;
	struct node_friend *f = (struct node_friend *)friends_find(fl, bare);
	if (ev == XMPP_FRIEND_ITEM && sub == ROSTER_SUB_REMOVE) {
		if (f)
			drop(fl, f);
		return;
	}
	if (!f && !(f = get(fl, bare)))
		return;
	if (ev == XMPP_FRIEND_REQUEST) {
		f->request = true;
		return;
	}
	f->in_roster = true;
	f->sub = sub;
	f->ask = ask;
	if (sub == ROSTER_SUB_FROM || sub == ROSTER_SUB_BOTH)
		f->request = false; /* approved */
}

const char *friends_sub_name(enum roster_sub sub)
{
	switch (sub) {
	case ROSTER_SUB_TO: return "to";
	case ROSTER_SUB_FROM: return "from";
	case ROSTER_SUB_BOTH: return "both";
	default: return "none";
	}
}
