/* The typed messages between the signalling thread and the data thread,
 * and the queue that carries them: a mutex-protected list and an eventfd
 * that wakes the receiving thread (its loop polls the eventfd). Each
 * direction has its own queue. Messages are allocated by the sender and
 * freed by the receiver; a message is at most XMPP_SIGNAL_MAX_BODY bytes
 * of body, and only signalling messages have one. */
#ifndef IPOP_SIGQ_H
#define IPOP_SIGQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "xmpp_roster.h"
#include "xmpp_signal.h"

enum sigmsg_type {
	/* signalling thread -> data thread */
	SIGMSG_PEER_UP = 1,   /* jid: an authorized ipop resource came online */
	SIGMSG_PEER_DOWN,     /* jid: it sent "unavailable" */
	SIGMSG_PEER_REVOKED,  /* jid: no longer authorized (subscription removed) */
	SIGMSG_MESSAGE,       /* jid, body: a signalling message from a peer */
	SIGMSG_STATE,         /* u.state: the XMPP connection's state */
	SIGMSG_FRIEND,        /* jid (bare), u.friend: a roster change for ipopctl */
	SIGMSG_PEER_INFO,     /* jid, u.info: what an ipop resource's presence says */
	/* data thread -> signalling thread */
	SIGMSG_SEND,          /* jid, body: send a signalling message */
	SIGMSG_FRIEND_CMD,    /* jid (bare), u.friend_cmd: add/accept/remove */
	SIGMSG_PROBE,         /* our addresses moved: check the connection */
};

struct sigmsg {
	struct sigmsg *next;
	enum sigmsg_type type;
	char jid[XMPP_JID_MAX];
	union {
		enum xmpp_sig_state state;
		struct {
			enum xmpp_friend_ev ev;
			enum roster_sub sub;
			bool ask;
		} friend;
		enum xmpp_friend_cmd friend_cmd;
		struct signal_presence info;
	} u;
	size_t len;
	char body[]; /* NUL-terminated, len bytes before the NUL */
};

struct sigq {
	pthread_mutex_t mu;
	struct sigmsg *head, *tail;
	int evfd; /* readable while messages wait */
};

int sigq_init(struct sigq *q);
/* Frees what is still queued. */
void sigq_free(struct sigq *q);
/* A message with body (len bytes, may be NULL) and jid (may be NULL);
 * NULL when out of memory. */
struct sigmsg *sigmsg_new(enum sigmsg_type type, const char *jid, const char *body, size_t len);
void sigmsg_free_list(struct sigmsg *m);
/* Appends m (the queue owns it now) and wakes the receiver. */
void sigq_push(struct sigq *q, struct sigmsg *m);
/* Takes every queued message, oldest first, and clears the wakeup. */
struct sigmsg *sigq_take_all(struct sigq *q);

#endif
