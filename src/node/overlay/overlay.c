/* The GroupVPN overlay (see overlay.h). */
#include "overlay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tick.h"

enum { WANT_TIMEOUT_MS = 90000 }; /* a request that never came up is given up */

void overlay_conf_default(struct overlay_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_links = OVERLAY_DEFAULT_MAX_LINKS;
	c->multihop = true;
	c->on_demand = true;
	c->demand_bps = OVERLAY_DEMAND_BPS;
	c->idle_timeout_s = OVERLAY_IDLE_TIMEOUT_S;
	c->trim = true;
	c->hop_limit = OVERLAY_HOP_LIMIT;
}

int overlay_init(struct overlay *ov, const struct overlay_conf *c, const uint8_t self_id[OVERLAY_ID_LEN])
{
	memset(ov, 0, sizeof(*ov));
	ov->c = *c;
	if (ov->c.max_links < 1)
		ov->c.max_links = 1;
	memcpy(ov->self_id, self_id, OVERLAY_ID_LEN);
	ov->self = ring_pos_of(self_id, OVERLAY_ID_LEN);
	ov->hop_pos = calloc(ov->c.max_links, sizeof(*ov->hop_pos));
	ov->hop_link = calloc(ov->c.max_links, sizeof(*ov->hop_link));
	return ov->hop_pos && ov->hop_link ? 0 : -ENOMEM;
}

void overlay_free(struct overlay *ov)
{
	free(ov->p);
	free(ov->hop_pos);
	free(ov->hop_link);
	ov->p = NULL;
	ov->hop_pos = NULL;
	ov->hop_link = NULL;
	ov->np = ov->capp = 0;
}

static size_t member_at(const struct overlay *ov, ring_pos pos);

static bool is_member(const struct overlay *ov, const struct ov_peer *p)
{
	size_t at = ov->nm ? member_at(ov, p->pos) : 0;
	return ov->nm && memcmp(ov->m[at].id, p->id, OVERLAY_ID_LEN) == 0;
}

static struct ov_peer *find(const struct overlay *ov, const uint8_t *id)
{
	for (size_t i = 0; i < ov->np; i++)
		if (memcmp(ov->p[i].id, id, OVERLAY_ID_LEN) == 0)
			return &ov->p[i];
	return NULL;
}

static struct ov_peer *get(struct overlay *ov, const uint8_t *id)
{
	struct ov_peer *p = find(ov, id);

	if (p)
		return p;
	if (ov->np == ov->capp) {
		size_t cap = ov->capp ? 2 * ov->capp : 16;
		struct ov_peer *n = realloc(ov->p, cap * sizeof(*n));
		if (!n)
			return NULL;
		ov->p = n;
		ov->capp = cap;
	}
	p = &ov->p[ov->np++];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, id, OVERLAY_ID_LEN);
	p->pos = ring_pos_of(id, OVERLAY_ID_LEN);
	p->member = is_member(ov, p);
	return p;
}

static bool queue(struct overlay *ov, enum ov_action_type t, const struct ov_peer *p)
{
	if (ov->nq == OVERLAY_MAX_ACTIONS)
		return false; /* the plan runs again at the next timeout */
	ov->q[ov->nq].type = t;
	ov->q[ov->nq].why = p->why;
	memcpy(ov->q[ov->nq].id, p->id, OVERLAY_ID_LEN);
	ov->nq++;
	return true;
}

static void rebuild_hops(struct overlay *ov)
{
	ov->nhops = 0;
	for (size_t i = 0; i < ov->np && ov->nhops < ov->c.max_links; i++) {
		const struct ov_peer *p = &ov->p[i];
		/* a member that left carries nothing on: its link may still be
		 * up (a node killed, an XMPP server failing over) */
		if (p->state == OV_UP && p->link && p->member) {
			ov->hop_pos[ov->nhops] = p->pos;
			ov->hop_link[ov->nhops++] = p->link;
		}
	}
	ov->gen++;
}

static void set_state(struct overlay *ov, struct ov_peer *p, enum ov_state s, uint64_t now_ms)
{
	bool held = p->state == OV_WANTED || p->state == OV_UP, holds = s == OV_WANTED || s == OV_UP;

	if (held && !holds)
		ov->nslots--;
	if (!held && holds)
		ov->nslots++;
	bool hop = (p->state == OV_UP) != (s == OV_UP);
	p->state = s;
	p->state_ms = now_ms;
	if (s != OV_UP)
		p->link = NULL;
	if (s == OV_IDLE || s == OV_REFUSED)
		p->had_own = false; /* a new request starts over */
	if (hop)
		rebuild_hops(ov);
}

static void back_off(struct overlay *ov, struct ov_peer *p, uint64_t now_ms)
{
	p->backoff_ms = p->backoff_ms ? 2 * p->backoff_ms : OVERLAY_RETRY_MIN_MS;
	if (p->backoff_ms > OVERLAY_RETRY_MAX_MS)
		p->backoff_ms = OVERLAY_RETRY_MAX_MS;
	/* +-25% jitter, from the id and the time: no two nodes retry in step */
	uint64_t j = (p->pos ^ now_ms) % (p->backoff_ms / 2 + 1);
	p->retry_ms = now_ms + p->backoff_ms * 3 / 4 + j;
	set_state(ov, p, OV_REFUSED, now_ms);
}

/* A request still being set up that no reason holds any more: the
 * structure moved on (the member list grew past max_links while the mesh's
 * requests were under way, a finger was replaced). Oldest first. */
static struct ov_peer *stale_request(struct overlay *ov)
{
	struct ov_peer *best = NULL;

	for (size_t i = 0; i < ov->np; i++) {
		struct ov_peer *p = &ov->p[i];
		if (p->state != OV_WANTED || (p->why & (OV_WHY_STRUCTURE | OV_WHY_DEMAND | OV_WHY_INCOMING)))
			continue;
		if (!best || p->state_ms < best->state_ms)
			best = p;
	}
	return best;
}

/* The least useful link that may go to make room for one with reason
 * `for_why`. A stale request goes first, whatever asks: it carries
 * nothing, and would otherwise hold its slot until WANT_TIMEOUT_MS. Then,
 * least recently used first, links that are up; our own structure links
 * never go. Our structure displaces any other link; our traffic
 * (on-demand) displaces on-demand links and links others asked for (their
 * structure is rebuilt around a refusal); a request from another member
 * displaces no link that is up. */
static struct ov_peer *victim(struct overlay *ov, unsigned for_why)
{
	struct ov_peer *best = stale_request(ov);

	if (best || !(for_why & (OV_WHY_STRUCTURE | OV_WHY_DEMAND)))
		return best;
	for (size_t i = 0; i < ov->np; i++) {
		struct ov_peer *p = &ov->p[i];
		if (p->state != OV_UP || (p->why & OV_WHY_STRUCTURE))
			continue;
		if (!best || p->used_ms < best->used_ms)
			best = p;
	}
	return best;
}

static void do_close(struct overlay *ov, struct ov_peer *p, uint64_t now_ms)
{
	queue(ov, OV_ACT_CLOSE, p);
	ov->st.closes++;
	p->why &= ~(unsigned)(OV_WHY_DEMAND | OV_WHY_INCOMING);
	p->grace_ms = 0;
	set_state(ov, p, OV_IDLE, now_ms);
}

/* A free slot, closing a less useful link if needed. */
static bool make_room(struct overlay *ov, unsigned for_why, uint64_t now_ms)
{
	if (ov->nslots < ov->c.max_links)
		return true;
	struct ov_peer *v = victim(ov, for_why);
	if (!v)
		return false;
	ov->st.evictions++;
	do_close(ov, v, now_ms);
	return true;
}

static void request(struct overlay *ov, struct ov_peer *p, unsigned why, uint64_t now_ms)
{
	if (!make_room(ov, why, now_ms))
		return;
	p->why |= why;
	set_state(ov, p, OV_WANTED, now_ms);
	p->had_own = true; /* we asked: the peer may hold the link for us */
	queue(ov, OV_ACT_REQUEST, p);
	ov->st.requests++;
}

/* Index of the first member at or after pos (members sorted by pos). */
static size_t member_at(const struct overlay *ov, ring_pos pos)
{
	size_t lo = 0, hi = ov->nm;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ov->m[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == ov->nm ? 0 : lo;
}

static bool is_self(const struct overlay *ov, const struct ov_member *m)
{
	return memcmp(m->id, ov->self_id, OVERLAY_ID_LEN) == 0;
}

static unsigned others(const struct overlay *ov)
{
	size_t at = ov->nm ? member_at(ov, ov->self) : 0;
	bool self_in = ov->nm && is_self(ov, &ov->m[at]);
	return (unsigned)(ov->nm - self_in);
}

static void mark(struct overlay *ov, const struct ov_member *m, unsigned why)
{
	struct ov_peer *p = get(ov, m->id);
	if (p) {
		p->why |= why;
		p->member = true;
	}
}

/* Whether a member may be asked now (not waiting out a refusal). */
static bool askable(const struct overlay *ov, const struct ov_member *m, uint64_t now_ms)
{
	const struct ov_peer *p = find(ov, m->id);
	return !p || p->state != OV_REFUSED || now_ms >= p->retry_ms || (p->why & OV_WHY_RING);
}

static void mark_ring(struct overlay *ov, size_t at)
{
	size_t n = ov->nm;

	/* successors: from the first member after self */
	for (size_t k = 0, got = 0; k < n && got < OVERLAY_SUCC; k++) {
		const struct ov_member *m = &ov->m[(at + k) % n];
		if (!is_self(ov, m)) {
			mark(ov, m, OV_WHY_RING);
			got++;
		}
	}
	for (size_t k = 1, got = 0; k <= n && got < OVERLAY_PRED; k++) {
		const struct ov_member *m = &ov->m[(at + n - k) % n];
		if (!is_self(ov, m)) {
			mark(ov, m, OV_WHY_RING);
			got++;
		}
	}
}

/* Chord's fingers: the first askable member at or after self + 2^(64-i). */
static void mark_fingers(struct overlay *ov, uint64_t now_ms)
{
	unsigned budget = ov->c.max_links / 2 > OVERLAY_SUCC + OVERLAY_PRED ? ov->c.max_links / 2 - OVERLAY_SUCC -
										OVERLAY_PRED
									     : 1;
	size_t first = member_at(ov, ov->self + 1);
	if (is_self(ov, &ov->m[first]))
		first = (first + 1) % ov->nm;
	uint64_t nearest = ring_dist(ov->self, ov->m[first].pos); /* to the first successor */
	for (unsigned i = 1, got = 0; i < 64 && got < budget; i++) {
		uint64_t step = UINT64_C(1) << (64 - i);
		if (step < nearest)
			break; /* fingers closer than the successor are the successor */
		size_t at = member_at(ov, ov->self + step);
		for (size_t k = 0; k < 4 && k < ov->nm; k++) {
			const struct ov_member *m = &ov->m[(at + k) % ov->nm];
			if (is_self(ov, m) || !askable(ov, m, now_ms))
				continue;
			const struct ov_peer *p = find(ov, m->id);
			if (!p || !(p->why & OV_WHY_FINGER)) {
				mark(ov, m, OV_WHY_FINGER);
				got++;
			}
			break;
		}
	}
}

static void compute_structure(struct overlay *ov, uint64_t now_ms)
{
	for (size_t i = 0; i < ov->np; i++) {
		struct ov_peer *p = &ov->p[i];
		p->why &= ~(unsigned)OV_WHY_STRUCTURE;
		p->member = is_member(ov, p);
	}
	if (others(ov) <= ov->c.max_links) {
		for (size_t i = 0; i < ov->nm; i++)
			if (!is_self(ov, &ov->m[i]))
				mark(ov, &ov->m[i], OV_WHY_MESH);
	} else {
		mark_ring(ov, member_at(ov, ov->self + 1));
		mark_fingers(ov, now_ms);
	}
	rebuild_hops(ov);
}

/* Records that carry nothing any more. */
static void prune(struct overlay *ov, uint64_t now_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < ov->np; i++) {
		struct ov_peer *p = &ov->p[i];
		bool keep = p->state == OV_WANTED || p->state == OV_UP || p->why ||
			    (p->state == OV_REFUSED && now_ms < p->retry_ms && p->member) || p->demand_bytes ||
			    p->demand_hot;
		if (keep)
			ov->p[k++] = *p;
	}
	if (k != ov->np) {
		ov->np = k;
		rebuild_hops(ov);
	}
}

/* Both ends may have asked for a link (crossing requests, the cold
 * start's transient mesh); when our own reasons go, the other end's
 * request alone would keep it for good on both sides. Said once: the
 * member drops our request and keeps the link only if it wants it. */
static void release_if_unneeded(struct overlay *ov, struct ov_peer *p)
{
	if (p->had_own && !(p->why & (OV_WHY_STRUCTURE | OV_WHY_DEMAND)) && (p->why & OV_WHY_INCOMING) &&
	    queue(ov, OV_ACT_RELEASE, p)) {
		p->had_own = false;
		ov->st.releases++;
	}
}

static void plan_peer(struct overlay *ov, struct ov_peer *p, uint64_t now_ms)
{
	unsigned want = p->why & (OV_WHY_STRUCTURE | OV_WHY_DEMAND | OV_WHY_INCOMING);

	if (p->state == OV_REFUSED && now_ms >= p->retry_ms)
		set_state(ov, p, OV_IDLE, now_ms);
	if (p->state == OV_IDLE && (p->why & OV_WHY_STRUCTURE) && p->member)
		request(ov, p, p->why & OV_WHY_STRUCTURE, now_ms);
	if (p->state == OV_WANTED && now_ms - p->state_ms >= WANT_TIMEOUT_MS) {
		p->why &= ~(unsigned)(OV_WHY_INCOMING | OV_WHY_DEMAND);
		back_off(ov, p, now_ms);
	}
	if ((p->state == OV_WANTED || p->state == OV_UP) && (p->why & (OV_WHY_STRUCTURE | OV_WHY_DEMAND)))
		p->had_own = true; /* wanted while set up or up: the peer may hold it for us */
	if (p->state != OV_UP)
		return;
	release_if_unneeded(ov, p);
	if (want) {
		p->grace_ms = 0;
	} else if (!p->grace_ms) {
		p->grace_ms = now_ms;
	} else if (now_ms - p->grace_ms >= OVERLAY_GRACE_MS) {
		do_close(ov, p, now_ms);
		return;
	}
	/* trimming: on-demand links that went idle */
	if (ov->c.trim && (p->why & ~(unsigned)OV_WHY_INCOMING) == OV_WHY_DEMAND &&
	    now_ms - p->used_ms >= (uint64_t)ov->c.idle_timeout_s * 1000) {
		ov->st.trimmed++;
		do_close(ov, p, now_ms);
	}
}

static void plan(struct overlay *ov, uint64_t now_ms)
{
	for (size_t i = 0; i < ov->np; i++)
		plan_peer(ov, &ov->p[i], now_ms);
	prune(ov, now_ms);
	/* on the next whole second, with the links' ticks: an idle node
	 * wakes once a second for all of them, not once for each */
	ov->deadline_ms = tick_next(now_ms);
}

void overlay_set_members(struct overlay *ov, const struct ov_member *m, size_t n, uint64_t now_ms)
{
	ov->m = m;
	ov->nm = n;
	compute_structure(ov, now_ms);
	plan(ov, now_ms);
}

/* What a link the other side asks for is to us: our own traffic above
 * the threshold makes it an on-demand link of ours as well. Both ends see
 * the same flow and either may ask first: a second above the threshold on
 * our side is enough (we would have asked a moment later), and the one
 * whose request crossed a refusal must not keep it as someone else's. */
static unsigned incoming_why(const struct overlay *ov, const struct ov_peer *p)
{
	return ov->c.on_demand && p->demand_hot ? OV_WHY_INCOMING | OV_WHY_DEMAND : OV_WHY_INCOMING;
}

/* need: the requester has no other path to us (its multihop is off), so
 * room is made as for our own on-demand traffic. */
static bool accept_as(struct overlay *ov, const uint8_t *id, bool need, uint64_t now_ms)
{
	struct ov_peer *p = get(ov, id);

	if (!p)
		return false;
	unsigned why = incoming_why(ov, p);
	if (p->state == OV_WANTED || p->state == OV_UP) {
		p->why |= why;
		return true;
	}
	unsigned room = p->why & OV_WHY_STRUCTURE ? p->why : need ? OV_WHY_DEMAND : why;
	if (!make_room(ov, room, now_ms)) {
		ov->st.refused_in++;
		return false;
	}
	p->why |= why;
	p->used_ms = now_ms;
	set_state(ov, p, OV_WANTED, now_ms);
	ov->st.accepted++;
	return true;
}

bool overlay_accept(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	return accept_as(ov, id, false, now_ms);
}

bool overlay_accept_need(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	return accept_as(ov, id, true, now_ms);
}

void overlay_link_up(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], void *link, uint64_t now_ms)
{
	struct ov_peer *p = get(ov, id);

	if (!p)
		return;
	if (p->state != OV_WANTED && p->state != OV_UP) {
		/* It came up without a request of ours or one we accepted
		 * (a link kept through the overlay that found its direct path
		 * again, a set-up that outlived our release of it): it takes
		 * a slot as an accepted request would, or it goes, so that no
		 * node ever holds more than max_links. */
		unsigned room = p->why & OV_WHY_STRUCTURE ? p->why : incoming_why(ov, p);
		if (!make_room(ov, room, now_ms)) {
			ov->st.refused_in++;
			do_close(ov, p, now_ms);
			return;
		}
		p->why |= incoming_why(ov, p);
	} else if (p->why & OV_WHY_INCOMING)
		p->why |= incoming_why(ov, p); /* our traffic grew while it was set up */
	p->backoff_ms = 0;
	p->used_ms = now_ms;
	/* the demand is met: measured again only once the link is gone */
	p->demand_hot = 0;
	p->demand_bytes = 0;
	p->demand_from = 0;
	set_state(ov, p, OV_UP, now_ms);
	p->link = link;
	rebuild_hops(ov);
}

void overlay_link_down(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	struct ov_peer *p = find(ov, id);

	if (!p || (p->state != OV_WANTED && p->state != OV_UP))
		return;
	bool never_up = p->state == OV_WANTED;
	p->why &= ~(unsigned)(OV_WHY_INCOMING | OV_WHY_DEMAND);
	/* a link asked for that failed is not asked for again at once */
	if ((p->why & OV_WHY_STRUCTURE) || never_up)
		back_off(ov, p, now_ms);
	else
		set_state(ov, p, OV_IDLE, now_ms);
	ov->deadline_ms = now_ms;
}

void overlay_refused(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	struct ov_peer *p = find(ov, id);

	if (!p)
		return;
	ov->st.refused_out++;
	p->why &= ~(unsigned)(OV_WHY_INCOMING | OV_WHY_DEMAND | OV_WHY_FINGER);
	back_off(ov, p, now_ms);
	/* a refused finger is replaced by the next member */
	if (ov->m)
		compute_structure(ov, now_ms);
	ov->deadline_ms = now_ms;
}

void overlay_released(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	struct ov_peer *p = find(ov, id);

	if (!p || !(p->why & OV_WHY_INCOMING))
		return;
	p->why &= ~(unsigned)OV_WHY_INCOMING;
	ov->deadline_ms = now_ms;
}

void overlay_used(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	struct ov_peer *p = find(ov, id);
	if (p)
		p->used_ms = now_ms;
}

/* Our traffic wants a direct link to p: ask, unless on-demand links are
 * off, one is asked for or up, or p refused lately. */
static void demand_request(struct overlay *ov, struct ov_peer *p, uint64_t now_ms)
{
	if (!ov->c.on_demand || p->state == OV_WANTED || p->state == OV_UP ||
	    (p->state == OV_REFUSED && now_ms < p->retry_ms))
		return;
	p->used_ms = now_ms;
	unsigned before = ov->nq;
	request(ov, p, OV_WHY_DEMAND, now_ms);
	if (ov->nq != before)
		ov->st.demand_links++;
}

void overlay_demand(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t bytes, uint64_t now_ms)
{
	struct ov_peer *p = bytes ? get(ov, id) : find(ov, id);

	if (!p)
		return;
	if (!p->demand_from)
		p->demand_from = now_ms;
	p->demand_bytes += bytes;
	if (now_ms - p->demand_from < 1000)
		return;
	uint64_t rate = p->demand_bytes * 1000 / (now_ms - p->demand_from);
	p->demand_hot = rate >= ov->c.demand_bps ? p->demand_hot + 1 : 0;
	p->demand_bytes = 0;
	p->demand_from = now_ms;
	if (p->demand_hot >= OVERLAY_DEMAND_S)
		demand_request(ov, p, now_ms);
}

void overlay_want(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms)
{
	struct ov_peer *p = ov->c.on_demand ? get(ov, id) : NULL;

	if (p)
		demand_request(ov, p, now_ms);
}

void overlay_handle_timeout(struct overlay *ov, uint64_t now_ms)
{
	if (now_ms >= ov->deadline_ms)
		plan(ov, now_ms);
}

uint64_t overlay_next_deadline(const struct overlay *ov)
{
	return ov->nq ? 0 : ov->deadline_ms;
}

bool overlay_poll_action(struct overlay *ov, struct ov_action *a)
{
	if (!ov->nq)
		return false;
	*a = ov->q[0];
	memmove(ov->q, ov->q + 1, (ov->nq - 1) * sizeof(ov->q[0]));
	ov->nq--;
	return true;
}

void *overlay_next_hop(const struct overlay *ov, ring_pos dst)
{
	int i = ring_closest_preceding(ov->hop_pos, ov->nhops, ov->self, dst);
	return i < 0 ? NULL : ov->hop_link[i];
}

const struct ov_peer *overlay_peer(const struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN])
{
	return find(ov, id);
}

bool overlay_is_mesh(const struct overlay *ov)
{
	return others(ov) <= ov->c.max_links;
}

const char *overlay_why_not_linked(const struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN])
{
	const struct ov_peer *p = find(ov, id);

	if (p && p->state == OV_UP)
		return "";
	if (p && p->state == OV_WANTED)
		return p->why & OV_WHY_DEMAND ? "on-demand link being set up" : "link being set up";
	if (p && p->state == OV_REFUSED)
		return "its links are full (it refused); retrying later";
	if (!ov->c.multihop)
		return ov->c.on_demand ? "not a ring or long-distance neighbour; multihop is off, so the first packet "
					 "for it asks for an on-demand link"
				       : "multihop and on-demand links are off and it is not among this node's links";
	if (p && p->demand_hot)
		return "traffic above the on-demand threshold; link requested soon";
	return ov->c.on_demand ? "not a ring or long-distance neighbour; reached through the overlay (on-demand "
				 "link above the traffic threshold)"
			       : "not a ring or long-distance neighbour; reached through the overlay";
}
