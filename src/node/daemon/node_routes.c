/* What the node owns for each peer in the prefix table (cryptokey routing
 * for both families, docs/ipv6.md), group mode:
 *   - its ip4 (/32) and ip6 (/128): an address another peer holds (or
 *     one overlapping another peer's entry) is refused and logged;
 *   - each route it advertised: installed only when this node's config
 *     authorises that member for it (node_conf_route_refusal), it covers no
 *     address the tunnel itself uses (underlay), and it overlaps no entry
 *     of another peer (the first holder keeps it); then a kernel route
 *     "PREFIX dev ipop0". Refused routes are kept with their reason for
 *     ipopctl and tried again whenever a link goes (a standby router takes
 *     over).
 * Every outcome is logged once per change. An ip4 or ip6 reaches this
 * point only after the trust rules (node/link/trust.h: usable, inside the
 * overlay's subnet, bound to its member's bare JID, remembered across
 * restarts, the operator's map) let it through; routes are not under those
 * rules (their allow-list is), so a prefix belongs to the first link that
 * claims it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "node.h"

static const char *bare_of(const struct link *l, char *buf, size_t cap)
{
	if (!jid_split(l->jid, buf, cap, NULL))
		snprintf(buf, cap, "%s", l->jid);
	return buf;
}

/* The entry of another peer that p overlaps, in words; NULL when none. */
static const char *conflict(struct node *n, const struct link *l, const struct ip_prefix *p, char *why,
			    size_t cap)
{
	struct ip_prefix which;
	char w[IP_PREFIX_STRLEN], bare[XMPP_JID_MAX];
	const struct link *o = prefix_table_overlap(&n->dp.pt, p, l, &which);

	if (!o)
		return NULL;
	snprintf(why, cap, "overlaps %s of %.60s", ip_prefix_format(&which, w), bare_of(o, bare, sizeof(bare)));
	return why;
}

static const char *covers(const struct ip_prefix *p, struct in_addr a, const char *what, char *why, size_t cap)
{
	char ip[INET_ADDRSTRLEN];

	if (!ip_prefix_has_addr(p, AF_INET, &a))
		return NULL;
	snprintf(why, cap, "covers %s, %s: the tunnel's own packets would enter it",
		 inet_ntop(AF_INET, &a, ip, sizeof(ip)), what);
	return why;
}

/* A route over an address the tunnel itself uses (ours, a peer's, a
 * server's) would pull the underlay's UDP into the TUN. */
static const char *underlay(struct node *n, const struct ip_prefix *p, char *why, size_t cap)
{
	enum { MAX = 256 };
	struct sockaddr_in a[MAX], srv;
	const struct link_env *e = &n->links.env;
	struct in_addr x;
	const char *r = NULL;

	if (p->family != AF_INET)
		return NULL; /* the underlay is IPv4 */
	for (unsigned i = 0; i < e->nlocal && !r; i++)
		if (e->local[i].addr.sa.sa_family == AF_INET)
			r = covers(p, ((const struct sockaddr_in *)&e->local[i].addr)->sin_addr, "an address of this node",
				   why, cap);
	unsigned k = links_remote_addrs(&n->links, false, a, MAX);
	k += links_remote_addrs(&n->links, true, a + k, MAX - k);
	for (unsigned i = 0; i < n->links.n && k < MAX; i++)
		if (n->links.l[i]->have_path)
			a[k++] = n->links.l[i]->endpoint;
	for (unsigned i = 0; i < k && !r; i++)
		r = covers(p, a[i].sin_addr, "a peer's underlay address", why, cap);
	if (!r && n->bases.stun_server.sin_family == AF_INET)
		r = covers(p, n->bases.stun_server.sin_addr, "the STUN server", why, cap);
	if (!r && relay_server(&n->bases, &srv))
		r = covers(p, srv.sin_addr, "the TURN server", why, cap);
	for (unsigned i = 0; i < n->conf->n_xmpp_hosts && !r; i++)
		if (inet_pton(AF_INET, n->conf->xmpp_hosts[i].host, &x) == 1)
			r = covers(p, x, "an XMPP server", why, cap);
	return r;
}

static void own_ip4(struct node *n, struct link *l, bool was_routed, struct in_addr was4)
{
	char why[LINK_NET_WHY_LEN], ip[INET_ADDRSTRLEN];
	struct ip_prefix p;

	ip_prefix_from_addr(&p, AF_INET, &l->ip4);
	l->route4 = l->ip4;
	const char *r = conflict(n, l, &p, why, sizeof(why));
	int rc = r ? -EEXIST : prefix_table_insert(&n->dp.pt, &p, l);
	l->routed = rc == 0;
	if (l->routed || (!was_routed && was4.s_addr == l->ip4.s_addr && was4.s_addr))
		return; /* owned, or refused before and logged then */
	log_warn("peer %s: virtual address %s not routed: %s", l->jid, inet_ntop(AF_INET, &l->ip4, ip, sizeof(ip)),
		 r ? r : strerror(-rc));
}

/* Why the peer's announced ip6 is not owned for it, or NULL. The trust
 * rules judged it already (usable, inside ip6/ip6_mask, not ours, not
 * another member's); what is left is a node without ip6, and an overlap
 * with another peer's entry (one of its routes). */
static const char *ip6_refusal(struct node *n, const struct link *l, char *why, size_t cap)
{
	struct ip_prefix p;

	if (!n->conf->has_ip6) {
		snprintf(why, cap, "this node has no ip6");
		return why;
	}
	ip_prefix_from_addr(&p, AF_INET6, &l->net.ip6);
	return conflict(n, l, &p, why, cap);
}

static void own_ip6(struct node *n, struct link *l, const struct link_owned *old)
{
	char why[LINK_NET_WHY_LEN], ip[INET6_ADDRSTRLEN];
	struct ip_prefix p;

	if (!l->net.has_ip6)
		return;
	inet_ntop(AF_INET6, &l->net.ip6, ip, sizeof(ip));
	const char *r = ip6_refusal(n, l, why, sizeof(why));
	ip_prefix_from_addr(&p, AF_INET6, &l->net.ip6);
	int rc = r ? 0 : prefix_table_insert(&n->dp.pt, &p, l);
	if (!r && rc < 0)
		r = strerror(-rc);
	if (r) {
		snprintf(l->own.ip6_why, sizeof(l->own.ip6_why), "%s", r);
		if (strcmp(old->ip6_why, r) == 0)
			return;
		if (n->conf->has_ip6)
			log_warn("peer %s: IPv6 address %s not owned: %s; IPv4 only", l->jid, ip, r);
		else
			log_info("peer %s: announces IPv6 address %s; %s: IPv4 only", l->jid, ip, r);
		return;
	}
	l->own.ip6 = true;
	if (!old->ip6)
		log_info("peer %s: IPv6 address %s", l->jid, ip);
}

static int find_prefix(const struct ip_prefix *arr, unsigned n, const struct ip_prefix *p)
{
	for (unsigned i = 0; i < n; i++)
		if (ip_prefix_equal(&arr[i], p))
			return (int)i;
	return -1;
}

static bool refused_before(const struct link_owned *old, const struct ip_prefix *p, const char *why)
{
	for (unsigned i = 0; i < old->n_refused; i++)
		if (ip_prefix_equal(&old->refused[i].prefix, p))
			return strcmp(old->refused[i].why, why) == 0;
	return false;
}

/* node_conf_route_refusal's reasons start with the prefix ("P is not
 * authorised ...", "P: ..."); the log line and ipopctl name it already. */
static const char *without_prefix(const char *why, const struct ip_prefix *p)
{
	char a[IP_PREFIX_STRLEN];
	size_t n = strlen(ip_prefix_format(p, a));

	if (strncmp(why, a, n) != 0)
		return why;
	why += n;
	if (why[0] == ':')
		why++;
	return why + (why[0] == ' ');
}

static void own_route(struct node *n, struct link *l, const struct ip_prefix *p, const struct link_owned *old)
{
	char buf[LINK_NET_WHY_LEN], bare[XMPP_JID_MAX], a[IP_PREFIX_STRLEN];
	const char *r = node_conf_route_refusal(n->conf, bare_of(l, bare, sizeof(bare)), p, buf, sizeof(buf));

	if (r)
		r = without_prefix(r, p);
	if (!r)
		r = underlay(n, p, buf, sizeof(buf));
	if (!r)
		r = conflict(n, l, p, buf, sizeof(buf));
	int rc = r ? 0 : prefix_table_insert(&n->dp.pt, p, l);
	if (!r && rc < 0)
		r = strerror(-rc);
	ip_prefix_format(p, a);
	if (r) {
		struct link_refused *f = &l->own.refused[l->own.n_refused++];
		f->prefix = *p;
		snprintf(f->why, sizeof(f->why), "%s", r);
		if (!refused_before(old, p, f->why))
			log_warn("peer %s: route %s refused: %s", l->jid, a, f->why);
		return;
	}
	l->own.routes[l->own.n_routes++] = *p;
	if (find_prefix(old->routes, old->n_routes, p) < 0)
		log_info("peer %s: route %s installed", l->jid, a);
}

/* Kernel routes follow the installed ones: gone ones deleted (if we added
 * them), new ones added; a route the kernel has already is left alone. */
static void kernel_routes(struct node *n, struct link *l, const struct link_owned *old)
{
	char a[IP_PREFIX_STRLEN];

	for (unsigned i = 0; i < old->n_routes; i++) {
		if (find_prefix(l->own.routes, l->own.n_routes, &old->routes[i]) >= 0)
			continue;
		if (old->kroute[i])
			tun_route_del(&n->dp.tun, &old->routes[i]);
		if (find_prefix(l->net.routes, l->net.n_routes, &old->routes[i]) < 0)
			log_info("peer %s: route %s withdrawn", l->jid, ip_prefix_format(&old->routes[i], a));
	}
	for (unsigned i = 0; i < l->own.n_routes; i++) {
		const struct ip_prefix *p = &l->own.routes[i];
		int k = find_prefix(old->routes, old->n_routes, p);
		if (k >= 0) {
			l->own.kroute[i] = old->kroute[k];
			continue;
		}
		int rc = tun_route_add(&n->dp.tun, p);
		l->own.kroute[i] = rc == 0;
		if (rc == -EEXIST)
			log_warn("peer %s: route %s: the kernel has a route for it already, left alone (packets for it "
				 "go where that route says)", l->jid, ip_prefix_format(p, a));
		else if (rc < 0)
			log_warn("peer %s: route %s: cannot add it to %s: %s", l->jid, ip_prefix_format(p, a),
				 n->dp.tun.name, strerror(-rc));
	}
}

void node_routes_peer(struct node *n, struct link *l)
{
	struct link_owned old = l->own;
	bool was_routed = l->routed;
	struct in_addr was4 = l->route4;

	prefix_table_remove_owner(&n->dp.pt, l);
	memset(&l->own, 0, sizeof(l->own));
	own_ip4(n, l, was_routed, was4);
	own_ip6(n, l, &old);
	for (unsigned i = 0; i < l->net.n_routes; i++)
		own_route(n, l, &l->net.routes[i], &old);
	kernel_routes(n, l, &old);
}

static bool wants_more(const struct link *l)
{
	return l->have_info && (!l->routed || l->own.n_refused || (l->net.has_ip6 && !l->own.ip6));
}

void node_routes_drop(struct node *n, struct link *l)
{
	for (unsigned i = 0; i < l->own.n_routes; i++)
		if (l->own.kroute[i])
			tun_route_del(&n->dp.tun, &l->own.routes[i]);
	prefix_table_remove_owner(&n->dp.pt, l);
	memset(&l->own, 0, sizeof(l->own));
	l->routed = false;
	if (atomic_load(&n->stop))
		return;
	/* What l held may now go to a peer that was refused it. */
	for (unsigned i = 0; i < n->links.n; i++)
		if (n->links.l[i] != l && wants_more(n->links.l[i]))
			node_routes_peer(n, n->links.l[i]);
}

static bool sysctl_on(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = 0;

	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

void node_routes_start(const struct node_conf *c)
{
	char list[NODE_CONF_MAX_ROUTES * (IP_PREFIX_STRLEN + 1)] = "", a[IP_PREFIX_STRLEN];
	bool v4 = false, v6 = false;
	size_t len = 0;

	for (unsigned i = 0; i < c->n_routes; i++) {
		v4 |= c->routes[i].family == AF_INET;
		v6 |= c->routes[i].family == AF_INET6;
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? " " : "",
					ip_prefix_format(&c->routes[i], a));
	}
	if (!c->n_routes)
		return;
	log_info("routes: this node advertises %s (the other members install them where accept_routes allows)",
		 list);
	if (v4 && !sysctl_on("/proc/sys/net/ipv4/ip_forward"))
		log_warn("routes: IPv4 forwarding is off, so the overlay cannot reach the IPv4 routes through this "
			 "node: run sysctl -w net.ipv4.ip_forward=1 (ipopd changes no sysctl and no firewall rule)");
	if (v6 && !sysctl_on("/proc/sys/net/ipv6/conf/all/forwarding"))
		log_warn("routes: IPv6 forwarding is off, so the overlay cannot reach the IPv6 routes through this "
			 "node: run sysctl -w net.ipv6.conf.all.forwarding=1 (ipopd changes no sysctl and no firewall "
			 "rule)");
}
