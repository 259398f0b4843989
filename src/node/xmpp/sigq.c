/* The queues between the two threads (see sigq.h). */
#include "sigq.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int sigq_init(struct sigq *q)
{
	memset(q, 0, sizeof(*q));
	q->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->evfd < 0)
		return -errno;
	pthread_mutex_init(&q->mu, NULL);
	return 0;
}

void sigq_free(struct sigq *q)
{
	if (q->evfd < 0)
		return;
	sigmsg_free_list(sigq_take_all(q));
	close(q->evfd);
	q->evfd = -1;
	pthread_mutex_destroy(&q->mu);
}

struct sigmsg *sigmsg_new(enum sigmsg_type type, const char *jid, const char *body, size_t len)
{
	struct sigmsg *m = calloc(1, sizeof(*m) + len + 1);

	if (!m)
		return NULL;
	m->type = type;
	if (jid)
		snprintf(m->jid, sizeof(m->jid), "%s", jid);
	if (body)
		memcpy(m->body, body, len);
	m->len = len;
	return m;
}

void sigmsg_free_list(struct sigmsg *m)
{
	while (m) {
		struct sigmsg *next = m->next;
		free(m);
		m = next;
	}
}

void sigq_push(struct sigq *q, struct sigmsg *m)
{
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	pthread_mutex_unlock(&q->mu);
	if (write(q->evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the receiver is awake anyway */
	}
}

struct sigmsg *sigq_take_all(struct sigq *q)
{
	uint64_t junk;

	/* Read the wakeup first: a push after it wakes the receiver again. */
	if (read(q->evfd, &junk, sizeof(junk)) < 0) {
		/* EAGAIN: nothing was signalled */
	}
	pthread_mutex_lock(&q->mu);
	struct sigmsg *h = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	return h;
}
