/* Sessions through the overlay (src/node/overlay/sessions.c) on a fake
 * clock: idle ones end after the idle time and not before, traffic keeps
 * them, a departed member's quiet session ends, the table stays bounded
 * with members coming and going (least recently used first), and a
 * session forgotten by the caller asks for nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sessions.h"

static const uint8_t *id_of(unsigned i)
{
	static uint8_t id[OV_SESSION_ID_LEN];
	memset(id, 0, sizeof(id));
	id[0] = (uint8_t)(i >> 8);
	id[1] = (uint8_t)i;
	id[19] = 0xa5;
	return id;
}

static unsigned num_of(const uint8_t id[OV_SESSION_ID_LEN])
{
	return (unsigned)id[0] << 8 | id[1];
}

/* Endings polled at now: how many; the first one's number in *first. */
static unsigned ends(struct ov_sessions *t, uint64_t now, unsigned *first)
{
	uint8_t id[OV_SESSION_ID_LEN];
	unsigned k = 0;

	while (ov_sessions_poll_end(t, id, now)) {
		if (k++ == 0 && first)
			*first = num_of(id);
	}
	return k;
}

static void test_idle_session_ends(void **state)
{
	(void)state;
	struct ov_sessions t;
	uint64_t now = 1000;

	assert_int_equal(ov_sessions_init(&t, 8, 0), 0);
	assert_int_equal(t.idle_s, OV_SESSION_IDLE_S);
	assert_true(ov_sessions_used(&t, id_of(1), 100, now));
	assert_true(ov_sessions_used(&t, id_of(2), 100, now));
	/* 2 keeps talking, 1 reports nothing: reports without data do not count */
	for (unsigned s = 1; s < OV_SESSION_IDLE_S; s++) {
		now += 1000;
		assert_true(ov_sessions_used(&t, id_of(1), 0, now));
		assert_true(ov_sessions_used(&t, id_of(2), 10, now));
		assert_int_equal(ends(&t, now, NULL), 0);
	}
	now += 1000; /* idle_s since 1's last data */
	unsigned first = 0;
	assert_int_equal(ends(&t, now, &first), 1);
	assert_int_equal(first, 1);
	assert_int_equal(ov_sessions_count(&t), 1);
	assert_int_equal(t.st.idle, 1);
	/* the next report of 1 (its next packet) starts a new session */
	assert_true(ov_sessions_used(&t, id_of(1), 50, now));
	assert_int_equal(t.st.opened, 3);
	ov_sessions_free(&t);
}

static void test_departed_member(void **state)
{
	(void)state;
	struct ov_sessions t;
	uint64_t now = 5000;

	assert_int_equal(ov_sessions_init(&t, 8, 0), 0);
	ov_sessions_used(&t, id_of(1), 1, now);
	ov_sessions_used(&t, id_of(2), 1, now);
	ov_sessions_used(&t, id_of(3), 1, now);
	ov_sessions_member(&t, id_of(1), false, now);
	ov_sessions_member(&t, id_of(2), false, now);
	ov_sessions_member(&t, id_of(3), false, now);
	ov_sessions_member(&t, id_of(3), true, now + 1000); /* back (XMPP failover) */
	for (unsigned s = 1; s < OV_SESSION_GONE_S; s++) {
		now += 1000;
		ov_sessions_used(&t, id_of(2), 10, now); /* still busy */
		assert_int_equal(ends(&t, now, NULL), 0);
	}
	now += 1000;
	unsigned first = 0;
	assert_int_equal(ends(&t, now, &first), 1);
	assert_int_equal(first, 1);
	assert_int_equal(t.st.gone, 1);
	/* 2 talked, so it is a member again as far as we care; 3 came back */
	now += 1000 * OV_SESSION_GONE_S;
	assert_int_equal(ends(&t, now, NULL), 0);
	assert_int_equal(ov_sessions_count(&t), 2);
	ov_sessions_free(&t);
}

static void test_bounded_with_churn(void **state)
{
	(void)state;
	struct ov_sessions t;
	uint64_t now = 1000;
	unsigned ended = 0;

	assert_int_equal(ov_sessions_init(&t, 4, 0), 0);
	for (unsigned i = 0; i < 4; i++, now += 1000)
		assert_true(ov_sessions_used(&t, id_of(i), 1, now));
	ov_sessions_used(&t, id_of(0), 1, now); /* 0 is the most recent now, 1 the least */
	now += 1000;
	assert_true(ov_sessions_used(&t, id_of(4), 1, now));
	unsigned first = 99;
	assert_int_equal(ends(&t, now, &first), 1);
	assert_int_equal(first, 1);
	assert_int_equal(t.st.evicted, 1);
	/* a thousand members come, talk once and go */
	for (unsigned i = 5; i < 1005; i++) {
		now += 1000;
		assert_true(ov_sessions_used(&t, id_of(i), 1, now));
		ov_sessions_member(&t, id_of(i), false, now);
		ended += ends(&t, now, NULL);
		assert_true(ov_sessions_count(&t) <= 4);
	}
	assert_int_equal(ended + ov_sessions_count(&t), 1004); /* 1005 sessions, 1 ended above */
	/* once they are quiet the table empties */
	now += 1000 * OV_SESSION_IDLE_S;
	ended += ends(&t, now, NULL);
	assert_int_equal(ov_sessions_count(&t), 0);
	assert_int_equal(ended, 1004);
	ov_sessions_free(&t);
}

static void test_full_queue_defers(void **state)
{
	(void)state;
	struct ov_sessions t;
	uint64_t now = 1000;

	assert_int_equal(ov_sessions_init(&t, 2, 0), 0);
	ov_sessions_used(&t, id_of(0), 1, now);
	ov_sessions_used(&t, id_of(1), 1, now);
	/* the caller polls nothing: at most OV_SESSION_ENDQ endings wait */
	for (unsigned i = 2; i < 2 + OV_SESSION_ENDQ; i++)
		assert_true(ov_sessions_used(&t, id_of(i), 1, now + i));
	assert_false(ov_sessions_used(&t, id_of(100), 1, now + 100));
	assert_int_equal(t.st.deferred, 1);
	assert_int_equal(ov_sessions_count(&t), 2);
	assert_int_equal(ends(&t, now + 101, NULL), OV_SESSION_ENDQ);
	assert_true(ov_sessions_used(&t, id_of(100), 1, now + 102)); /* offered again: in */
	ov_sessions_free(&t);
}

static void test_forgotten_asks_nothing(void **state)
{
	(void)state;
	struct ov_sessions t;

	assert_int_equal(ov_sessions_init(&t, 4, 30), 0);
	ov_sessions_used(&t, id_of(7), 1, 1000);
	ov_sessions_gone(&t, id_of(7)); /* its link went, or it has a direct path */
	assert_int_equal(ov_sessions_count(&t), 0);
	assert_int_equal(ends(&t, 1000 + 31000, NULL), 0);
	/* a custom idle time is honoured */
	ov_sessions_used(&t, id_of(8), 1, 100000);
	assert_int_equal(ends(&t, 129999, NULL), 0);
	assert_int_equal(ends(&t, 131000, NULL), 1); /* looked at once a second */
	ov_sessions_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_session_ends),
		cmocka_unit_test(test_departed_member),
		cmocka_unit_test(test_bounded_with_churn),
		cmocka_unit_test(test_full_queue_defers),
		cmocka_unit_test(test_forgotten_asks_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
