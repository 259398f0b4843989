/* ipopd's /metrics: snapshots made on the data thread on request, written
 * out on the HTTP thread (see node_metrics.h). */
#include "node_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics_http.h"
#include "node.h"

struct node_metrics {
	struct node *n;           /* read by the data thread only */
	struct metrics_http *http;
	int req_fd, done_fd;      /* HTTP thread -> data thread, and back */
	_Atomic uint64_t req_gen; /* the snapshot asked for */
	_Atomic(struct node_metrics_snap *) slot; /* the last one made */
	uint64_t gen;             /* HTTP thread only */
	int64_t start_unix;
};

static const char *const drop_names[NODE_DROP_N] = {
	[NODE_DROP_NO_ROUTE] = "no_route",
	[NODE_DROP_BAD_SOURCE] = "bad_source",
	[NODE_DROP_UNTRANSLATABLE] = "untranslatable",
	[NODE_DROP_LINK_LOCAL] = "link_local",
	[NODE_DROP_BAD_PACKET] = "bad_packet",
	[NODE_DROP_UNKNOWN_SESSION] = "unknown_session",
	[NODE_DROP_BAD_TUN_PACKET] = "bad_tun_packet",
	[NODE_DROP_TRUNCATED] = "truncated",
	[NODE_DROP_SEND_FAILED] = "send_failed",
	[NODE_DROP_TUN_WRITE] = "tun_write_failed",
};

const char *node_drop_name(enum node_drop d)
{
	return (unsigned)d < NODE_DROP_N ? drop_names[d] : "?";
}

_Static_assert(sizeof(((struct node_path_tally *)0)->rx_bytes) / sizeof(uint64_t) == NODE_METRICS_PATHS,
	       "a tally per path");

void node_metrics_fold(struct node *n, struct link *l)
{
	struct node_path_tally *t = &n->tally;
	int p = l->acct.path;

	t->rx_bytes[p] += l->rx_bytes - l->acct.rx_bytes;
	t->tx_bytes[p] += l->tx_bytes - l->acct.tx_bytes;
	t->rx_packets[p] += l->rx_packets - l->acct.rx_packets;
	t->tx_packets[p] += l->tx_packets - l->acct.tx_packets;
	l->acct.rx_bytes = l->rx_bytes;
	l->acct.tx_bytes = l->tx_bytes;
	l->acct.rx_packets = l->rx_packets;
	l->acct.tx_packets = l->tx_packets;
	l->acct.path = (int)node_ctl_path(l);
}

/* ---- the data thread: a snapshot ---- */

static void bare_of(const char *jid, char *out, size_t cap)
{
	size_t k = strcspn(jid, "/");
	snprintf(out, cap, "%.*s", (int)(k < cap ? k : cap - 1), jid);
}

static void fill_peer(struct node *n, struct link *l, struct node_metrics_peer *o, uint64_t now_ms,
		      struct ctl_peer_status *tmp)
{
	memset(tmp, 0, sizeof(*tmp));
	node_ctl_fill_peer(n, l, tmp, now_ms);
	bare_of(tmp->jid, o->jid, sizeof(o->jid));
	memcpy(o->node_id, tmp->node_id, sizeof(o->node_id));
	if (tmp->ip4.s_addr)
		inet_ntop(AF_INET, &tmp->ip4, o->addr, sizeof(o->addr));
	o->state = tmp->state;
	o->path = tmp->path;
	o->has_rtt = tmp->has_rtt;
	o->rtt_us = tmp->rtt_us;
	o->rtt_age_ms = tmp->rtt_age_ms;
	o->rx_bytes = tmp->rx_bytes;
	o->tx_bytes = tmp->tx_bytes;
	o->rx_packets = tmp->rx_packets;
	o->tx_packets = tmp->tx_packets;
	o->last_handshake = tmp->last_handshake;
	o->handshake_age_ms = l->last_handshake_ms ? now_ms - l->last_handshake_ms : 0;
}

static void fill_counters(struct node *n, struct node_metrics_snap *s)
{
	const struct dp_counters *d = &n->dp.cnt;

	for (int p = 0; p < NODE_METRICS_PATHS; p++) {
		s->rx_bytes[p] = n->tally.rx_bytes[p];
		s->tx_bytes[p] = n->tally.tx_bytes[p];
		s->rx_packets[p] = n->tally.rx_packets[p];
		s->tx_packets[p] = n->tally.tx_packets[p];
	}
	s->drops[NODE_DROP_NO_ROUTE] = s->st.drop_no_route;
	s->drops[NODE_DROP_BAD_SOURCE] = s->st.drop_bad_source;
	s->drops[NODE_DROP_UNTRANSLATABLE] = s->st.drop_untranslatable;
	s->drops[NODE_DROP_LINK_LOCAL] = s->st.drop_link_local;
	s->drops[NODE_DROP_BAD_PACKET] = d->tunnel_bad;
	s->drops[NODE_DROP_UNKNOWN_SESSION] = n->links.unknown_index;
	s->drops[NODE_DROP_BAD_TUN_PACKET] = d->tun_rx_bad + d->tun_split_bad;
	s->drops[NODE_DROP_TRUNCATED] = d->udp_rx_trunc + n->bases.cnt.relay_rx_trunc;
	s->drops[NODE_DROP_SEND_FAILED] = d->udp_tx_err + n->bases.cnt.udp_tx_err;
	s->drops[NODE_DROP_TUN_WRITE] = d->tun_tx_err;
	s->hs_completed = n->links.hs_completed;
	s->hs_rejected = n->links.hs_rejected;
}

static struct node_metrics_snap *snapshot(struct node_metrics *m, uint64_t gen)
{
	struct node *n = m->n;
	uint64_t now_ms = evloop_now_ms();
	struct node_metrics_snap *s = calloc(1, sizeof(*s) + n->links.n * sizeof(s->peers[0]));
	struct ctl_peer_status *tmp = malloc(sizeof(*tmp));

	if (!s || !tmp) {
		free(s);
		free(tmp);
		return NULL;
	}
	s->gen = gen;
	s->version = IPOPD_VERSION;
	s->start_unix = m->start_unix;
	s->process = true;
	node_ctl_fill_status(n, &s->st);
	bare_of(n->conf->xmpp_username, s->bare_jid, sizeof(s->bare_jid));
	s->relay_allocated = s->st.relay_addr.ss_family != AF_UNSPEC;
	for (unsigned i = 0; i < n->links.n; i++) {
		struct link *l = n->links.l[i];
		node_metrics_fold(n, l); /* the totals include every packet counted so far */
		fill_peer(n, l, &s->peers[i], now_ms, tmp);
	}
	s->npeers = n->links.n;
	fill_counters(n, s);
	free(tmp);
	return s;
}

static void on_request(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct node_metrics *m = ctx;
	uint64_t v;

	(void)events;
	(void)now_ms;
	if (read(m->req_fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: already answered */
	struct node_metrics_snap *s = snapshot(m, atomic_load(&m->req_gen));
	if (!s)
		return; /* the scrape times out: a 500 */
	free(atomic_exchange(&m->slot, s)); /* one nobody took: its scrape timed out */
	v = 1;
	if (write(m->done_fd, &v, sizeof(v)) < 0) {
		/* saturated: the reader is awake anyway */
	}
}

/* ---- the HTTP thread: ask, wait, write ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct node_metrics_snap *fetch(struct node_metrics *m)
{
	uint64_t gen = ++m->gen, one = 1, v;
	uint64_t end = mono_ms() + NODE_METRICS_WAIT_MS;

	atomic_store(&m->req_gen, gen);
	if (write(m->req_fd, &one, sizeof(one)) < 0) {
		/* saturated: the data thread is woken anyway */
	}
	for (uint64_t now = mono_ms(); now < end; now = mono_ms()) {
		struct pollfd p = { .fd = m->done_fd, .events = POLLIN };
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		if (read(m->done_fd, &v, sizeof(v)) < 0)
			continue;
		struct node_metrics_snap *s = atomic_exchange(&m->slot, NULL);
		if (s && s->gen == gen)
			return s;
		free(s); /* an answer to an earlier scrape that gave up */
	}
	return NULL;
}

static int render(void *ctx, struct prom_buf *b)
{
	struct node_metrics_snap *s = fetch(ctx);

	if (!s)
		return -ETIMEDOUT;
	node_prom_write(b, s);
	free(s);
	return 0;
}

int node_metrics_open(struct node *n)
{
	struct node_metrics *m;
	int rc;

	if (!n->conf->metrics)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	n->metrics = m;
	m->n = n;
	m->start_unix = time(NULL) - (int64_t)((evloop_now_ms() - n->start_ms) / 1000);
	atomic_init(&m->req_gen, 0);
	atomic_init(&m->slot, NULL);
	m->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->req_fd < 0 || m->done_fd < 0)
		return -errno;
	if ((rc = evloop_add(&n->loop, m->req_fd, EPOLLIN, on_request, m)) < 0)
		return rc;
	m->http = metrics_http_start((const struct sockaddr *)&n->conf->metrics_addr, render, m);
	return m->http ? 0 : -EADDRNOTAVAIL; /* metrics_http logged why */
}

void node_metrics_close(struct node *n)
{
	struct node_metrics *m = n->metrics;

	if (!m)
		return;
	metrics_http_stop(m->http); /* first: its thread may be waiting for us */
	if (m->req_fd >= 0) {
		evloop_del(&n->loop, m->req_fd);
		close(m->req_fd);
	}
	if (m->done_fd >= 0)
		close(m->done_fd);
	free(atomic_load(&m->slot));
	free(m);
	n->metrics = NULL;
}
