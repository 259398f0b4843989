/* Judging what members announce, see trust.h. */
#include "trust.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "xmpp_roster.h"

void trust_init(struct trust *tr, bool group, struct in_addr self, unsigned mask)
{
	memset(tr, 0, sizeof(*tr));
	pins_init(&tr->pins);
	owners_init(&tr->owners, self, mask);
	tr->group = group;
}

void trust_free(struct trust *tr)
{
	pins_free(&tr->pins);
	owners_free(&tr->owners);
}

static struct trust_refusal *refusal_slot(struct trust *tr, const char *jid)
{
	struct trust_refusal *old = &tr->ref[0];

	for (unsigned i = 0; i < tr->nref; i++) {
		if (strcmp(tr->ref[i].jid, jid) == 0)
			return &tr->ref[i];
		if (tr->ref[i].at_s < old->at_s)
			old = &tr->ref[i];
	}
	if (tr->nref < TRUST_REFUSALS)
		old = &tr->ref[tr->nref++];
	memset(old, 0, sizeof(*old));
	snprintf(old->jid, sizeof(old->jid), "%s", jid);
	return old;
}

/* Counted, kept for ipopctl, logged once per TRUST_LOG_INTERVAL_S. */
static const char *refuse(struct trust *tr, const char *jid, const char *what, const char *why, int64_t now_s)
{
	struct trust_refusal *r = refusal_slot(tr, jid);
	bool same = strcmp(r->why, why) == 0;

	tr->refused++;
	r->count++;
	r->at_s = now_s;
	if (!same || !r->logged_s || now_s - r->logged_s >= TRUST_LOG_INTERVAL_S) {
		snprintf(r->why, sizeof(r->why), "%s", why);
		r->logged_s = now_s;
		log_warn("peer %s: %s refused: %s", jid, what, why);
	} else {
		log_debug("peer %s: %s refused: %s", jid, what, why);
	}
	return r->why;
}

static void accepted(struct trust *tr, const char *jid)
{
	for (unsigned i = 0; i < tr->nref; i++)
		if (strcmp(tr->ref[i].jid, jid) == 0) {
			tr->ref[i] = tr->ref[--tr->nref];
			return;
		}
}

static const char *key_refusal(const struct trust *tr, const uint8_t id[SIGNAL_ID_LEN], const char *bare,
			       const struct signal_msg *m, char *why, size_t cap)
{
	const struct pin *p;
	char fp[45];

	if (!pins_id_matches(id, m->key)) {
		pins_key_b64(m->key, fp);
		snprintf(why, cap, "its static key %.8s... is not its node id's (the id is the key's BLAKE2b)", fp);
		return why;
	}
	switch (pins_check(&tr->pins, id, m->key, bare, &p)) {
	case PIN_OTHER_MEMBER:
		snprintf(why, cap, "its node id was first seen under %.100s (ipopctl pin forget to allow)", p->bare);
		return why;
	case PIN_OTHER_KEY:
		pins_key_b64(p->key, fp);
		snprintf(why, cap, "its node id is pinned to the key %.8s..., not this one", fp);
		return why;
	case PIN_OK:
	case PIN_NEW:
		break;
	}
	return NULL;
}

/* The address is one l announced (its ip4, or its ip6 as taken). */
static bool link_has(const struct link *l, const struct ip_addr *a)
{
	if (a->family == AF_INET)
		return memcmp(&l->ip4, a->addr, 4) == 0;
	return l->net.has_ip6 && memcmp(&l->net.ip6, a->addr, 16) == 0;
}

/* A live link of another member that announced this address. */
static const char *in_use(const struct links *t, const char *bare, struct ip_addr a, char *why, size_t cap)
{
	char b[XMPP_JID_MAX], s[INET6_ADDRSTRLEN];

	for (unsigned i = 0; i < t->n; i++) {
		const struct link *l = t->l[i];
		if (!l->have_info || !link_has(l, &a) || !jid_split(l->jid, b, sizeof(b), NULL) || strcmp(b, bare) == 0)
			continue;
		snprintf(why, cap, "%s is in use by %.100s", ip_addr_format(&a, s), b);
		return why;
	}
	return NULL;
}

/* Why bare may not claim a (owners.h, then live links), or NULL. */
static const char *addr_refusal(const struct trust *tr, const struct links *t, const char *bare, struct ip_addr a,
				char *why, size_t cap)
{
	const char *bad = owners_refusal(&tr->owners, a, bare, why, cap);
	return bad ? bad : in_use(t, bare, a, why, cap);
}

/* The ip6 next to an accepted ip4 (group mode, when this node has an ip6
 * to judge it by): a refused one is cleared from m, so the member links
 * IPv4 only. true when it was refused. */
static bool judge_ip6(struct trust *tr, const struct links *t, const char *jid, const char *bare,
		      struct signal_msg *m, int64_t now_s)
{
	char why[TRUST_WHY_LEN], full[TRUST_WHY_LEN + 16];

	if (!tr->group || !m->has_ip6 || !owners_has_family(&tr->owners, AF_INET6))
		return false;
	if (!addr_refusal(tr, t, bare, ip_addr_of(AF_INET6, &m->ip6), why, sizeof(why)))
		return false;
	m->has_ip6 = false;
	snprintf(full, sizeof(full), "%s; IPv4 only", why);
	refuse(tr, jid, "IPv6 address", full, now_s);
	return true;
}

const char *trust_judge(struct trust *tr, const struct links *t, const char *jid, struct signal_msg *m,
			int64_t now_s)
{
	char bare[XMPP_JID_MAX], why[TRUST_WHY_LEN];
	uint8_t id[SIGNAL_ID_LEN];
	const char *bad = NULL;

	if (!jid_split(jid, bare, sizeof(bare), NULL) || links_id_of_jid(jid, id) < 0)
		return refuse(tr, jid, signal_kind_name(m->kind), "not an ipop-<node id> resource", now_s);
	if (m->has_key)
		bad = key_refusal(tr, id, bare, m, why, sizeof(why));
	if (!bad && tr->group && m->has_ip4)
		bad = addr_refusal(tr, t, bare, ip_addr_of(AF_INET, &m->ip4), why, sizeof(why));
	if (bad)
		return refuse(tr, jid, signal_kind_name(m->kind), bad, now_s);
	if (m->has_key && pins_note(&tr->pins, id, m->key, bare, now_s) != 0)
		log_warn("peer %s: cannot pin its node id (out of memory)", jid);
	if (!judge_ip6(tr, t, jid, bare, m, now_s) && (m->has_key || m->has_ip4))
		accepted(tr, jid);
	return NULL;
}

unsigned trust_judge_presence(struct trust *tr, const struct links *t, const char *jid, struct signal_presence *p,
			      int64_t now_s)
{
	char bare[XMPP_JID_MAX], why[TRUST_WHY_LEN];
	uint8_t id[SIGNAL_ID_LEN];
	const char *bad;
	unsigned cleared = 0;

	if (!p->has_key && !p->has_ip4 && !p->has_ip6)
		return 0;
	if (!jid_split(jid, bare, sizeof(bare), NULL) || links_id_of_jid(jid, id) < 0) {
		cleared = p->has_key + p->has_ip4 + p->has_ip6;
		p->has_key = p->has_ip4 = p->has_ip6 = false;
		refuse(tr, jid, "presence", "not an ipop-<node id> resource", now_s);
		return cleared;
	}
	if (p->has_key) {
		struct signal_msg m;
		memset(&m, 0, sizeof(m));
		memcpy(m.key, p->key, SIGNAL_KEY_LEN);
		if ((bad = key_refusal(tr, id, bare, &m, why, sizeof(why)))) {
			p->has_key = false;
			cleared++;
			refuse(tr, jid, "presence", bad, now_s);
		}
	}
	if (p->has_ip4 && tr->group) {
		bad = addr_refusal(tr, t, bare, ip_addr_of(AF_INET, &p->ip4), why, sizeof(why));
		if (bad) {
			p->has_ip4 = false;
			cleared++;
			refuse(tr, jid, "presence", bad, now_s);
		}
	}
	if (p->has_ip6 && tr->group && !owners_has_family(&tr->owners, AF_INET6)) {
		p->has_ip6 = false; /* we are IPv4 only: nothing to reach it by */
	} else if (p->has_ip6 && tr->group) {
		bad = addr_refusal(tr, t, bare, ip_addr_of(AF_INET6, &p->ip6), why, sizeof(why));
		if (bad) {
			p->has_ip6 = false;
			cleared++;
			refuse(tr, jid, "presence", bad, now_s);
		}
	}
	/* pinned only once a link proves the key (trust_judge on its
	 * offer/answer, the handshake through the overlay) */
	return cleared;
}

/* The member's link with a is up: a is theirs (owners_note), said once. */
static void note(struct trust *tr, const struct link *l, const char *bare, struct ip_addr a, int64_t now_s)
{
	char s[INET6_ADDRSTRLEN];
	bool known = owners_find(&tr->owners, a) != NULL;
	int rc = owners_note(&tr->owners, a, bare, now_s);

	ip_addr_format(&a, s);
	if (rc != 0)
		log_warn("peer %s: up, but %s could not be recorded as %s's (%d)", l->jid, s, bare, rc);
	else if (!known)
		log_info("peer %s: %s now belongs to %s", l->jid, s, bare);
}

void trust_link_up(struct trust *tr, const struct link *l, int64_t now_s)
{
	char bare[XMPP_JID_MAX];

	if (!l->have_info || !jid_split(l->jid, bare, sizeof(bare), NULL))
		return;
	/* a link through the overlay took its key from presence: pinned now */
	if (pins_id_matches(l->id, l->key) && pins_note(&tr->pins, l->id, l->key, bare, now_s) != 0)
		log_warn("peer %s: cannot pin its node id (out of memory)", l->jid);
	if (!tr->group)
		return;
	note(tr, l, bare, ip_addr_of(AF_INET, &l->ip4), now_s);
	/* an ip6 is only there when judge_ip6 let it through */
	if (l->net.has_ip6 && owners_has_family(&tr->owners, AF_INET6))
		note(tr, l, bare, ip_addr_of(AF_INET6, &l->net.ip6), now_s);
}

const struct trust_refusal *trust_refusal_of(const struct trust *tr, const char *jid)
{
	for (unsigned i = 0; i < tr->nref; i++)
		if (strcmp(tr->ref[i].jid, jid) == 0)
			return &tr->ref[i];
	return NULL;
}

void trust_forget(struct trust *tr, const char *what, size_t *pins, size_t *owners)
{
	*pins = pins_forget(&tr->pins, what);
	*owners = owners_forget(&tr->owners, what);
	tr->nref = 0; /* what was refused may be allowed now: say it again */
}

bool trust_dirty(const struct trust *tr)
{
	return tr->pins.dirty || tr->owners.dirty;
}

void trust_saved(struct trust *tr)
{
	tr->pins.dirty = tr->owners.dirty = false;
}

const char *trust_parse_line(struct trust *tr, const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return NULL;
	if (strncmp(line, "pin ", 4) == 0)
		return pins_parse_line(&tr->pins, line + 4);
	if (strncmp(line, "owner ", 6) == 0)
		return owners_parse_line(&tr->owners, line + 6);
	return "expected \"pin ...\" or \"owner ...\"";
}

bool trust_next_line(const struct trust *tr, size_t *cursor, char *buf, size_t cap)
{
	for (;;) {
		size_t i = (*cursor)++;
		if (i == 0) {
			snprintf(buf, cap, "# ipopd trust state (docs/security.md): written by ipopd; edit only while it is "
					   "stopped\n");
			return true;
		}
		i--;
		if (i < tr->pins.n)
			return pins_format_line(&tr->pins.p[i], buf, cap) > 0;
		i -= tr->pins.n;
		if (i >= tr->owners.n)
			return false;
		if (!tr->owners.o[i].mapped)
			return owners_format_line(&tr->owners.o[i], buf, cap) > 0;
	}
}
