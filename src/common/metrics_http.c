#include "metrics_http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "mhd_lib.h"

enum {
	CONN_LIMIT = 32,         /* connections at once */
	PER_IP_LIMIT = 8,        /* ... from one client address */
	CONN_TIMEOUT_S = 10,     /* idle connections are closed */
	BUF_FIRST = 16 * 1024,   /* first render buffer; it grows as needed */
	BUF_MAX = 16 * 1024 * 1024,
};

struct metrics_http {
	const struct mhd_lib *mhd;
	struct MHD_Daemon *d;
	metrics_render_fn fn;
	void *ctx;
	size_t buf_size;         /* what the last exposition needed; MHD thread only */
	struct log_ratelimit log_rl;
	atomic_bool running;     /* started: its messages are about clients */
};

static const char body_404[] = "not found: the metrics are at " METRICS_HTTP_PATH "\n";
static const char body_405[] = "method not allowed: use GET\n";
static const char body_500[] = "cannot render the metrics\n";

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* libmicrohttpd's own messages: why it cannot start (an error), and then
 * whatever clients provoke (debug, rate-limited). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics_http *h = cls;
	bool running = atomic_load(&h->running);
	char line[256];

	if (running && (log_get_level() < LOG_LVL_DEBUG || !log_ratelimit_ok(&h->log_rl, now_ms())))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_msg(running ? LOG_LVL_DEBUG : LOG_LVL_ERROR, "metrics http: %s", line);
}

static enum MHD_Result reply_static(const struct mhd_lib *m, struct MHD_Connection *c, unsigned status,
				    const char *body, const char *allow)
{
	struct MHD_Response *r =
		m->response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	m->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		m->add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = m->queue_response(c, status, r);
	m->destroy_response(r);
	return ret;
}

/* Renders into a buffer that grows until the exposition fits. NULL with
 * *err set when it cannot. */
static char *render(struct metrics_http *h, size_t *len, int *err)
{
	size_t size = h->buf_size;

	for (;;) {
		char *buf = malloc(size);
		struct prom_buf b;
		if (!buf) {
			*err = -ENOMEM;
			return NULL;
		}
		prom_init(&b, buf, size);
		*err = h->fn(h->ctx, &b);
		if (!*err && b.bad_name)
			*err = -EINVAL;
		if (!*err && !b.overflow) {
			h->buf_size = size;
			*len = b.len;
			return buf;
		}
		free(buf);
		if (*err)
			return NULL;
		if (size >= BUF_MAX) {
			*err = -E2BIG;
			return NULL;
		}
		size *= 2;
	}
}

static enum MHD_Result reply_metrics(struct metrics_http *h, struct MHD_Connection *c)
{
	size_t len = 0;
	int err = 0;
	char *buf = render(h, &len, &err);

	if (!buf) {
		if (log_ratelimit_ok(&h->log_rl, now_ms()))
			log_warn("metrics http: render failed: %s", strerror(-err));
		return reply_static(h->mhd, c, MHD_HTTP_INTERNAL_SERVER_ERROR, body_500, NULL);
	}
	struct MHD_Response *r = h->mhd->response_from_buffer_free(len, buf, free);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	h->mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PROM_CONTENT_TYPE);
	h->mhd->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = h->mhd->queue_response(c, MHD_HTTP_OK, r);
	h->mhd->destroy_response(r);
	return ret;
}

/* Called by libmicrohttpd once it has parsed a request's header (and
 * again for any body, which is never needed: the answer is queued on the
 * first call and the rest is discarded). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct metrics_http *h = cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;

	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	if (strcmp(url, METRICS_HTTP_PATH) != 0)
		return reply_static(h->mhd, c, MHD_HTTP_NOT_FOUND, body_404, NULL);
	if (!get)
		return reply_static(h->mhd, c, MHD_HTTP_METHOD_NOT_ALLOWED, body_405, "GET, HEAD");
	return reply_metrics(h, c);
}

struct metrics_http *metrics_http_start(const struct sockaddr *addr, metrics_render_fn fn,
					void *ctx)
{
	static const struct metrics_http_limits lim = { CONN_LIMIT, PER_IP_LIMIT, CONN_TIMEOUT_S };
	return metrics_http_start_limits(addr, fn, ctx, &lim);
}

struct metrics_http *metrics_http_start_limits(const struct sockaddr *addr, metrics_render_fn fn,
					       void *ctx, const struct metrics_http_limits *lim)
{
	const struct mhd_lib *m = mhd_lib_get();
	char as[ADDR_STRLEN];

	if (!m)
		return NULL;
	struct metrics_http *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->mhd = m;
	h->fn = fn;
	h->ctx = ctx;
	h->buf_size = BUF_FIRST;
	h->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5, 1000);
	atomic_init(&h->running, false);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_USE_ITC;
	if (!addr)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	else if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The port is also in addr (MHD_OPTION_SOCK_ADDR wins over it). */
	h->d = m->start_daemon(flags, addr ? addr_port(addr) : 0, NULL, NULL, on_request, h,
			       MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
			       MHD_OPTION_CONNECTION_LIMIT, lim->conns,
			       MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->per_ip,
			       MHD_OPTION_CONNECTION_TIMEOUT, lim->timeout_s,
			       addr ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, addr,
			       MHD_OPTION_END);
	if (!h->d) {
		if (addr)
			log_error("metrics: cannot listen on http://%s%s",
				  addr_format(addr, true, as), METRICS_HTTP_PATH);
		else
			log_error("metrics: cannot start the HTTP server");
		free(h);
		return NULL;
	}
	atomic_store(&h->running, true);
	if (addr)
		log_info("metrics on http://%s%s", addr_format(addr, true, as), METRICS_HTTP_PATH);
	return h;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	h->mhd->stop_daemon(h->d);
	free(h);
}

int metrics_http_add_conn(struct metrics_http *h, int fd)
{
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return h->mhd->add_connection(h->d, fd, (const struct sockaddr *)&lo, sizeof(lo)) == MHD_YES ? 0 : -1;
}
