/* Account file fuzzer (login:password:realm:state lines): the file is
 * written to a temporary file and loaded the way the server does at start
 * and on SIGHUP; lookups must then agree with what loaded, and nothing may
 * leak or read out of bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "turn_accounts.h"
#include "turn_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/ipop-fuzz-accounts-XXXXXX";
static int fd = -1;

static void write_file(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
}

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		log_init("fuzz_turn_accounts", LOG_LVL_ERROR, false); /* bad lines warn */
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		atexit(cleanup);
	}
	if (size > 65536)
		return 0;
	/* The input, then its first half as the file reloaded on SIGHUP. */
	write_file(data, size);
	struct turn_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.realm = "ipop";
	conf.account_method = TURN_ACCOUNT_FILE;
	conf.account_file = path;
	conf.static_auth_secret = size & 1 ? "s" : NULL;
	conf.n_users = 1;
	conf.users[0] = (struct turn_user){ "svpnjingle", "1234567890" };
	struct turn_accounts *a = turn_accounts_new(&conf);
	if (!a)
		abort(); /* a readable file always loads, bad lines are skipped */
	struct turn_account_lookup out;
	if (turn_accounts_lookup(a, "svpnjingle", 0, &out) != 0 || out.state != TURN_ACCT_AUTHORIZED)
		abort(); /* turn.conf users come first */
	/* A login taken from the input's first line, whatever it holds. */
	char login[600] = "";
	size_t n = 0;
	while (n < size && n < sizeof(login) - 1 && data[n] != ':' && data[n] != '\n')
		n++;
	memcpy(login, data, n);
	login[n] = '\0';
	int rc = turn_accounts_lookup(a, login, 1, &out);
	if (rc != 0 && rc != -ENOENT && rc != -ESTALE)
		abort();
	write_file(data, size / 2);
	int cnt = turn_accounts_reload(a);
	if (cnt < 1) /* svpnjingle at least */
		abort();
	turn_accounts_free(a);
	return 0;
}
