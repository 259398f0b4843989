#include "turn_worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "addr.h"
#include "log.h"
#include "stats_pub.h"
#include "turn_conf.h"
#include "turn_moderation.h"
#include "turn_relay.h"
#include "turn_rxq.h"
#include "turn_udp_ring.h"
#include "turn_udp_tx.h"
#include "udp_gro.h"

enum {
	BATCH = 64,          /* messages per recvmmsg (a message may be a GRO train) */
	SLOT = 4096,         /* bytes per received datagram; larger ones are dropped */
	/* bytes per received message; the odd 320 keeps the slots' first
	 * lines (all that a small datagram touches) from sharing cache sets */
	MSG_SLOT = UDP_GRO_MSG_MAX + 320,
	RX_ROUNDS = 4,       /* recvmmsg calls per readiness event, for fairness */
	ACCEPTS = 64,        /* accepts per readiness event */
	MAX_EVENTS = 256,
	SWEEP_MS = 1000,     /* housekeeping: tick, idle connections, stats */
	PUBLISH_MS = 100,    /* counters are published this often while busy */
	CMSG_BYTES = 96,     /* fits in6_pktinfo (40) + UDP_GRO (24) */
	/* Receive moderation: while datagrams come densely (turn_mod_dense)
	 * AND the iteration's sends merged into UDP GSO runs, the loop sleeps
	 * conf->rx_moderation_us before it polls again, so one wakeup and one
	 * GSO run carry several times more datagrams. A sparse flow (pings,
	 * interactive traffic, a light load bunched by a busy CPU) never waits.
	 * Nor does load spread over many light flows: their datagrams go to
	 * different relay sockets and peers, never merge, and waiting would
	 * only add latency (issue 14: 385 us median against coturn's 35 us). */
	/* The io_uring loop (turn_udp_ring.h): requests in flight at once,
	 * receive buffers (each a whole GRO train) shared by the UDP
	 * listeners, and events handled per wakeup. */
	RING_DEPTH = 128,
	RING_BUFS = 64,
	RING_EVENTS = 128,
	RING_ERRS_MAX = 8,   /* failed receives in a row before a listener goes back to epoll */
	/* messages a multishot receive hands over per run before the kernel
	 * queues it again (io_uring's MULTISHOT_MAX_RETRY): a wakeup that
	 * got this many has more waiting */
	RING_MSHOT_RUN = 32,
	RING_ROUNDS = 8,     /* such runs read per wakeup: 256 messages, as RX_ROUNDS x BATCH */
	RING_TAG_EPOLL = 1,  /* the poll on the epoll set; other tags point at a listener */
};

enum ev_kind { EV_UDP, EV_TCP_LISTEN, EV_TLS_LISTEN, EV_RELAY, EV_STREAM, EV_STOP };

/* Every epoll registration points at one of these, first member of its
 * object; fd < 0 marks an object closed during the current iteration. */
struct wev {
	uint8_t kind;
	int fd;
	uint32_t rxq_seen;   /* UDP: the socket's drop count last seen (turn_rxq.h) */
};

struct listener {
	struct wev ev;
	bool pktinfo;                  /* wildcard UDP address: learn/set the source */
	bool in_ring;                  /* UDP: received through the ring, not epoll */
	uint8_t ring_errs;             /* receives that failed in a row */
	struct sockaddr_storage addr;
};

struct relay {
	struct wev ev;
	struct turn_alloc *owner;
	struct relay *next_dead;
};

struct wstream {
	struct wev ev;
	struct turn_worker *w;
	struct turn_stream *st;
	struct turn_conn conn;
	uint64_t accepted_ms, alloc_seen_ms;
	bool got_frame, closing;
	struct wstream *prev, *next;   /* the worker's open connections */
	struct wstream *next_closing, *next_dead;
};

struct rx_batch {
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	uint8_t cmsg[BATCH][CMSG_BYTES];
	uint8_t buf[BATCH][MSG_SLOT];
};

struct turn_worker {
	unsigned id;
	struct turn_worker_shared *sh;
	int epfd;
	pthread_t thread;
	bool started;
	struct turn_server *core;
	struct turn_io io;
	unsigned n_listen;
	/* udp/tcp/tls per listen address, and the three extra UDP addresses
	 * of each RFC 5780 pair */
	struct listener listen[3 * TURN_CONF_MAX_LISTEN + 3 * 2];
	struct wev stop_ev;
	struct wstream *streams;       /* open connections */
	struct wstream *closing;       /* to close at the end of the iteration */
	struct wstream *dead_streams;  /* closed, freed at the end of the iteration */
	struct relay *dead_relays;
	bool accept_paused;
	struct log_ratelimit accept_rl;
	uint64_t wq_refused_seen;      /* wq_budget.refused at the last sweep */
	uint64_t now_ms, deadline_ms, next_sweep_ms;
	int64_t now_unix;
	struct rx_batch *rx;
	struct turn_udp_tx *tx;
	struct turn_udp_ring *ring;    /* the io_uring loop; NULL: the epoll loop */
	bool ring_starved;             /* a receive ran out of buffers or came in
					* full runs: more is waiting */
	struct turn_worker_stats st;   /* owned by the thread */
	struct stats_pub pub;          /* st, published for other threads */
	uint64_t next_pub_ms;
};

/* UDP_GRO on a listener or relay socket, unless IPOP_TURN_GRO=0 (A/B
 * benches). */
static bool gro_on(int fd)
{
	const char *off = getenv("IPOP_TURN_GRO");
	return !(off && strcmp(off, "0") == 0) && udp_gro_enable(fd);
}

/* Sends of one flush to many sockets in one io_uring call, unless
 * IPOP_TURN_URING=0 (A/B benches). It was opt-in for a while: the
 * turnserver_uclient lab lost 1600-byte datagrams with it, which turned
 * out to be a GSO run over the path MTU refused with EMSGSIZE and then
 * dropped, on either send path (turn_udp_tx.c; test_turn_udp_tx). */
static bool ring_on(void)
{
	const char *off = getenv("IPOP_TURN_URING");
	return !(off && strcmp(off, "0") == 0);
}

/* The whole wait through io_uring (ring_loop) with IPOP_TURN_URING=loop;
 * otherwise the epoll loop (with the ring for sends unless it is 0). Not
 * the default: against the epoll loop it showed no clear gain in relayed
 * packets per CPU-second with 64 light flows (1.01-1.20x, median about
 * 1.05, six runs; docs/benchmarks.md), though it makes one system call
 * per wakeup instead of three. */
static bool ring_loop_on(void)
{
	const char *v = getenv("IPOP_TURN_URING");
	return v && strcmp(v, "loop") == 0;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t mono_ms(void)
{
	return mono_us() / 1000u;
}

static int ep_add(struct turn_worker *w, struct wev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, ev->fd, &e) < 0 ? -errno : 0;
}

/* ---- struct turn_io, called by the core ---- */

static void io_relay_close(void *ctx, void *relay);

static int io_relay_open(void *ctx, struct turn_alloc *owner, int family,
			 struct sockaddr_storage *bound, void **out)
{
	struct turn_worker *w = ctx;
	const struct turn_conf *conf = w->sh->conf;
	struct sockaddr_storage base;
	int err = turn_relay_pick_address(conf, family, &base);

	if (err < 0)
		return err;
	struct relay *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int fd = turn_relay_bind(&base, conf->min_port, conf->max_port, bound);
	if (fd < 0) {
		w->st.relay_open_failed++;
		free(r);
		return fd;
	}
	(void)gro_on(fd); /* peers' trains arrive whole */
	(void)turn_rxq_enable(fd);
	r->ev = (struct wev){ EV_RELAY, fd, 0 };
	r->owner = owner;
	err = ep_add(w, &r->ev, EPOLLIN);
	if (err < 0) {
		close(fd);
		free(r);
		return err;
	}
	w->st.relays_open++;
	*out = r;
	return 0;
}

static void io_relay_close(void *ctx, void *relay)
{
	struct turn_worker *w = ctx;
	struct relay *r = relay;

	if (!r || r->ev.fd < 0)
		return;
	/* Queued datagrams name the socket by fd, and a relay opened later in
	 * this iteration may get the same number: send them now. */
	if (turn_udp_tx_pending(w->tx))
		turn_udp_tx_flush(w->tx);
	close(r->ev.fd); /* also leaves the epoll set */
	r->ev.fd = -1;
	w->st.relays_open--;
	/* Events for it may still be pending in this iteration's batch. */
	r->next_dead = w->dead_relays;
	w->dead_relays = r;
}

/* ---- RFC 8656 port reservations and DONT-FRAGMENT ---- */

/* A held port: a bound socket in no epoll set, so any worker (or main, at
 * shutdown) may release it or adopt it. */
struct port_hold {
	int fd;
};

static int io_port_hold(void *ctx, const struct sockaddr *addr, void **out)
{
	struct sockaddr_storage ss;
	(void)ctx;

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, addr_len(addr));
	struct port_hold *h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = turn_relay_bind_at(&ss);
	if (h->fd < 0) {
		int err = h->fd;
		free(h);
		return err;
	}
	*out = h;
	return 0;
}

static void io_port_release(void *hold)
{
	struct port_hold *h = hold;
	if (h) {
		close(h->fd);
		free(h);
	}
}

static int io_relay_adopt(void *ctx, struct turn_alloc *owner, void *hold,
			  struct sockaddr_storage *bound, void **out)
{
	struct turn_worker *w = ctx;
	struct port_hold *h = hold;
	socklen_t sl = sizeof(*bound);
	struct relay *r = calloc(1, sizeof(*r));
	int fd = h->fd, err;

	free(h);
	if (!r || getsockname(fd, (struct sockaddr *)bound, &sl) < 0) {
		err = r ? -errno : -ENOMEM;
		goto fail;
	}
	(void)gro_on(fd); /* peers' trains arrive whole */
	r->ev = (struct wev){ EV_RELAY, fd, 0 };
	r->owner = owner;
	err = ep_add(w, &r->ev, EPOLLIN);
	if (err < 0)
		goto fail;
	w->st.relays_open++;
	*out = r;
	return 0;
fail:
	close(fd);
	free(r);
	return err;
}

static int io_relay_dont_fragment(void *ctx, void *relay)
{
	struct relay *r = relay;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	(void)ctx;

	if (!r || r->ev.fd < 0 || getsockname(r->ev.fd, (struct sockaddr *)&ss, &sl) < 0)
		return -EBADF;
	return turn_relay_set_df(r->ev.fd, ss.ss_family);
}

static void io_to_peer(void *ctx, void *relay, const struct sockaddr *peer,
		       const struct iovec *iov, int iovcnt)
{
	struct turn_worker *w = ctx;
	struct relay *r = relay;

	if (r && r->ev.fd >= 0)
		turn_udp_tx_push(w->tx, r->ev.fd, peer, NULL, iov, iovcnt);
}

static const struct listener *listener_by_fd(const struct turn_worker *w, int fd)
{
	for (unsigned i = 0; i < w->n_listen; i++)
		if (w->listen[i].ev.fd == fd)
			return &w->listen[i];
	return NULL;
}

static void stream_mark_closing(struct turn_worker *w, struct wstream *ws)
{
	if (ws->closing || ws->ev.fd < 0)
		return;
	ws->closing = true;
	ws->next_closing = w->closing;
	w->closing = ws;
}

static void io_to_client(void *ctx, const struct turn_conn *conn, const struct iovec *iov,
			 int iovcnt)
{
	struct turn_worker *w = ctx;

	if (conn->proto == TURN_PROTO_UDP) {
		const struct listener *l = listener_by_fd(w, conn->fd);
		if (!l)
			return;
		turn_udp_tx_push(w->tx, conn->fd, (const struct sockaddr *)&conn->client,
				 l->pktinfo ? &conn->local : NULL, iov, iovcnt);
		return;
	}
	struct wstream *ws = conn->stream;
	if (!ws || ws->ev.fd < 0)
		return;
	if (turn_stream_send(ws->st, iov, iovcnt) == -EPIPE)
		stream_mark_closing(w, ws);
}

/* RFC 5780 CHANGE-REQUEST: the answer leaves from the UDP listener on
 * `from` (or a wildcard one on its port, with the source set). */
static void io_to_client_from(void *ctx, const struct turn_conn *conn, const struct sockaddr *from,
			      const struct iovec *iov, int iovcnt)
{
	struct turn_worker *w = ctx;
	struct sockaddr_storage src;

	memset(&src, 0, sizeof(src));
	memcpy(&src, from, addr_len(from));
	for (unsigned i = 0; i < w->n_listen; i++) {
		const struct listener *l = &w->listen[i];
		if (l->ev.kind != EV_UDP || l->addr.ss_family != from->sa_family ||
		    addr_port((const struct sockaddr *)&l->addr) != addr_port(from))
			continue;
		if (l->pktinfo || addr_equal_ip((const struct sockaddr *)&l->addr, from)) {
			turn_udp_tx_push(w->tx, l->ev.fd, (const struct sockaddr *)&conn->client,
					 l->pktinfo ? &src : NULL, iov, iovcnt);
			return;
		}
	}
}

/* ---- UDP: listeners and relays ---- */

static void rx_prepare(struct rx_batch *rx)
{
	for (unsigned i = 0; i < BATCH; i++) {
		rx->iov[i] = (struct iovec){ rx->buf[i], MSG_SLOT };
		rx->mm[i].msg_hdr = (struct msghdr){ .msg_name = &rx->from[i],
						     .msg_namelen = sizeof(rx->from[i]),
						     .msg_iov = &rx->iov[i], .msg_iovlen = 1,
						     .msg_control = rx->cmsg[i],
						     .msg_controllen = CMSG_BYTES };
	}
}

/* The address a datagram was sent to, from IP_PKTINFO / IPV6_PKTINFO. */
static void local_from_pktinfo(struct msghdr *mh, const struct listener *l,
			       struct sockaddr_storage *local)
{
	*local = l->addr;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)local)->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in6 *)local)->sin6_addr = pi.ipi6_addr;
		}
	}
}

/* One datagram, with its source and the control data of its message. */
typedef void datagram_fn(struct turn_worker *w, struct wev *ev,
			 const struct sockaddr_storage *from, struct msghdr *mh, const uint8_t *p,
			 size_t len);

/* One received message (mh: its control data): calls fn for each good
 * datagram, the datagrams of a GRO train one by one (each on its own: a
 * bad one does not affect the others). Stops early when the socket was
 * closed by the core meanwhile. */
static void udp_message(struct turn_worker *w, struct wev *ev, struct msghdr *mh, bool truncated,
			const struct sockaddr_storage *from, const uint8_t *buf, size_t msg_len,
			datagram_fn *fn)
{
	w->st.udp_rxq_drops += turn_rxq_new_drops(mh, &ev->rxq_seen);
	if (truncated) {
		w->st.udp_truncated++;
		return;
	}
	struct udp_gro_iter it;
	const uint8_t *p;
	size_t len;
	size_t seg = udp_gro_segment_size(mh);
	if (seg && seg < msg_len)
		w->st.udp_gro_trains++;
	udp_gro_iter_init(&it, buf, msg_len, seg);
	while (ev->fd >= 0 && udp_gro_next(&it, &p, &len)) {
		if (len > SLOT) { /* as before GRO: too big for a datagram slot */
			w->st.udp_truncated++;
			continue;
		}
		w->st.udp_in++;
		fn(w, ev, from, mh, p, len);
	}
}

/* Receives up to RX_ROUNDS batches and hands each message to udp_message. */
static void udp_drain(struct turn_worker *w, struct wev *ev, datagram_fn *fn)
{
	struct rx_batch *rx = w->rx;

	for (int round = 0; round < RX_ROUNDS && ev->fd >= 0; round++) {
		rx_prepare(rx);
		int n = recvmmsg(ev->fd, rx->mm, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n && ev->fd >= 0; i++) {
			struct msghdr *mh = &rx->mm[i].msg_hdr;
			udp_message(w, ev, mh, mh->msg_flags & MSG_TRUNC, &rx->from[i], rx->buf[i],
				    rx->mm[i].msg_len, fn);
		}
		if (n < BATCH)
			return;
	}
}

static void on_client_datagram(struct turn_worker *w, struct wev *ev,
			       const struct sockaddr_storage *from, struct msghdr *mh,
			       const uint8_t *p, size_t len)
{
	struct listener *l = (struct listener *)ev;
	struct turn_conn conn = { .proto = TURN_PROTO_UDP, .fd = ev->fd };

	conn.client = *from;
	if (l->pktinfo)
		local_from_pktinfo(mh, l, &conn.local);
	else
		conn.local = l->addr;
	turn_server_on_client(w->core, &conn, p, len, w->now_ms, w->now_unix);
}

static void on_peer_datagram(struct turn_worker *w, struct wev *ev,
			     const struct sockaddr_storage *from, struct msghdr *mh,
			     const uint8_t *p, size_t len)
{
	struct relay *r = (struct relay *)ev;
	(void)mh;

	turn_server_on_peer(w->core, r->owner, (const struct sockaddr *)from, p, len, w->now_ms);
}

/* ---- TCP / TLS connections ---- */

static void on_frame(void *ctx, const uint8_t *frame, size_t len)
{
	struct wstream *ws = ctx;
	struct turn_worker *w = ws->w;

	ws->got_frame = true;
	turn_server_on_client(w->core, &ws->conn, frame, len, w->now_ms, w->now_unix);
}

static void stream_close(struct turn_worker *w, struct wstream *ws)
{
	if (ws->ev.fd < 0)
		return;
	/* The core drops the connection's allocation first, while the handle
	 * is still valid for any last send. */
	turn_server_conn_closed(w->core, ws);
	turn_stream_free(ws->st);
	ws->st = NULL;
	ws->ev.fd = -1;
	if (ws->prev)
		ws->prev->next = ws->next;
	else
		w->streams = ws->next;
	if (ws->next)
		ws->next->prev = ws->prev;
	atomic_fetch_sub(&w->sh->conns, 1);
	turn_connlimit_release(w->sh->connlimit, (const struct sockaddr *)&ws->conn.client);
	w->st.conns_open--;
	if (ws->conn.proto == TURN_PROTO_TLS)
		w->st.conns_open_tls--;
	ws->next_dead = w->dead_streams;
	w->dead_streams = ws;
}

static void on_stream_event(struct turn_worker *w, struct wstream *ws)
{
	int err = turn_stream_on_event(ws->st, on_frame, ws);

	if (err < 0) {
		log_debug("worker %u: connection closed (%s)", w->id, strerror(-err));
		stream_close(w, ws);
	}
}

static struct wstream *stream_open(struct turn_worker *w, int fd, bool tls,
				   const struct sockaddr_storage *client)
{
	struct wstream *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return NULL;
	ws->st = turn_stream_new(fd, tls ? w->sh->tls : NULL, &w->st.stream, &w->sh->wq_budget);
	if (!ws->st) {
		free(ws);
		return NULL;
	}
	ws->w = w;
	ws->ev = (struct wev){ EV_STREAM, fd, 0 };
	ws->accepted_ms = ws->alloc_seen_ms = w->now_ms;
	ws->conn.proto = tls ? TURN_PROTO_TLS : TURN_PROTO_TCP;
	ws->conn.fd = fd;
	ws->conn.stream = ws;
	ws->conn.client = *client;
	socklen_t sl = sizeof(ws->conn.local);
	(void)getsockname(fd, (struct sockaddr *)&ws->conn.local, &sl);
	return ws;
}

static void set_accepting(struct turn_worker *w, bool on)
{
	for (unsigned i = 0; i < w->n_listen; i++) {
		struct listener *l = &w->listen[i];
		if (l->ev.kind == EV_UDP)
			continue;
		struct epoll_event e = { .events = on ? EPOLLIN : 0, .data.ptr = &l->ev };
		(void)epoll_ctl(w->epfd, EPOLL_CTL_MOD, l->ev.fd, &e);
	}
}

/* Out of descriptors: a level-triggered listener would wake the loop
 * forever, so stop watching the listeners until the next sweep. */
static void pause_accepting(struct turn_worker *w, int err)
{
	w->st.accept_paused++;
	if (w->accept_paused)
		return;
	w->accept_paused = true;
	set_accepting(w, false);
	if (log_ratelimit_ok(&w->accept_rl, w->now_ms))
		log_warn("worker %u: accept: %s; not accepting for a second", w->id, strerror(err));
}

static void log_ip_limited(struct turn_worker *w, const struct sockaddr_storage *sa)
{
	char as[ADDR_STRLEN];
	if (log_ratelimit_ok(&w->accept_rl, w->now_ms))
		log_warn("worker %u: %s has max_connections_per_ip (%u) connections open; "
			 "refusing more", w->id, addr_format((const struct sockaddr *)sa, false, as),
			 w->sh->conf->max_connections_per_ip);
}

static void on_accept(struct turn_worker *w, struct wev *ev)
{
	bool tls = ev->kind == EV_TLS_LISTEN;

	for (int i = 0; i < ACCEPTS; i++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(ev->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(w, errno);
			return;
		}
		if (atomic_fetch_add(&w->sh->conns, 1) >= w->sh->max_conns) {
			atomic_fetch_sub(&w->sh->conns, 1);
			w->st.conns_rejected++;
			close(fd);
			continue;
		}
		if (!turn_connlimit_take(w->sh->connlimit, (const struct sockaddr *)&sa)) {
			atomic_fetch_sub(&w->sh->conns, 1);
			w->st.conns_ip_limited++;
			log_ip_limited(w, &sa);
			close(fd);
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct wstream *ws = stream_open(w, fd, tls, &sa);
		if (!ws || ep_add(w, &ws->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
			if (ws) {
				turn_stream_free(ws->st);
				free(ws);
			} else {
				close(fd);
			}
			turn_connlimit_release(w->sh->connlimit, (const struct sockaddr *)&sa);
			atomic_fetch_sub(&w->sh->conns, 1);
			w->st.conns_rejected++;
			continue;
		}
		ws->next = w->streams;
		if (w->streams)
			w->streams->prev = ws;
		w->streams = ws;
		w->st.conns_accepted++;
		w->st.conns_open++;
		if (tls) {
			w->st.conns_accepted_tls++;
			w->st.conns_open_tls++;
		}
	}
}

/* A connection that never spoke, or has gone TURN_WORKER_NOALLOC_S
 * without an allocation. */
static bool stream_stale(struct turn_worker *w, struct wstream *ws)
{
	if (!ws->got_frame)
		return w->now_ms - ws->accepted_ms > TURN_WORKER_FIRST_FRAME_S * 1000u;
	if (turn_server_conn_has_alloc(w->core, ws, w->now_ms)) {
		ws->alloc_seen_ms = w->now_ms;
		return false;
	}
	return w->now_ms - ws->alloc_seen_ms > TURN_WORKER_NOALLOC_S * 1000u;
}

/* Closes stale connections and, when write-queue memory runs short, the
 * ones holding more than their share of it: the slowest readers. */
static void sweep_streams(struct turn_worker *w)
{
	unsigned nconns = atomic_load(&w->sh->conns);
	size_t share = turn_stream_shed_above(&w->sh->wq_budget, nconns, &w->wq_refused_seen);
	struct wstream *ws = w->streams, *next;
	unsigned shed = 0;

	for (; ws; ws = next) {
		next = ws->next;
		if (stream_stale(w, ws)) {
			w->st.conns_idle_closed++;
			stream_close(w, ws);
		} else if (turn_stream_queued(ws->st) > share) {
			w->st.conns_shed++;
			shed++;
			stream_close(w, ws);
		}
	}
	if (shed && log_ratelimit_ok(&w->accept_rl, w->now_ms))
		log_warn("worker %u: write queues of all connections near their limit "
			 "(stream_queue_total_kb); closed %u slow reader%s holding more than %zu KB",
			 w->id, shed, shed == 1 ? "" : "s", share / 1024);
}

/* ---- the loop ---- */

/* Sends what the iteration queued; with defer (the io_uring loop) the
 * datagrams go out with the ring's next wait. */
static void end_of_iteration(struct turn_worker *w, bool defer)
{
	if (w->closing) {
		turn_udp_tx_flush(w->tx);
		while (w->closing) {
			struct wstream *ws = w->closing;
			w->closing = ws->next_closing;
			stream_close(w, ws);
		}
	}
	if (defer) /* also anything the closes sent */
		turn_udp_tx_flush_deferred(w->tx);
	else
		turn_udp_tx_flush(w->tx);
	while (w->dead_streams) {
		struct wstream *ws = w->dead_streams;
		w->dead_streams = ws->next_dead;
		free(ws);
	}
	while (w->dead_relays) {
		struct relay *r = w->dead_relays;
		w->dead_relays = r->next_dead;
		free(r);
	}
}

/* Makes the counters visible to turn_worker_get_stats (the metrics and
 * SIGUSR1); core counters from before the core is freed at the end. */
static void publish(struct turn_worker *w)
{
	if (w->core)
		w->st.core = *turn_server_stats(w->core);
	stats_pub_write(&w->pub, &w->st);
	w->next_pub_ms = w->now_ms + PUBLISH_MS;
}

static void housekeeping(struct turn_worker *w)
{
	if (w->accept_paused) {
		w->accept_paused = false;
		set_accepting(w, true);
	}
	sweep_streams(w);
	w->deadline_ms = turn_server_tick(w->core, w->now_ms);
	w->next_sweep_ms = w->now_ms + SWEEP_MS;
	publish(w);
}

static bool dispatch(struct turn_worker *w, struct wev *ev)
{
	if (ev->fd < 0)
		return true;
	switch (ev->kind) {
	case EV_UDP:
		udp_drain(w, ev, on_client_datagram);
		break;
	case EV_RELAY:
		udp_drain(w, ev, on_peer_datagram);
		break;
	case EV_TCP_LISTEN:
	case EV_TLS_LISTEN:
		on_accept(w, ev);
		break;
	case EV_STREAM:
		on_stream_event(w, (struct wstream *)ev);
		break;
	case EV_STOP:
		return false;
	}
	return true;
}

static int wait_ms(const struct turn_worker *w)
{
	uint64_t next = w->deadline_ms < w->next_sweep_ms ? w->deadline_ms : w->next_sweep_ms;
	uint64_t now = mono_ms();
	return next <= now ? 0 : (int)(next - now);
}

/* Lets datagrams gather for rx_moderation_us (see MOD_MIN_DGRAMS). */
static void moderate(struct turn_worker *w)
{
	struct timespec ts = { 0, (long)w->sh->conf->rx_moderation_us * 1000 };

	w->st.rx_moderated++;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* After an iteration: whether to moderate before the next wait. */
static bool iteration_dense(struct turn_worker *w, uint64_t in0, uint64_t gso0, uint64_t t0,
			    uint64_t t1, uint64_t prev_t1)
{
	return w->st.tx.gso_msgs != gso0 &&
	       turn_mod_dense(w->st.udp_in - in0, t1 - t0, t1 - prev_t1, w->sh->conf->rx_moderation_us);
}

static void epoll_loop(struct turn_worker *w)
{
	struct epoll_event evs[MAX_EVENTS];
	bool running = true;
	bool dense = false;
	uint64_t prev_t1 = mono_us();

	while (running) {
		if (dense && wait_ms(w) > 0) /* dense is never set with moderation off */
			moderate(w);
		uint64_t t0 = mono_us();
		int n = epoll_wait(w->epfd, evs, MAX_EVENTS, wait_ms(w));
		if (n < 0 && errno != EINTR) {
			log_error("worker %u: epoll_wait: %s", w->id, strerror(errno));
			break;
		}
		uint64_t t1 = mono_us(), in0 = w->st.udp_in, gso0 = w->st.tx.gso_msgs;
		w->now_ms = t1 / 1000u;
		w->now_unix = time(NULL);
		for (int i = 0; i < n && running; i++)
			running = dispatch(w, evs[i].data.ptr);
		if (w->now_ms >= w->deadline_ms || w->now_ms >= w->next_sweep_ms)
			housekeeping(w);
		else if (w->now_ms >= w->next_pub_ms)
			publish(w);
		end_of_iteration(w, false);
		dense = iteration_dense(w, in0, gso0, t0, t1, prev_t1);
		prev_t1 = t1;
	}
}

/* ---- the io_uring loop ---- */

/* A UDP listener back on epoll: its ring receive failed for good. */
static void listener_to_epoll(struct turn_worker *w, struct listener *l)
{
	l->in_ring = false;
	if (l->ev.fd >= 0 && ep_add(w, &l->ev, EPOLLIN) < 0)
		log_error("worker %u: cannot watch a UDP listener: %s", w->id, strerror(errno));
}

static void ring_on_listener(struct turn_worker *w, const struct turn_udp_ring_ev *e)
{
	struct listener *l = (struct listener *)(uintptr_t)e->tag;
	struct turn_udp_ring_msg m;

	if (e->flags & TURN_UDP_RING_BUF) {
		if (l->ev.fd >= 0 && turn_udp_ring_msg(w->ring, e, &m))
			udp_message(w, &l->ev, &m.mh, m.truncated, m.from, m.data, m.len,
				    on_client_datagram);
		turn_udp_ring_put(w->ring, e);
		l->ring_errs = 0;
	}
	if ((e->flags & TURN_UDP_RING_MORE) || !l->in_ring || l->ev.fd < 0)
		return;
	/* The multishot receive ended: out of buffers (-ENOBUFS; the
	 * datagrams wait in the socket, and this iteration gives the buffers
	 * back before the next wait submits it again) or an error. */
	if (e->res == -ENOBUFS) {
		w->ring_starved = true;
	} else if (e->res < 0 && ++l->ring_errs >= RING_ERRS_MAX) {
		log_warn("worker %u: io_uring receive: %s; this listener back on epoll", w->id,
			 strerror(-e->res));
		listener_to_epoll(w, l);
		return;
	}
	if (turn_udp_ring_recv_start(w->ring, l->ev.fd, e->tag) < 0)
		listener_to_epoll(w, l);
}

/* The epoll set (relays, TCP/TLS, stop) has events: handles them and
 * polls it again. False on stop. */
static bool ring_on_epoll(struct turn_worker *w)
{
	struct epoll_event evs[MAX_EVENTS];
	bool running = true;
	int n = epoll_wait(w->epfd, evs, MAX_EVENTS, 0);

	for (int i = 0; i < n && running; i++)
		running = dispatch(w, evs[i].data.ptr);
	/* one-shot: polled again, it completes at once while events remain */
	int err = turn_udp_ring_poll_start(w->ring, w->epfd, RING_TAG_EPOLL);
	if (err < 0) {
		log_error("worker %u: io_uring poll: %s", w->id, strerror(-err));
		return false;
	}
	return running;
}

static void ring_free(struct turn_worker *w)
{
	turn_udp_tx_use_ring(w->tx, NULL);
	turn_udp_ring_free(w->ring);
	w->ring = NULL;
	for (unsigned i = 0; i < w->n_listen; i++)
		if (w->listen[i].in_ring)
			listener_to_epoll(w, &w->listen[i]);
}

/* The UDP listeners move from epoll to multishot receives; the epoll set
 * (relays, TCP/TLS, stop) is polled through the ring. False when there
 * is no io_uring for it (the epoll loop runs). Called by the thread. */
static bool ring_setup(struct turn_worker *w)
{
	w->ring = turn_udp_ring_new_loop(RING_DEPTH, RING_BUFS, UDP_GRO_MSG_MAX);
	if (!w->ring) {
		log_info("worker %u: no io_uring receive here; epoll loop", w->id);
		return false;
	}
	int err = turn_udp_ring_poll_start(w->ring, w->epfd, RING_TAG_EPOLL);
	for (unsigned i = 0; i < w->n_listen && !err; i++) {
		struct listener *l = &w->listen[i];
		if (l->ev.kind != EV_UDP)
			continue;
		err = turn_udp_ring_recv_start(w->ring, l->ev.fd, (uintptr_t)&l->ev);
		if (!err) {
			(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, l->ev.fd, NULL);
			l->in_ring = true;
		}
	}
	if (!err)
		err = turn_udp_ring_submit(w->ring);
	if (err < 0) {
		log_warn("worker %u: io_uring receive: %s; epoll loop", w->id, strerror(-err));
		ring_free(w);
		return false;
	}
	turn_udp_tx_use_ring(w->tx, w->ring);
	return true;
}

/* Waits (timeout_ms) and takes the sends' results. The events, or -1
 * when the ring failed (then it is gone and the epoll loop takes over). */
static int ring_wait(struct turn_worker *w, int timeout_ms, struct turn_udp_ring_ev *evs)
{
	int n = turn_udp_ring_wait(w->ring, timeout_ms, evs, RING_EVENTS);

	turn_udp_tx_complete(w->tx);
	if (n < 0) {
		log_error("worker %u: io_uring wait: %s; epoll loop from now on", w->id, strerror(-n));
		ring_free(w);
	}
	return n < 0 ? -1 : n;
}

/* Handles the events of one wait. Returns how many held a message. */
static int ring_dispatch(struct turn_worker *w, const struct turn_udp_ring_ev *evs, int n,
			 bool *running)
{
	int msgs = 0;

	for (int i = 0; i < n; i++) {
		msgs += (evs[i].flags & TURN_UDP_RING_BUF) != 0;
		if (evs[i].tag == RING_TAG_EPOLL)
			*running = *running && ring_on_epoll(w);
		else if (*running)
			ring_on_listener(w, &evs[i]);
		else /* stopping: only the buffers back */
			turn_udp_ring_put(w->ring, &evs[i]);
	}
	return msgs;
}

/* One io_uring_enter per wakeup: it submits the previous iteration's
 * sends and waits for datagrams (or the epoll set). Returns false on
 * stop, true when the ring failed (the epoll loop takes over). */
static bool ring_loop(struct turn_worker *w)
{
	struct turn_udp_ring_ev evs[RING_EVENTS];
	bool running = true;
	bool dense = false;
	uint64_t prev_t1 = mono_us();

	while (running) {
		if (dense && wait_ms(w) > 0) { /* send first, then let datagrams gather */
			(void)turn_udp_ring_submit(w->ring);
			moderate(w);
		}
		uint64_t t0 = mono_us();
		int n = ring_wait(w, wait_ms(w), evs);
		if (n < 0)
			return true;
		uint64_t t1 = mono_us(), in0 = w->st.udp_in, gso0 = w->st.tx.gso_msgs;
		w->now_ms = t1 / 1000u;
		w->now_unix = time(NULL);
		int msgs = ring_dispatch(w, evs, n, &running);
		/* More is waiting when a receive ran out of buffers or handed
		 * over a full multishot run: read on without sleeping, up to
		 * RING_ROUNDS runs per wakeup, as the epoll loop reads up to
		 * RX_ROUNDS batches. */
		for (int round = 1; running && round < RING_ROUNDS &&
				    (w->ring_starved || msgs >= RING_MSHOT_RUN); round++) {
			w->ring_starved = false;
			n = ring_wait(w, 0, evs);
			if (n < 0)
				return true;
			msgs = ring_dispatch(w, evs, n, &running);
		}
		w->ring_starved = false;
		if (w->now_ms >= w->deadline_ms || w->now_ms >= w->next_sweep_ms)
			housekeeping(w);
		else if (w->now_ms >= w->next_pub_ms)
			publish(w);
		end_of_iteration(w, running);
		dense = iteration_dense(w, in0, gso0, t0, t1, prev_t1);
		prev_t1 = t1;
	}
	return false;
}

static void *worker_main(void *arg)
{
	struct turn_worker *w = arg;

	w->now_ms = mono_ms();
	w->now_unix = time(NULL);
	w->next_sweep_ms = w->now_ms + SWEEP_MS;
	if (!ring_loop_on() || !ring_setup(w) || ring_loop(w))
		epoll_loop(w);
	/* Clean stop: every connection, then the core with its relays. */
	while (w->streams)
		stream_close(w, w->streams);
	w->st.core = *turn_server_stats(w->core);
	turn_server_free(w->core);
	w->core = NULL;
	end_of_iteration(w, false);
	if (w->ring)
		ring_free(w);
	/* The last publish: core counters from before the free, and
	 * relays_open after it, which must be 0. */
	publish(w);
	OPENSSL_thread_stop(); /* this thread's DRBG and error state */
	return NULL;
}

/* ---- listeners and setup ---- */

static bool is_wildcard(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int open_listener(struct turn_worker *w, const struct sockaddr_storage *base,
			 uint16_t port, enum ev_kind kind)
{
	struct listener *l = &w->listen[w->n_listen];
	int type = kind == EV_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(base->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, buf = 4 << 20;
	char as[ADDR_STRLEN];

	if (fd < 0)
		return -errno;
	l->addr = *base;
	addr_set_port((struct sockaddr *)&l->addr, port);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (base->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (kind == EV_UDP) {
		/* Best effort: capped by net.core.rmem_max / wmem_max. */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		(void)gro_on(fd); /* nodes' ChannelData trains arrive whole */
		(void)turn_rxq_enable(fd);
		l->pktinfo = is_wildcard(base);
		if (l->pktinfo && base->ss_family == AF_INET &&
		    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
			goto fail;
		if (l->pktinfo && base->ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&l->addr, addr_len((struct sockaddr *)&l->addr)) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 1024) < 0)
		goto fail;
	l->ev = (struct wev){ (uint8_t)kind, fd, 0 };
	if (ep_add(w, &l->ev, EPOLLIN) < 0)
		goto fail;
	w->n_listen++;
	return 0;
fail:;
	int err = -errno;
	log_error("worker %u: cannot listen on %s %s: %s", w->id,
		  kind == EV_UDP ? "udp" : kind == EV_TLS_LISTEN ? "tls" : "tcp",
		  addr_format((struct sockaddr *)&l->addr, true, as), strerror(errno));
	close(fd);
	return err;
}

static int open_listeners(struct turn_worker *w)
{
	const struct turn_conf *c = w->sh->conf;

	for (unsigned i = 0; i < c->n_listen; i++) {
		int err = 0;
		if (c->udp_port)
			err = open_listener(w, &c->listen[i], c->udp_port, EV_UDP);
		if (!err && c->tcp_port)
			err = open_listener(w, &c->listen[i], c->tcp_port, EV_TCP_LISTEN);
		if (!err && c->tls && w->sh->tls && c->tls_port)
			err = open_listener(w, &c->listen[i], c->tls_port, EV_TLS_LISTEN);
		if (err)
			return err;
	}
	/* RFC 5780: the alternate IP on both ports, the primary on the
	 * alternate port (the primary port is open above). */
	for (unsigned i = 0; i < c->n_alt; i++) {
		int err = open_listener(w, &c->alt_primary[i], c->alt_udp_port, EV_UDP);
		if (!err)
			err = open_listener(w, &c->alt_listen[i], c->udp_port, EV_UDP);
		if (!err)
			err = open_listener(w, &c->alt_listen[i], c->alt_udp_port, EV_UDP);
		if (err)
			return err;
	}
	return 0;
}

struct turn_worker *turn_worker_new(struct turn_worker_shared *sh, unsigned id)
{
	struct turn_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->id = id;
	w->sh = sh;
	w->epfd = -1;
	w->accept_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1, 10000);
	w->deadline_ms = UINT64_MAX;
	w->rx = malloc(sizeof(*w->rx));
	w->tx = turn_udp_tx_new(&w->st.tx, TURN_UDP_TX_GSO | (ring_on() ? TURN_UDP_TX_RING : 0));
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!w->rx || !w->tx || w->epfd < 0 ||
	    stats_pub_init(&w->pub, sizeof(w->st) / sizeof(uint64_t)) < 0)
		goto fail;
	w->stop_ev = (struct wev){ EV_STOP, sh->stop_fd, 0 };
	if (ep_add(w, &w->stop_ev, EPOLLIN) < 0)
		goto fail;
	if (open_listeners(w) < 0)
		goto fail;
	w->io = (struct turn_io){ .ctx = w, .relay_open = io_relay_open,
				  .relay_close = io_relay_close, .to_peer = io_to_peer,
				  .to_client = io_to_client, .port_hold = io_port_hold,
				  .port_release = io_port_release, .relay_adopt = io_relay_adopt,
				  .relay_dont_fragment = io_relay_dont_fragment,
				  .to_client_from = io_to_client_from };
	w->core = turn_server_new(sh->conf, sh->accounts, sh->shared, sh->nonce_key,
				  sh->nonce_key_len, &w->io);
	if (!w->core) {
		log_error("worker %u: cannot create the TURN core", id);
		goto fail;
	}
	return w;
fail:
	turn_worker_free(w);
	return NULL;
}

int turn_worker_start(struct turn_worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err)
		return -err;
	w->started = true;
	return 0;
}

void turn_worker_join(struct turn_worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}

void turn_worker_free(struct turn_worker *w)
{
	if (!w)
		return;
	if (w->core) { /* never started: no connections, only the core */
		turn_server_free(w->core);
		end_of_iteration(w, false);
	}
	for (unsigned i = 0; i < w->n_listen; i++)
		close(w->listen[i].ev.fd);
	if (w->epfd >= 0)
		close(w->epfd);
	stats_pub_free(&w->pub);
	free(w->rx);
	turn_udp_tx_free(w->tx);
	free(w);
}

void turn_worker_get_stats(struct turn_worker *w, struct turn_worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (w->pub.v)
		(void)stats_pub_read(&w->pub, out);
}

void turn_worker_stats_add(struct turn_worker_stats *a, const struct turn_worker_stats *b)
{
	/* Every field is a uint64_t counter, so the structs add as arrays. */
	_Static_assert(sizeof(struct turn_worker_stats) % sizeof(uint64_t) == 0, "counters only");
	uint64_t *pa = (uint64_t *)a;
	const uint64_t *pb = (const uint64_t *)b;
	for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
		pa[i] += pb[i];
}
