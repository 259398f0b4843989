/* The signalling thread: libstrophe (xmpp_signal.c) is not thread-safe
 * and wants its own loop, so it runs alone on this thread. It sleeps in
 * poll() on the XMPP socket and on the eventfd of its inbound queue, so a
 * message the data thread queues leaves at once, and until the next
 * deadline xmpp_sig_poll() names (the keepalive ping every 15 s when
 * logged in; libstrophe's login timers every XMPP_SIG_POLL_MS while
 * logging in; a reconnect), at most XMPP_THREAD_IDLE_MS.
 * Everything it hears goes to the data thread as typed messages (sigq.h). */
#ifndef IPOP_XMPP_THREAD_H
#define IPOP_XMPP_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "sigq.h"
#include "xmpp_signal.h"

enum {
	XMPP_THREAD_IDLE_MS = 60000, /* longest sleep, a safety net: xmpp_sig_poll names the deadlines */
	XMPP_THREAD_TLS_MS = 20,   /* after a read: TLS may hold more than the socket shows */
};

struct xmpp_thread {
	struct xmpp_sig_conf conf;
	struct sigq to_data; /* signalling -> data thread (its eventfd on the data loop) */
	struct sigq to_sig;  /* data -> signalling thread */
	pthread_t th;
	bool started;
	atomic_bool stop;
	atomic_int state;    /* enum xmpp_sig_state, for any thread to read */
};

/* The queues; no thread yet. 0 or -errno. */
int xmpp_thread_init(struct xmpp_thread *t);
/* Starts the thread with conf (its strings must outlive the thread). */
int xmpp_thread_start(struct xmpp_thread *t, const struct xmpp_sig_conf *conf);
/* Sends what is queued (last words: byes), stops and joins the thread. */
void xmpp_thread_stop(struct xmpp_thread *t);
/* Frees the queues (after stop). */
void xmpp_thread_free(struct xmpp_thread *t);
/* From the data thread: queue a message for the signalling thread. */
void xmpp_thread_post(struct xmpp_thread *t, struct sigmsg *m);

#endif
