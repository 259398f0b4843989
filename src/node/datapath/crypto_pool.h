/* A small pool of crypto worker threads for the data path (issue 7: crypto
 * spread over cores, per-peer order kept). The data thread prepares a
 * batch of tunnel_crypt_jobs in packet order (counters and nonces taken
 * sequentially, replay pre-checks done), then cpool_run spreads only the
 * AEAD calls over itself and the workers and returns when every job is
 * done; sending, the replay window and delivery then continue in the
 * original order on the data thread. Jobs are claimed in small chunks
 * from one atomic ticket tagged with the batch's generation, so each job
 * runs exactly once and a late worker can never claim from a newer batch.
 * Idle workers spin briefly, then sleep on a futex; the data thread waits
 * for the last chunk the same way. No allocation after cpool_init. */
#ifndef IPOP_CRYPTO_POOL_H
#define IPOP_CRYPTO_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tunnel_packet.h"

enum {
	CPOOL_MAX_WORKERS = 8,
	/* A batch smaller than this is sealed/opened on the data thread
	 * alone: a 1400-byte AEAD takes about 1 us here, waking a sleeping
	 * worker 5-20 us (docs/benchmarks.md, "crypto workers"). */
	CPOOL_MIN_JOBS = 16,
	CPOOL_CHUNK = 4, /* jobs per claim */
};

struct cpool {
	unsigned nworkers;
	pthread_t th[CPOOL_MAX_WORKERS];
	struct tunnel_crypt_job *jobs; /* of the current batch */
	/* generation << 32 | count << 16 | next index */
	_Atomic uint64_t ticket;
	_Atomic uint32_t gen;      /* futex word: a new batch (or stop) */
	_Atomic uint32_t done;     /* futex word: jobs finished */
	_Atomic uint32_t sleepers; /* workers inside futex_wait on gen */
	_Atomic uint32_t waiting;  /* the data thread sleeps on done */
	_Atomic uint32_t stop;
	uint32_t cur_gen;
	uint64_t batches, parallel_jobs; /* counters, data thread only */
};

/* Resolves the "crypto_threads" setting: -1 is "auto" (0 on a machine with
 * at most 2 CPUs, else min(CPUs - 1, 4)); otherwise the value, capped at
 * CPOOL_MAX_WORKERS. */
unsigned cpool_workers_for(int setting, long ncpus);
/* Starts nworkers threads (0: none, cpool_run then runs everything on the
 * caller). 0 or -errno (then nothing is started). */
int cpool_init(struct cpool *cp, unsigned nworkers);
/* Runs every job of jobs[0..n) exactly once (n <= 65535) and returns when
 * all are done: on the caller alone when there are no workers or
 * n < CPOOL_MIN_JOBS. Caller: the one data thread. */
void cpool_run(struct cpool *cp, struct tunnel_crypt_job *jobs, unsigned n);
/* Same, with the threshold given (tests use 1 to force the workers). */
void cpool_run_min(struct cpool *cp, struct tunnel_crypt_job *jobs, unsigned n, unsigned min_jobs);
/* Stops and joins the workers. */
void cpool_free(struct cpool *cp);

#endif
