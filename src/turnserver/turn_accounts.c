#include "turn_accounts.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "turn_conf.h"
#include "turn_file.h"

/* Accounts live in an open-addressing hash table that is never modified
 * once built: a reload builds a new one and swaps the pointer under the
 * write lock, so lookups only hold the read lock for a probe and a copy.
 * Only keys are kept, never passwords. */

enum { ACCT_NAME_MAX = 513 }; /* STUN USERNAME limit, bytes */

struct acct {
	char *name; /* NULL: empty slot */
	unsigned line; /* in the account file, 0 for turn.conf users */
	enum turn_account_state state;
	uint8_t key[STUN_KEY_MD5_LEN];
	uint8_t key256[STUN_KEY_SHA256_LEN];
};

struct acct_table {
	struct acct *slots;
	size_t mask;  /* slots - 1, a power of two minus one */
	size_t count;
};

/* Accounts gathered before the table is sized. */
struct acct_list {
	struct acct *v;
	size_t n, cap;
};

struct turn_accounts {
	pthread_rwlock_t lock;
	struct acct_table *table;
	char *realm;
	char *file;           /* NULL: no account file */
	char *secret;         /* TURN REST static_auth_secret, or NULL */
	struct acct_list base; /* users from turn.conf, keys precomputed */
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static void list_free(struct acct_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool list_has(const struct acct_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return true;
	return false;
}

static int list_add(struct acct_list *l, const char *name, const char *realm, const char *pass,
		    enum turn_account_state state, unsigned line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct acct *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	struct acct *a = &l->v[l->n];
	a->name = strdup(name);
	if (!a->name)
		return -ENOMEM;
	a->state = state;
	a->line = line;
	stun_key_md5(name, realm, pass, a->key);
	stun_key_sha256(name, realm, pass, a->key256);
	l->n++;
	return 0;
}

static void table_free(struct acct_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->slots && i <= t->mask; i++)
		free(t->slots[i].name);
	free(t->slots);
	free(t);
}

static const struct acct *table_find(const struct acct_table *t, const char *name)
{
	if (!t || !t->slots)
		return NULL;
	for (size_t i = name_hash(name) & t->mask;; i = (i + 1) & t->mask) {
		const struct acct *a = &t->slots[i];
		if (!a->name)
			return NULL; /* load factor <= 1/2: there is always an empty slot */
		if (strcmp(a->name, name) == 0)
			return a;
	}
}

/* Copies the lists into a new table; of duplicate names the first wins
 * (turn.conf users come first, then the file in order). */
static struct acct_table *table_build(const struct acct_list *lists[], size_t nlists,
				      const char *path)
{
	size_t total = 0, size = 16;
	for (size_t i = 0; i < nlists; i++)
		total += lists[i]->n;
	while (size < 2 * total)
		size *= 2;
	struct acct_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slots = calloc(size, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->mask = size - 1;
	for (size_t l = 0; l < nlists; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			const struct acct *src = &lists[l]->v[i];
			size_t j = name_hash(src->name) & t->mask;
			while (t->slots[j].name && strcmp(t->slots[j].name, src->name) != 0)
				j = (j + 1) & t->mask;
			if (t->slots[j].name) {
				log_warn("%s:%u: '%s' is already defined; the first one is kept",
					 path ? path : "accounts", src->line, src->name);
				continue;
			}
			t->slots[j] = *src;
			t->slots[j].name = strdup(src->name);
			if (!t->slots[j].name) {
				table_free(t);
				return NULL;
			}
			t->count++;
		}
	}
	return t;
}

static int parse_state(const char *s, enum turn_account_state *out)
{
	if (strcmp(s, "authorized") == 0)
		*out = TURN_ACCT_AUTHORIZED;
	else if (strcmp(s, "restricted") == 0)
		*out = TURN_ACCT_RESTRICTED;
	else if (strcmp(s, "refused") == 0)
		*out = TURN_ACCT_REFUSED;
	else
		return -EINVAL;
	return 0;
}

struct acct_line {
	char *login, *password, *realm;
	enum turn_account_state state;
};

/* login:password:realm:state, or the older login:password:realm
 * (authorized). With a state, the password may contain ':'. Modifies s.
 * Returns NULL or why the line is bad. */
static const char *split_line(char *s, struct acct_line *out)
{
	char *first = strchr(s, ':');
	char *last = strrchr(s, ':');
	if (!first || first == last)
		return "expected login:password:realm:state";
	*first = '\0';
	out->login = s;
	out->state = TURN_ACCT_AUTHORIZED;
	char *prev = last;
	while (prev > first + 1 && prev[-1] != ':')
		prev--;
	if (prev - 1 == first) {
		/* exactly two colons: login:password:realm */
		*last = '\0';
		out->password = first + 1;
		out->realm = last + 1;
	} else {
		*last = '\0';
		prev[-1] = '\0';
		out->password = first + 1;
		out->realm = prev;
		if (parse_state(last + 1, &out->state))
			return "unknown state (authorized, restricted or refused)";
	}
	if (!*out->login || !*out->password || !*out->realm)
		return "empty login, password or realm";
	if (strlen(out->login) > ACCT_NAME_MAX)
		return "login longer than 513 bytes";
	return NULL;
}

static bool blank_or_comment(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#';
}

/* Reads the account file into l. Bad lines are logged and skipped; only
 * failing to read the file at all is an error (-errno). */
static int load_file(const char *path, const char *realm, struct acct_list *l)
{
	struct stat st;
	int fd = turn_file_open(path, &st); /* a FIFO must not hang a SIGHUP */
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		int err = -errno;
		close(fd);
		return err;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int rc = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (blank_or_comment(line))
			continue;
		struct acct_line al;
		const char *why = split_line(line, &al);
		if (why) {
			log_warn("%s:%u: %s; line skipped", path, lineno, why);
			continue;
		}
		if (strcmp(al.realm, realm) != 0) {
			log_warn("%s:%u: realm '%s' is not the server's realm '%s'; '%s' skipped", path,
				 lineno, al.realm, realm, al.login);
			continue;
		}
		rc = list_add(l, al.login, realm, al.password, al.state, lineno);
		explicit_bzero(al.password, strlen(al.password));
		if (rc)
			break;
	}
	if (!rc && ferror(f))
		rc = -EIO;
	if (line)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	return rc;
}

static struct acct_table *build(struct turn_accounts *a, int *err)
{
	struct acct_list file = { 0 };
	*err = a->file ? load_file(a->file, a->realm, &file) : 0;
	struct acct_table *t = NULL;
	if (!*err) {
		const struct acct_list *lists[] = { &a->base, &file };
		t = table_build(lists, 2, a->file);
		if (!t)
			*err = -ENOMEM;
	}
	list_free(&file);
	return t;
}

struct turn_accounts *turn_accounts_new(const struct turn_conf *conf)
{
	struct turn_accounts *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_rwlock_init(&a->lock, NULL);
	a->realm = strdup(conf->realm ? conf->realm : "ipop");
	a->file = conf->account_method == TURN_ACCOUNT_FILE && conf->account_file
			  ? strdup(conf->account_file)
			  : NULL;
	a->secret = conf->static_auth_secret ? strdup(conf->static_auth_secret) : NULL;
	bool oom = !a->realm || (conf->account_method == TURN_ACCOUNT_FILE && conf->account_file &&
				 !a->file) ||
		   (conf->static_auth_secret && !a->secret);
	for (unsigned i = 0; i < conf->n_users && !oom; i++) {
		if (list_has(&a->base, conf->users[i].name))
			continue;
		oom = list_add(&a->base, conf->users[i].name, a->realm, conf->users[i].password,
			       TURN_ACCT_AUTHORIZED, 0) != 0;
	}
	int err = 0;
	if (!oom)
		a->table = build(a, &err);
	if (oom || !a->table) {
		if (err && a->file)
			log_error("%s: cannot load accounts: %s", a->file, turn_file_strerror(err));
		turn_accounts_free(a);
		return NULL;
	}
	log_info("%zu accounts loaded%s", a->table->count,
		 a->secret ? ", TURN REST usernames accepted" : "");
	return a;
}

void turn_accounts_free(struct turn_accounts *a)
{
	if (!a)
		return;
	table_free(a->table);
	list_free(&a->base);
	free(a->realm);
	free(a->file);
	if (a->secret) {
		explicit_bzero(a->secret, strlen(a->secret));
		free(a->secret);
	}
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

int turn_accounts_reload(struct turn_accounts *a)
{
	int err;
	struct acct_table *t = build(a, &err);
	if (!t) {
		log_error("%s: reload failed (%s); keeping the previous accounts",
			  a->file ? a->file : "accounts", turn_file_strerror(err));
		return err;
	}
	pthread_rwlock_wrlock(&a->lock);
	struct acct_table *old = a->table;
	a->table = t;
	pthread_rwlock_unlock(&a->lock);
	table_free(old);
	log_info("%zu accounts loaded", t->count);
	return t->count > INT32_MAX ? INT32_MAX : (int)t->count;
}

/* TURN REST: "expiry:user", valid until expiry, password derived from the
 * shared secret; always authorized. */
static int rest_lookup(const struct turn_accounts *a, const char *user, int64_t now_unix,
		       struct turn_account_lookup *out)
{
	int rc = turn_rest_check_username(user, now_unix);
	if (rc == -ESTALE)
		return -ESTALE;
	if (rc != 0)
		return -ENOENT;
	char pass[29];
	turn_rest_password(a->secret, user, pass);
	out->state = TURN_ACCT_AUTHORIZED;
	stun_key_md5(user, a->realm, pass, out->key);
	stun_key_sha256(user, a->realm, pass, out->key256);
	explicit_bzero(pass, sizeof(pass));
	return 0;
}

int turn_accounts_lookup(struct turn_accounts *a, const char *user, int64_t now_unix,
			 struct turn_account_lookup *out)
{
	if (!a || !user || !*user || strnlen(user, ACCT_NAME_MAX + 1) > ACCT_NAME_MAX)
		return -ENOENT;
	pthread_rwlock_rdlock(&a->lock);
	const struct acct *e = table_find(a->table, user);
	if (e) {
		out->state = e->state;
		memcpy(out->key, e->key, sizeof(out->key));
		memcpy(out->key256, e->key256, sizeof(out->key256));
	}
	pthread_rwlock_unlock(&a->lock);
	if (e)
		return 0;
	if (a->secret)
		return rest_lookup(a, user, now_unix, out);
	return -ENOENT;
}
