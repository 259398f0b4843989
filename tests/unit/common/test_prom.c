/* The Prometheus text writer: HELP/TYPE lines, samples with and without
 * labels, the escaping of label values (backslash, quote, newline, bytes
 * that are not UTF-8), numbers, invalid names refused, and a buffer that
 * fills up keeping only whole lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

static char buf[4096];

static void test_family_and_samples(void **state)
{
	struct prom_buf b;
	(void)state;
	prom_init(&b, buf, sizeof(buf));
	prom_family(&b, "x_total", PROM_COUNTER, "Things\\done\nnewline");
	prom_sample(&b, "x_total", NULL, 0, 18446744073709551615ull);
	struct prom_label l[2] = { { "a", "1" }, { "b_c", "" } };
	prom_sample(&b, "x_total", l, 2, 0);
	prom_one(&b, "g", PROM_GAUGE, "", 7);
	prom_family(&b, "u", PROM_UNTYPED, "untyped");
	prom_sample1(&b, "u", "k", "v", 42);
	assert_false(b.overflow);
	assert_false(b.bad_name);
	assert_string_equal(buf, "# HELP x_total Things\\\\done\\nnewline\n"
				 "# TYPE x_total counter\n"
				 "x_total 18446744073709551615\n"
				 "x_total{a=\"1\",b_c=\"\"} 0\n"
				 "# HELP g \n"
				 "# TYPE g gauge\n"
				 "g 7\n"
				 "# HELP u untyped\n"
				 "# TYPE u untyped\n"
				 "u{k=\"v\"} 42\n");
	assert_int_equal(b.len, strlen(buf));
}

static void test_label_escaping(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "a\\b", "a\\\\b" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "two\nlines", "two\\nlines" },
		{ "tab\tand cr\r", "tab\tand cr\r" },         /* allowed as they are */
		{ "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80" },
		{ "bad \xFF byte", "bad \xEF\xBF\xBD byte" },
		{ "cut \xC3", "cut \xEF\xBF\xBD" },            /* truncated sequence at the end */
		{ "over\xC0\xAF", "over\xEF\xBF\xBD\xEF\xBF\xBD" }, /* overlong '/' */
		{ "sur\xED\xA0\x80", "sur\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" }, /* a surrogate */
		{ "big\xF4\x90\x80\x80", "big\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prom_buf b;
		char want[256];
		prom_init(&b, buf, sizeof(buf));
		prom_sample1(&b, "m", "l", cases[i].in, 1);
		snprintf(want, sizeof(want), "m{l=\"%s\"} 1\n", cases[i].out);
		assert_string_equal(buf, want);
	}
}

static void test_floats(void **state)
{
	struct prom_buf b;
	(void)state;
	prom_init(&b, buf, sizeof(buf));
	prom_sample_f(&b, "f", NULL, 0, 0.1);
	prom_sample_f(&b, "f", NULL, 0, 1.5e9);
	prom_sample_f(&b, "f", NULL, 0, 1.0 / 3.0);
	prom_sample_f(&b, "f", NULL, 0, __builtin_nan(""));
	prom_sample_f(&b, "f", NULL, 0, __builtin_inf());
	prom_sample_f(&b, "f", NULL, 0, -__builtin_inf());
	assert_string_equal(buf, "f 0.1\nf 1500000000\nf 0.33333333333333331\nf NaN\nf +Inf\nf -Inf\n");
}

static void test_bad_names(void **state)
{
	struct prom_buf b;
	(void)state;
	assert_true(prom_name_valid("ipop_turn:x_1", false));
	assert_false(prom_name_valid("ipop_turn:x_1", true)); /* no ':' in label names */
	assert_false(prom_name_valid("1abc", false));
	assert_false(prom_name_valid("", false));
	assert_false(prom_name_valid("a-b", false));
	assert_false(prom_name_valid("a b", true));
	prom_init(&b, buf, sizeof(buf));
	prom_family(&b, "bad name", PROM_GAUGE, "x");
	assert_true(b.bad_name);
	prom_init(&b, buf, sizeof(buf));
	prom_sample1(&b, "ok", "bad\"label", "v", 1);
	assert_true(b.bad_name);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf, "");
}

/* Whatever the size, the buffer holds whole lines only and says overflow
 * when something was left out. */
static void test_overflow_keeps_whole_lines(void **state)
{
	char full[512];
	struct prom_buf b;
	(void)state;
	prom_init(&b, full, sizeof(full));
	prom_family(&b, "m", PROM_GAUGE, "help");
	prom_sample1(&b, "m", "l", "a\"b", 1);
	prom_sample1(&b, "m", "l", "c", 2);
	assert_false(b.overflow);
	size_t need = b.len;
	for (size_t cap = 1; cap <= need + 1; cap++) {
		char small[512];
		prom_init(&b, small, cap);
		prom_family(&b, "m", PROM_GAUGE, "help");
		prom_sample1(&b, "m", "l", "a\"b", 1);
		prom_sample1(&b, "m", "l", "c", 2);
		assert_int_equal(b.overflow, cap <= need);
		assert_int_equal(strlen(small), b.len);
		assert_true(b.len == 0 || small[b.len - 1] == '\n');
		assert_memory_equal(small, full, b.len); /* a prefix of the whole */
	}
	prom_init(&b, NULL, 0); /* no buffer at all: only overflow */
	prom_one(&b, "m", PROM_GAUGE, "h", 1);
	assert_true(b.overflow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_samples),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_overflow_keeps_whole_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
