/* ipopd: the daemon's life and its loop (see node.h).
 *
 * Two threads:
 *  - signalling (xmpp/xmpp_thread.c): libstrophe alone on its thread;
 *    what it hears comes to the data thread as typed messages through a
 *    queue whose eventfd is on the data thread's loop.
 *  - data/control (the caller of node_run): one event loop over the TUN,
 *    the UDP socket, the signalling queue, the control socket, and the
 *    sockets the bases and social mode register themselves; a timerfd
 *    for the earliest deadline of the links, the bases and the control
 *    server. All link state (ICE agents, Noise sessions, routing) belongs
 *    to this thread, so none of it is locked.
 *
 * Node id: the first 20 bytes of BLAKE2b(static public key), so it is
 * stable as long as the key file is, needs no extra state file, and a
 * peer's id can be checked against the XMPP resource "ipop-<id hex>" it
 * speaks from.
 *
 * Links stay up while XMPP is down: a lost XMPP connection removes no link.
 * Only an explicit "unavailable" presence (received while connected), a
 * "bye", or a link failure ends a link. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ctl_server.h"
#include "log.h"
#include "node.h"

enum { NODE_SCRATCH = 2048 };
_Static_assert((int)NODE_CONF_MAX_ROUTES <= (int)SIGNAL_MAX_ROUTES, "our routes fit one signalling message");

int64_t node_wall_s_of(uint64_t mono_ms)
{
	uint64_t now = evloop_now_ms();
	int64_t wall_ms = (int64_t)(evloop_wall_ns() / 1000000u);
	return (wall_ms - (int64_t)(now - mono_ms)) / 1000;
}

static void set_wall_offset(struct node *n, uint64_t now_ms)
{
	n->links.env.wall_offset_ns = (int64_t)evloop_wall_ns() - (int64_t)(now_ms * 1000000u);
}

/* Every descriptor "none", so that node_free is safe after a failed
 * node_init at any step. */
static void preinit(struct node *n)
{
	memset(n, 0, sizeof(*n));
	n->loop.epfd = n->loop.timerfd = -1;
	n->sig.to_data.evfd = n->sig.to_sig.evfd = -1;
	n->bases.udp_fd = n->bases.nl_fd = n->bases.relay.fd = -1;
	n->social.dns_fd = -1;
	for (unsigned i = 0; i < sizeof(n->dp.tun.fds) / sizeof(n->dp.tun.fds[0]); i++)
		n->dp.tun.fds[i] = -1;
}

/* State that needs no system resource: identity, tables. */
static int init_state(struct node *n, struct node_conf *conf)
{
	struct link_env *e = &n->links.env;
	int rc;

	n->conf = conf;
	n->start_ms = evloop_now_ms();
	atomic_init(&n->stop, false);
	if ((rc = evloop_init(&n->loop)) < 0 || (rc = xmpp_thread_init(&n->sig)) < 0)
		return rc;
	friends_init(&n->friends);
	crypto_generichash(n->id, SIGNAL_ID_LEN, n->kp.pub, NOISE_KEY_LEN, NULL, 0);
	sodium_bin2hex(n->idhex, sizeof(n->idhex), n->id, SIGNAL_ID_LEN);
	snprintf(n->resource, sizeof(n->resource), "%s%s", XMPP_IPOP_RESOURCE_PREFIX, n->idhex);
	snprintf(n->xmpp_jid, sizeof(n->xmpp_jid), "%s", conf->xmpp_username);
	noise_local_init(&n->noise, &n->kp, n->start_ms);
	/* IPOP_COOKIE=0: no cookie replies under load (bench/node_flood's
	 * "without" case); the global bucket alone limits handshakes then */
	const char *ck = getenv("IPOP_COOKIE");
	n->noise.cookies = !(ck && strcmp(ck, "0") == 0);
	if (!n->noise.cookies)
		log_warn("IPOP_COOKIE=0: handshakes under load get no cookie replies");
	n->social_on = conf->mode == NODE_MODE_SOCIAL;
	links_init(&n->links);
	memcpy(e->self_id, n->id, SIGNAL_ID_LEN);
	memcpy(e->self_key, n->kp.pub, SIGNAL_KEY_LEN);
	e->self_ip4 = conf->ip4;
	e->has_ip6 = conf->has_ip6; /* never in social mode (node_conf) */
	e->self_ip6 = conf->ip6;
	e->n_routes = conf->n_routes;
	memcpy(e->routes, conf->routes, conf->n_routes * sizeof(conf->routes[0]));
	e->social = n->social_on;
	e->need_direct = !n->social_on && !conf->multihop;
	e->noise = &n->noise;
	e->slot_cap = dp_slot_cap(conf);
	/* A full-size check is as big as the largest data datagram. */
	e->full_size = conf->full_size_checks ? (uint16_t)(conf->mtu + TUNNEL_DATA_HEADER_LEN + TUNNEL_TAG_LEN) : 0;
	e->prime_ttl = (uint8_t)conf->nat_prime_ttl;
	e->hard_sockets = conf->hard_nat_sockets;
	e->hard_ports = conf->hard_nat_ports;
	set_wall_offset(n, n->start_ms);
	n->scratch_cap = e->slot_cap + 256 > NODE_SCRATCH ? e->slot_cap + 256 : NODE_SCRATCH;
	n->scratch = malloc(n->scratch_cap);
	return n->scratch ? 0 : -ENOMEM;
}

static void on_sig_queue(void *ctx, uint32_t events, uint64_t now_ms)
{
	(void)events;
	node_sig_input(ctx, now_ms);
}

int node_init(struct node *n, struct node_conf *conf, uint16_t udp_port)
{
	struct ice_cand c[ICE_MAX_LOCAL];
	int rc;

	struct noise_keypair kp = n->kp; /* main() loaded it */

	preinit(n);
	n->kp = kp;
	sodium_memzero(&kp, sizeof(kp));
	if ((rc = init_state(n, conf)) < 0 || (rc = node_trust_open(n)) < 0 || (rc = node_overlay_init(n)) < 0 ||
	    (rc = dp_open(&n->dp, conf, &n->links)) < 0)
		return rc;
	if (n->social_on && (rc = social_init(&n->social, conf, &n->friends, &n->loop)) < 0)
		return rc;
	if ((rc = bases_open(&n->bases, conf, n->dp.tun.name, &n->loop, n->dp.slot_cap, udp_port, &node_bases_ops)) < 0)
		return rc;
	n->bases.ops.ctx = n;
	unsigned k = bases_local_cands(&n->bases, c, ICE_MAX_LOCAL);
	links_set_local(&n->links, c, k, n->bases.nhosts, false, n->start_ms);
	if ((rc = dp_start(&n->dp, &n->bases, n->social_on ? &n->social : NULL, n->social_on ? NULL : &n->ov,
			   &n->members, &n->loop)) < 0)
		return rc;
	if (n->social_on && conf->social_dns)
		social_dns_open(&n->social);
	if ((rc = evloop_add(&n->loop, n->sig.to_data.evfd, EPOLLIN, on_sig_queue, n)) < 0 ||
	    (rc = node_ctl_open(n)) < 0 || (rc = node_metrics_open(n)) < 0)
		return rc;
	node_routes_start(conf);
	log_info("node id %s, xmpp %s/%s", n->idhex, conf->xmpp_username, n->resource);
	return 0;
}

static int start_signalling(struct node *n)
{
	const struct node_conf *c = n->conf;
	struct xmpp_sig_conf sc = {
		.jid = n->xmpp_jid,
		.password = c->xmpp_password,
		.port = c->xmpp_port,
		.tls = c->xmpp_tls == NODE_TLS_OFF	? XMPP_TLS_OFF
		       : c->xmpp_tls == NODE_TLS_OPTIONAL ? XMPP_TLS_OPTIONAL
							  : XMPP_TLS_REQUIRED,
		.tls_verify = true,
		.ca_file = c->xmpp_ca_file,
		.resource = n->resource,
		.auto_accept = c->auto_accept,
		.n_auto_accept = c->n_auto_accept,
		.ext_services = c->xmpp_services,
		.presence = n->social_on ? NULL : &n->presence,
	};
	for (unsigned i = 0; i < c->n_xmpp_hosts && i < XMPP_SERVERS_MAX; i++) {
		struct xmpp_server *s = &sc.servers[sc.n_servers++];
		snprintf(s->host, sizeof(s->host), "%s", c->xmpp_hosts[i].host);
		s->port = c->xmpp_hosts[i].port; /* 0: xmpp_port */
	}
	return xmpp_thread_start(&n->sig, &sc);
}

/* Runs what is due; returns the earliest deadline of what remains. */
static uint64_t run_timers(struct node *n, uint64_t now_ms)
{
	set_wall_offset(n, now_ms);
	bases_handle_timeout(&n->bases, now_ms);
	node_overlay_tick(n, now_ms);
	uint64_t d = links_handle_timeout(&n->links, now_ms);
	uint64_t od = node_overlay_deadline(n);
	if (od < d)
		d = od;
	uint64_t bd = bases_next_deadline(&n->bases);
	if (bd < d)
		d = bd;
	uint64_t td = node_trust_tick(n, now_ms);
	if (td < d)
		d = td;
	if (n->ctl) {
		if (now_ms >= ctl_server_next_deadline(n->ctl))
			ctl_server_handle(n->ctl, now_ms);
		uint64_t cd = ctl_server_next_deadline(n->ctl);
		if (cd < d)
			d = cd;
	}
	return d;
}

/* Deadlines the pump may have moved (a link that changed state). */
static uint64_t earliest(const struct node *n, uint64_t d)
{
	for (unsigned i = 0; i < n->links.n; i++)
		if (n->links.l[i]->deadline_ms < d)
			d = n->links.l[i]->deadline_ms;
	return d;
}

int node_run(struct node *n)
{
	int rc;

	if ((rc = start_signalling(n)) < 0)
		return rc;
	bases_start(&n->bases, evloop_now_ms());
	while (!atomic_load(&n->stop)) {
		uint64_t now = evloop_now_ms();
		uint64_t d = run_timers(n, now);
		node_pump(n, now);
		rc = evloop_run_once(&n->loop, earliest(n, d));
		if (rc < 0)
			return rc;
		dp_tun_flush(&n->dp); /* packets a relay stream or a timer delivered */
		node_pump(n, evloop_now_ms());
	}
	node_say_bye_all(n);
	if (trust_dirty(&n->trust))
		node_trust_save(n);
	return 0;
}

void node_request_stop(struct node *n)
{
	uint64_t one = 1;

	atomic_store(&n->stop, true);
	if (n->sig.to_data.evfd >= 0 && write(n->sig.to_data.evfd, &one, sizeof(one)) < 0) {
		/* saturated: the loop is awake anyway */
	}
}

void node_free(struct node *n)
{
	atomic_store(&n->stop, true);
	node_metrics_close(n); /* its thread reads nothing of ours, but waits for the loop */
	xmpp_thread_stop(&n->sig);
	while (n->links.n)
		node_remove_link(n, n->links.l[0], "shutdown");
	dp_close(&n->dp);
	bases_close(&n->bases);
	if (n->social_on)
		social_free(&n->social);
	node_overlay_free(n);
	friends_free(&n->friends);
	trust_free(&n->trust);
	ctl_server_free(n->ctl);
	n->ctl = NULL;
	xmpp_thread_free(&n->sig);
	evloop_free(&n->loop);
	free(n->scratch);
	n->scratch = NULL;
	sodium_memzero(&n->kp, sizeof(n->kp));
	sodium_memzero(&n->noise, sizeof(n->noise));
}
