/* config.json keys of GroupVPN at scale (docs/config.md "Overlay"): the
 * bound on direct links and the original IPOP's multihop and on-demand
 * settings, with the meaning they had there where ipopd can give it. */
#include <string.h>

#include "node_conf_int.h"

/* max_links, and the original multihop_cl ("direct connection count
 * limit per node"), which means the same. */
void node_conf_ovl_max_links(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_uint(x, k, v, 2, NODE_CONF_MAX_LINKS_MAX, &x->c->max_links);
}

void node_conf_ovl_multihop(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->multihop);
}

/* The original's "maximum hop count": here the hop limit of a frame. */
void node_conf_ovl_hop_limit(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_uint(x, k, v, 1, 64, &x->c->hop_limit);
}

/* multihop_ihc, multihop_tl (how an address lookup flooded the overlay)
 * and multihop_sr (source routing) have nothing to set: members find
 * each other's addresses in their presence, and frames are routed hop by
 * hop on the ring. */
void node_conf_ovl_unused(struct ctx *x, const char *k, const json_t *v)
{
	(void)v;
	if (strcmp(k, "multihop_sr") == 0)
		node_conf_warn(x, k, "ignored: ipopd always routes hop by hop on the ring (no source routes)");
	else
		node_conf_warn(x, k, "ignored: ipopd does not flood address lookups (addresses come with "
				     "presence; frames follow the ring)");
}

void node_conf_ovl_on_demand(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->on_demand);
}

void node_conf_ovl_demand_timeout(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_uint(x, k, v, 10, 7 * 24 * 3600, &x->c->on_demand_timeout_s);
}

void node_conf_ovl_demand_bps(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_uint(x, k, v, 1, 1000000000, &x->c->on_demand_bps);
}

void node_conf_ovl_trim(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->trim);
}

/* Social mode links friends directly: the overlay's keys mean nothing
 * there. Called once every key was read. */
void node_conf_ovl_check(struct ctx *x, const json_t *root)
{
	static const char *const keys[] = { "max_links", "multihop", "multihop_cl", "multihop_hl",
					    "on-demand_connection", "on-demand_inactive_timeout",
					    "on-demand_threshold", "trim_enabled" };

	if (x->c->mode != NODE_MODE_SOCIAL)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(root, keys[i]))
			node_conf_warn(x, keys[i], "ignored: social mode links friends directly (the overlay is "
						   "GroupVPN's)");
}
