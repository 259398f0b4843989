/* ipop-turnserver's Prometheus exposition: the workers' published
 * counters (turn_worker_get_stats, never a lock the data path takes)
 * summed, under coturn's names where a metric means the same thing and
 * ipop_turn_* otherwise. No label carries a user name or an address:
 * label values come from small fixed sets (transport, direction, reason,
 * code, worker number). Names and meanings: docs/metrics.md. */
#ifndef IPOP_TURN_METRICS_H
#define IPOP_TURN_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "prom.h"
#include "turn_worker.h"

struct turn_metrics_info {
	const char *version;
	const char *realm;       /* the label of coturn's turn_traffic_* */
	unsigned max_client;
	int64_t start_unix;
	bool process;            /* add the process_* metrics */
};

/* The exposition for these per-worker counters (worker i = w[i]). */
void turn_metrics_write(struct prom_buf *b, const struct turn_metrics_info *info,
			const struct turn_worker_stats *w, unsigned n);

/* The render callback of metrics_http.h: reads every worker's counters. */
struct turn_metrics {
	struct turn_metrics_info info;
	struct turn_worker *const *workers;
	unsigned n;
};
int turn_metrics_render(void *ctx, struct prom_buf *b);

#endif
