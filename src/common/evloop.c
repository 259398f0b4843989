/* The event loop (see evloop.h). */
#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* The timerfd's own registration, never handed to a handler. */
#define TIMER_TAG UINT64_MAX

uint64_t evloop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t evloop_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t evloop_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int evloop_init(struct evloop *l)
{
	memset(l, 0, sizeof(*l));
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		l->regs[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->epfd < 0 || l->timerfd < 0) {
		int e = -errno;
		evloop_free(l);
		return e;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TIMER_TAG };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->timerfd, &ev) < 0) {
		int e = -errno;
		evloop_free(l);
		return e;
	}
	return 0;
}

void evloop_free(struct evloop *l)
{
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->timerfd = l->epfd = -1;
}

static struct evloop_reg *find(struct evloop *l, int fd)
{
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		if (l->regs[i].fd == fd)
			return &l->regs[i];
	return NULL;
}

static uint64_t tag_of(const struct evloop *l, const struct evloop_reg *r)
{
	return (uint64_t)r->gen << 32 | (uint64_t)(r - l->regs);
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *ctx)
{
	struct evloop_reg *r = find(l, -1);

	if (fd < 0)
		return -EBADF;
	if (find(l, fd))
		return -EEXIST;
	if (!r)
		return -ENOSPC;
	struct epoll_event ev = { .events = events, .data.u64 = tag_of(l, r) };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	r->fd = fd;
	r->events = events;
	r->fn = fn;
	r->ctx = ctx;
	return 0;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	struct evloop_reg *r = find(l, fd);

	if (!r || fd < 0)
		return -ENOENT;
	if (r->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.u64 = tag_of(l, r) };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	r->events = events;
	return 0;
}

void evloop_del(struct evloop *l, int fd)
{
	struct evloop_reg *r = fd >= 0 ? find(l, fd) : NULL;

	if (!r)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	r->fd = -1;
	r->gen++;
	r->fn = NULL;
	r->ctx = NULL;
}

static void arm(struct evloop *l, uint64_t deadline)
{
	if (deadline == l->armed)
		return;
	l->armed = deadline;
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (deadline != UINT64_MAX) {
		/* 0 would disarm; an overdue deadline fires at the next ns */
		its.it_value.tv_sec = (time_t)(deadline / 1000);
		its.it_value.tv_nsec = (long)(deadline % 1000) * 1000000 + 1;
	}
	timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int evloop_run_once(struct evloop *l, uint64_t deadline_ms)
{
	struct epoll_event evs[EVLOOP_MAX + 1];
	int ran = 0;

	arm(l, deadline_ms);
	int k = epoll_wait(l->epfd, evs, EVLOOP_MAX + 1, -1);
	if (k < 0)
		return errno == EINTR ? 0 : -errno;
	uint64_t now = evloop_now_ms();
	for (int i = 0; i < k; i++) {
		uint64_t tag = evs[i].data.u64;
		if (tag == TIMER_TAG) {
			uint64_t junk;
			if (read(l->timerfd, &junk, sizeof(junk)) < 0) {
				/* EAGAIN: nothing to read; the deadline is re-armed below */
			}
			l->armed = 0; /* fired: arm again next round */
			continue;
		}
		struct evloop_reg *r = &l->regs[(uint32_t)tag % EVLOOP_MAX];
		if (r->fd < 0 || r->gen != (uint32_t)(tag >> 32) || !r->fn)
			continue; /* removed in this round */
		r->fn(r->ctx, evs[i].events, now);
		ran++;
	}
	return ran;
}
