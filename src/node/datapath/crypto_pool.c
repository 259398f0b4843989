/* Crypto worker pool, see crypto_pool.h. */
#include "crypto_pool.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aead.h"

/* Pause rounds before sleeping (a pause is ~10-60 ns depending on the
 * CPU): the data thread waits for the last chunks, which are already
 * running; an idle worker spins less, since on a small machine its spin
 * takes CPU from the thread that produces the next batch. */
enum { WAIT_SPIN = 4000, WORKER_SPIN = 500 };

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

unsigned cpool_workers_for(int setting, long ncpus)
{
	if (setting >= 0)
		return setting > CPOOL_MAX_WORKERS ? CPOOL_MAX_WORKERS : (unsigned)setting;
	if (ncpus <= 2)
		return 0;
	return ncpus - 1 < 4 ? (unsigned)(ncpus - 1) : 4;
}

/* Claims and runs chunks of generation g until none is left. */
static void work(struct cpool *cp, uint32_t g)
{
	for (;;) {
		uint64_t t = atomic_load_explicit(&cp->ticket, memory_order_acquire);
		uint32_t cnt = (uint32_t)(t >> 16) & 0xffff, idx = (uint32_t)t & 0xffff;
		if ((uint32_t)(t >> 32) != g || idx >= cnt)
			return;
		uint32_t k = cnt - idx < CPOOL_CHUNK ? cnt - idx : CPOOL_CHUNK;
		if (!atomic_compare_exchange_weak_explicit(&cp->ticket, &t, t + k, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		/* The claim holds the batch open: jobs is this batch's. */
		for (uint32_t i = idx; i < idx + k; i++)
			tunnel_job_run(&cp->jobs[i]);
		if (atomic_fetch_add(&cp->done, k) + k == cnt && atomic_load(&cp->waiting))
			futex_wake(&cp->done);
	}
}

static void *worker(void *arg)
{
	struct cpool *cp = arg;
	uint32_t seen = 0;

	for (;;) {
		uint32_t g = atomic_load(&cp->gen);
		for (int i = 0; g == seen && i < WORKER_SPIN; i++) {
			cpu_relax();
			g = atomic_load(&cp->gen);
		}
		if (g == seen) {
			atomic_fetch_add(&cp->sleepers, 1);
			futex_wait(&cp->gen, seen);
			atomic_fetch_sub(&cp->sleepers, 1);
			continue;
		}
		if (atomic_load(&cp->stop))
			break;
		seen = g;
		work(cp, g);
	}
	aead_thread_release();
	return NULL;
}

int cpool_init(struct cpool *cp, unsigned nworkers)
{
	sigset_t all, old;

	memset(cp, 0, sizeof(*cp));
	if (nworkers > CPOOL_MAX_WORKERS)
		nworkers = CPOOL_MAX_WORKERS;
	/* Signals go to the data thread, never to a worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < nworkers; i++) {
		int rc = pthread_create(&cp->th[i], NULL, worker, cp);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			cpool_free(cp);
			return -rc;
		}
		cp->nworkers = i + 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

static void run_here(struct tunnel_crypt_job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		tunnel_job_run(&jobs[i]);
}

void cpool_run_min(struct cpool *cp, struct tunnel_crypt_job *jobs, unsigned n, unsigned min_jobs)
{
	if (!cp->nworkers || n < min_jobs || n < 2 || n > 0xffff) {
		run_here(jobs, n);
		return;
	}
	uint32_t g = ++cp->cur_gen;
	if (g == 0) /* 0 is a worker's "seen nothing yet" */
		g = ++cp->cur_gen;
	cp->jobs = jobs;
	atomic_store_explicit(&cp->done, 0, memory_order_relaxed);
	atomic_store_explicit(&cp->ticket, (uint64_t)g << 32 | (uint64_t)n << 16, memory_order_release);
	atomic_store(&cp->gen, g);
	if (atomic_load(&cp->sleepers))
		futex_wake(&cp->gen);
	work(cp, g);
	uint32_t d = atomic_load_explicit(&cp->done, memory_order_acquire);
	for (int i = 0; d != n && i < WAIT_SPIN; i++) {
		cpu_relax();
		d = atomic_load_explicit(&cp->done, memory_order_acquire);
	}
	if (d != n) {
		atomic_store(&cp->waiting, 1);
		while ((d = atomic_load(&cp->done)) != n)
			futex_wait(&cp->done, d);
		atomic_store(&cp->waiting, 0);
	}
	cp->batches++;
	cp->parallel_jobs += n;
}

void cpool_run(struct cpool *cp, struct tunnel_crypt_job *jobs, unsigned n)
{
	cpool_run_min(cp, jobs, n, CPOOL_MIN_JOBS);
}

void cpool_free(struct cpool *cp)
{
	if (!cp->nworkers)
		return;
	atomic_store(&cp->stop, 1);
	uint32_t g = ++cp->cur_gen;
	atomic_store(&cp->gen, g ? g : ++cp->cur_gen);
	futex_wake(&cp->gen);
	for (unsigned i = 0; i < cp->nworkers; i++)
		pthread_join(cp->th[i], NULL);
	cp->nworkers = 0;
}
