/* The HTTP side of a Prometheus exporter, on libmicrohttpd: one listener
 * with its own thread (MHD_USE_INTERNAL_POLLING_THREAD), bound only to the
 * address given. GET (or HEAD) /metrics answers 200 with what the render
 * callback writes (text format 0.0.4); any other path is 404, any other
 * method 405, and requests libmicrohttpd cannot parse get its 400. The
 * render callback runs on that thread, so it must only read state that
 * its owners publish for it (stats_pub.h), never take their locks.
 * Connections are bounded (in total, per client IP, and by a 10 s idle
 * timeout), so a misbehaving client cannot pile up state. */
#ifndef IPOP_METRICS_HTTP_H
#define IPOP_METRICS_HTTP_H

#include <sys/socket.h>

#include "prom.h"

#define METRICS_HTTP_PATH "/metrics"

/* Writes the exposition into b. Returns 0, or -errno for a 500. On
 * overflow (b->overflow) it is called again with a bigger buffer. */
typedef int (*metrics_render_fn)(void *ctx, struct prom_buf *b);

struct metrics_http;

/* Listens on addr (IPv4 or IPv6, with its port). addr NULL: no listener,
 * connections come only from metrics_http_add_conn (tests, fuzzing).
 * NULL on error, after logging why. */
struct metrics_http *metrics_http_start(const struct sockaddr *addr, metrics_render_fn fn,
					void *ctx);

/* The bounds on clients; metrics_http_start uses the defaults. */
struct metrics_http_limits {
	unsigned conns;        /* at once, 32 */
	unsigned per_ip;       /* at once from one address, 8 */
	unsigned timeout_s;    /* idle connections are closed, 10 */
};
struct metrics_http *metrics_http_start_limits(const struct sockaddr *addr, metrics_render_fn fn,
					       void *ctx, const struct metrics_http_limits *lim);
/* Closes the listener and every connection, and waits for the thread. */
void metrics_http_stop(struct metrics_http *h);
/* Hands a connected stream socket to the server (it takes ownership).
 * Returns 0 or -1. */
int metrics_http_add_conn(struct metrics_http *h, int fd);

#endif
