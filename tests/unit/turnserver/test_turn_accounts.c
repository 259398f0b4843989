/* Accounts: turn.conf users, the account file, TURN REST usernames, and
 * reload while other threads look up. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "stun_auth.h"
#include "turn_accounts.h"
#include "turn_conf.h"

#define DATA "tests/data/turn/"
#define REALM "example.org"

static int to_repo_root(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_WARN);
	if (access(DATA "basic.accounts", R_OK) == 0)
		return 0;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	strcpy(slash, "/../../..");
	return chdir(dir);
}

/* A turn_conf built by hand; only what turn_accounts reads. */
static struct turn_conf *make_conf(const char *file, const char *secret)
{
	struct turn_conf *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->realm = strdup(REALM);
	c->account_method = file ? TURN_ACCOUNT_FILE : TURN_ACCOUNT_NONE;
	c->account_file = file ? strdup(file) : NULL;
	c->static_auth_secret = secret ? strdup(secret) : NULL;
	return c;
}

static void conf_add_user(struct turn_conf *c, const char *name, const char *pass)
{
	c->users[c->n_users].name = strdup(name);
	c->users[c->n_users].password = strdup(pass);
	c->n_users++;
}

static void free_conf(struct turn_conf *c)
{
	turn_conf_free(c);
	free(c);
}

/* stderr captured into a string between begin and end (caller frees). */
static FILE *capture_begin(int *saved)
{
	fflush(stderr);
	*saved = dup(2);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	return tmp;
}
static char *capture_end(FILE *tmp, int saved)
{
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	long len = ftell(tmp);
	rewind(tmp);
	char *s = calloc(1, (size_t)len + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	return s;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

/* Independent of stun_auth: MD5 of "user:realm:pass" with OpenSSL. */
static void md5_key(const char *user, const char *realm, const char *pass, uint8_t out[16])
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s:%s:%s", user, realm, pass);
	unsigned len = 0;
	assert_int_equal(EVP_Digest(buf, (size_t)n, out, &len, EVP_md5(), NULL), 1);
	assert_int_equal(len, 16);
}

static void assert_account(struct turn_accounts *a, const char *user, const char *pass,
			   enum turn_account_state state)
{
	struct turn_account_lookup out;
	memset(&out, 0xaa, sizeof(out));
	int rc = turn_accounts_lookup(a, user, 0, &out);
	if (rc != 0)
		fail_msg("lookup %s: %d", user, rc);
	assert_int_equal(out.state, state);
	uint8_t want[16], want256[32];
	md5_key(user, REALM, pass, want);
	assert_memory_equal(out.key, want, 16);
	stun_key_sha256(user, REALM, pass, want256);
	assert_memory_equal(out.key256, want256, 32);
}

static void assert_unknown(struct turn_accounts *a, const char *user)
{
	struct turn_account_lookup out;
	int rc = turn_accounts_lookup(a, user, 0, &out);
	if (rc != -ENOENT)
		fail_msg("lookup %s: %d, expected -ENOENT", user, rc);
}

static void test_conf_users(void **state)
{
	(void)state;
	struct turn_conf *c = make_conf(NULL, NULL);
	conf_add_user(c, "svpnjingle", "1234567890");
	conf_add_user(c, "alice", "pa:ss");
	struct turn_accounts *a = turn_accounts_new(c);
	assert_non_null(a);
	assert_account(a, "svpnjingle", "1234567890", TURN_ACCT_AUTHORIZED);
	assert_account(a, "alice", "pa:ss", TURN_ACCT_AUTHORIZED);
	assert_unknown(a, "bob");
	assert_unknown(a, "");
	assert_unknown(a, "svpnjingl");
	/* no file: reload rebuilds the same table */
	assert_int_equal(turn_accounts_reload(a), 2);
	assert_account(a, "svpnjingle", "1234567890", TURN_ACCT_AUTHORIZED);
	turn_accounts_free(a);
	free_conf(c);
}

static void test_account_file(void **state)
{
	(void)state;
	struct turn_conf *c = make_conf(DATA "basic.accounts", NULL);
	conf_add_user(c, "svpnjingle", "1234567890");
	int saved;
	FILE *tmp = capture_begin(&saved);
	struct turn_accounts *a = turn_accounts_new(c);
	char *err = capture_end(tmp, saved);
	assert_non_null(a);

	assert_account(a, "alice", "alicepw", TURN_ACCT_AUTHORIZED);
	assert_account(a, "bob", "bobpw", TURN_ACCT_RESTRICTED);
	assert_account(a, "carol", "carolpw", TURN_ACCT_REFUSED);
	assert_account(a, "dave", "davepw", TURN_ACCT_AUTHORIZED); /* no state column */
	assert_account(a, "erin", "pass:with:colons", TURN_ACCT_AUTHORIZED);
	assert_account(a, "ivan", "ivanpw", TURN_ACCT_RESTRICTED);  /* CRLF */
	/* turn.conf users win over the file */
	assert_account(a, "svpnjingle", "1234567890", TURN_ACCT_AUTHORIZED);
	assert_unknown(a, "frank"); /* another realm */
	assert_unknown(a, "grace");
	assert_unknown(a, "heidi");
	assert_unknown(a, "nocolon");

	assert_contains(err, DATA "basic.accounts:9: realm 'other.org'");
	assert_contains(err, DATA "basic.accounts:10: expected login:password:realm:state");
	assert_contains(err, DATA "basic.accounts:11: unknown state");
	assert_contains(err, DATA "basic.accounts:12: empty login");
	assert_contains(err, DATA "basic.accounts:13: empty login");
	assert_contains(err, DATA "basic.accounts:14: 'alice' is already defined");
	assert_contains(err, DATA "basic.accounts:15: 'svpnjingle' is already defined");
	assert_null(strstr(err, "basic.accounts:3:"));
	assert_null(strstr(err, "basic.accounts:7:"));
	assert_null(strstr(err, "basic.accounts:16:"));
	free(err);
	/* the duplicate kept its first definition */
	assert_account(a, "alice", "alicepw", TURN_ACCT_AUTHORIZED);
	turn_accounts_free(a);
	free_conf(c);
}

static void test_missing_file_fails(void **state)
{
	(void)state;
	struct turn_conf *c = make_conf(DATA "no-such.accounts", NULL);
	int saved;
	FILE *tmp = capture_begin(&saved);
	struct turn_accounts *a = turn_accounts_new(c);
	char *err = capture_end(tmp, saved);
	assert_null(a);
	assert_contains(err, "no-such.accounts");
	free(err);
	free_conf(c);
}

/* base64(HMAC-SHA1(secret, user)) computed here with OpenSSL directly. */
static void rest_password(const char *secret, const char *user, char out[29])
{
	uint8_t mac[20];
	unsigned len = 0;
	assert_non_null(HMAC(EVP_sha1(), secret, (int)strlen(secret), (const uint8_t *)user,
			     strlen(user), mac, &len));
	assert_int_equal(len, 20);
	assert_int_equal(EVP_EncodeBlock((uint8_t *)out, mac, 20), 28);
}

static void test_rest(void **state)
{
	(void)state;
	struct turn_conf *c = make_conf(NULL, "s3cret");
	conf_add_user(c, "1999999999:static", "pw"); /* static entries win */
	struct turn_accounts *a = turn_accounts_new(c);
	assert_non_null(a);
	int64_t now = 1700000000;
	char user[64], pass[29];
	struct turn_account_lookup out;

	snprintf(user, sizeof(user), "%lld:alice", (long long)(now + 60));
	assert_int_equal(turn_accounts_lookup(a, user, now, &out), 0);
	assert_int_equal(out.state, TURN_ACCT_AUTHORIZED);
	rest_password("s3cret", user, pass);
	uint8_t want[16];
	md5_key(user, REALM, pass, want);
	assert_memory_equal(out.key, want, 16);
	uint8_t want256[32];
	stun_key_sha256(user, REALM, pass, want256);
	assert_memory_equal(out.key256, want256, 32);

	/* bare expiry is a valid REST username too */
	snprintf(user, sizeof(user), "%lld", (long long)(now + 1));
	assert_int_equal(turn_accounts_lookup(a, user, now, &out), 0);
	/* expired: at and after expiry */
	snprintf(user, sizeof(user), "%lld:alice", (long long)now);
	assert_int_equal(turn_accounts_lookup(a, user, now, &out), -ESTALE);
	snprintf(user, sizeof(user), "%lld:alice", (long long)(now - 3600));
	assert_int_equal(turn_accounts_lookup(a, user, now, &out), -ESTALE);
	/* not a REST username */
	assert_int_equal(turn_accounts_lookup(a, "alice", now, &out), -ENOENT);
	/* a static account with a REST-looking name keeps its own password */
	assert_int_equal(turn_accounts_lookup(a, "1999999999:static", now, &out), 0);
	md5_key("1999999999:static", REALM, "pw", want);
	assert_memory_equal(out.key, want, 16);
	turn_accounts_free(a);
	free_conf(c);

	/* without a secret, REST usernames are unknown */
	c = make_conf(NULL, NULL);
	a = turn_accounts_new(c);
	assert_non_null(a);
	snprintf(user, sizeof(user), "%lld:alice", (long long)(now + 60));
	assert_int_equal(turn_accounts_lookup(a, user, now, &out), -ENOENT);
	turn_accounts_free(a);
	free_conf(c);
}

static void write_file(const char *path, const char *text)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0); /* atomic, as an admin's editor might not be */
}

static void test_reload(void **state)
{
	(void)state;
	char path[] = "/tmp/ipop-test-accounts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "alice:one:" REALM ":authorized\nbob:bobpw:" REALM ":authorized\n");
	struct turn_conf *c = make_conf(path, NULL);
	struct turn_accounts *a = turn_accounts_new(c);
	assert_non_null(a);
	assert_account(a, "alice", "one", TURN_ACCT_AUTHORIZED);
	assert_account(a, "bob", "bobpw", TURN_ACCT_AUTHORIZED);

	/* changes are picked up: new password, new state, removed, added */
	write_file(path, "alice:two:" REALM ":restricted\ncarol:c:" REALM ":authorized\n"
			 "dan:d:" REALM ":refused\n");
	assert_int_equal(turn_accounts_reload(a), 3);
	assert_account(a, "alice", "two", TURN_ACCT_RESTRICTED);
	assert_unknown(a, "bob");
	assert_account(a, "carol", "c", TURN_ACCT_AUTHORIZED);
	assert_account(a, "dan", "d", TURN_ACCT_REFUSED);

	/* unreadable file: the old table stays */
	assert_int_equal(unlink(path), 0);
	int saved;
	FILE *tmp = capture_begin(&saved);
	int rc = turn_accounts_reload(a);
	char *err = capture_end(tmp, saved);
	assert_int_equal(rc, -ENOENT);
	assert_contains(err, "keeping the previous accounts");
	free(err);
	assert_account(a, "alice", "two", TURN_ACCT_RESTRICTED);
	assert_account(a, "carol", "c", TURN_ACCT_AUTHORIZED);

	/* and it comes back */
	write_file(path, "erin:e:" REALM ":authorized\n");
	assert_int_equal(turn_accounts_reload(a), 1);
	assert_account(a, "erin", "e", TURN_ACCT_AUTHORIZED);
	assert_unknown(a, "alice");
	unlink(path);
	turn_accounts_free(a);
	free_conf(c);
}

static void test_many_accounts(void **state)
{
	(void)state;
	enum { N = 5000 };
	char path[] = "/tmp/ipop-test-accounts-big-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	for (int i = 0; i < N; i++)
		fprintf(f, "user%d:pw%d:%s:%s\n", i, i * 7, REALM, i % 3 ? "authorized" : "restricted");
	assert_int_equal(fclose(f), 0);
	struct turn_conf *c = make_conf(path, NULL);
	struct turn_accounts *a = turn_accounts_new(c);
	assert_non_null(a);
	assert_int_equal(turn_accounts_reload(a), N);
	char user[32], pass[32];
	for (int i = 0; i < N; i += 97) {
		snprintf(user, sizeof(user), "user%d", i);
		snprintf(pass, sizeof(pass), "pw%d", i * 7);
		assert_account(a, user, pass, i % 3 ? TURN_ACCT_AUTHORIZED : TURN_ACCT_RESTRICTED);
	}
	assert_account(a, "user4999", "pw34993", TURN_ACCT_AUTHORIZED);
	assert_unknown(a, "user5000");
	assert_unknown(a, "user-1");
	unlink(path);
	turn_accounts_free(a);
	free_conf(c);
}

struct reader_arg {
	struct turn_accounts *a;
	_Atomic int *stop;
	_Atomic int *started; /* readers that finished their first lookup */
	long ok, bad;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;
	uint8_t want[16];
	md5_key("stable", REALM, "s", want);
	while (!*r->stop) {
		struct turn_account_lookup out;
		if (turn_accounts_lookup(r->a, "stable", 0, &out) == 0 &&
		    memcmp(out.key, want, 16) == 0)
			r->ok++;
		else
			r->bad++;
		(void)turn_accounts_lookup(r->a, "flapping", 0, &out);
		if (r->ok + r->bad == 1)
			(*r->started)++;
	}
	return NULL;
}

static void test_reload_concurrent(void **state)
{
	(void)state;
	char path[] = "/tmp/ipop-test-accounts-conc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "stable:s:" REALM ":authorized\n");
	struct turn_conf *c = make_conf(path, NULL);
	struct turn_accounts *a = turn_accounts_new(c);
	assert_non_null(a);

	_Atomic int stop = 0, started = 0;
	struct reader_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){ a, &stop, &started, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	/* The reloads race the readers only if the readers run: on a busy
	 * machine a new thread may wait a while for a core. */
	while (started < 4)
		sched_yield();
	for (int i = 0; i < 200; i++) {
		write_file(path, i % 2 ? "stable:s:" REALM ":authorized\n"
					 "flapping:f:" REALM ":authorized\n"
				       : "stable:s:" REALM ":authorized\n");
		assert_true(turn_accounts_reload(a) >= 1);
	}
	stop = 1;
	long ok = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].bad, 0);
		ok += args[i].ok;
	}
	assert_true(ok > 0);
	unlink(path);
	turn_accounts_free(a);
	free_conf(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_users),
		cmocka_unit_test(test_account_file),
		cmocka_unit_test(test_missing_file_fails),
		cmocka_unit_test(test_rest),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_many_accounts),
		cmocka_unit_test(test_reload_concurrent),
	};
	return cmocka_run_group_tests(tests, to_repo_root, NULL);
}
