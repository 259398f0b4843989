/* A small event loop in the spirit of Redis's ae.c: modules register their
 * file descriptors with a handler of their own, and one timerfd wakes the
 * loop at the earliest deadline its owner asks for. epoll, level-triggered.
 * A handler may add or remove registrations, its own included, while the
 * loop runs: an event for a registration removed in the same round is not
 * delivered. */
#ifndef IPOP_EVLOOP_H
#define IPOP_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

enum { EVLOOP_MAX = 16 }; /* registrations at once */

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as epoll reported them;
 * now_ms: CLOCK_MONOTONIC, read once per round. */
typedef void (*evloop_fn)(void *ctx, uint32_t events, uint64_t now_ms);

struct evloop_reg {
	int fd;          /* -1: free */
	uint32_t events;
	uint32_t gen;    /* bumped on removal, so stale events are ignored */
	evloop_fn fn;
	void *ctx;
};

struct evloop {
	int epfd, timerfd;
	uint64_t armed; /* the deadline the timerfd is set to */
	struct evloop_reg regs[EVLOOP_MAX];
};

int evloop_init(struct evloop *l);
void evloop_free(struct evloop *l);
/* Returns 0 or -errno (-ENOSPC when EVLOOP_MAX registrations exist). */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *ctx);
int evloop_mod(struct evloop *l, int fd, uint32_t events);
/* Removes fd (before the caller closes it); no-op when not registered. */
void evloop_del(struct evloop *l, int fd);
/* Sleeps until a registered fd is ready or deadline_ms passes (UINT64_MAX:
 * no deadline), then runs the handlers of the ready fds. Returns the
 * number of handlers run (0: the deadline passed) or -errno. */
int evloop_run_once(struct evloop *l, uint64_t deadline_ms);

uint64_t evloop_now_ms(void);
/* The same clock in microseconds (round-trip times). */
uint64_t evloop_now_us(void);
/* CLOCK_REALTIME in ns (wall time, for protocol timestamps). */
uint64_t evloop_wall_ns(void);

#endif
