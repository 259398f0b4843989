/* Receive moderation's one decision (turn_worker.c): whether a worker
 * sleeps rx_moderation_us before it polls again. The sleep pays only when
 * datagrams arrive fast enough that it gathers several of them for the
 * next wakeup; otherwise it is pure latency. Bunching alone is not enough:
 * a worker that the machine's other work kept off the CPU finds a light
 * flow's datagrams queued together too, and a sleep then delays the next
 * ones for nothing (the p99 of bench/turnserver's 2,000 packets/s phase).
 * So the rate is judged over the whole last iteration (wait, work and any
 * sleep), not only over how long epoll_wait waited. Pure: no clock. */
#ifndef IPOP_TURN_MODERATION_H
#define IPOP_TURN_MODERATION_H

#include <stdbool.h>
#include <stdint.h>

enum {
	TURN_MOD_MIN_DGRAMS = 2,   /* at least this many in the last iteration */
	TURN_MOD_DENSE_US = 1000,  /* after an epoll_wait shorter than this */
	TURN_MOD_GATHER = 4,       /* and the rate would bring this many per sleep */
};

/* dgrams: datagrams the last iteration received; waited_us: how long its
 * epoll_wait slept; period_us: from the previous iteration's wakeup to
 * this one's (the time those datagrams had to arrive in); mod_us: rx_moderation_us (0: never). */
bool turn_mod_dense(uint64_t dgrams, uint64_t waited_us, uint64_t period_us, unsigned mod_us);

#endif
