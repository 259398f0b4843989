/* turn.conf loading: good files, defaults, and "file:line: reason" for
 * every problem of a bad file in one run. Fixtures: tests/data/turn/. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>

#include "addr.h"
#include "turn_conf.h"

#define DATA "tests/data/turn/"

/* The fixtures hold passwords: as checked out (usually 0644) every load
 * would warn about that. Only the owner may read them during the tests;
 * test_secret_files checks the warnings on copies. */
static int private_fixtures(void)
{
	DIR *d = opendir(DATA);
	struct dirent *e;
	char path[512];
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), DATA "%s", e->d_name);
		if (chmod(path, 0600) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* Tests run from the repo root; fall back to this file's location. */
static int to_repo_root(void **state)
{
	(void)state;
	if (access(DATA "good.conf", R_OK) == 0)
		return private_fixtures();
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	strcpy(slash, "/../../..");
	return chdir(dir) < 0 ? -1 : private_fixtures();
}

/* Loads path with stderr captured into *out (caller frees). */
static int load_capture(struct turn_conf *conf, const char *path, char **out)
{
	fflush(stderr);
	int saved = dup(2);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	int n = turn_conf_load(conf, path);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);

	long len = ftell(tmp);
	assert_true(len >= 0);
	rewind(tmp);
	*out = calloc(1, (size_t)len + 1);
	assert_non_null(*out);
	assert_int_equal(fread(*out, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	return n;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_addr(const struct sockaddr_storage *ss, const char *want)
{
	char buf[ADDR_STRLEN];
	assert_string_equal(addr_format((const struct sockaddr *)ss, false, buf), want);
}

static void test_good_file(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "good.conf", &err), 0);
	assert_string_equal(err, "");
	free(err);

	assert_string_equal(conf.path, DATA "good.conf");
	assert_int_equal(conf.n_listen, 3);
	assert_addr(&conf.listen[0], "192.0.2.10");
	assert_addr(&conf.listen[1], "192.0.2.11");
	assert_addr(&conf.listen[2], "2001:db8::10");
	assert_int_equal(conf.udp_port, 19302);
	assert_int_equal(conf.tcp_port, 19303);
	assert_int_equal(conf.tls_port, 5350);
	assert_true(conf.tls);
	assert_string_equal(conf.cert_file, DATA "dummy.crt");
	assert_string_equal(conf.private_key_file, DATA "dummy.key");
	assert_int_equal(conf.min_port, 50000);
	assert_int_equal(conf.max_port, 50999);
	assert_int_equal(conf.n_relay, 2);
	assert_addr(&conf.relay[0], "198.51.100.1");
	assert_addr(&conf.relay[1], "2001:db8::1");
	assert_string_equal(conf.realm, "example.org");
	assert_string_equal(conf.nonce_key, "hieKedq#notacomment");
	assert_int_equal(conf.max_client, 500);
	assert_int_equal(conf.max_relay_per_username, 3);
	assert_int_equal(conf.allocation_lifetime, 600);
	assert_int_equal(conf.bandwidth_per_allocation, 150);
	assert_int_equal(conf.restricted_bandwidth, 5);

	assert_int_equal(conf.n_denied, 2);
	assert_addr(&conf.denied[0].addr, "10.1.4.0");
	assert_int_equal(conf.denied[0].prefix, 24);
	assert_int_equal(conf.denied[0].port, 0);
	assert_addr(&conf.denied[1].addr, "203.0.113.0"); /* host bits cleared */
	assert_int_equal(conf.denied[1].prefix, 24);      /* from 255.255.255.0 */
	assert_int_equal(conf.denied[1].port, 5060);
	assert_int_equal(conf.n_allowed, 1);
	assert_addr(&conf.allowed[0].addr, "10.1.4.5");
	assert_int_equal(conf.allowed[0].prefix, 32);

	assert_int_equal(conf.account_method, TURN_ACCOUNT_FILE);
	assert_string_equal(conf.account_file, DATA "good.accounts");
	assert_string_equal(conf.static_auth_secret, "s3cret");
	assert_int_equal(conf.n_users, 2);
	assert_string_equal(conf.users[0].name, "svpnjingle");
	assert_string_equal(conf.users[0].password, "1234567890");
	assert_string_equal(conf.users[1].name, "alice");
	assert_string_equal(conf.users[1].password, "pa:ss"); /* split at the first ':' */
	assert_false(conf.daemon);
	assert_string_equal(conf.unpriv_user, "nobody");
	assert_int_equal(conf.threads, 4);
	assert_int_equal(conf.rx_moderation_us, 100);
	assert_string_equal(conf.software, "ipop-turnserver test");
	assert_true(conf.syslog);
	turn_conf_free(&conf);
}

static void test_defaults(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "minimal.conf", &err), 0);
	/* only a warning: no way to authenticate anyone */
	assert_contains(err, DATA "minimal.conf:2: warning: no account_file");
	free(err);

	assert_int_equal(conf.n_listen, 1);
	assert_addr(&conf.listen[0], "192.0.2.20");
	assert_int_equal(conf.n_relay, 1); /* relay defaults to the listen address */
	assert_addr(&conf.relay[0], "192.0.2.20");
	assert_int_equal(conf.udp_port, 3478);
	assert_int_equal(conf.tcp_port, 3478);
	assert_int_equal(conf.tls_port, 5349);
	assert_false(conf.tls);
	assert_null(conf.cert_file);
	assert_int_equal(conf.min_port, 49152);
	assert_int_equal(conf.max_port, 65535);
	assert_string_equal(conf.realm, "ipop");
	assert_null(conf.nonce_key);
	assert_int_equal(conf.account_method, TURN_ACCOUNT_NONE);
	assert_null(conf.account_file);
	assert_null(conf.static_auth_secret);
	assert_int_equal(conf.n_users, 0);
	assert_int_equal(conf.max_client, 10000);
	assert_int_equal(conf.max_relay_per_username, 0); /* unlimited, as coturn */
	assert_int_equal(conf.max_connections_per_ip, 64);
	assert_int_equal(conf.stream_queue_total_kb, 65536);
	assert_int_equal(conf.allocation_lifetime, 3600);
	assert_int_equal(conf.bandwidth_per_allocation, 0);
	assert_int_equal(conf.restricted_bandwidth, 10);
	assert_int_equal(conf.n_denied, 0);
	assert_int_equal(conf.n_allowed, 0);
	assert_false(conf.daemon);
	assert_null(conf.unpriv_user);
	assert_int_equal(conf.threads, 0);
	assert_int_equal(conf.rx_moderation_us, 250);
	assert_string_equal(conf.software, "ipop-turnserver");
	assert_false(conf.syslog);
	turn_conf_free(&conf);
}

static void test_original_turnserver_file(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "original.conf", &err), 0);
	/* unsupported original keys: a warning each, on its line */
	assert_contains(err, DATA "original.conf:10: warning: 'dtls'");
	assert_contains(err, DATA "original.conf:13: warning: 'turn_tcp'");
	assert_contains(err, DATA "original.conf:14: warning: 'tcp_buffer_userspace'");
	assert_contains(err, DATA "original.conf:15: warning: 'tcp_buffer_size'");
	assert_contains(err, DATA "original.conf:38: warning: 'ca_file'");
	assert_int_equal(count_lines(err), 5);
	free(err);

	assert_string_equal(conf.realm, "domain.org");
	assert_int_equal(conf.allocation_lifetime, 1800);
	assert_int_equal(conf.max_relay_per_username, 5);
	assert_int_equal(conf.n_denied, 2);
	assert_addr(&conf.denied[0].addr, "127.0.0.0");
	assert_int_equal(conf.denied[0].prefix, 8); /* mask = "8" */
	assert_addr(&conf.denied[1].addr, "::1");
	assert_int_equal(conf.denied[1].prefix, 128);
	assert_int_equal(conf.account_method, TURN_ACCOUNT_FILE);
	turn_conf_free(&conf);
}

static void test_variants(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "variants.conf", &err), 0);
	assert_contains(err, DATA "variants.conf:6: warning: allocation_lifetime 7200 capped at 3600");
	free(err);
	assert_int_equal(conf.allocation_lifetime, 3600);
	/* IPv6 only: no IPv4 wildcard is added */
	assert_int_equal(conf.n_listen, 2);
	assert_addr(&conf.listen[0], "2001:db8::20");
	assert_addr(&conf.listen[1], "2001:db8::21");
	assert_int_equal(conf.n_relay, 2);
	assert_int_equal(conf.n_denied, 3);
	/* deny_address (TurnServer 0.1) lands in denied, after denied_address */
	assert_addr(&conf.denied[0].addr, "2001:db8:ff::");
	assert_int_equal(conf.denied[0].prefix, 48);
	assert_int_equal(conf.denied[0].port, 3478);
	assert_addr(&conf.denied[1].addr, "192.0.2.99");
	assert_int_equal(conf.denied[1].prefix, 32); /* no mask: one address */
	assert_addr(&conf.denied[2].addr, "198.51.100.0");
	assert_int_equal(conf.denied[2].prefix, 25);
	turn_conf_free(&conf);
}

static void test_semantic_errors_all_reported(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	static const char *const want[] = {
		DATA "bad_semantic.conf:2: listen_address: '300.1.2.3' is not an IPv4 address",
		DATA "bad_semantic.conf:3: listen_addressv6: '192.0.2.2' is not an IPv6 address",
		DATA "bad_semantic.conf:4: udp_port: 70000 is out of range",
		DATA "bad_semantic.conf:5: min_port (60000) is greater than max_port (50000)",
		DATA "bad_semantic.conf:7: tls = true needs cert_file",
		DATA "bad_semantic.conf:7: tls = true needs private_key_file",
		DATA "bad_semantic.conf:10: denied_address: mask '33'",
		DATA "bad_semantic.conf:13: allowed_address: 'not-an-ip' is not an IP address",
		DATA "bad_semantic.conf:15: allocation_lifetime: 0 is out of range",
		DATA "bad_semantic.conf:16: account_method 'db' is not supported",
		DATA "bad_semantic.conf:17: users: an entry has no ':' (not \"name:password\"; not shown)",
		DATA "bad_semantic.conf:18: relay_address: a wildcard address",
		DATA "bad_semantic.conf:19: max_client: -1 is out of range",
		DATA "bad_semantic.conf:20: account_file: cannot read",
	};
	int n = load_capture(&conf, DATA "bad_semantic.conf", &err);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_contains(err, want[i]);
	assert_int_equal(n, (int)(sizeof(want) / sizeof(want[0])));
	assert_int_equal(count_lines(err), (unsigned)n);
	/* sorted by line */
	assert_true(strstr(err, ":2: ") < strstr(err, ":20: "));
	free(err);
	turn_conf_free(&conf);
}

static void test_syntax_errors_all_reported(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	int n = load_capture(&conf, DATA "bad_syntax.conf", &err);
	assert_contains(err, DATA "bad_syntax.conf:2: no such option 'relay_addres'");
	assert_contains(err, DATA "bad_syntax.conf:3: invalid integer value for option 'udp_port'");
	assert_contains(err, DATA "bad_syntax.conf:4: invalid boolean value for option 'tls'");
	/* a misspelt section is one error, not one per line inside it */
	assert_contains(err, DATA "bad_syntax.conf:5: no such option 'denied_adress'");
	assert_null(strstr(err, "bad_syntax.conf:6:"));
	assert_null(strstr(err, "bad_syntax.conf:8:"));
	assert_contains(err, DATA "bad_syntax.conf:10: no such option 'port'");
	/* the semantic pass still runs on what parsed */
	assert_contains(err, DATA "bad_syntax.conf:11: allocation_lifetime: 0 is out of range");
	assert_int_equal(n, 6);
	assert_true(conf.daemon); /* line 9, after the broken ones, was read */
	free(err);
	turn_conf_free(&conf);
}

static void test_users_and_misc_errors(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	int n = load_capture(&conf, DATA "bad_users.conf", &err);
	assert_contains(err, DATA "bad_users.conf:3: users: 'a' is listed twice");
	assert_contains(err, DATA "bad_users.conf:4: users: 'b' has an empty password");
	assert_contains(err, DATA "bad_users.conf:5: users: an entry has an empty name");
	assert_contains(err, DATA "bad_users.conf:6: threads: 5000 is out of range");
	assert_contains(err, DATA "bad_users.conf:7: realm must not be empty");
	assert_contains(err, DATA "bad_users.conf:8: static_auth_secret must not be empty");
	assert_contains(err, DATA "bad_users.conf:9: rx_moderation_us: 5000 is out of range");
	assert_int_equal(n, 7);
	assert_int_equal(conf.n_users, 1); /* the good one is kept */
	assert_string_equal(conf.users[0].password, "1");
	free(err);
	turn_conf_free(&conf);
}

static void test_wildcard_needs_relay(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "wildcard.conf", &err), 1);
	assert_contains(err, DATA "wildcard.conf:1: listen_address: 0.0.0.0 is a wildcard, so "
			     "relay_address must give");
	free(err);
	turn_conf_free(&conf);

	/* nothing given: listening on all IPv4 addresses, still no relay */
	assert_int_equal(load_capture(&conf, DATA "empty.conf", &err), 1);
	assert_contains(err, DATA "empty.conf:1: no listen_address given (listening on 0.0.0.0)");
	assert_int_equal(conf.n_listen, 1);
	assert_addr(&conf.listen[0], "0.0.0.0");
	assert_int_equal(conf.n_relay, 0);
	free(err);
	turn_conf_free(&conf);
}

static void test_tls_files(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "tls_nocert.conf", &err), 2);
	assert_contains(err, DATA "tls_nocert.conf:2: tls = true needs cert_file");
	assert_contains(err, DATA "tls_nocert.conf:3: private_key_file: cannot read "
			     "'tests/data/turn/missing-key.pem'");
	free(err);
	turn_conf_free(&conf);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "no-such-file.conf", &err), 1);
	assert_contains(err, DATA "no-such-file.conf: cannot read: No such file or directory");
	free(err);
	turn_conf_free(&conf);
}

/* A file's path in a fresh temporary directory. */
static char g_tmpdir[64];
static const char *tmp_path(const char *name)
{
	static char path[128];
	if (!g_tmpdir[0]) {
		strcpy(g_tmpdir, "/tmp/ipop-test-turnconf-XXXXXX");
		assert_non_null(mkdtemp(g_tmpdir));
	}
	snprintf(path, sizeof(path), "%s/%s", g_tmpdir, name);
	return path;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	return g_tmpdir[0] ? rmdir(g_tmpdir) : 0;
}

static void write_file(const char *path, mode_t mode, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* turn.conf, the account file and the TLS files must be regular files: a
 * FIFO or a directory is a clear error, never a hang. */
static void test_not_regular_files(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err, conf_path[128], fifo[128], dir[128], text[512];
	snprintf(fifo, sizeof(fifo), "%s", tmp_path("fifo"));
	snprintf(dir, sizeof(dir), "%s", tmp_path("dir"));
	unlink(fifo);
	rmdir(dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(dir, 0700), 0);

	/* turn.conf itself */
	assert_int_equal(load_capture(&conf, fifo, &err), 1);
	assert_contains(err, "fifo: cannot read: is not a regular file");
	free(err);
	turn_conf_free(&conf);
	assert_int_equal(load_capture(&conf, dir, &err), 1);
	assert_contains(err, "dir: cannot read: is a directory, not a file");
	free(err);
	turn_conf_free(&conf);

	/* files it names */
	snprintf(conf_path, sizeof(conf_path), "%s", tmp_path("turn.conf"));
	snprintf(text, sizeof(text),
		 "listen_address = { \"192.0.2.1\" }\naccount_file = \"%s\"\ntls = true\n"
		 "cert_file = \"%s\"\nprivate_key_file = \"%s\"\n", fifo, dir, fifo);
	write_file(conf_path, 0600, text);
	assert_int_equal(load_capture(&conf, conf_path, &err), 3);
	assert_contains(err, "turn.conf:2: account_file: cannot read");
	assert_contains(err, "fifo': is not a regular file");
	assert_contains(err, "turn.conf:4: cert_file: cannot read");
	assert_contains(err, "dir': is a directory, not a file");
	assert_contains(err, "turn.conf:5: private_key_file: cannot read");
	free(err);
	turn_conf_free(&conf);
	unlink(conf_path);
	unlink(fifo);
	rmdir(dir);
}

/* Files with passwords or keys that other users may read: a warning (the
 * file still loads), naming the secret's line; none at 0600. */
static void test_secret_files(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err, conf_path[128], acc[128], key[128], text[1024];
	snprintf(conf_path, sizeof(conf_path), "%s", tmp_path("secret.conf"));
	snprintf(acc, sizeof(acc), "%s", tmp_path("accounts"));
	snprintf(key, sizeof(key), "%s", tmp_path("key.pem"));
	write_file(acc, 0644, "alice:secret:ipop:authorized\n");
	write_file(key, 0640, "not a key\n");
	/* group-readable is fine for the server's own group, not another one
	 * (only root can give the file away to another group) */
	gid_t other = getegid() == 65534 ? 65533 : 65534;
	bool key_other_group = chown(key, (uid_t)-1, other) == 0;
	snprintf(text, sizeof(text),
		 "listen_address = { \"192.0.2.1\" }\nrealm = \"ipop\"\n"
		 "users = { \"bob:hunter2\" }\naccount_file = \"%s\"\ntls = true\n"
		 "cert_file = \"%s\"\nprivate_key_file = \"%s\"\n", acc, acc, key);
	write_file(conf_path, 0644, text);

	assert_int_equal(load_capture(&conf, conf_path, &err), 0);
	assert_contains(err, "secret.conf:3: warning: this file holds secrets (users) and is "
			     "readable by every user (mode 0644)");
	assert_contains(err, "secret.conf:4: warning: account_file: '");
	assert_contains(err, "accounts' holds secrets and is readable by every user (mode 0644)");
	if (key_other_group) {
		assert_contains(err, "secret.conf:7: warning: private_key_file: '");
		assert_contains(err, "key.pem' holds secrets and is readable by its group (mode 0640)");
	}
	/* the certificate is no secret */
	assert_int_equal(count_lines(err), key_other_group ? 3 : 2);
	assert_null(strstr(err, "hunter2"));
	free(err);
	turn_conf_free(&conf);

	assert_int_equal(chmod(conf_path, 0640), 0); /* the server's own group: fine */
	assert_int_equal(chmod(acc, 0600), 0);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(load_capture(&conf, conf_path, &err), 0);
	assert_string_equal(err, "");
	free(err);
	turn_conf_free(&conf);
	unlink(conf_path);
	unlink(acc);
	unlink(key);
}

/* Errors on lines that hold secrets name the key, never the value, also
 * when libconfuse quotes the token it stumbled on; other errors still
 * quote what is wrong. */
static void test_errors_hide_secrets(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	static const char *const texts[2] = {
		"listen_address = { \"192.0.2.1\" }\n"
		"users = { \"alice:Secret1\" \"bob:Secret2\" }\n"
		"static_auth_secret = Secret3 Secret4\n"
		"nonce_key = { \"Secret5\" }\n"
		"users += { \":Secret6\", \"Secret7\",\n"
		"   \"x:\" }\n"
		"relay_addres = { \"192.0.2.1\" }\n",
		/* a list over several lines */
		"listen_address = { \"192.0.2.1\" }\n"
		"users = {\n"
		"   \"x:Secret8\" \"y:Secret9\" }\n",
	};
	static const char *const want[2][7] = {
		{ "mem.conf:2: syntax error in the value of users (not shown: it is secret)",
		  "mem.conf:3: syntax error in the value of static_auth_secret",
		  "mem.conf:4: syntax error in the value of nonce_key",
		  "users: an entry has an empty name",
		  "users: an entry has no ':'",
		  "users: 'x' has an empty password",
		  "mem.conf:7: no such option 'relay_addres'" }, /* not a secret */
		{ "mem.conf:3: syntax error in the value of users" },
	};
	for (int t = 0; t < 2; t++) {
		FILE *out = tmpfile();
		assert_non_null(out);
		int n = turn_conf_load_buf(&conf, "mem.conf", texts[t], strlen(texts[t]), out);
		long len = ftell(out);
		rewind(out);
		err = calloc(1, (size_t)len + 1);
		assert_int_equal(fread(err, 1, (size_t)len, out), (size_t)len);
		fclose(out);
		assert_true(n >= 1);
		assert_null(strstr(err, "Secret"));
		for (int i = 0; i < 7 && want[t][i]; i++)
			assert_contains(err, want[t][i]);
		free(err);
		turn_conf_free(&conf);
	}
}

/* libconfuse refuses some input without calling its error function (found
 * by fuzz_turn_conf): that used to load as a clean, empty configuration. */
static void test_silent_syntax_error(void **state)
{
	(void)state;
	struct turn_conf conf;
	static const char text[] = "listen_address = { \"192.0.2.1\" }\nrealm =!\"\"\nthreads = 2\n";
	FILE *out = tmpfile();
	assert_non_null(out);
	int n = turn_conf_load_buf(&conf, "mem.conf", text, sizeof(text) - 1, out);
	long len = ftell(out);
	rewind(out);
	char *err = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(err, 1, (size_t)len, out), (size_t)len);
	fclose(out);
	assert_int_equal(n, 1);
	assert_contains(err, "mem.conf:2: syntax error");
	assert_int_equal(conf.threads, 2); /* the line after it was read */
	free(err);
	turn_conf_free(&conf);
}

/* deploy/turn.conf is shipped as a template: once its placeholder is
 * replaced it must load without a single complaint. */
static void test_deploy_template(void **state)
{
	(void)state;
	FILE *in = fopen("deploy/turn.conf", "r");
	assert_non_null(in);
	char path[] = "/tmp/ipop-test-turnconf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *out = fdopen(fd, "w");
	assert_non_null(out);
	char line[1024];
	unsigned replaced = 0;
	while (fgets(line, sizeof(line), in)) {
		char *p = strstr(line, "\"public-ip-address\"");
		if (p && line[0] != '#') {
			fprintf(out, "%.*s\"203.0.113.10\"%s", (int)(p - line), line,
				p + strlen("\"public-ip-address\""));
			replaced++;
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(replaced, 1);

	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, path, &err), 0);
	assert_string_equal(err, "");
	free(err);
	unlink(path);
	assert_int_equal(conf.n_listen, 1);
	assert_addr(&conf.listen[0], "203.0.113.10");
	assert_int_equal(conf.udp_port, 19302);
	assert_int_equal(conf.n_users, 1);
	assert_string_equal(conf.users[0].name, "svpnjingle");
	assert_string_equal(conf.users[0].password, "1234567890");
	turn_conf_free(&conf);

	/* as shipped, the placeholder is the one error */
	assert_int_equal(load_capture(&conf, "deploy/turn.conf", &err), 1);
	assert_contains(err, "deploy/turn.conf:15: listen_address: 'public-ip-address' is not an "
			     "IPv4 address");
	free(err);
	turn_conf_free(&conf);
}

static void test_alt_listen(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "alt.conf", &err), 0);
	assert_int_equal(conf.n_alt, 2);
	assert_addr(&conf.alt_listen[0], "192.0.2.2");
	assert_addr(&conf.alt_primary[0], "192.0.2.1");
	assert_addr(&conf.alt_listen[1], "2001:db8::2");
	assert_addr(&conf.alt_primary[1], "2001:db8::1");
	assert_int_equal(conf.alt_udp_port, 3479); /* udp_port + 1, as coturn */
	free(err);
	turn_conf_free(&conf);

	/* without the key: no RFC 5780 */
	assert_int_equal(load_capture(&conf, DATA "good.conf", &err), 0);
	assert_int_equal(conf.n_alt, 0);
	free(err);
	turn_conf_free(&conf);

	int n = load_capture(&conf, DATA "alt_bad.conf", &err);
	assert_contains(err, DATA "alt_bad.conf:4: alt_listen_address: 'nope' is not an IP address");
	assert_contains(err, DATA "alt_bad.conf:4: alt_listen_address: '0.0.0.0' is a wildcard");
	assert_contains(err, DATA "alt_bad.conf:4: alt_listen_address: '192.0.2.1' is a listen "
			     "address already");
	assert_contains(err, DATA "alt_bad.conf:4: alt_listen_address: '2001:db8::2' needs a "
			     "concrete IPv6 listen address");
	assert_contains(err, DATA "alt_bad.conf:4: alt_listen_address: more than one IPv4 address");
	assert_contains(err, DATA "alt_bad.conf:5: alt_udp_port: 3478 must be in [1, 65535] and differ "
			     "from udp_port 3478");
	assert_int_equal(n, 6);
	assert_int_equal(conf.n_alt, 1); /* 192.0.2.2, paired with the concrete 192.0.2.1 */
	assert_addr(&conf.alt_primary[0], "192.0.2.1");
	free(err);
	turn_conf_free(&conf);
}

/* metrics_address: off unless given, the port defaults to 9641, a
 * wildcard is allowed with a warning (no authentication on the endpoint),
 * a host name or a clash with a TURN listening port is an error. */
static void test_metrics_address(void **state)
{
	(void)state;
	struct turn_conf conf;
	char *err;
	assert_int_equal(load_capture(&conf, DATA "minimal.conf", &err), 0);
	assert_false(conf.metrics);
	free(err);
	turn_conf_free(&conf);

	assert_int_equal(load_capture(&conf, DATA "metrics_v6.conf", &err), 0);
	assert_string_equal(err, "");
	assert_true(conf.metrics);
	assert_addr(&conf.metrics_addr, "::1");
	assert_int_equal(addr_port((struct sockaddr *)&conf.metrics_addr), 9650);
	free(err);
	turn_conf_free(&conf);

	assert_int_equal(load_capture(&conf, DATA "metrics_wildcard.conf", &err), 0);
	assert_contains(err, DATA "metrics_wildcard.conf:3: warning: metrics_address: 0.0.0.0 answers "
			     "on every interface and has no authentication");
	assert_true(conf.metrics);
	assert_int_equal(addr_port((struct sockaddr *)&conf.metrics_addr), 9641);
	free(err);
	turn_conf_free(&conf);

	assert_int_equal(load_capture(&conf, DATA "metrics_bad.conf", &err), 1);
	assert_contains(err, DATA "metrics_bad.conf:3: metrics_address: 'localhost:9641' is not an IP "
			     "address");
	assert_false(conf.metrics);
	free(err);
	turn_conf_free(&conf);

	assert_int_equal(load_capture(&conf, DATA "metrics_clash.conf", &err), 1);
	assert_contains(err, DATA "metrics_clash.conf:4: metrics_address: port 3478 is also a TURN "
			     "listening port");
	free(err);
	turn_conf_free(&conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_original_turnserver_file),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_semantic_errors_all_reported),
		cmocka_unit_test(test_syntax_errors_all_reported),
		cmocka_unit_test(test_users_and_misc_errors),
		cmocka_unit_test(test_wildcard_needs_relay),
		cmocka_unit_test(test_tls_files),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_deploy_template),
		cmocka_unit_test(test_alt_listen),
		cmocka_unit_test(test_metrics_address),
		cmocka_unit_test(test_not_regular_files),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_errors_hide_secrets),
		cmocka_unit_test(test_silent_syntax_error),
	};
	return cmocka_run_group_tests(tests, to_repo_root, remove_tmpdir);
}
