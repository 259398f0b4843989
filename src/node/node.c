/* ipopd: the daemon's threads and its data/control loop.
 *
 * Two threads:
 *  - signalling: libstrophe is not thread-safe and runs its own select
 *    loop, so xmpp_signal lives alone on this thread, calling
 *    xmpp_sig_run() with a 50 ms timeout. Peer up/down, messages and XMPP
 *    state changes are pushed onto `inq` (a mutex-protected list) and the
 *    data thread is woken through an eventfd. Messages the data thread
 *    wants sent are pushed onto `outq`, which this thread drains on every
 *    iteration (so a message waits at most ~50 ms).
 *  - data/control (the caller of node_run): one epoll over the TUN fd, the
 *    one UDP socket (0.0.0.0:port, shared by ICE checks, the STUN binding
 *    and tunnel packets), a timerfd armed for the earliest deadline of any
 *    peer or of the STUN client, and the eventfd. All link state (ICE
 *    agents, Noise sessions, routing) belongs to this thread, so none of
 *    it is locked. Packets move in recvmmsg/sendmmsg batches through
 *    buffers allocated once at start.
 *
 * Node id: the first 20 bytes of BLAKE2b(static public key), so it is
 * stable as long as the key file is, needs no extra state file, and a
 * peer's id can be checked against the XMPP resource "ipop-<id hex>" it
 * speaks from.
 *
 * Links stay up while XMPP is down: a lost XMPP connection removes no peer.
 * Only an explicit "unavailable" presence (received while connected), a
 * "bye", or a link failure ends a link. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ctl_server.h"
#include "log.h"
#include "node.h"
#include "social.h"
#include "roam.h"

enum { SIG_RUN_TIMEOUT_MS = 50, EP_TUN = 1, EP_UDP, EP_TIMER, EP_EVENT, EP_CTL, EP_DNS, EP_NETMON };

/* node_ctl.c */
int node_ctl_status(void *ctx, struct ctl_node_status *st);
int node_ctl_peers(void *ctx, struct ctl_peer_status *arr, unsigned max);
int node_ctl_friends(void *ctx, struct ctl_friend_status *arr, unsigned max);
int node_ctl_friend_cmd(void *ctx, enum ctl_friend_cmd cmd, const char *jid, char *err, size_t errlen);

uint64_t node_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t node_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void node_hex(const uint8_t *b, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * len] = '\0';
}

static int unhex(const char *s, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < 2 * len; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return s[2 * len] == '\0' ? 0 : -EINVAL;
}

/* The node id in an ipop resource: "user@domain/ipop-<40 hex>". */
static int id_of_jid(const char *jid, uint8_t id[SIGNAL_ID_LEN])
{
	const char *slash = strchr(jid, '/');
	if (!slash || strncmp(slash + 1, XMPP_IPOP_RESOURCE_PREFIX, strlen(XMPP_IPOP_RESOURCE_PREFIX)) != 0)
		return -EINVAL;
	return unhex(slash + 1 + strlen(XMPP_IPOP_RESOURCE_PREFIX), id, SIGNAL_ID_LEN);
}

/* --- queues between the threads --- */

static void q_init(struct sig_queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	q->head = q->tail = NULL;
}

static void q_push(struct sig_queue *q, struct sig_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	pthread_mutex_unlock(&q->mu);
}

static struct sig_item *q_take_all(struct sig_queue *q)
{
	pthread_mutex_lock(&q->mu);
	struct sig_item *h = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	return h;
}

static void q_free_list(struct sig_item *it)
{
	while (it) {
		struct sig_item *nx = it->next;
		free(it);
		it = nx;
	}
}

static struct sig_item *item_new(enum sig_item_kind kind, const char *jid, const char *body, size_t len)
{
	struct sig_item *it = calloc(1, sizeof(*it) + len + 1);
	if (!it)
		return NULL;
	it->kind = kind;
	if (jid)
		snprintf(it->jid, sizeof(it->jid), "%s", jid);
	if (body)
		memcpy(it->body, body, len);
	it->len = len;
	return it;
}

static void wake(struct node *n)
{
	uint64_t one = 1;
	if (write(n->evfd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the data thread is awake anyway */
	}
}

/* --- signalling thread --- */

static void on_sig_peer(void *ctx, enum roster_event ev, const char *full_jid)
{
	struct node *n = ctx;
	enum sig_item_kind k = ev == ROSTER_PEER_UP ? SIG_PEER_UP : ev == ROSTER_PEER_DOWN ? SIG_PEER_DOWN : SIG_PEER_REVOKED;
	struct sig_item *it = item_new(k, full_jid, NULL, 0);
	if (it) {
		q_push(&n->inq, it);
		wake(n);
	}
}

static void on_sig_message(void *ctx, const char *full_jid, const char *body, size_t len)
{
	struct node *n = ctx;
	if (len > SIGNAL_MSG_MAX)
		return; /* signal_msg would refuse it anyway */
	struct sig_item *it = item_new(SIG_MESSAGE, full_jid, body, len);
	if (it) {
		q_push(&n->inq, it);
		wake(n);
	}
}

static void on_sig_state(void *ctx, enum xmpp_sig_state st)
{
	struct node *n = ctx;
	atomic_store(&n->xmpp_state, (int)st);
	struct sig_item *it = item_new(SIG_STATE, NULL, NULL, 0);
	if (it) {
		it->state = (int)st;
		q_push(&n->inq, it);
		wake(n);
	}
}

static void on_sig_friend(void *ctx, enum xmpp_friend_ev ev, const char *bare, enum roster_sub sub, bool ask)
{
	struct node *n = ctx;
	struct sig_item *it = item_new(SIG_FRIEND, bare, NULL, 0);
	if (it) {
		it->fr_ev = ev;
		it->fr_sub = sub;
		it->fr_ask = ask;
		q_push(&n->inq, it);
		wake(n);
	}
}

static void sig_outgoing(struct node *n, const struct sig_item *i)
{
	int rc;
	if (i->kind == SIG_FRIEND_CMD) {
		rc = xmpp_sig_friend(n->sig, (enum xmpp_friend_cmd)i->state, i->jid);
		if (rc != 0)
			log_warn("xmpp: friend command for %s not sent: %s", i->jid, strerror(-rc));
		return;
	}
	rc = xmpp_sig_send(n->sig, i->jid, i->body);
	if (rc != 0)
		log_info("xmpp: message to %s not sent: %s", i->jid, strerror(-rc));
}

void node_friend_cmd(struct node *n, enum xmpp_friend_cmd cmd, const char *bare)
{
	struct sig_item *it = item_new(SIG_FRIEND_CMD, bare, NULL, 0);
	if (it) {
		it->state = (int)cmd;
		q_push(&n->outq, it);
	}
}

static void *sig_main(void *arg)
{
	struct node *n = arg;
	const struct node_conf *c = n->conf;
	char jid[XMPP_JID_MAX];

	snprintf(jid, sizeof(jid), "%s", c->xmpp_username);
	struct xmpp_sig_conf sc = {
		.jid = jid,
		.password = c->xmpp_password,
		.host = c->xmpp_host,
		.port = c->xmpp_port,
		.tls = c->xmpp_tls == NODE_TLS_OFF ? XMPP_TLS_OFF
		       : c->xmpp_tls == NODE_TLS_OPTIONAL ? XMPP_TLS_OPTIONAL : XMPP_TLS_REQUIRED,
		.tls_verify = true,
		.ca_file = c->xmpp_ca_file,
		.resource = n->resource,
		.auto_accept = c->auto_accept,
		.n_auto_accept = c->n_auto_accept,
	};
	struct xmpp_sig_ops ops = { n, on_sig_peer, on_sig_message, on_sig_state, on_sig_friend };
	n->sig = xmpp_sig_new(&sc, &ops);
	if (!n->sig) {
		log_error("xmpp: cannot start the signalling module");
		return NULL;
	}
	while (!atomic_load(&n->sig_stop)) {
		if (atomic_exchange(&n->xmpp_probe, false))
			xmpp_sig_probe(n->sig);
		struct sig_item *it = q_take_all(&n->outq);
		for (struct sig_item *i = it; i; i = i->next)
			sig_outgoing(n, i);
		q_free_list(it);
		xmpp_sig_run(n->sig, node_now_ms(), SIG_RUN_TIMEOUT_MS);
	}
	/* Last words (bye) queued at shutdown. */
	struct sig_item *it = q_take_all(&n->outq);
	for (struct sig_item *i = it; i; i = i->next)
		sig_outgoing(n, i);
	q_free_list(it);
	xmpp_sig_run(n->sig, node_now_ms(), 100);
	xmpp_sig_free(n->sig);
	n->sig = NULL;
	return NULL;
}

void node_signal_send(struct node *n, const char *jid, const struct signal_msg *m)
{
	char body[SIGNAL_MSG_MAX + 1];
	int len = signal_msg_encode(m, body, sizeof(body));

	if (len < 0) {
		log_warn("signal: cannot encode %s for %s: %s", signal_kind_name(m->kind), jid,
			 signal_msg_check(m) ? signal_msg_check(m) : strerror(-len));
		return;
	}
	struct sig_item *it = item_new(SIG_SEND, jid, body, (size_t)len);
	if (it)
		q_push(&n->outq, it);
}

/* --- peers --- */

struct peer *node_peer_by_jid(struct node *n, const char *jid)
{
	for (unsigned i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i]->jid, jid) == 0)
			return n->peers[i];
	return NULL;
}

struct noise_peer *node_noise_lookup(void *ctx, const uint8_t static_pub[NOISE_KEY_LEN])
{
	struct node *n = ctx;
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		/* Only the key the peer's JID announced over XMPP authenticates. */
		if (p->have_info && sodium_memcmp(p->key, static_pub, NOISE_KEY_LEN) == 0)
			return &p->sess.noise;
	}
	return NULL;
}

uint32_t node_new_index(struct node *n)
{
	for (;;) {
		uint32_t idx = noise_index_random();
		bool used = idx == 0;
		for (unsigned i = 0; i < n->npeers && !used; i++) {
			const struct peer *p = n->peers[i];
			used = session_owns_index(&p->sess, idx) ||
			       (p->sess.noise.state == NOISE_PEER_INIT_SENT && p->sess.noise.hs_local_index == idx);
		}
		if (!used)
			return idx;
	}
}

void node_remove_peer(struct node *n, struct peer *p, const char *why)
{
	for (unsigned i = 0; i < n->npeers; i++) {
		if (n->peers[i] != p)
			continue;
		log_info("peer %s: link removed (%s)", p->jid, why);
		if (p->routed)
			routing_del(&n->rt, n->social ? p->map4 : p->ip4, p);
		if (n->idx_cache == p)
			n->idx_cache = NULL;
		n->peers[i] = n->peers[--n->npeers];
		if (n->social && p->routed)
			social_route_takeover(n, p->map4);
		peer_free(p);
		return;
	}
}

static struct peer *peer_get(struct node *n, const char *jid, uint64_t now_ms, bool create)
{
	uint8_t id[SIGNAL_ID_LEN];
	struct peer *p = node_peer_by_jid(n, jid);

	if (p || !create)
		return p;
	if (id_of_jid(jid, id) < 0) {
		log_warn("xmpp: %s is not an ipop-<node id> resource; ignored", jid);
		return NULL;
	}
	if (memcmp(id, n->id, SIGNAL_ID_LEN) == 0)
		return NULL; /* ourselves */
	if (n->npeers == NODE_MAX_PEERS) {
		log_warn("peer %s: %d links already; ignored", jid, NODE_MAX_PEERS);
		return NULL;
	}
	p = peer_new(n, jid, id, now_ms);
	if (p && n->social && !social_peer_attach(n, p)) {
		peer_free(p);
		return NULL;
	}
	if (p)
		n->peers[n->npeers++] = p;
	return p;
}

static void on_message(struct node *n, const char *jid, const char *body, size_t len, uint64_t now_ms)
{
	struct signal_msg m;
	uint8_t id[SIGNAL_ID_LEN];

	if (signal_msg_decode(&m, body, len) != 0) {
		n->cnt.sig_bad++;
		log_warn("signal: bad message from %s: %s", jid, m.error);
		return;
	}
	if (id_of_jid(jid, id) < 0 || memcmp(id, m.from, SIGNAL_ID_LEN) != 0) {
		n->cnt.sig_bad++;
		log_warn("signal: %s from %s claims another node id; dropped", signal_kind_name(m.kind), jid);
		return;
	}
	if (m.has_to && memcmp(m.to, n->id, SIGNAL_ID_LEN) != 0) {
		n->cnt.sig_not_for_us++;
		return;
	}
	if (m.kind == SIGNAL_BYE) {
		struct peer *p = node_peer_by_jid(n, jid);
		if (p)
			node_remove_peer(n, p, "bye received");
		return;
	}
	struct peer *p = peer_get(n, jid, now_ms, m.kind == SIGNAL_OFFER || m.kind == SIGNAL_HELLO);
	if (p)
		peer_on_signal(p, &m, now_ms);
}

static void on_xmpp_state(struct node *n, int state, uint64_t now_ms)
{
	log_info("xmpp: %s", xmpp_sig_state_name((enum xmpp_sig_state)state));
	if (state != XMPP_SIG_ONLINE)
		n->xmpp_epoch++;
	else
		roam_xmpp_online(n, now_ms);
}

static void on_peer_up(struct node *n, const char *jid, uint64_t now_ms)
{
	struct peer *p = peer_get(n, jid, now_ms, true);
	if (!p)
		return;
	/* Offline then back while XMPP stayed up: the peer restarted, so its
	 * link state is gone. */
	bool restarted = p->gone_ms != 0;
	p->gone_ms = 0;
	if (restarted)
		peer_restart(p, now_ms, "peer came back online");
	peer_online(p, now_ms);
}

static void on_peer_down(struct node *n, const char *jid, uint64_t now_ms)
{
	struct peer *p = node_peer_by_jid(n, jid);
	/* xmpp_signal reports "down" only for presence received while
	 * connected, but a server going down says "unavailable" for everyone
	 * first: wait a little and only end the link if XMPP stayed up
	 * meanwhile. */
	if (p && !p->gone_ms) {
		p->gone_ms = now_ms + NODE_GONE_GRACE_MS;
		p->gone_epoch = n->xmpp_epoch;
		p->deadline_ms = now_ms;
	}
}

static void drain_inq(struct node *n, uint64_t now_ms)
{
	struct sig_item *list = q_take_all(&n->inq);

	for (struct sig_item *it = list; it; it = it->next) {
		struct peer *p;
		switch (it->kind) {
		case SIG_STATE:
			on_xmpp_state(n, it->state, now_ms);
			break;
		case SIG_PEER_UP:
			on_peer_up(n, it->jid, now_ms);
			break;
		case SIG_PEER_DOWN:
			on_peer_down(n, it->jid, now_ms);
			break;
		case SIG_PEER_REVOKED:
			if ((p = node_peer_by_jid(n, it->jid)))
				node_remove_peer(n, p, "no longer a friend (subscription removed)");
			break;
		case SIG_FRIEND:
			friends_event(&n->friends, it->fr_ev, it->jid, it->fr_sub, it->fr_ask);
			break;
		case SIG_FRIEND_CMD:
			break;
		case SIG_MESSAGE:
			on_message(n, it->jid, it->body, it->len, now_ms);
			break;
		case SIG_SEND:
			break;
		}
	}
	q_free_list(list);
}

/* --- setup --- */

static int open_udp(struct node *n, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, sz = 4 << 20;
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	socklen_t sl = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	n->udp_port = ntohs(sin.sin_port);
	n->udp_fd = fd;
	return 0;
}

static int ep_add(struct node *n, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int alloc_slots(struct node *n)
{
	/* Room for the largest inner packet plus the tunnel overhead; bigger
	 * datagrams arrive truncated and are dropped. */
	n->slot_cap = NODE_HEADROOM + n->conf->mtu + TUNNEL_TAG_LEN + 64;
	if (n->slot_cap < 1500)
		n->slot_cap = 1500;
	n->ctl_cap = 2048;
	n->ctl_buf = malloc(n->ctl_cap);
	if (!n->ctl_buf)
		return -ENOMEM;
	int rc = node_offload_alloc(n);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < NODE_BATCH; i++)
		if (!(n->rx[i].buf = malloc(n->rx_cap)))
			return -ENOMEM;
	for (unsigned i = 0; i < NODE_TX_SEGS; i++)
		if (!(n->tx[i].buf = malloc(n->slot_cap)))
			return -ENOMEM;
	return 0;
}

/* State that needs no system resource: queues, tables, identity. */
static void init_state(struct node *n, struct node_conf *conf)
{
	n->conf = conf;
	n->udp_fd = n->epfd = n->timerfd = n->evfd = n->dns_fd = n->nl_fd = -1;
	n->start_ms = node_now_ms();
	atomic_init(&n->stop, false);
	atomic_init(&n->sig_stop, false);
	atomic_init(&n->xmpp_probe, false);
	atomic_init(&n->xmpp_state, XMPP_SIG_OFFLINE);
	q_init(&n->inq);
	q_init(&n->outq);
	routing_init(&n->rt);
	friends_init(&n->friends);
	crypto_generichash(n->id, SIGNAL_ID_LEN, n->kp.pub, NOISE_KEY_LEN, NULL, 0);
	node_hex(n->id, SIGNAL_ID_LEN, n->idhex);
	snprintf(n->resource, sizeof(n->resource), "%s%s", XMPP_IPOP_RESOURCE_PREFIX, n->idhex);
	noise_local_init(&n->noise, &n->kp, n->start_ms);
	n->social = conf->mode == NODE_MODE_SOCIAL;
}

/* The TUN device and the UDP socket, configured and logged. */
static int open_devices(struct node *n, const struct node_conf *conf, uint16_t udp_port)
{
	char ip[INET_ADDRSTRLEN], a[ADDR_STRLEN];
	int rc;

	if ((rc = node_offload_tun_open(n, conf->interface)) < 0) {
		log_error("tun: cannot open %s: %s", conf->interface, strerror(-rc));
		return rc;
	}
	if ((rc = tun_configure(&n->tun, conf->ip4, conf->ip4_mask, (int)conf->mtu)) < 0) {
		log_error("tun: cannot configure %s: %s", n->tun.name, strerror(-rc));
		return rc;
	}
	log_info("tun: %s up with %s/%u, mtu %u", n->tun.name, inet_ntop(AF_INET, &conf->ip4, ip, sizeof(ip)),
		 conf->ip4_mask, conf->mtu);
	if ((rc = open_udp(n, udp_port)) < 0) {
		log_error("udp: cannot bind port %u: %s", udp_port, strerror(-rc));
		return rc;
	}
	node_offload_udp(n);
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(n->udp_port) };
	log_info("udp: listening on %s", addr_format((struct sockaddr *)&any, true, a));
	return 0;
}

/* Optional sockets: the DNS responder, rtnetlink, the control socket. */
static int open_optional(struct node *n, const struct node_conf *conf)
{
	int rc;

	if (n->social && conf->social_dns && social_dns_open(n) == 0 && (rc = ep_add(n, n->dns_fd, EP_DNS)) < 0)
		return rc;
	if ((rc = netmon_open(n)) < 0)
		log_warn("netmon: no rtnetlink socket (%s); address changes are seen only through STUN",
			 strerror(-rc));
	else if ((rc = ep_add(n, n->nl_fd, EP_NETMON)) < 0)
		return rc;
	if (conf->control_socket) {
		static const struct ctl_ops ops = { node_ctl_status, node_ctl_peers, node_ctl_friends,
						    node_ctl_friend_cmd };
		n->ctl = ctl_server_new(conf->control_socket, &ops, n);
		if (!n->ctl)
			return -errno; /* ctl_server_new logged why */
		if ((rc = ep_add(n, ctl_server_fd(n->ctl), EP_CTL)) < 0)
			return rc;
		log_info("control socket %s", conf->control_socket);
	}
	return 0;
}

/* The epoll set: TUN, UDP, timer, eventfd; then the optional sockets. */
static int open_loop(struct node *n, const struct node_conf *conf)
{
	int rc;

	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	n->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->epfd < 0 || n->timerfd < 0 || n->evfd < 0)
		return -errno;
	if ((rc = ep_add(n, n->tun.fds[0], EP_TUN)) < 0 || (rc = ep_add(n, n->udp_fd, EP_UDP)) < 0 ||
	    (rc = ep_add(n, n->timerfd, EP_TIMER)) < 0 || (rc = ep_add(n, n->evfd, EP_EVENT)) < 0)
		return rc;
	if ((rc = relay_init(n)) < 0)
		return rc;
	gather_hosts(n);
	return open_optional(n, conf);
}

/* Crypto worker threads (crypto_pool.h), "crypto_threads" in the config. */
static int start_crypto(struct node *n, const struct node_conf *conf)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpool_workers_for(conf->crypto_threads, ncpus);
	int rc = cpool_init(&n->cpool, want);

	if (rc < 0) {
		log_error("crypto: cannot start %u worker threads: %s", want, strerror(-rc));
		return rc;
	}
	log_info("crypto: %u worker thread%s (crypto_threads %s%d, %ld CPUs)", want, want == 1 ? "" : "s",
		 conf->crypto_threads < 0 ? "auto, " : "", conf->crypto_threads < 0 ? (int)want : conf->crypto_threads,
		 ncpus);
	return 0;
}

int node_init(struct node *n, struct node_conf *conf, uint16_t udp_port)
{
	int rc;

	init_state(n, conf);
	if ((rc = alloc_slots(n)) < 0)
		return rc;
	if (n->social && (rc = social_init(n)) < 0)
		return rc;
	if ((rc = open_devices(n, conf, udp_port)) < 0 || (rc = open_loop(n, conf)) < 0)
		return rc;
	if ((rc = start_crypto(n, conf)) < 0)
		return rc;
	log_info("node id %s, xmpp %s/%s", n->idhex, conf->xmpp_username, n->resource);
	return 0;
}

static void arm_timer(struct node *n, uint64_t deadline, uint64_t *armed)
{
	if (deadline == *armed)
		return;
	*armed = deadline;
	struct itimerspec its = { 0 };
	if (deadline != UINT64_MAX) {
		/* 0 would disarm; an overdue deadline fires at the next ns */
		its.it_value.tv_sec = (time_t)(deadline / 1000);
		its.it_value.tv_nsec = (long)(deadline % 1000) * 1000000 + 1;
	}
	timerfd_settime(n->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static uint64_t run_timers(struct node *n, uint64_t now_ms)
{
	netmon_tick(n, now_ms);
	gather_tick(n, now_ms);
	relay_tick(n, now_ms);
	uint64_t d = gather_deadline(n), rd = relay_deadline(n);
	if (rd < d)
		d = rd;
	if (netmon_deadline(n) < d)
		d = netmon_deadline(n);
	if (n->ctl) {
		uint64_t cd = ctl_server_next_deadline(n->ctl);
		if (now_ms >= cd)
			ctl_server_handle(n->ctl, now_ms);
		cd = ctl_server_next_deadline(n->ctl);
		if (cd < d)
			d = cd;
	}
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p->gone_ms && p->gone_epoch != n->xmpp_epoch) {
			log_info("peer %s: offline presence came with an XMPP outage; link kept", p->jid);
			p->gone_ms = 0;
		}
		if (p->gone_ms && now_ms >= p->gone_ms) {
			node_remove_peer(n, p, "peer went offline");
			i--; /* the last peer moved into slot i */
			continue;
		}
		if (now_ms >= p->deadline_ms)
			peer_tick(p, now_ms);
		if (p->deadline_ms < d)
			d = p->deadline_ms;
		if (p->gone_ms && p->gone_ms < d)
			d = p->gone_ms;
	}
	return d;
}

static void drain_fd(int fd)
{
	uint64_t junk;
	if (read(fd, &junk, sizeof(junk)) < 0) {
		/* EAGAIN: somebody else read it; nothing to do */
	}
}

static void dispatch(struct node *n, const struct epoll_event *ev, uint64_t now, uint64_t *armed)
{
	switch (ev->data.u32) {
	case EP_TUN:
		send_from_tun(n, now);
		break;
	case EP_UDP:
		receive_udp(n, now);
		break;
	case EP_TIMER:
		drain_fd(n->timerfd);
		*armed = 0;
		break;
	case EP_EVENT:
		drain_fd(n->evfd);
		drain_inq(n, now);
		break;
	case EP_CTL:
		ctl_server_handle(n->ctl, now);
		break;
	case RELAY_EP_TAG:
		relay_on_stream(n, ev->events, now);
		break;
	case EP_DNS:
		social_dns_input(n);
		break;
	case EP_NETMON:
		netmon_input(n, now);
		break;
	}
}

static void say_bye_all(struct node *n)
{
	log_info("stopping: saying bye to %u peer(s)", n->npeers);
	for (unsigned i = 0; i < n->npeers; i++) {
		struct signal_msg m;
		memset(&m, 0, sizeof(m));
		m.kind = SIGNAL_BYE;
		memcpy(m.from, n->id, SIGNAL_ID_LEN);
		m.has_to = true;
		memcpy(m.to, n->peers[i]->id, SIGNAL_ID_LEN);
		node_signal_send(n, n->peers[i]->jid, &m);
	}
}

int node_run(struct node *n)
{
	struct epoll_event evs[8];
	uint64_t armed = 0;

	if (pthread_create(&n->sig_thread, NULL, sig_main, n) != 0)
		return -EAGAIN;
	n->sig_started = true;
	gather_stun_start(n, node_now_ms());
	relay_start(n, node_now_ms());
	while (!atomic_load(&n->stop)) {
		uint64_t d = run_timers(n, node_now_ms());
		arm_timer(n, d, &armed);
		int k = epoll_wait(n->epfd, evs, 8, -1);
		if (k < 0 && errno != EINTR)
			return -errno;
		uint64_t now = node_now_ms();
		for (int i = 0; i < k; i++)
			dispatch(n, &evs[i], now, &armed);
		node_tun_flush(n); /* packets a relay stream or timer delivered */
	}
	say_bye_all(n);
	return 0;
}

void node_request_stop(struct node *n)
{
	atomic_store(&n->stop, true);
	if (n->evfd >= 0)
		wake(n);
}

void node_free(struct node *n)
{
	atomic_store(&n->stop, true);
	atomic_store(&n->sig_stop, true);
	if (n->sig_started)
		pthread_join(n->sig_thread, NULL);
	if (n->cpool.nworkers)
		log_info("crypto: %llu batches (%llu packets) went through the %u workers",
			 (unsigned long long)n->cpool.batches, (unsigned long long)n->cpool.parallel_jobs,
			 n->cpool.nworkers);
	cpool_free(&n->cpool);
	while (n->npeers)
		node_remove_peer(n, n->peers[0], "shutdown");
	q_free_list(q_take_all(&n->inq));
	q_free_list(q_take_all(&n->outq));
	for (unsigned i = 0; i < NODE_BATCH; i++)
		free(n->rx[i].buf);
	for (unsigned i = 0; i < NODE_TX_SEGS; i++)
		free(n->tx[i].buf);
	relay_free(n);
	node_offload_free(n);
	free(n->ctl_buf);
	if (n->social)
		social_free(n);
	friends_free(&n->friends);
	ctl_server_free(n->ctl);
	n->ctl = NULL;
	tun_close(&n->tun);
	netmon_close(n);
	int fds[] = { n->udp_fd, n->epfd, n->timerfd, n->evfd };
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sodium_memzero(&n->kp, sizeof(n->kp));
	sodium_memzero(&n->noise, sizeof(n->noise));
}
