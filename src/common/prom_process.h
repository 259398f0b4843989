/* The standard process_* metrics of Prometheus client libraries, so that
 * dashboards for any exporter show our daemons' CPU, memory and
 * descriptors: read from getrusage, getrlimit and /proc/self. */
#ifndef IPOP_PROM_PROCESS_H
#define IPOP_PROM_PROCESS_H

#include <stdint.h>

#include "prom.h"

/* start_unix: when the process started (wall-clock seconds). */
void prom_process(struct prom_buf *b, int64_t start_unix);

#endif
