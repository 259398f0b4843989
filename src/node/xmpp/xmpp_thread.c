/* The signalling thread (see xmpp_thread.h). */
#include "xmpp_thread.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

static void to_data(struct xmpp_thread *t, struct sigmsg *m)
{
	if (m)
		sigq_push(&t->to_data, m);
}

static void on_peer(void *ctx, enum roster_event ev, const char *full_jid)
{
	enum sigmsg_type type = ev == ROSTER_PEER_UP     ? SIGMSG_PEER_UP
				: ev == ROSTER_PEER_DOWN ? SIGMSG_PEER_DOWN
							 : SIGMSG_PEER_REVOKED;
	to_data(ctx, sigmsg_new(type, full_jid, NULL, 0));
}

static void on_message(void *ctx, const char *full_jid, const char *body, size_t len)
{
	if (len > XMPP_SIGNAL_MAX_BODY)
		return; /* the codec would refuse it anyway */
	to_data(ctx, sigmsg_new(SIGMSG_MESSAGE, full_jid, body, len));
}

static void on_state(void *ctx, enum xmpp_sig_state st)
{
	struct xmpp_thread *t = ctx;
	struct sigmsg *m = sigmsg_new(SIGMSG_STATE, NULL, NULL, 0);

	atomic_store(&t->state, (int)st);
	if (m)
		m->u.state = st;
	to_data(t, m);
}

static void on_friend(void *ctx, enum xmpp_friend_ev ev, const char *bare, enum roster_sub sub, bool ask)
{
	struct sigmsg *m = sigmsg_new(SIGMSG_FRIEND, bare, NULL, 0);

	if (m) {
		m->u.friend.ev = ev;
		m->u.friend.sub = sub;
		m->u.friend.ask = ask;
	}
	to_data(ctx, m);
}

static void on_info(void *ctx, const char *full_jid, const struct signal_presence *p)
{
	struct sigmsg *m = sigmsg_new(SIGMSG_PEER_INFO, full_jid, NULL, 0);

	if (m)
		m->u.info = *p;
	to_data(ctx, m);
}

static void handle(struct xmpp_sig *s, const struct sigmsg *m)
{
	int rc = 0;

	switch (m->type) {
	case SIGMSG_SEND:
		if ((rc = xmpp_sig_send(s, m->jid, m->body)) != 0)
			log_info("xmpp: message to %s not sent: %s", m->jid, strerror(-rc));
		break;
	case SIGMSG_FRIEND_CMD:
		if ((rc = xmpp_sig_friend(s, m->u.friend_cmd, m->jid)) != 0)
			log_warn("xmpp: friend command for %s not sent: %s", m->jid, strerror(-rc));
		break;
	case SIGMSG_PROBE:
		xmpp_sig_probe(s);
		break;
	default:
		break; /* only data -> signalling messages come here */
	}
}

static void drain(struct xmpp_thread *t, struct xmpp_sig *s)
{
	struct sigmsg *list = sigq_take_all(&t->to_sig);

	for (struct sigmsg *m = list; m; m = m->next)
		handle(s, m);
	sigmsg_free_list(list);
}

/* One round: what the data thread queued, libstrophe's I/O and timers,
 * then sleep until the socket, the queue or a timer wakes us. Returns
 * whether the socket was readable (TLS may hold more). */
static bool round_once(struct xmpp_thread *t, struct xmpp_sig *s, bool after_read)
{
	struct pollfd p[2] = { { .fd = t->to_sig.evfd, .events = POLLIN } };
	short events;
	uint64_t wake, now = evloop_now_ms();

	drain(t, s);
	xmpp_sig_run(s, now, 0);
	int fd = xmpp_sig_poll(s, &events, &wake);
	uint64_t timeout = after_read ? XMPP_THREAD_TLS_MS : XMPP_THREAD_IDLE_MS;
	if (wake != UINT64_MAX)
		timeout = wake <= now ? 0 : (wake - now < timeout ? wake - now : timeout);
	p[1].fd = fd;
	p[1].events = events;
	if (poll(p, fd >= 0 ? 2 : 1, (int)timeout) < 0 && errno != EINTR)
		log_warn("xmpp: poll: %s", strerror(errno));
	return fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR));
}

static void *thread_main(void *arg)
{
	struct xmpp_thread *t = arg;
	struct xmpp_sig_ops ops = { t, on_peer, on_message, on_state, on_friend, on_info };
	struct xmpp_sig *s = xmpp_sig_new(&t->conf, &ops);
	bool read = false;

	if (!s) {
		log_error("xmpp: cannot start the signalling module");
		return NULL;
	}
	while (!atomic_load(&t->stop))
		read = round_once(t, s, read);
	/* Last words (bye) queued at shutdown. */
	drain(t, s);
	xmpp_sig_run(s, evloop_now_ms(), 100);
	xmpp_sig_free(s);
	return NULL;
}

int xmpp_thread_init(struct xmpp_thread *t)
{
	int rc;

	memset(t, 0, sizeof(*t));
	atomic_init(&t->stop, false);
	atomic_init(&t->state, XMPP_SIG_OFFLINE);
	t->to_data.evfd = t->to_sig.evfd = -1;
	if ((rc = sigq_init(&t->to_data)) < 0 || (rc = sigq_init(&t->to_sig)) < 0)
		return rc;
	return 0;
}

int xmpp_thread_start(struct xmpp_thread *t, const struct xmpp_sig_conf *conf)
{
	t->conf = *conf;
	if (pthread_create(&t->th, NULL, thread_main, t) != 0)
		return -EAGAIN;
	t->started = true;
	return 0;
}

void xmpp_thread_post(struct xmpp_thread *t, struct sigmsg *m)
{
	if (m)
		sigq_push(&t->to_sig, m);
}

void xmpp_thread_stop(struct xmpp_thread *t)
{
	if (!t->started)
		return;
	atomic_store(&t->stop, true);
	uint64_t one = 1;
	if (write(t->to_sig.evfd, &one, sizeof(one)) < 0) {
		/* saturated: it is awake anyway */
	}
	pthread_join(t->th, NULL);
	t->started = false;
}

void xmpp_thread_free(struct xmpp_thread *t)
{
	sigq_free(&t->to_data);
	sigq_free(&t->to_sig);
}
