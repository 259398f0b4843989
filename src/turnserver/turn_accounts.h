/* Who may allocate: users from turn.conf, the account file
 * (login:password:realm:state), and TURN REST usernames. Reloadable (SIGHUP)
 * while workers look up concurrently. */
#ifndef IPOP_TURN_ACCOUNTS_H
#define IPOP_TURN_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "stun_auth.h"

struct turn_conf;
struct turn_accounts;

enum turn_account_state {
	TURN_ACCT_AUTHORIZED = 0,
	TURN_ACCT_RESTRICTED, /* allowed, with restricted_bandwidth */
	TURN_ACCT_REFUSED,
};

struct turn_account_lookup {
	enum turn_account_state state;
	uint8_t key[STUN_KEY_MD5_LEN];        /* long-term MD5 key for the server realm */
	uint8_t key256[STUN_KEY_SHA256_LEN];  /* SHA-256 key */
};

struct turn_accounts *turn_accounts_new(const struct turn_conf *conf);
void turn_accounts_free(struct turn_accounts *a);
/* Re-reads the account file. Keeps the old table when the new one fails to
 * load. Returns the number of accounts, or -errno. */
int turn_accounts_reload(struct turn_accounts *a);
/* 0 and fills out when the user exists (REST usernames are checked for
 * expiry against now_unix), -ENOENT when unknown, -ESTALE for an expired
 * REST username. Thread-safe. */
int turn_accounts_lookup(struct turn_accounts *a, const char *user, int64_t now_unix,
			 struct turn_account_lookup *out);

#endif
