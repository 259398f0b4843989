/* The GroupVPN overlay as ipopctl shows it: counters for "status" and one
 * record per online member for "members": how this node reaches it (its
 * own link, or through which member and how many hops), the RTT, why a
 * direct link is kept or why there is none. */
#include <string.h>

#include "node.h"

void node_overlay_ctl_status(struct node *n, struct ctl_overlay_status *o)
{
	const struct overlay *ov = &n->ov;
	const struct dp_overlay_counters *c = &n->dp.cnt.ovl;

	if (n->social_on)
		return;
	o->on = true;
	o->mesh = overlay_is_mesh(ov);
	o->multihop = ov->c.multihop;
	o->on_demand = ov->c.on_demand;
	o->trim = ov->c.trim;
	o->members = (unsigned)n->members.n;
	o->max_links = ov->c.max_links;
	o->links = ov->nslots;
	o->sent = c->out;
	o->received = c->in;
	o->forwarded = c->forwarded;
	o->dropped = c->ttl_expired + c->no_hop + c->nested + c->off;
	o->requests = ov->st.requests;
	o->refused_in = ov->st.refused_in;
	o->refused_out = ov->st.refused_out;
	o->evictions = ov->st.evictions;
	o->demand_links = ov->st.demand_links;
	o->trimmed = ov->st.trimmed;
}

static void kept_for(unsigned why, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s%s", why & OV_WHY_MESH ? "mesh " : "", why & OV_WHY_RING ? "ring " : "",
		 why & OV_WHY_FINGER ? "long-distance " : "", why & OV_WHY_DEMAND ? "on-demand " : "",
		 why & OV_WHY_INCOMING ? "asked-by-peer " : "");
	size_t len = strlen(buf);
	if (len)
		buf[len - 1] = '\0';
}

static void fill_member(struct node *n, const struct member *m, struct ctl_member_status *o, uint64_t now_ms)
{
	const struct link *l = links_by_id(&n->links, m->id);
	const struct ov_peer *p = overlay_peer(&n->ov, m->id);
	struct ctl_peer_status ps;

	snprintf(o->jid, sizeof(o->jid), "%.*s", (int)sizeof(o->jid) - 1, m->jid);
	for (unsigned i = 0; i < SIGNAL_ID_LEN; i++)
		snprintf(o->node_id + 2 * i, 3, "%02x", m->id[i]);
	if (m->has_ip4)
		o->ip4 = m->ip4;
	memset(&ps, 0, sizeof(ps));
	if (l)
		node_ctl_fill_peer(n, l, &ps, now_ms);
	o->has_rtt = ps.has_rtt;
	o->rtt_us = ps.rtt_us;
	o->hops = l ? l->ovl_hops : 0;
	if (p && p->state == OV_UP)
		kept_for(p->why, o->kept_for, sizeof(o->kept_for));
	snprintf(o->why_not_linked, sizeof(o->why_not_linked), "%s", overlay_why_not_linked(&n->ov, m->id));
	if (l && l->state == LINK_UP && l->have_path && !link_path_overlay(l)) {
		o->reach = CTL_REACH_LINK;
		o->path = ps.path;
		o->hops = 1;
		o->why_not_linked[0] = '\0';
		return;
	}
	const struct link *h = n->ov.c.multihop ? overlay_next_hop(&n->ov, m->pos) : NULL;
	if (h) {
		o->reach = CTL_REACH_OVERLAY;
		o->path = CTL_PATH_OVERLAY;
		snprintf(o->via, sizeof(o->via), "%.*s", (int)sizeof(o->via) - 1, h->jid);
	} else if (l && l->state != LINK_FAILED) {
		o->reach = CTL_REACH_CONNECTING;
	}
}

int node_overlay_ctl_members(struct node *n, struct ctl_member_status *arr, unsigned max)
{
	uint64_t now_ms = evloop_now_ms();

	if (n->social_on)
		return 0;
	for (size_t i = 0; i < n->members.n && i < max; i++)
		fill_member(n, &n->members.m[i], &arr[i], now_ms);
	return (int)n->members.n;
}
