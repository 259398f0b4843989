/* The standard process_* metrics of Prometheus client libraries, so that
 * dashboards for any exporter show our daemons' CPU, memory and
 * descriptors: read from getrusage, getrlimit and /proc/self. */
#ifndef IPOP_PROM_PROCESS_H
#define IPOP_PROM_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "prom.h"

/* start_unix: when the process started (wall-clock seconds). count_fds:
 * add process_open_fds, counted in /proc/self/fd, which costs about a
 * microsecond per open descriptor (12 ms with 10,000 sockets): leave it
 * out where descriptors are many and counted otherwise. */
void prom_process(struct prom_buf *b, int64_t start_unix, bool count_fds);

#endif
