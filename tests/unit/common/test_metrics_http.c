/* The exporter's HTTP side over socketpairs handed to libmicrohttpd: GET
 * and HEAD /metrics get 200 with the text-format content type and what
 * the render callback wrote (even when it needs a bigger buffer than the
 * first); other paths 404, other methods 405 with Allow, requests that
 * libmicrohttpd cannot parse 400 (or, for a request line that does not
 * split into method and path, a close without an answer), a failing
 * render 500. And a real listener on 127.0.0.1 answers the same way and
 * is gone once stopped. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_http.h"

struct render_ctx {
	int calls;
	int fail;
	size_t lines; /* samples to write: many overflow the first buffer */
};

static int render(void *ctx, struct prom_buf *b)
{
	struct render_ctx *r = ctx;
	r->calls++;
	if (r->fail)
		return -EIO;
	prom_family(b, "test_value", PROM_GAUGE, "A test value.");
	for (size_t i = 0; i < r->lines; i++)
		prom_sample1(b, "test_value", "label", "x\"y", i);
	return 0;
}

/* Sends req on a new connection and reads the whole answer (the server
 * closes after one request: no keep-alive for these clients). */
static size_t roundtrip(struct metrics_http *h, int fd_or_minus1, const char *req, char *out,
			size_t cap)
{
	int sv[2] = { -1, -1 };
	int fd = fd_or_minus1;
	if (fd < 0) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(metrics_http_add_conn(h, sv[1]), 0);
		fd = sv[0];
	}
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd);
	return len;
}

static int status_of(const char *resp)
{
	int code = 0;
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	return code;
}

static char resp[1 << 22];

static void test_routes(void **state)
{
	struct render_ctx rc = { .lines = 2 };
	struct metrics_http *h = metrics_http_start(NULL, render, &rc);
	(void)state;
	assert_non_null(h);

	roundtrip(h, -1, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(resp, "\r\n\r\n# HELP test_value A test value.\n# TYPE test_value gauge\n"
				     "test_value{label=\"x\\\"y\"} 0\ntest_value{label=\"x\\\"y\"} 1\n"));

	roundtrip(h, -1, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	assert_null(strstr(resp, "# HELP")); /* no body */

	roundtrip(h, -1, "GET /metrics?x=1&y HTTP/1.0\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200); /* query ignored */

	roundtrip(h, -1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 404);
	roundtrip(h, -1, "GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 404);

	roundtrip(h, -1, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 405);
	assert_non_null(strstr(resp, "Allow: GET, HEAD\r\n"));
	roundtrip(h, -1, "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 405);

	roundtrip(h, -1, "GET /metrics FOO/1.1\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 400);
	roundtrip(h, -1, "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 400);
	roundtrip(h, -1, "GET /metrics HTTP/1.0\r\nContent-Length: x\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 400);
	/* a request line that does not even split: closed without an answer */
	assert_int_equal(roundtrip(h, -1, "GARBAGE\r\n\r\n", resp, sizeof(resp)), 0);
	assert_int_equal(rc.calls, 3); /* only the three 200s rendered */
	metrics_http_stop(h);
}

static void test_big_and_failing_render(void **state)
{
	struct render_ctx rc = { .lines = 20000 }; /* ~600 KB: several doublings */
	struct metrics_http *h = metrics_http_start(NULL, render, &rc);
	(void)state;
	assert_non_null(h);
	size_t n = roundtrip(h, -1, "GET /metrics HTTP/1.0\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	assert_true(n > 20000 * 25);
	assert_non_null(strstr(resp, "test_value{label=\"x\\\"y\"} 19999\n"));
	rc.fail = 1;
	roundtrip(h, -1, "GET /metrics HTTP/1.0\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 500);
	metrics_http_stop(h);
}

static void test_real_listener(void **state)
{
	struct render_ctx rc = { .lines = 1 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct metrics_http *h = NULL;
	(void)state;
	/* a free port: try a few from a high range */
	for (uint16_t port = 39641; !h && port < 39741; port++) {
		a.sin_port = htons(port);
		h = metrics_http_start((struct sockaddr *)&a, render, &rc);
	}
	assert_non_null(h);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	roundtrip(h, fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	assert_non_null(strstr(resp, "test_value{label=\"x\\\"y\"} 0\n"));
	metrics_http_stop(h);
	/* stopped: nothing listens any more */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_big_and_failing_render),
		cmocka_unit_test(test_real_listener),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
