/* The clocks the C benches read: monotonic time and this thread's CPU
 * time, in nanoseconds. */
#ifndef IPOP_BENCH_CLOCK_H
#define IPOP_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_mono_ms(void)
{
	return bench_mono_ns() / 1000000;
}

static inline double bench_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#endif
