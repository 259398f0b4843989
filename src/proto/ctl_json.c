#include "ctl_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/* Six significant digits keep "12.345" from printing as 12.3450000000001. */
#define CTL_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

const char *ctl_xmpp_state_name(enum ctl_xmpp_state st)
{
	switch (st) {
	case CTL_XMPP_CONNECTING: return "connecting";
	case CTL_XMPP_ONLINE: return "online";
	case CTL_XMPP_OFFLINE: break;
	}
	return "offline";
}

const char *ctl_peer_state_name(enum ctl_peer_state st)
{
	switch (st) {
	case CTL_PEER_CONNECTING: return "connecting";
	case CTL_PEER_CHECKING: return "checking";
	case CTL_PEER_HANDSHAKE: return "handshake";
	case CTL_PEER_UP: return "up";
	case CTL_PEER_DOWN: break;
	}
	return "down";
}

const char *ctl_path_name(enum ctl_path p)
{
	switch (p) {
	case CTL_PATH_DIRECT: return "direct";
	case CTL_PATH_RELAY: return "relay";
	case CTL_PATH_OVERLAY: return "overlay";
	case CTL_PATH_NONE: break;
	}
	return NULL;
}

const char *ctl_reach_name(enum ctl_reach r)
{
	switch (r) {
	case CTL_REACH_LINK: return "link";
	case CTL_REACH_OVERLAY: return "overlay";
	case CTL_REACH_CONNECTING: return "connecting";
	case CTL_REACH_NONE: break;
	}
	return "none";
}

const char *ctl_cand_type_name(enum ctl_cand_type t)
{
	switch (t) {
	case CTL_CAND_HOST: return "host";
	case CTL_CAND_SRFLX: return "srflx";
	case CTL_CAND_PRFLX: return "prflx";
	case CTL_CAND_RELAY: return "relay";
	case CTL_CAND_NONE: break;
	}
	return NULL;
}

/* ---- value helpers: each returns a new reference, json_null() for "none" */

static json_t *j_name(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A fixed-size field from the daemon: terminated here whatever it holds,
 * and made valid UTF-8 (a JID cut at CTL_JID_LEN may end mid-character),
 * because jansson refuses invalid UTF-8. "" is null. */
static json_t *j_field(const char *buf, size_t cap)
{
	size_t n = strnlen(buf, cap - 1);
	if (n == 0)
		return json_null();
	json_t *v = json_stringn(buf, n);
	if (v)
		return v;
	char tmp[CTL_JID_LEN];
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	for (size_t i = 0; i < n; i++)
		tmp[i] = (unsigned char)buf[i] < 0x80 && buf[i] >= 0x20 ? buf[i] : '?';
	return json_stringn(tmp, n);
}

static json_t *j_ip4(struct in_addr a)
{
	char buf[INET_ADDRSTRLEN];
	if (a.s_addr == 0 || !inet_ntop(AF_INET, &a, buf, sizeof(buf)))
		return json_null();
	return json_string(buf);
}

static json_t *j_ip6(bool has, const struct in6_addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	if (!has || !inet_ntop(AF_INET6, a, buf, sizeof(buf)))
		return json_null();
	return json_string(buf);
}

/* ["10.77.0.0/24", ...]; at most CTL_MAX_ROUTES, whatever n says. */
static json_t *j_routes(const struct ip_prefix *r, unsigned n)
{
	json_t *a = json_array();
	char buf[IP_PREFIX_STRLEN];
	for (unsigned i = 0; a && i < n && i < CTL_MAX_ROUTES; i++)
		if (json_array_append_new(a, json_string(ip_prefix_format(&r[i], buf))) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* [{"prefix": "10.0.0.0/8", "why": "..."}, ...] */
static json_t *j_refused(const struct ctl_route_refused *r, unsigned n)
{
	json_t *a = json_array();
	char buf[IP_PREFIX_STRLEN];
	for (unsigned i = 0; a && i < n && i < CTL_MAX_ROUTES; i++) {
		json_t *o = json_object();
		bool ok = o && json_object_set_new(o, "prefix", json_string(ip_prefix_format(&r[i].prefix, buf))) == 0 &&
			  json_object_set_new(o, "why", j_field(r[i].why, sizeof(r[i].why))) == 0;
		if (!ok || json_array_append_new(a, o) != 0) {
			if (!ok)
				json_decref(o);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *j_addr(const struct sockaddr_storage *ss)
{
	char buf[ADDR_STRLEN];
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return json_null();
	return json_string(addr_format((const struct sockaddr *)ss, true, buf));
}

static json_t *j_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Sets every (key, value) pair; values are stolen. false if any failed. */
static bool j_set(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* The TURN allocation, or null. */
static json_t *j_relay(const struct ctl_node_status *st)
{
	if (st->relay_addr.ss_family == AF_UNSPEC)
		return json_null();
	json_t *r = json_object();
	bool ok = r && j_set(r, "address", j_addr(&st->relay_addr));
	ok = ok && j_set(r, "server", j_addr(&st->relay_server));
	ok = ok && j_set(r, "transport", j_field(st->relay_transport, sizeof(st->relay_transport)));
	if (!ok) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* {"refused_signals": n, "refused_links": n, "under_load": b, "cookie_replies": n} */
static json_t *j_trust(const struct ctl_node_status *st)
{
	json_t *t = json_object();
	bool ok = t && j_set(t, "refused_signals", j_u64(st->refused_signals));
	ok = ok && j_set(t, "refused_links", j_u64(st->refused_links));
	ok = ok && j_set(t, "under_load", json_boolean(st->under_load));
	ok = ok && j_set(t, "cookie_replies", j_u64(st->cookie_replies));
	if (!ok) {
		json_decref(t);
		return NULL;
	}
	return t;
}

static json_t *j_overlay(const struct ctl_overlay_status *v)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = ok && j_set(o, "shape", json_string(v->mesh ? "mesh" : "structured"));
	ok = ok && j_set(o, "members", json_integer(v->members));
	ok = ok && j_set(o, "links", json_integer(v->links));
	ok = ok && j_set(o, "max_links", json_integer(v->max_links));
	ok = ok && j_set(o, "multihop", json_boolean(v->multihop));
	ok = ok && j_set(o, "on_demand", json_boolean(v->on_demand));
	ok = ok && j_set(o, "trim", json_boolean(v->trim));
	ok = ok && j_set(o, "sent", j_u64(v->sent));
	ok = ok && j_set(o, "received", j_u64(v->received));
	ok = ok && j_set(o, "forwarded", j_u64(v->forwarded));
	ok = ok && j_set(o, "dropped", j_u64(v->dropped));
	ok = ok && j_set(o, "requests", j_u64(v->requests));
	ok = ok && j_set(o, "refused_in", j_u64(v->refused_in));
	ok = ok && j_set(o, "refused_out", j_u64(v->refused_out));
	ok = ok && j_set(o, "evictions", j_u64(v->evictions));
	ok = ok && j_set(o, "on_demand_links", j_u64(v->demand_links));
	ok = ok && j_set(o, "trimmed", j_u64(v->trimmed));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_node_status(const struct ctl_node_status *st)
{
	json_t *o = json_object(), *drops = json_object();
	bool ok = o && drops;
	ok = ok && j_set(o, "jid", j_field(st->jid, sizeof(st->jid)));
	ok = ok && j_set(o, "node_id", j_field(st->node_id, sizeof(st->node_id)));
	ok = ok && j_set(o, "ip4", j_ip4(st->ip4));
	ok = ok && j_set(o, "ip4_mask", json_integer(st->ip4_mask));
	ok = ok && j_set(o, "ip6", j_ip6(st->has_ip6, &st->ip6));
	ok = ok && j_set(o, "ip6_mask", st->has_ip6 ? json_integer(st->ip6_mask) : json_null());
	ok = ok && j_set(o, "routes", j_routes(st->routes, st->n_routes));
	ok = ok && j_set(o, "interface", j_field(st->interface, sizeof(st->interface)));
	ok = ok && j_set(o, "mtu", json_integer(st->mtu));
	ok = ok && j_set(o, "mode", json_string(st->social ? "social" : "group"));
	ok = ok && j_set(o, "xmpp", json_string(ctl_xmpp_state_name(st->xmpp)));
	ok = ok && j_set(o, "public", j_addr(&st->public_addr));
	ok = ok && j_set(o, "relay", j_relay(st));
	ok = ok && j_set(o, "peers_up", json_integer(st->peers_up));
	ok = ok && j_set(o, "peers_total", json_integer(st->peers_total));
	ok = ok && j_set(o, "uptime_s", j_u64(st->uptime_s));
	ok = ok && j_set(drops, "no_route", j_u64(st->drop_no_route));
	ok = ok && j_set(drops, "bad_source", j_u64(st->drop_bad_source));
	ok = ok && j_set(drops, "untranslatable", j_u64(st->drop_untranslatable));
	ok = ok && j_set(drops, "link_local", j_u64(st->drop_link_local));
	ok = ok && j_set(drops, "too_big", j_u64(st->drop_too_big));
	ok = ok && json_object_set(o, "drops", drops) == 0;
	json_decref(drops);
	ok = ok && j_set(o, "key", j_field(st->key, sizeof(st->key)));
	ok = ok && j_set(o, "trust", j_trust(st));
	ok = ok && j_set(o, "overlay", st->ovl.on ? j_overlay(&st->ovl) : json_null());
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_peer(const struct ctl_peer_status *p)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = ok && j_set(o, "jid", j_field(p->jid, sizeof(p->jid)));
	ok = ok && j_set(o, "node_id", j_field(p->node_id, sizeof(p->node_id)));
	ok = ok && j_set(o, "ip4", j_ip4(p->ip4));
	ok = ok && j_set(o, "ip6", j_ip6(p->has_ip6, &p->ip6));
	ok = ok && j_set(o, "routes", j_routes(p->routes, p->n_routes));
	ok = ok && j_set(o, "routes_refused", j_refused(p->refused, p->n_refused));
	ok = ok && j_set(o, "state", json_string(ctl_peer_state_name(p->state)));
	ok = ok && j_set(o, "path", j_name(ctl_path_name(p->path)));
	ok = ok && j_set(o, "local_type", j_name(ctl_cand_type_name(p->local_type)));
	ok = ok && j_set(o, "remote_type", j_name(ctl_cand_type_name(p->remote_type)));
	ok = ok && j_set(o, "endpoint", j_addr(&p->endpoint));
	ok = ok && j_set(o, "relay", j_addr(&p->relay));
	ok = ok && j_set(o, "rtt_ms", p->has_rtt ? json_real(p->rtt_us / 1000.0) : json_null());
	ok = ok && j_set(o, "rtt_us", p->has_rtt ? json_integer(p->rtt_us) : json_null());
	ok = ok && j_set(o, "rtt_last_us", p->has_rtt ? json_integer(p->rtt_last_us) : json_null());
	ok = ok && j_set(o, "rtt_min_us", p->has_rtt ? json_integer(p->rtt_min_us) : json_null());
	ok = ok && j_set(o, "rtt_age_ms", p->has_rtt ? j_u64(p->rtt_age_ms) : json_null());
	ok = ok && j_set(o, "rx_bytes", j_u64(p->rx_bytes));
	ok = ok && j_set(o, "tx_bytes", j_u64(p->tx_bytes));
	ok = ok && j_set(o, "rx_packets", j_u64(p->rx_packets));
	ok = ok && j_set(o, "tx_packets", j_u64(p->tx_packets));
	ok = ok && j_set(o, "last_handshake",
			 p->last_handshake > 0 ? json_integer(p->last_handshake) : json_null());
	ok = ok && j_set(o, "why_not_direct", j_field(p->why_not_direct, sizeof(p->why_not_direct)));
	ok = ok && j_set(o, "paths_refused", j_field(p->paths_refused, sizeof(p->paths_refused)));
	ok = ok && j_set(o, "key", j_field(p->key, sizeof(p->key)));
	ok = ok && j_set(o, "trust_refused", j_field(p->trust_refused, sizeof(p->trust_refused)));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_pin(const struct ctl_pin *p)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = ok && j_set(o, "node_id", j_field(p->node_id, sizeof(p->node_id)));
	ok = ok && j_set(o, "key", j_field(p->key, sizeof(p->key)));
	ok = ok && j_set(o, "jid", j_field(p->jid, sizeof(p->jid)));
	ok = ok && j_set(o, "seen", p->seen > 0 ? json_integer(p->seen) : json_null());
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_owner(const struct ctl_owner *w)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	char s[INET6_ADDRSTRLEN];
	bool v6 = w->addr.family == AF_INET6; /* the other one is null */
	ip_addr_format(&w->addr, s);
	ok = ok && j_set(o, "ip4", v6 ? json_null() : json_string(s));
	ok = ok && j_set(o, "ip6", v6 ? json_string(s) : json_null());
	ok = ok && j_set(o, "jid", j_field(w->jid, sizeof(w->jid)));
	ok = ok && j_set(o, "seen", w->seen > 0 ? json_integer(w->seen) : json_null());
	ok = ok && j_set(o, "mapped", json_boolean(w->mapped));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_friend(const struct ctl_friend_status *f)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = ok && j_set(o, "jid", j_field(f->jid, sizeof(f->jid)));
	ok = ok && j_set(o, "ip4", j_ip4(f->ip4));
	ok = ok && j_set(o, "subscription", j_field(f->subscription, sizeof(f->subscription)));
	ok = ok && j_set(o, "mutual", json_boolean(strcmp(f->subscription, "both") == 0));
	ok = ok && j_set(o, "asked", json_boolean(f->asked));
	ok = ok && j_set(o, "request", json_boolean(f->request));
	ok = ok && j_set(o, "online", json_boolean(f->online));
	ok = ok && j_set(o, "state", f->online ? json_string(ctl_peer_state_name(f->state)) : json_null());
	ok = ok && j_set(o, "path", j_name(ctl_path_name(f->path)));
	ok = ok && j_set(o, "endpoint", j_addr(&f->endpoint));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_member(const struct ctl_member_status *m)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = ok && j_set(o, "jid", j_field(m->jid, sizeof(m->jid)));
	ok = ok && j_set(o, "node_id", j_field(m->node_id, sizeof(m->node_id)));
	ok = ok && j_set(o, "ip4", m->ip4.s_addr ? j_ip4(m->ip4) : json_null());
	ok = ok && j_set(o, "reach", json_string(ctl_reach_name(m->reach)));
	ok = ok && j_set(o, "path", j_name(ctl_path_name(m->path)));
	ok = ok && j_set(o, "via", m->via[0] ? j_field(m->via, sizeof(m->via)) : json_null());
	ok = ok && j_set(o, "hops", m->hops ? json_integer(m->hops) : json_null());
	ok = ok && j_set(o, "rtt_ms", m->has_rtt ? json_real(m->rtt_us / 1000.0) : json_null());
	ok = ok && j_set(o, "kept_for", m->kept_for[0] ? j_field(m->kept_for, sizeof(m->kept_for)) : json_null());
	ok = ok && j_set(o, "why_not_linked", j_field(m->why_not_linked, sizeof(m->why_not_linked)));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- requests ---- */

struct ctl_req {
	bool may_change; /* the caller may change state (SO_PEERCRED) */
	unsigned argc; /* words after the command */
	char *cmd;
	char *argv[CTL_MAX_ARGS];
	char buf[CTL_MAX_REQUEST];
};

/* One command's work: sets "result" (and any other member) in reply, or
 * writes a reason to err and returns -1. */
typedef int (*ctl_cmd_fn)(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r,
			  json_t *reply, char *err, size_t errlen);

static int cmd_status(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r,
		      json_t *reply, char *err, size_t errlen)
{
	(void)r;
	if (!ops->status) {
		snprintf(err, errlen, "status: not supported by this daemon");
		return -1;
	}
	struct ctl_node_status st;
	memset(&st, 0, sizeof(st));
	int rc = ops->status(ctx, &st);
	if (rc < 0) {
		snprintf(err, errlen, "status: %s", strerror(-rc));
		return -1;
	}
	if (!j_set(reply, "result", ctl_json_node_status(&st))) {
		snprintf(err, errlen, "status: out of memory");
		return -1;
	}
	return 0;
}

/* A command that lists records: "peers", "friends", "members". */
struct ctl_list {
	const char *name;
	size_t size;                                            /* of one record */
	int (*fill)(const struct ctl_ops *ops, void *ctx, void *arr, unsigned max); /* -ENOTSUP: no op */
	json_t *(*to_json)(const void *rec);
};

/* The records, in an array sized to what the daemon holds: CTL_LIST_FIRST
 * first, then, when there are more, exactly as many (at most
 * CTL_MAX_PEERS) and filled again. An array for CTL_MAX_PEERS records
 * (3.6 MB of peers, 1.3 MB of members) on every request stayed in the
 * daemon's heap, zeroed and resident, after it was freed
 * (docs/benchmarks.md, "Where an ipopd's RSS goes"). Returns fill's
 * count (or -errno) and the array in *out. */
static int list_fill(const struct ctl_list *k, const struct ctl_ops *ops, void *ctx, char **out)
{
	unsigned cap = CTL_LIST_FIRST;
	for (;;) {
		char *arr = calloc(cap, k->size);
		if (!arr)
			return -ENOMEM;
		int n = k->fill(ops, ctx, arr, cap);
		if (n < 0 || (unsigned)n <= cap || cap == CTL_MAX_PEERS) {
			*out = arr;
			return n;
		}
		free(arr);
		cap = (unsigned)n < CTL_MAX_PEERS ? (unsigned)n : CTL_MAX_PEERS;
	}
}

static int cmd_list(const struct ctl_list *k, const struct ctl_ops *ops, void *ctx, json_t *reply, char *err,
		    size_t errlen)
{
	char *arr = NULL;
	json_t *list = json_array();
	int n = list ? list_fill(k, ops, ctx, &arr) : -ENOMEM;
	if (n == -ENOTSUP) {
		snprintf(err, errlen, "%s: not supported by this daemon", k->name);
		goto fail;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", k->name, strerror(-n));
		goto fail;
	}
	unsigned shown = (unsigned)n < CTL_MAX_PEERS ? (unsigned)n : CTL_MAX_PEERS;
	for (unsigned i = 0; i < shown; i++) {
		if (json_array_append_new(list, k->to_json(arr + i * k->size)) != 0)
			goto nomem;
	}
	if ((unsigned)n > shown && !j_set(reply, "truncated", json_true()))
		goto nomem;
	free(arr);
	if (!j_set(reply, "result", list)) {
		snprintf(err, errlen, "%s: out of memory", k->name);
		return -1;
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", k->name);
fail:
	json_decref(list);
	free(arr);
	return -1;
}

static int fill_peers(const struct ctl_ops *ops, void *ctx, void *arr, unsigned max)
{
	return ops->peers ? ops->peers(ctx, arr, max) : -ENOTSUP;
}

static int fill_friends(const struct ctl_ops *ops, void *ctx, void *arr, unsigned max)
{
	return ops->friends ? ops->friends(ctx, arr, max) : -ENOTSUP;
}

static int fill_members(const struct ctl_ops *ops, void *ctx, void *arr, unsigned max)
{
	return ops->members ? ops->members(ctx, arr, max) : -ENOTSUP;
}

static json_t *peer_json(const void *r) { return ctl_json_peer(r); }
static json_t *friend_json(const void *r) { return ctl_json_friend(r); }
static json_t *member_json(const void *r) { return ctl_json_member(r); }

static int cmd_peers(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r, json_t *reply, char *err,
		     size_t errlen)
{
	static const struct ctl_list k = { "peers", sizeof(struct ctl_peer_status), fill_peers, peer_json };
	(void)r;
	return cmd_list(&k, ops, ctx, reply, err, errlen);
}

static int cmd_friends(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r, json_t *reply, char *err,
		       size_t errlen)
{
	static const struct ctl_list k = { "friends", sizeof(struct ctl_friend_status), fill_friends, friend_json };
	(void)r;
	return cmd_list(&k, ops, ctx, reply, err, errlen);
}

static int cmd_members(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r, json_t *reply, char *err,
		       size_t errlen)
{
	static const struct ctl_list k = { "members", sizeof(struct ctl_member_status), fill_members, member_json };
	(void)r;
	return cmd_list(&k, ops, ctx, reply, err, errlen);
}

/* "friend add|accept|remove JID" */
static int cmd_friend(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r,
		      json_t *reply, char *err, size_t errlen)
{
	static const char *const verbs[] = { "add", "accept", "remove" };
	if (!ops->friend_cmd) {
		snprintf(err, errlen, "friend: not supported by this daemon");
		return -1;
	}
	if (!r->may_change) {
		snprintf(err, errlen, "friend: permission denied (only root or the daemon's user may change friends)");
		return -1;
	}
	for (unsigned i = 0; i < 3; i++) {
		if (strcmp(r->argv[0], verbs[i]) != 0)
			continue;
		if (ops->friend_cmd(ctx, (enum ctl_friend_cmd)i, r->argv[1], err, errlen) < 0)
			return -1;
		json_t *o = json_object();
		if (!o || !j_set(o, "jid", json_string(r->argv[1])) || !j_set(o, "action", json_string(verbs[i])) ||
		    !j_set(reply, "result", o)) {
			json_decref(o);
			snprintf(err, errlen, "friend: out of memory");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "friend: unknown action \"%.20s\" (add, accept or remove)", r->argv[0]);
	return -1;
}

/* "pins": {"pins": [...], "owners": [...]} (each truncated at CTL_MAX_PINS). */
static int cmd_pins(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r, json_t *reply, char *err,
		    size_t errlen)
{
	(void)r;
	if (!ops->pins || !ops->owners) {
		snprintf(err, errlen, "pins: not supported by this daemon");
		return -1;
	}
	struct ctl_pin *pa = calloc(CTL_MAX_PINS, sizeof(*pa));
	struct ctl_owner *oa = calloc(CTL_MAX_PINS, sizeof(*oa));
	json_t *res = json_object(), *pl = json_array(), *ol = json_array();
	int np = pa && oa && res && pl && ol ? ops->pins(ctx, pa, CTL_MAX_PINS) : -ENOMEM;
	int no = np >= 0 ? ops->owners(ctx, oa, CTL_MAX_PINS) : np;
	bool ok = np >= 0 && no >= 0;
	for (int i = 0; ok && i < np && i < CTL_MAX_PINS; i++)
		ok = json_array_append_new(pl, ctl_json_pin(&pa[i])) == 0;
	for (int i = 0; ok && i < no && i < CTL_MAX_PINS; i++)
		ok = json_array_append_new(ol, ctl_json_owner(&oa[i])) == 0;
	ok = ok && json_object_set(res, "pins", pl) == 0 && json_object_set(res, "owners", ol) == 0;
	if (ok && (np > CTL_MAX_PINS || no > CTL_MAX_PINS))
		ok = j_set(reply, "truncated", json_true());
	ok = ok && json_object_set(reply, "result", res) == 0;
	free(pa);
	free(oa);
	json_decref(pl);
	json_decref(ol);
	json_decref(res);
	if (!ok)
		snprintf(err, errlen, "pins: %s", np < 0 || no < 0 ? strerror(-(np < 0 ? np : no)) : "out of memory");
	return ok ? 0 : -1;
}

/* "pin forget WHAT" */
static int cmd_pin(const struct ctl_ops *ops, void *ctx, const struct ctl_req *r, json_t *reply, char *err,
		   size_t errlen)
{
	unsigned np = 0, no = 0;
	if (!ops->pin_forget) {
		snprintf(err, errlen, "pin: not supported by this daemon");
		return -1;
	}
	if (strcmp(r->argv[0], "forget") != 0) {
		snprintf(err, errlen, "pin: unknown action \"%.20s\" (forget)", r->argv[0]);
		return -1;
	}
	if (!r->may_change) {
		snprintf(err, errlen, "pin: permission denied (only root or the daemon's user may forget pins)");
		return -1;
	}
	if (ops->pin_forget(ctx, r->argv[1], &np, &no, err, errlen) < 0)
		return -1;
	json_t *o = json_object();
	if (!o || !j_set(o, "forgot", json_string(r->argv[1])) || !j_set(o, "pins", json_integer(np)) ||
	    !j_set(o, "owners", json_integer(no)) || !j_set(reply, "result", o)) {
		json_decref(o);
		snprintf(err, errlen, "pin: out of memory");
		return -1;
	}
	return 0;
}

/* Later commands (netcheck, ...) slot in here with their own ctl_ops
 * member. Commands that change state must
 * also refuse callers without r->may_change (SO_PEERCRED, see cmd_friend). */
static const struct ctl_cmd {
	const char *name;
	unsigned min_args, max_args;
	ctl_cmd_fn fn;
} ctl_cmds[] = {
	{ "status", 0, 0, cmd_status },
	{ "peers", 0, 0, cmd_peers },
	{ "friends", 0, 0, cmd_friends },
	{ "members", 0, 0, cmd_members },
	{ "friend", 2, 2, cmd_friend },
	{ "pins", 0, 0, cmd_pins },
	{ "pin", 2, 2, cmd_pin },
};

/* Splits req into words. Returns NULL or why the request is malformed. */
static const char *ctl_req_parse(struct ctl_req *r, const char *req, size_t len)
{
	if (len > 0 && req[len - 1] == '\r') /* tolerate "socat CRLF" */
		len--;
	if (len >= sizeof(r->buf))
		return "request too long";
	if (len == 0)
		return "empty request";
	if (memchr(req, '\0', len))
		return "request must be printable ASCII";
	memcpy(r->buf, req, len);
	r->buf[len] = '\0';
	r->cmd = NULL;
	r->argc = 0;
	char *word = r->buf;
	for (size_t i = 0; i <= len; i++) {
		char c = r->buf[i];
		if (c != '\0' && c != ' ') {
			if (c < 0x21 || c > 0x7e)
				return "request must be printable ASCII";
			continue;
		}
		if (&r->buf[i] == word)
			return "empty word in request (one space between words)";
		r->buf[i] = '\0';
		if (!r->cmd)
			r->cmd = word;
		else if (r->argc < CTL_MAX_ARGS)
			r->argv[r->argc++] = word;
		else
			return "too many arguments";
		word = &r->buf[i + 1];
	}
	return NULL;
}

static json_t *ctl_reply_new(void)
{
	json_t *o = json_object();
	if (o && json_object_set_new(o, "version", json_integer(CTL_PROTO_VERSION)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Dumps reply with the trailing newline, or NULL if it is too big. */
static char *ctl_reply_dump(const json_t *reply, size_t *out_len)
{
	char *s = json_dumps(reply, CTL_JSON_FLAGS);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n + 1 > CTL_MAX_RESPONSE) {
		free(s);
		return NULL;
	}
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	*out_len = n + 1;
	return t;
}

char *ctl_json_error_reply(const char *msg, size_t *out_len)
{
	json_t *reply = ctl_reply_new();
	if (!reply || !j_set(reply, "error", json_string(msg))) {
		json_decref(reply);
		return NULL;
	}
	char *s = ctl_reply_dump(reply, out_len);
	json_decref(reply);
	return s;
}

static const struct ctl_cmd *ctl_cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	}
	return NULL;
}

char *ctl_json_dispatch(const struct ctl_ops *ops, void *ctx, const char *req, size_t len,
			size_t *out_len, int *is_error)
{
	return ctl_json_dispatch_as(ops, ctx, req, len, true, out_len, is_error);
}

char *ctl_json_dispatch_as(const struct ctl_ops *ops, void *ctx, const char *req, size_t len, bool may_change,
			   size_t *out_len, int *is_error)
{
	struct ctl_req r;
	char err[160] = "";
	*is_error = 1;
	const char *bad = ctl_req_parse(&r, req, len);
	if (bad)
		return ctl_json_error_reply(bad, out_len);
	r.may_change = may_change;
	const struct ctl_cmd *c = ctl_cmd_find(r.cmd);
	if (!c) {
		snprintf(err, sizeof(err), "unknown command \"%.40s\"", r.cmd);
		return ctl_json_error_reply(err, out_len);
	}
	if (r.argc < c->min_args || r.argc > c->max_args) {
		snprintf(err, sizeof(err), "%s: wrong number of arguments", c->name);
		return ctl_json_error_reply(err, out_len);
	}
	json_t *reply = ctl_reply_new();
	if (!reply)
		return NULL;
	if (c->fn(ops, ctx, &r, reply, err, sizeof(err)) < 0) {
		json_decref(reply);
		return ctl_json_error_reply(err, out_len);
	}
	char *s = ctl_reply_dump(reply, out_len);
	json_decref(reply);
	if (!s) {
		snprintf(err, sizeof(err), "%s: reply too large", c->name);
		return ctl_json_error_reply(err, out_len);
	}
	*is_error = 0;
	return s;
}
