/* The event loop: handlers run for ready fds, a deadline wakes it with no
 * handler, a registration removed during a round gets no stale event, and
 * the table refuses what it cannot hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop.h"

struct hit {
	struct evloop *l;
	int fd;       /* our pipe's read end */
	int kill_fd;  /* removed by our handler, when >= 0 */
	unsigned n;
};

static void on_read(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct hit *h = ctx;
	char c;

	assert_true(events & EPOLLIN);
	assert_true(now_ms > 0);
	assert_int_equal(read(h->fd, &c, 1), 1);
	h->n++;
	if (h->kill_fd >= 0)
		evloop_del(h->l, h->kill_fd);
}

static void test_ready_fd_runs_its_handler(void **state)
{
	(void)state;
	struct evloop l;
	int p[2];
	assert_int_equal(evloop_init(&l), 0);
	assert_int_equal(pipe(p), 0);
	struct hit h = { &l, p[0], -1, 0 };
	assert_int_equal(evloop_add(&l, p[0], EPOLLIN, on_read, &h), 0);
	assert_int_equal(evloop_add(&l, p[0], EPOLLIN, on_read, &h), -EEXIST);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(evloop_run_once(&l, UINT64_MAX), 1);
	assert_int_equal(h.n, 1);
	/* nothing ready: the deadline (already past) ends the wait */
	assert_int_equal(evloop_run_once(&l, evloop_now_ms()), 0);
	assert_int_equal(h.n, 1);
	evloop_del(&l, p[0]);
	close(p[0]);
	close(p[1]);
	evloop_free(&l);
}

static void test_removed_in_round_gets_no_event(void **state)
{
	(void)state;
	struct evloop l;
	int a[2], b[2];
	assert_int_equal(evloop_init(&l), 0);
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	/* each handler removes the other; both fds are ready in one round */
	struct hit ha = { &l, a[0], b[0], 0 }, hb = { &l, b[0], a[0], 0 };
	assert_int_equal(evloop_add(&l, a[0], EPOLLIN, on_read, &ha), 0);
	assert_int_equal(evloop_add(&l, b[0], EPOLLIN, on_read, &hb), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_int_equal(evloop_run_once(&l, UINT64_MAX), 1);
	assert_int_equal(ha.n + hb.n, 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	evloop_free(&l);
}

static void test_table_full(void **state)
{
	(void)state;
	struct evloop l;
	int p[EVLOOP_MAX + 1][2];
	struct hit h = { 0 };
	assert_int_equal(evloop_init(&l), 0);
	for (int i = 0; i <= EVLOOP_MAX; i++) {
		assert_int_equal(pipe(p[i]), 0);
		assert_int_equal(evloop_add(&l, p[i][0], EPOLLIN, on_read, &h), i < EVLOOP_MAX ? 0 : -ENOSPC);
	}
	assert_int_equal(evloop_add(&l, -1, EPOLLIN, on_read, &h), -EBADF);
	assert_int_equal(evloop_mod(&l, 12345, EPOLLIN), -ENOENT);
	for (int i = 0; i <= EVLOOP_MAX; i++) {
		evloop_del(&l, p[i][0]);
		close(p[i][0]);
		close(p[i][1]);
	}
	evloop_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_fd_runs_its_handler),
		cmocka_unit_test(test_removed_in_round_gets_no_event),
		cmocka_unit_test(test_table_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
