/* SocialVPN friend -> address map: assignment order from own + 1 with
 * wrap-around and skips, pins winning over saved entries, a save/load
 * round trip keeping every address, bad lines reported, a full subnet. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "social_map.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static void assert_addr(struct in_addr a, const char *s)
{
	char b[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, b, sizeof(b));
	assert_string_equal(b, s);
}

static void test_assign_order(void **state)
{
	(void)state;
	struct social_map m;
	struct in_addr ip;
	social_map_init(&m, A("172.31.0.100"), 24);
	assert_int_equal(social_map_assign(&m, "bob@x.test", &ip), 1);
	assert_addr(ip, "172.31.0.101");
	assert_int_equal(social_map_assign(&m, "carol@x.test", &ip), 1);
	assert_addr(ip, "172.31.0.102");
	assert_int_equal(social_map_assign(&m, "bob@x.test", &ip), 0);
	assert_addr(ip, "172.31.0.101");
	assert_int_equal(social_map_pin(&m, "dave@x.test", A("172.31.0.103")), 0);
	assert_int_equal(social_map_assign(&m, "erin@x.test", &ip), 1);
	assert_addr(ip, "172.31.0.104"); /* .103 is pinned */
	/* a pin takes an address from a saved holder... */
	assert_int_equal(social_map_pin(&m, "frank@x.test", A("172.31.0.102")), 0);
	assert_null(social_map_find(&m, "carol@x.test"));
	/* ...but not from another pin, and never ours or the broadcast */
	assert_int_equal(social_map_pin(&m, "gina@x.test", A("172.31.0.103")), -EEXIST);
	assert_int_equal(social_map_pin(&m, "gina@x.test", A("172.31.0.100")), -EINVAL);
	assert_int_equal(social_map_pin(&m, "gina@x.test", A("172.31.0.255")), -EINVAL);
	assert_int_equal(social_map_pin(&m, "gina@x.test", A("172.31.1.5")), -EINVAL);
	social_map_free(&m);
}

static void test_wrap_and_full(void **state)
{
	(void)state;
	struct social_map m;
	struct in_addr ip;
	char jid[32];
	/* /29: hosts .1-.6; own .5 -> .6, .1, .2, .3, .4, then full */
	social_map_init(&m, A("10.9.0.5"), 29);
	static const char *const want[] = { "10.9.0.6", "10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4" };
	for (int i = 0; i < 5; i++) {
		snprintf(jid, sizeof(jid), "u%d@x.test", i);
		assert_int_equal(social_map_assign(&m, jid, &ip), 1);
		assert_addr(ip, want[i]);
	}
	assert_int_equal(social_map_assign(&m, "late@x.test", &ip), -ENOSPC);
	social_map_free(&m);
}

static void test_save_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_social_map.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], pins[128];
	snprintf(path, sizeof(path), "%s/ipop0.social", dir);
	snprintf(pins, sizeof(pins), "%s/pins", dir);
	struct social_map m, m2;
	struct in_addr ip;
	social_map_init(&m, A("172.31.0.100"), 24);
	assert_int_equal(social_map_assign(&m, "bob@x.test", &ip), 1);
	assert_int_equal(social_map_assign(&m, "carol@x.test", &ip), 1);
	assert_int_equal(social_map_save(&m, path), 0);
	social_map_free(&m);

	FILE *f = fopen(pins, "w");
	assert_non_null(f);
	fprintf(f, "# pins\ncarol@x.test 172.31.0.150\n\nbad line here\nzed@x.test 10.0.0.1\nyan@x.test 172.31.0.200 # ok\n");
	fclose(f);
	social_map_init(&m2, A("172.31.0.100"), 24);
	char *diag = NULL;
	size_t dlen = 0;
	FILE *d = open_memstream(&diag, &dlen);
	assert_int_equal(social_map_load(&m2, pins, true, d), 2);
	assert_int_equal(social_map_load(&m2, path, false, d), 0);
	assert_int_equal(social_map_load(&m2, "/nonexistent/file", false, d), 0);
	fclose(d);
	assert_non_null(strstr(diag, "pins:4: expected"));
	assert_non_null(strstr(diag, "pins:5: outside"));
	free(diag);
	assert_addr(social_map_find(&m2, "bob@x.test")->ip4, "172.31.0.101");
	assert_addr(social_map_find(&m2, "carol@x.test")->ip4, "172.31.0.150"); /* the pin wins */
	assert_true(social_map_find(&m2, "carol@x.test")->pinned);
	assert_addr(social_map_find(&m2, "yan@x.test")->ip4, "172.31.0.200");
	/* the next new friend does not take bob's saved address */
	assert_int_equal(social_map_assign(&m2, "dan@x.test", &ip), 1);
	assert_addr(ip, "172.31.0.102");
	social_map_free(&m2);
	unlink(path);
	unlink(pins);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign_order),
		cmocka_unit_test(test_wrap_and_full),
		cmocka_unit_test(test_save_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
