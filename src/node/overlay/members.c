/* The group's members (see members.h). */
#include "members.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void members_init(struct members *ms)
{
	memset(ms, 0, sizeof(*ms));
}

void members_free(struct members *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->m[i].jid);
	free(ms->m);
	free(ms->sorted);
	memset(ms, 0, sizeof(*ms));
}

static struct member *find(const struct members *ms, const char *jid)
{
	for (size_t i = 0; i < ms->n; i++)
		if (strcmp(ms->m[i].jid, jid) == 0)
			return &ms->m[i];
	return NULL;
}

static void changed(struct members *ms)
{
	ms->dirty = true;
	ms->gen++;
}

int members_up(struct members *ms, const char *jid, const uint8_t id[OVERLAY_ID_LEN])
{
	if (find(ms, jid))
		return 0;
	if (ms->n == ms->cap) {
		size_t cap = ms->cap ? 2 * ms->cap : 16;
		struct member *m = realloc(ms->m, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		ms->m = m;
		ms->cap = cap;
	}
	struct member *x = &ms->m[ms->n];
	memset(x, 0, sizeof(*x));
	if (!(x->jid = strdup(jid)))
		return -ENOMEM;
	memcpy(x->id, id, OVERLAY_ID_LEN);
	x->pos = ring_pos_of(id, OVERLAY_ID_LEN);
	ms->n++;
	changed(ms);
	return 0;
}

void members_down(struct members *ms, const char *jid)
{
	struct member *x = find(ms, jid);

	if (!x)
		return;
	free(x->jid);
	*x = ms->m[--ms->n];
	changed(ms);
}

void members_info(struct members *ms, const char *jid, const struct in_addr *ip4, const struct in6_addr *ip6,
		  const uint8_t *key)
{
	struct member *x = find(ms, jid);

	if (!x)
		return;
	if (ip4) {
		x->has_ip4 = true;
		x->ip4 = *ip4;
	}
	if (ip6) {
		x->has_ip6 = true;
		x->ip6 = *ip6;
	}
	if (key) {
		x->has_key = true;
		memcpy(x->key, key, MEMBER_KEY_LEN);
	}
	ms->gen++;
}

const struct member *members_by_jid(const struct members *ms, const char *jid)
{
	return find(ms, jid);
}

const struct member *members_by_id(const struct members *ms, const uint8_t id[OVERLAY_ID_LEN])
{
	for (size_t i = 0; i < ms->n; i++)
		if (memcmp(ms->m[i].id, id, OVERLAY_ID_LEN) == 0)
			return &ms->m[i];
	return NULL;
}

const struct member *members_by_ip4(const struct members *ms, struct in_addr ip4)
{
	for (size_t i = 0; i < ms->n; i++)
		if (ms->m[i].has_ip4 && ms->m[i].ip4.s_addr == ip4.s_addr)
			return &ms->m[i];
	return NULL;
}

const struct member *members_by_ip6(const struct members *ms, const struct in6_addr *ip6)
{
	for (size_t i = 0; i < ms->n; i++)
		if (ms->m[i].has_ip6 && memcmp(&ms->m[i].ip6, ip6, sizeof(*ip6)) == 0)
			return &ms->m[i];
	return NULL;
}

const struct member *members_by_key(const struct members *ms, const uint8_t key[MEMBER_KEY_LEN])
{
	for (size_t i = 0; i < ms->n; i++)
		if (ms->m[i].has_key && memcmp(ms->m[i].key, key, MEMBER_KEY_LEN) == 0)
			return &ms->m[i];
	return NULL;
}

static int cmp_pos(const void *a, const void *b)
{
	const struct ov_member *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

const struct ov_member *members_sorted(struct members *ms, size_t *n)
{
	if (ms->dirty) {
		if (ms->n > ms->capsorted) {
			struct ov_member *s = realloc(ms->sorted, ms->n * sizeof(*s));
			if (!s) {
				*n = ms->nsorted;
				return ms->sorted;
			}
			ms->sorted = s;
			ms->capsorted = ms->n;
		}
		for (size_t i = 0; i < ms->n; i++) {
			ms->sorted[i].pos = ms->m[i].pos;
			memcpy(ms->sorted[i].id, ms->m[i].id, OVERLAY_ID_LEN);
		}
		qsort(ms->sorted, ms->n, sizeof(*ms->sorted), cmp_pos);
		ms->nsorted = ms->n;
		ms->dirty = false;
	}
	*n = ms->nsorted;
	return ms->sorted;
}
