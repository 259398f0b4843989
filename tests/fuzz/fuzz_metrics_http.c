/* libFuzzer harness for the exporter's HTTP side (src/common/metrics_http.c
 * on libmicrohttpd): arbitrary bytes as a request on a fresh connection
 * (a socketpair handed to the server's thread). Whatever the bytes, the
 * server does not crash or leak, and any answer it gives starts with a
 * status line whose code is one a bad or good request may get: 200 only
 * for GET/HEAD /metrics, otherwise 400, 404, 405, 413, 414, 431, 501 or
 * 505. A connection the server keeps waiting on is dropped after a short
 * wait (its idle timeout here is 1 s). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                          \
	do {                                                              \
		if (!(x)) {                                               \
			fprintf(stderr, "check failed: %s\n", #x);        \
			abort();                                          \
		}                                                         \
	} while (0)

static int render(void *ctx, struct prom_buf *b)
{
	(void)ctx;
	prom_one(b, "fuzz_value", PROM_GAUGE, "A value.", 1);
	return 0;
}

static struct metrics_http *server(void)
{
	static struct metrics_http *h;
	if (!h) {
		static const struct metrics_http_limits lim = { 1000, 1000, 1 };
		log_init("fuzz_metrics_http", LOG_LVL_ERROR, false);
		h = metrics_http_start_limits(NULL, render, NULL, &lim);
		CHECK(h);
	}
	return h;
}

static int allowed(int code)
{
	static const int codes[] = { 200, 400, 404, 405, 413, 414, 431, 501, 505 };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == code)
			return 1;
	return 0;
}

static char resp[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (size > 16384 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	if (metrics_http_add_conn(server(), sv[1]) < 0) {
		close(sv[0]);
		return 0;
	}
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(sv[0], data + off, size - off);
		if (n <= 0)
			break; /* the server closed, or is not reading: enough */
		off += (size_t)n;
	}
	shutdown(sv[0], SHUT_WR);
	size_t len = 0;
	struct pollfd p = { sv[0], POLLIN, 0 };
	/* up to the end of the answer's header: the body is not checked */
	while (len + 1 < sizeof(resp) && poll(&p, 1, 50) > 0) {
		ssize_t n = read(sv[0], resp + len, sizeof(resp) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		resp[len] = '\0';
		if (strstr(resp, "\r\n\r\n"))
			break;
	}
	resp[len] = '\0';
	close(sv[0]);
	int code;
	if (len >= 12 && strchr(resp, '\n') && sscanf(resp, "HTTP/1.%*1[01] %3d", &code) == 1) {
		CHECK(allowed(code));
		if (code == 200) { /* only for the one path, with the exposition's type */
			CHECK(memmem(data, size, METRICS_HTTP_PATH, strlen(METRICS_HTTP_PATH)));
			CHECK(strstr(resp, "Content-Type: " PROM_CONTENT_TYPE "\r\n"));
		}
	} else if (len) {
		CHECK(memcmp(resp, "HTTP/1.", len < 7 ? len : 7) == 0); /* a cut status line at most */
	}
	return 0;
}
