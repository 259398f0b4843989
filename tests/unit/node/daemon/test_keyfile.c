/* Key file: first-run creation with mode 0600 whatever the umask, reload of
 * the same key, refusal of group/other-readable, symlinked, garbage and
 * oversized files, strict base64, and no private key in the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "node_keyfile.h"

struct dir {
	char path[64];
	char key[96];
	char link[96];
	char log[96];
};

static int setup(void **state)
{
	static struct dir d;

	snprintf(d.path, sizeof(d.path), "/tmp/ipop-h6-keyfile.XXXXXX");
	assert_non_null(mkdtemp(d.path));
	snprintf(d.key, sizeof(d.key), "%s/node.key", d.path);
	snprintf(d.link, sizeof(d.link), "%s/link.key", d.path);
	snprintf(d.log, sizeof(d.log), "%s/log.txt", d.path);
	*state = &d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->key);
	unlink(d->link);
	unlink(d->log);
	rmdir(d->path);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static void test_create_then_load(void **state)
{
	struct dir *d = *state;
	struct noise_keypair a, b, c;
	struct stat st;
	char text[128];
	uint8_t priv[32];
	bool created;

	mode_t old = umask(0); /* a careless umask must not widen the mode */
	assert_int_equal(node_keyfile_load_or_create(d->key, &a, &created), 0);
	umask(old);
	assert_true(created);
	assert_int_equal(stat(d->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* one line: base64 of the private key; the public key follows from it */
	assert_int_equal(read_file(d->key, text, sizeof(text)), NODE_KEY_B64_LEN + 1);
	assert_int_equal(text[NODE_KEY_B64_LEN], '\n');
	assert_int_equal(node_key_decode(text, NODE_KEY_B64_LEN, priv), 0);
	assert_memory_equal(priv, a.priv, 32);
	assert_int_equal(noise_keypair_from_private(&c, priv), 0);
	assert_memory_equal(c.pub, a.pub, 32);

	assert_int_equal(node_keyfile_load_or_create(d->key, &b, &created), 0);
	assert_false(created);
	assert_memory_equal(a.priv, b.priv, 32);
	assert_memory_equal(a.pub, b.pub, 32);
	assert_int_equal(node_keyfile_create(d->key, &b), -EEXIST);
	assert_int_equal(node_keyfile_load(d->key, &b), 0);
	assert_memory_equal(a.priv, b.priv, 32);

	/* two fresh files get different keys */
	unlink(d->key);
	assert_int_equal(node_keyfile_create(d->key, &b), 0);
	assert_memory_not_equal(a.priv, b.priv, 32);
}

static void test_unsafe_mode_refused(void **state)
{
	struct dir *d = *state;
	struct noise_keypair a, b;
	bool created;

	assert_int_equal(node_keyfile_create(d->key, &a), 0);
	static const mode_t bad[] = { 0640, 0604, 0660, 0644, 0601, 0610 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(d->key, bad[i]), 0);
		assert_int_equal(node_keyfile_load(d->key, &b), -EPERM);
		/* and load_or_create must not "fix" it by replacing the key */
		assert_int_equal(node_keyfile_load_or_create(d->key, &b, &created), -EPERM);
		assert_false(created);
	}
	assert_int_equal(chmod(d->key, 0400), 0);
	assert_int_equal(node_keyfile_load(d->key, &b), 0);
	assert_memory_equal(a.priv, b.priv, 32);
	/* someone else's file, even with a safe mode */
	if (geteuid() == 0) {
		assert_int_equal(chown(d->key, 65534, 65534), 0);
		assert_int_equal(node_keyfile_load(d->key, &b), -EPERM);
	}
}

static void test_symlink_and_dir_refused(void **state)
{
	struct dir *d = *state;
	struct noise_keypair a, b;

	assert_int_equal(node_keyfile_create(d->key, &a), 0);
	assert_int_equal(symlink(d->key, d->link), 0);
	assert_int_equal(node_keyfile_load(d->link, &b), -ELOOP);
	/* creating through a dangling symlink must not write its target */
	unlink(d->key);
	assert_true(node_keyfile_create(d->link, &b) < 0);
	assert_int_equal(access(d->key, F_OK), -1);
	assert_int_equal(node_keyfile_load(d->path, &b), -EINVAL); /* a directory */
}

static void test_bad_contents(void **state)
{
	struct dir *d = *state;
	struct noise_keypair a, b;
	char text[128], big[300];

	assert_int_equal(node_keyfile_create(d->key, &a), 0);
	read_file(d->key, text, sizeof(text));

	/* tolerated: no newline, CRLF */
	write_file(d->key, text, NODE_KEY_B64_LEN, 0600);
	assert_int_equal(node_keyfile_load(d->key, &b), 0);
	assert_memory_equal(a.priv, b.priv, 32);
	char crlf[64];
	memcpy(crlf, text, NODE_KEY_B64_LEN);
	memcpy(crlf + NODE_KEY_B64_LEN, "\r\n", 2);
	write_file(d->key, crlf, NODE_KEY_B64_LEN + 2, 0600);
	assert_int_equal(node_keyfile_load(d->key, &b), 0);

	write_file(d->key, "", 0, 0600);
	assert_int_equal(node_keyfile_load(d->key, &b), -EINVAL);
	write_file(d->key, text, NODE_KEY_B64_LEN - 1, 0600);
	assert_int_equal(node_keyfile_load(d->key, &b), -EINVAL);
	text[3] = '*';
	write_file(d->key, text, NODE_KEY_B64_LEN, 0600);
	assert_int_equal(node_keyfile_load(d->key, &b), -EINVAL);
	memset(big, 'A', sizeof(big));
	write_file(d->key, big, sizeof(big), 0600);
	assert_int_equal(node_keyfile_load(d->key, &b), -EFBIG);
}

static void test_decode_strict(void **state)
{
	(void)state;
	uint8_t key[32], back[32];
	char s[NODE_KEY_B64_LEN + 1];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	node_key_encode(key, s);
	assert_int_equal(strlen(s), NODE_KEY_B64_LEN);
	assert_int_equal(s[NODE_KEY_B64_LEN - 1], '=');
	assert_int_equal(node_key_decode(s, NODE_KEY_B64_LEN, back), 0);
	assert_memory_equal(key, back, 32);

	/* the last data character carries 2 unused bits: a different
	 * spelling of the same key is refused */
	char t[NODE_KEY_B64_LEN + 1];
	memcpy(t, s, sizeof(t));
	t[NODE_KEY_B64_LEN - 2] = (char)(t[NODE_KEY_B64_LEN - 2] == 'A' ? 'B' : t[NODE_KEY_B64_LEN - 2] ^ 1);
	int rc = node_key_decode(t, NODE_KEY_B64_LEN, back);
	if (rc == 0) /* the flip changed real bits: then it must be another key */
		assert_memory_not_equal(key, back, 32);
	memcpy(t, s, sizeof(t));
	t[NODE_KEY_B64_LEN - 1] = 'A';
	assert_int_equal(node_key_decode(t, NODE_KEY_B64_LEN, back), -EINVAL);
	memcpy(t, s, sizeof(t));
	t[10] = ' ';
	assert_int_equal(node_key_decode(t, NODE_KEY_B64_LEN, back), -EINVAL);
	assert_int_equal(node_key_decode(s, NODE_KEY_B64_LEN - 1, back), -EINVAL);
	/* 43 data chars + '=' where the last data char has its low bits set */
	memcpy(t, s, sizeof(t));
	t[NODE_KEY_B64_LEN - 2] = 'B'; /* value 1: a nonzero unused bit */
	assert_int_equal(node_key_decode(t, NODE_KEY_B64_LEN, back), -EINVAL);
}

static void test_private_key_never_logged(void **state)
{
	struct dir *d = *state;
	struct noise_keypair a, b;
	char priv64[NODE_KEY_B64_LEN + 1], pub64[NODE_KEY_B64_LEN + 1], out[4096];

	fflush(stderr);
	int saved = dup(2);
	int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	log_set_level(LOG_LVL_DEBUG);
	int rc1 = node_keyfile_create(d->key, &a);
	chmod(d->key, 0644);
	int rc2 = node_keyfile_load(d->key, &b); /* error path logs too */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(rc1, 0);
	assert_int_equal(rc2, -EPERM);

	read_file(d->log, out, sizeof(out));
	node_key_encode(a.priv, priv64);
	node_key_encode(a.pub, pub64);
	assert_non_null(strstr(out, pub64));
	assert_non_null(strstr(out, "chmod 600"));
	assert_null(strstr(out, priv64));
	/* not even a prefix of it */
	priv64[12] = '\0';
	assert_null(strstr(out, priv64));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_then_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_mode_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_and_dir_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_contents, setup, teardown),
		cmocka_unit_test(test_decode_strict),
		cmocka_unit_test_setup_teardown(test_private_key_never_logged, setup, teardown),
	};
	log_init("test_keyfile", LOG_LVL_INFO, false);
	if (noise_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
