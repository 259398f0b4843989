/* stun_client against answers built with the STUN codec, on a fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "stun_auth.h"
#include "stun_client.h"
#include "stun_msg.h"

struct env {
	struct stun_client c;
	uint8_t out[256];
	int out_len;
	struct stun_msg req;
	uint8_t resp[256];
	int resp_len;
	struct sockaddr_storage mapped;
};

static void take(struct env *e)
{
	e->out_len = stun_client_poll_transmit(&e->c, e->out, sizeof(e->out));
	assert_true(e->out_len > 0);
	assert_int_equal(stun_msg_parse(&e->req, e->out, (size_t)e->out_len), 0);
	assert_int_equal(e->req.method, STUN_METHOD_BINDING);
	assert_int_equal(e->req.cls, STUN_CLASS_REQUEST);
	assert_true(stun_check_fingerprint(&e->req));
}

static void nothing_to_send(struct env *e)
{
	uint8_t buf[256];
	assert_int_equal(stun_client_poll_transmit(&e->c, buf, sizeof(buf)), 0);
}

static void answer(struct env *e, uint16_t attr, int error)
{
	struct stun_builder b;
	stun_build_response(&b, e->resp, sizeof(e->resp), &e->req,
			    error ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS);
	if (error)
		stun_build_error(&b, error, stun_error_reason(error));
	else
		stun_build_addr(&b, attr, (struct sockaddr *)&e->mapped);
	stun_build_fingerprint(&b);
	e->resp_len = stun_build_finish(&b);
	assert_true(e->resp_len > 0);
}

static void setup_env(struct env *e, bool stream)
{
	memset(e, 0, sizeof(*e));
	stun_client_init(&e->c, stream, 0);
	assert_int_equal(addr_parse("198.51.100.20:40000", 0, &e->mapped), 0);
}

static void test_success_xor_mapped(void **state)
{
	(void)state;
	struct env e;
	setup_env(&e, false);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_IDLE);
	assert_int_equal(stun_client_start(&e.c, 100), 0);
	take(&e);
	nothing_to_send(&e);
	answer(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, 0);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 150), 0);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_DONE);
	assert_true(addr_equal(stun_client_mapped(&e.c), (struct sockaddr *)&e.mapped));
	assert_int_equal(stun_client_timeout(&e.c), UINT64_MAX);
}

static void test_plain_mapped_fallback(void **state)
{
	(void)state;
	struct env e;
	setup_env(&e, false);
	assert_int_equal(stun_client_start(&e.c, 0), 0);
	take(&e);
	answer(&e, STUN_ATTR_MAPPED_ADDRESS, 0);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 1), 0);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_DONE);
	assert_true(addr_equal(stun_client_mapped(&e.c), (struct sockaddr *)&e.mapped));
}

static void test_foreign_and_bad_input(void **state)
{
	(void)state;
	struct env e;
	setup_env(&e, false);
	assert_int_equal(stun_client_start(&e.c, 0), 0);
	take(&e);
	answer(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, 0);
	e.resp[8] ^= 0xff; /* another transaction: FINGERPRINT no longer matches */
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 1), -EBADMSG);
	const uint8_t junk[] = { 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4 };
	assert_int_equal(stun_client_input(&e.c, junk, sizeof(junk), 1), -ENOENT);
	/* a well-formed answer to a different transaction id */
	struct stun_msg other = e.req;
	other.tid[0] ^= 1;
	struct stun_builder b;
	stun_build_response(&b, e.resp, sizeof(e.resp), &other, STUN_CLASS_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (struct sockaddr *)&e.mapped);
	e.resp_len = stun_build_finish(&b);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 1), -ENOENT);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_RUNNING);
}

static void test_error_response(void **state)
{
	(void)state;
	struct env e;
	setup_env(&e, false);
	assert_int_equal(stun_client_start(&e.c, 0), 0);
	take(&e);
	answer(&e, 0, STUN_ERR_BAD_REQUEST);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 1), 0);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_FAILED);
	assert_int_equal(e.c.error, STUN_ERR_BAD_REQUEST);
}

/* RFC 8489 6.2.1 example: sends at 0, 500, 1500, 3500, 7500, 15500 and
 * 31500 ms; failure at 39500 ms. */
static void test_retransmissions_and_timeout(void **state)
{
	(void)state;
	static const uint64_t at[] = { 500, 1500, 3500, 7500, 15500, 31500 };
	struct env e;
	const uint64_t t0 = 7000;
	setup_env(&e, false);
	assert_int_equal(stun_client_start(&e.c, t0), 0);
	take(&e);
	uint8_t tid[STUN_TID_LEN];
	memcpy(tid, e.req.tid, sizeof(tid));
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		assert_int_equal(stun_client_timeout(&e.c), t0 + at[i]);
		stun_client_handle_timeout(&e.c, t0 + at[i] - 1);
		nothing_to_send(&e);
		stun_client_handle_timeout(&e.c, t0 + at[i]);
		take(&e);
		assert_memory_equal(e.req.tid, tid, STUN_TID_LEN);
	}
	assert_int_equal(e.c.retransmits, 6);
	assert_int_equal(stun_client_timeout(&e.c), t0 + 39500);
	stun_client_handle_timeout(&e.c, t0 + 39499);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_RUNNING);
	stun_client_handle_timeout(&e.c, t0 + 39500);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_FAILED);
	assert_int_equal(e.c.error, -ETIMEDOUT);
	nothing_to_send(&e);
	/* a late answer changes nothing */
	answer(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, 0);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, t0 + 40000), -ENOENT);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_FAILED);
}

static void test_custom_rto_and_restart(void **state)
{
	(void)state;
	struct env e;
	memset(&e, 0, sizeof(e));
	stun_client_init(&e.c, false, 100);
	assert_int_equal(addr_parse("[2001:db8::5]:9", 0, &e.mapped), 0);
	assert_int_equal(stun_client_start(&e.c, 0), 0);
	take(&e);
	assert_int_equal(stun_client_timeout(&e.c), 100);
	stun_client_handle_timeout(&e.c, 100);
	take(&e);
	assert_int_equal(stun_client_timeout(&e.c), 300);
	uint8_t old[STUN_TID_LEN];
	memcpy(old, e.req.tid, sizeof(old));
	assert_int_equal(stun_client_start(&e.c, 1000), 0); /* a new transaction */
	take(&e);
	assert_memory_not_equal(e.req.tid, old, STUN_TID_LEN);
	assert_int_equal(stun_client_timeout(&e.c), 1100);
	answer(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, 0);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 1050), 0);
	assert_true(addr_equal(stun_client_mapped(&e.c), (struct sockaddr *)&e.mapped));
}

static void test_stream_single_send(void **state)
{
	(void)state;
	struct env e;
	setup_env(&e, true);
	assert_int_equal(stun_client_start(&e.c, 0), 0);
	take(&e);
	assert_int_equal(stun_client_timeout(&e.c), STUN_CLIENT_TI_MS);
	stun_client_handle_timeout(&e.c, 20000);
	nothing_to_send(&e);
	stun_client_handle_timeout(&e.c, STUN_CLIENT_TI_MS);
	nothing_to_send(&e);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_FAILED);
	assert_int_equal(e.c.error, -ETIMEDOUT);
}

/* RFC 5780: CHANGE-REQUEST goes out when asked; OTHER-ADDRESS comes back. */
static void test_change_request_and_other_address(void **state)
{
	(void)state;
	struct env e;
	setup_env(&e, false);
	e.c.change = STUN_CHANGE_IP | STUN_CHANGE_PORT;
	assert_int_equal(stun_client_start(&e.c, 100), 0);
	take(&e);
	const struct stun_attr *cr = stun_msg_find(&e.req, STUN_ATTR_CHANGE_REQUEST);
	assert_non_null(cr);
	uint32_t v;
	assert_int_equal(stun_attr_get_u32(&e.req, cr, &v), 0);
	assert_int_equal(v, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	struct sockaddr_storage other;
	assert_int_equal(addr_parse("192.0.2.3:3479", 0, &other), 0);
	struct stun_builder b;
	stun_build_response(&b, e.resp, sizeof(e.resp), &e.req, STUN_CLASS_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (struct sockaddr *)&e.mapped);
	stun_build_addr(&b, STUN_ATTR_OTHER_ADDRESS, (struct sockaddr *)&other);
	e.resp_len = stun_build_finish(&b);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 150), 0);
	assert_int_equal(stun_client_state(&e.c), STUN_CLIENT_DONE);
	assert_true(addr_equal((struct sockaddr *)&e.c.other, (struct sockaddr *)&other));
	/* A restart forgets it; a plain client sends no CHANGE-REQUEST. */
	setup_env(&e, false);
	assert_int_equal(stun_client_start(&e.c, 100), 0);
	take(&e);
	assert_null(stun_msg_find(&e.req, STUN_ATTR_CHANGE_REQUEST));
	answer(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, 0);
	assert_int_equal(stun_client_input(&e.c, e.resp, (size_t)e.resp_len, 150), 0);
	assert_int_equal(e.c.other.ss_family, AF_UNSPEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_xor_mapped),
		cmocka_unit_test(test_plain_mapped_fallback),
		cmocka_unit_test(test_foreign_and_bad_input),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_retransmissions_and_timeout),
		cmocka_unit_test(test_custom_rto_and_restart),
		cmocka_unit_test(test_stream_single_send),
		cmocka_unit_test(test_change_request_and_other_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
