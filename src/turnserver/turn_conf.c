#include "turn_conf.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "turn_file.h"

/* The original TurnServer's turn.conf, read with libconfuse, plus our keys.
 *
 * libconfuse stops at the first syntax error and (3.3) miscounts lines after
 * comments, so the file is read into memory, comments are blanked out
 * (newlines kept), and on a syntax error the offending line (and the rest of
 * a section it opens) is blanked and the buffer parsed again. That way one
 * run reports every problem with the right line. Semantic checks run on the
 * last, successful parse, using the lines recorded by validate callbacks. */

enum { CONF_MAX_ATTEMPTS = 100, CONF_MAX_RECS = 8192, CONF_SOFTWARE_MAX = 127 };

struct line_rec {
	const cfg_t *sec;
	const char *name;
	unsigned idx;
	int line;
};

struct conf_msg {
	int line;
	unsigned seq;
	char *text;
};

struct conf_ctx {
	const char *path;
	struct conf_msg *msgs; /* printed sorted by line at the end */
	unsigned n_msgs, cap_msgs;
	char *buf;      /* file contents, comments blanked */
	struct stat st; /* of the file itself */
	int nlines;
	int errors;
	int err_line;   /* line of the last libconfuse error of this attempt */
	struct line_rec recs[CONF_MAX_RECS];
	unsigned n_recs;
};

/* libconfuse callbacks carry no user pointer. */
static _Thread_local struct conf_ctx *g_ctx;

static cfg_opt_t rule_opts[] = {
	CFG_STR("address", NULL, CFGF_NONE),
	CFG_STR("mask", NULL, CFGF_NONE), /* "24", 24, "/24" or "255.255.255.0" */
	CFG_INT("port", 0, CFGF_NONE),
	CFG_END(),
};

/* Keys of the original TurnServer we accept but do not implement. */
static const char *const ignored_keys[] = {
	"dtls", "turn_tcp", "tcp_buffer_userspace", "tcp_buffer_size", "ca_file", "mod_tmpuser",
	"account_db_login", "account_db_password", "account_db_name", "account_db_address",
	"account_db_port",
};

static cfg_opt_t conf_opts[] = {
	CFG_STR_LIST("listen_address", NULL, CFGF_NONE),
	CFG_STR_LIST("listen_addressv6", NULL, CFGF_NONE),
	CFG_STR_LIST("relay_address", NULL, CFGF_NONE),
	CFG_INT("udp_port", 3478, CFGF_NONE),
	CFG_INT("tcp_port", 3478, CFGF_NONE),
	CFG_INT("tls_port", 5349, CFGF_NONE),
	CFG_BOOL("tls", cfg_false, CFGF_NONE),
	CFG_STR("cert_file", NULL, CFGF_NONE),
	CFG_STR("private_key_file", NULL, CFGF_NONE),
	CFG_INT("min_port", 49152, CFGF_NONE),
	CFG_INT("max_port", 65535, CFGF_NONE),
	CFG_SEC("denied_address", rule_opts, CFGF_MULTI),
	CFG_SEC("deny_address", rule_opts, CFGF_MULTI), /* TurnServer 0.1 spelling */
	CFG_SEC("allowed_address", rule_opts, CFGF_MULTI),
	CFG_STR("realm", "ipop", CFGF_NONE),
	CFG_STR("nonce_key", NULL, CFGF_NONE),
	CFG_STR("account_method", "file", CFGF_NONE),
	CFG_STR("account_file", NULL, CFGF_NONE),
	CFG_STR("static_auth_secret", NULL, CFGF_NONE),
	CFG_STR_LIST("users", NULL, CFGF_NONE),
	CFG_INT("max_client", 10000, CFGF_NONE),
	CFG_INT("max_relay_per_username", 0, CFGF_NONE),
	CFG_INT("max_connections_per_ip", 64, CFGF_NONE),
	CFG_INT("stream_queue_total_kb", 65536, CFGF_NONE),
	CFG_INT("allocation_lifetime", 3600, CFGF_NONE),
	CFG_INT("bandwidth_per_allocation", 0, CFGF_NONE),
	CFG_INT("restricted_bandwidth", 10, CFGF_NONE),
	CFG_BOOL("daemon", cfg_false, CFGF_NONE),
	CFG_STR("unpriv_user", NULL, CFGF_NONE),
	CFG_INT("threads", 0, CFGF_NONE),
	CFG_INT("rx_moderation_us", 250, CFGF_NONE),
	CFG_STR("software", "ipop-turnserver", CFGF_NONE),
	CFG_BOOL("syslog", cfg_false, CFGF_NONE),
	CFG_STR_LIST("alt_listen_address", NULL, CFGF_NONE), /* RFC 5780 */
	CFG_INT("alt_udp_port", 0, CFGF_NONE),               /* 0: udp_port + 1 */
	CFG_STR("metrics_address", NULL, CFGF_NONE),
	/* ignored_keys */
	CFG_BOOL("dtls", cfg_false, CFGF_NONE),
	CFG_BOOL("turn_tcp", cfg_false, CFGF_NONE),
	CFG_BOOL("tcp_buffer_userspace", cfg_true, CFGF_NONE),
	CFG_INT("tcp_buffer_size", 1500, CFGF_NONE),
	CFG_STR("ca_file", NULL, CFGF_NONE),
	CFG_BOOL("mod_tmpuser", cfg_false, CFGF_NONE),
	CFG_STR("account_db_login", NULL, CFGF_NONE),
	CFG_STR("account_db_password", NULL, CFGF_NONE),
	CFG_STR("account_db_name", NULL, CFGF_NONE),
	CFG_STR("account_db_address", NULL, CFGF_NONE),
	CFG_INT("account_db_port", 3306, CFGF_NONE),
	CFG_END(),
};

/* ---- reporting ---- */

/* Problems with no line of their own (something missing) point at the end
 * of the file. */
static void add_msg(struct conf_ctx *c, int line, bool is_error, const char *fmt, va_list ap)
{
	if (line <= 0 || line > c->nlines) /* libconfuse says EOF+1 at EOF */
		line = c->nlines > 0 ? c->nlines : 1;
	if (is_error)
		c->errors++;
	if (c->n_msgs == c->cap_msgs) {
		unsigned cap = c->cap_msgs ? 2 * c->cap_msgs : 16;
		struct conf_msg *m = realloc(c->msgs, cap * sizeof(*m));
		if (!m)
			return;
		c->msgs = m;
		c->cap_msgs = cap;
	}
	char *body = NULL, *text = NULL;
	if (vasprintf(&body, fmt, ap) < 0)
		return;
	if (asprintf(&text, "%s:%d: %s%s", c->path, line, is_error ? "" : "warning: ", body) < 0)
		text = NULL;
	free(body);
	if (text) {
		unsigned seq = c->n_msgs++;
		c->msgs[seq] = (struct conf_msg){ line, seq, text };
	}
}

__attribute__((format(printf, 3, 4)))
static void report(struct conf_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_msg(c, line, true, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static void warn(struct conf_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_msg(c, line, false, fmt, ap);
	va_end(ap);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct conf_msg *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void flush_msgs(struct conf_ctx *c, FILE *out)
{
	if (c->n_msgs)
		qsort(c->msgs, c->n_msgs, sizeof(*c->msgs), msg_cmp);
	for (unsigned i = 0; i < c->n_msgs; i++) {
		fprintf(out, "%s\n", c->msgs[i].text);
		free(c->msgs[i].text);
	}
	fflush(out);
	free(c->msgs);
	c->msgs = NULL;
	c->n_msgs = c->cap_msgs = 0;
}

static const char *const secret_keys[] = { "users", "static_auth_secret", "nonce_key",
					    "account_db_password" };

static char *line_start(char *buf, int line);

static bool line_has(const char *p, char ch)
{
	for (; *p && *p != '\n'; p++)
		if (*p == ch)
			return true;
	return false;
}

/* The key whose value a line is part of: its own "key =" or "key +=", or
 * that of a list still open above it. NULL when there is none. */
static const char *key_of_line(const struct conf_ctx *c, int line, char *key, size_t cap)
{
	for (int l = line; l >= 1; l--) {
		const char *p = line_start(c->buf, l);
		if (!p)
			return NULL;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = 0;
		while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
			n++;
		const char *q = p + n;
		while (*q == ' ' || *q == '\t')
			q++;
		bool is_key = n && n < cap && (*q == '=' || (q[0] == '+' && q[1] == '='));
		if (is_key && l < line && (!line_has(q, '{') || line_has(q, '}')))
			return NULL; /* its value ended above the line */
		if (is_key) {
			memcpy(key, p, n);
			key[n] = '\0';
			return key;
		}
		if (l < line && line_has(p, '}'))
			return NULL; /* a list closed above the line */
	}
	return NULL;
}

static bool is_secret_key(const char *key)
{
	for (size_t i = 0; key && i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
		if (strcmp(key, secret_keys[i]) == 0)
			return true;
	return false;
}

/* libconfuse quotes the offending token, which on a line with a secret
 * value may be the secret: then only the key is named. */
static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct conf_ctx *c = g_ctx;
	char key[64];
	if (!c)
		return;
	c->err_line = cfg ? cfg->line : 0;
	if (c->err_line > 0 && is_secret_key(key_of_line(c, c->err_line, key, sizeof(key)))) {
		report(c, c->err_line, "syntax error in the value of %s (not shown: it is secret)",
		       key);
		return;
	}
	add_msg(c, c->err_line, true, fmt, ap);
}

/* Remembers where each value was set: called by libconfuse right after it
 * stores one, while its line counter is still on that line. */
static int on_cfg_value(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_ctx *c = g_ctx;
	if (!c || c->n_recs >= CONF_MAX_RECS || opt->nvalues == 0)
		return 0;
	c->recs[c->n_recs++] = (struct line_rec){ cfg, opt->name, opt->nvalues - 1, cfg->line };
	return 0;
}

/* Line of value idx of name in sec (UINT32_MAX: any value), 0 if unset. */
static int line_of(const struct conf_ctx *c, const cfg_t *sec, const char *name, unsigned idx)
{
	for (unsigned i = c->n_recs; i-- > 0;) {
		const struct line_rec *r = &c->recs[i];
		if (r->sec == sec && strcmp(r->name, name) == 0 && (idx == UINT32_MAX || r->idx == idx))
			return r->line;
	}
	return 0;
}

static bool is_set(const struct conf_ctx *c, const cfg_t *sec, const char *name)
{
	return line_of(c, sec, name, UINT32_MAX) > 0;
}

/* ---- reading and syntax recovery ---- */

static char *read_file(const char *path, struct stat *st, int *err)
{
	int fd = turn_file_open(path, st);
	if (fd < 0) {
		*err = -fd;
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		*err = errno;
		close(fd);
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m) {
		*err = errno;
		fclose(f);
		return NULL;
	}
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	*err = ferror(f) ? EIO : 0;
	fclose(f);
	fclose(m);
	if (*err) {
		free(buf);
		return NULL;
	}
	/* libconfuse reads a C string: a NUL in the file would silently end it */
	if (strlen(buf) != len) {
		free(buf);
		*err = ENOTSUP;
		return NULL;
	}
	return buf;
}

/* Blanks #, // and block comments outside quoted strings; newlines stay so
 * line numbers do not move. */
static void strip_comments(char *s)
{
	enum { CODE, DQ, SQ, LINE, BLOCK } st = CODE;
	for (char *p = s; *p; p++) {
		switch (st) {
		case CODE:
			if (*p == '"')
				st = DQ;
			else if (*p == '\'')
				st = SQ;
			else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
				st = LINE;
				*p = ' ';
			} else if (p[0] == '/' && p[1] == '*') {
				st = BLOCK;
				*p = ' ';
				*++p = ' ';
			}
			break;
		case DQ:
		case SQ:
			if (*p == '\\' && p[1] && p[1] != '\n')
				p++;
			else if ((st == DQ && *p == '"') || (st == SQ && *p == '\''))
				st = CODE;
			break;
		case LINE:
			if (*p == '\n')
				st = CODE;
			else
				*p = ' ';
			break;
		case BLOCK:
			if (p[0] == '*' && p[1] == '/') {
				*p = ' ';
				*++p = ' ';
				st = CODE;
			} else if (*p != '\n') {
				*p = ' ';
			}
			break;
		}
	}
}

static char *line_start(char *buf, int line)
{
	char *p = buf;
	for (int l = 1; l < line && p; l++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return p;
}

/* Blanks one line; returns its '{' minus '}' count (outside strings) and
 * whether it held anything. */
static int blank_line(char *p, bool *had_text)
{
	int depth = 0;
	char q = 0;
	*had_text = false;
	for (; *p && *p != '\n'; p++) {
		if (q) {
			if (*p == '\\' && p[1] && p[1] != '\n')
				*p++ = ' ';
			else if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '{') {
			depth++;
		} else if (*p == '}') {
			depth--;
		}
		if (*p != ' ' && *p != '\t' && *p != '\r')
			*had_text = true;
		*p = ' ';
	}
	return depth;
}

/* Drops the line libconfuse stopped at, and the rest of a section or list
 * it opens, so the next attempt can go on. false when nothing changed. */
static bool skip_bad_line(struct conf_ctx *c, int line)
{
	if (line < 1 || line > c->nlines)
		return false;
	char *p = line_start(c->buf, line);
	bool had_text, any = false;
	int depth = 0;
	do {
		depth += blank_line(p, &had_text);
		any |= had_text;
		p = strchr(p, '\n');
		if (p)
			p++;
	} while (depth > 0 && p && *p);
	return any;
}

static int count_lines(const char *s)
{
	int n = 0;
	char last = '\n';
	for (; *s; s++) {
		if (*s == '\n')
			n++;
		last = *s;
	}
	return last == '\n' ? n : n + 1; /* an unterminated last line counts */
}

static cfg_t *new_cfg(void)
{
	cfg_t *cfg = cfg_init(conf_opts, CFGF_NONE);
	if (!cfg)
		return NULL;
	cfg_set_error_function(cfg, on_cfg_error);
	for (cfg_opt_t *o = conf_opts; o->name; o++) {
		if (o->type == CFGT_SEC) {
			char path[64];
			for (cfg_opt_t *s = rule_opts; s->name; s++) {
				snprintf(path, sizeof(path), "%s|%s", o->name, s->name);
				cfg_set_validate_func(cfg, path, on_cfg_value);
			}
		}
		cfg_set_validate_func(cfg, o->name, on_cfg_value);
	}
	return cfg;
}

/* Parses until success, skipping each line that fails. NULL when even
 * that does not get through. */
static cfg_t *parse_with_recovery(struct conf_ctx *c)
{
	for (int attempt = 0; attempt < CONF_MAX_ATTEMPTS; attempt++) {
		cfg_t *cfg = new_cfg();
		if (!cfg) {
			report(c, 1, "out of memory");
			return NULL;
		}
		c->n_recs = 0;
		c->err_line = 0;
		int errors = c->errors;
		int rc = cfg_parse_buf(cfg, c->buf);
		if (rc == CFG_SUCCESS)
			return cfg;
		/* libconfuse fails some input without a word (e.g. "key =!\"\""):
		 * its line counter still says where, and a file that did not
		 * parse must never count as clean. */
		if (c->errors == errors) {
			c->err_line = cfg->line;
			report(c, c->err_line, "syntax error");
		}
		cfg_free(cfg);
		if (!skip_bad_line(c, c->err_line)) {
			report(c, c->err_line, "cannot read past this syntax error; the rest of the "
					       "file is not checked");
			return NULL;
		}
	}
	report(c, 0, "more than %d syntax errors; the rest of the file is not checked",
	       CONF_MAX_ATTEMPTS);
	return NULL;
}

/* ---- semantic checks ---- */

static bool get_int(struct conf_ctx *c, cfg_t *cfg, const char *name, long lo, long hi, long *out)
{
	long v = cfg_getint(cfg, name);
	if (v < lo || v > hi) {
		report(c, line_of(c, cfg, name, UINT32_MAX), "%s: %ld is out of range [%ld, %ld]",
		       name, v, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static char *dup_opt(cfg_t *cfg, const char *name)
{
	const char *s = cfg_getstr(cfg, name);
	return s ? strdup(s) : NULL;
}

static bool parse_ip(const char *s, int family, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (family != AF_INET6) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			return true;
		}
	}
	if (family != AF_INET) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			return true;
		}
	}
	return false;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	return IN6_IS_ADDR_UNSPECIFIED(a);
}

static void add_addrs(struct conf_ctx *c, cfg_t *cfg, const char *name, int family,
		      struct sockaddr_storage *arr, unsigned *n)
{
	unsigned count = cfg_size(cfg, name);
	for (unsigned i = 0; i < count; i++) {
		const char *s = cfg_getnstr(cfg, name, i);
		int line = line_of(c, cfg, name, i);
		if (*n >= TURN_CONF_MAX_LISTEN) {
			report(c, line, "%s: more than %d addresses", name, TURN_CONF_MAX_LISTEN);
			return;
		}
		if (!parse_ip(s, family, &arr[*n])) {
			report(c, line, "%s: '%s' is not an %s address", name, s,
			       family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "IP");
			continue;
		}
		(*n)++;
	}
}

static void check_listen(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	add_addrs(c, cfg, "listen_address", AF_INET, conf->listen, &conf->n_listen);
	add_addrs(c, cfg, "listen_addressv6", AF_INET6, conf->listen, &conf->n_listen);
	/* Nothing given at all: all IPv4 addresses. */
	if (cfg_size(cfg, "listen_address") == 0 && cfg_size(cfg, "listen_addressv6") == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&conf->listen[0];
		memset(&conf->listen[0], 0, sizeof(conf->listen[0]));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		conf->n_listen = 1;
	}
}

/* Relay addresses go into XOR-RELAYED-ADDRESS, so they must be concrete. */
static void check_relay(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	if (cfg_size(cfg, "relay_address") > 0) {
		add_addrs(c, cfg, "relay_address", AF_UNSPEC, conf->relay, &conf->n_relay);
		for (unsigned i = 0; i < conf->n_relay; i++) {
			if (is_wildcard(&conf->relay[i]))
				report(c, line_of(c, cfg, "relay_address", UINT32_MAX),
				       "relay_address: a wildcard address cannot be relayed to; "
				       "give the server's public address");
		}
		return;
	}
	for (unsigned i = 0; i < conf->n_listen; i++) {
		if (is_wildcard(&conf->listen[i])) {
			const char *key = conf->listen[i].ss_family == AF_INET ? "listen_address"
									       : "listen_addressv6";
			const char *any = conf->listen[i].ss_family == AF_INET ? "0.0.0.0" : "::";
			if (is_set(c, cfg, key))
				report(c, line_of(c, cfg, key, UINT32_MAX),
				       "%s: %s is a wildcard, so relay_address must give the "
				       "server's concrete public address(es)", key, any);
			else
				report(c, 0, "no listen_address given (listening on %s): "
					     "relay_address must give the server's concrete public "
					     "address(es)", any);
			return;
		}
	}
	conf->n_relay = conf->n_listen;
	memcpy(conf->relay, conf->listen, sizeof(conf->relay));
}

static void check_ports(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	long v, lo = 0, hi = 0;
	if (get_int(c, cfg, "udp_port", 1, 65535, &v))
		conf->udp_port = (uint16_t)v;
	if (get_int(c, cfg, "tcp_port", 1, 65535, &v))
		conf->tcp_port = (uint16_t)v;
	if (get_int(c, cfg, "tls_port", 1, 65535, &v))
		conf->tls_port = (uint16_t)v;
	bool ok = get_int(c, cfg, "min_port", 1, 65535, &lo);
	ok &= get_int(c, cfg, "max_port", 1, 65535, &hi);
	if (ok && lo > hi) {
		int line = line_of(c, cfg, "min_port", UINT32_MAX);
		report(c, line ? line : line_of(c, cfg, "max_port", UINT32_MAX),
		       "min_port (%ld) is greater than max_port (%ld)", lo, hi);
	}
	conf->min_port = (uint16_t)lo;
	conf->max_port = (uint16_t)hi;
}

/* The groups the server reads its files as: its own, unpriv_user's after
 * dropping privileges (SIGHUP re-reads the account file), and the group
 * of the packaged service (deploy/systemd: files are root:ipop-turnserver
 * 640, and root runs -n on them). Members of these may read secret files
 * without a warning. */
static size_t server_groups(cfg_t *cfg, gid_t out[3])
{
	const char *user = cfg_getstr(cfg, "unpriv_user");
	struct passwd *pw = user && *user ? getpwnam(user) : NULL;
	struct group *gr = getgrnam("ipop-turnserver");
	size_t n = 0;
	out[n++] = getegid();
	if (pw)
		out[n++] = pw->pw_gid;
	if (gr)
		out[n++] = gr->gr_gid;
	return n;
}

/* A file the server will read: readable, and a regular file (a FIFO would
 * hang the server, a directory has nothing to read). With secret, a
 * warning when others may read it. */
static void check_readable(struct conf_ctx *c, cfg_t *cfg, const char *name, const char *path,
			   bool secret)
{
	int line = line_of(c, cfg, name, UINT32_MAX);
	struct stat st;
	int fd = turn_file_open(path, &st);
	if (fd < 0) {
		report(c, line, "%s: cannot read '%s': %s", name, path, turn_file_strerror(fd));
		return;
	}
	close(fd);
	char why[64];
	gid_t ok[3];
	size_t nok = server_groups(cfg, ok);
	if (secret && turn_file_exposed(&st, ok, nok, why, sizeof(why)))
		warn(c, line, "%s: '%s' holds secrets and is %s: chmod 600 it, or 640 with "
			      "the server's group", name, path, why);
}

/* turn.conf itself holds secrets when it has passwords in it. */
static void check_conf_secrets(struct conf_ctx *c, cfg_t *cfg)
{
	const char *const *keys = secret_keys;
	char why[64];
	gid_t ok[3];
	size_t nok = server_groups(cfg, ok);
	if (!c->st.st_mode || !turn_file_exposed(&c->st, ok, nok, why, sizeof(why)))
		return; /* (no file: turn_conf_load_buf) */
	for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++) {
		int line = line_of(c, cfg, keys[i], UINT32_MAX);
		if (line) {
			warn(c, line, "this file holds secrets (%s) and is %s: chmod 600 it, "
				      "or 640 with the server's group", keys[i], why);
			return;
		}
	}
}

static void check_tls(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	conf->tls = cfg_getbool(cfg, "tls");
	conf->cert_file = dup_opt(cfg, "cert_file");
	conf->private_key_file = dup_opt(cfg, "private_key_file");
	if (!conf->tls)
		return;
	int line = line_of(c, cfg, "tls", UINT32_MAX);
	if (!conf->cert_file)
		report(c, line, "tls = true needs cert_file");
	else
		check_readable(c, cfg, "cert_file", conf->cert_file, false);
	if (!conf->private_key_file)
		report(c, line, "tls = true needs private_key_file");
	else
		check_readable(c, cfg, "private_key_file", conf->private_key_file, true);
}

/* "24", "/24" or a contiguous dotted IPv4 netmask. */
static int parse_mask(const char *s, int family)
{
	unsigned max = family == AF_INET ? 32 : 128;
	struct in_addr m;
	if (family == AF_INET && strchr(s, '.') && inet_pton(AF_INET, s, &m) == 1) {
		uint32_t v = ntohl(m.s_addr);
		unsigned n = 0;
		while (n < 32 && (v & (0x80000000u >> n)))
			n++;
		if (n < 32 && (v << n) != 0)
			return -1; /* not contiguous */
		return (int)n;
	}
	if (*s == '/')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	return (int)v;
}

static void mask_host_bits(struct turn_addr_rule *r)
{
	uint8_t *a;
	unsigned len;
	if (r->addr.ss_family == AF_INET) {
		a = (uint8_t *)&((struct sockaddr_in *)&r->addr)->sin_addr;
		len = 4;
	} else {
		a = ((struct sockaddr_in6 *)&r->addr)->sin6_addr.s6_addr;
		len = 16;
	}
	for (unsigned i = 0; i < len; i++) {
		unsigned bit = i * 8;
		if (bit >= r->prefix)
			a[i] = 0;
		else if (bit + 8 > r->prefix)
			a[i] &= (uint8_t)(0xff << (8 - (r->prefix - bit)));
	}
}

static bool parse_rule(struct conf_ctx *c, cfg_t *cfg, const char *name, unsigned idx,
		       struct turn_addr_rule *r)
{
	cfg_t *sec = cfg_getnsec(cfg, name, idx);
	int sec_line = line_of(c, cfg, name, idx);
	const char *addr = cfg_getstr(sec, "address");
	const char *mask = cfg_getstr(sec, "mask");
	long port = cfg_getint(sec, "port");
	bool ok = true;

	memset(r, 0, sizeof(*r));
	if (!addr) {
		report(c, sec_line, "%s: missing address", name);
		return false;
	}
	int aline = line_of(c, sec, "address", UINT32_MAX);
	if (!parse_ip(addr, AF_UNSPEC, &r->addr)) {
		report(c, aline, "%s: '%s' is not an IP address", name, addr);
		return false;
	}
	int family = r->addr.ss_family;
	r->prefix = family == AF_INET ? 32 : 128; /* no mask: that one address */
	if (mask) {
		int p = parse_mask(mask, family);
		if (p < 0) {
			report(c, line_of(c, sec, "mask", UINT32_MAX),
			       "%s: mask '%s' is not a prefix length in [0, %d]", name, mask,
			       family == AF_INET ? 32 : 128);
			ok = false;
		} else {
			r->prefix = (uint8_t)p;
		}
	}
	if (port < 0 || port > 65535) {
		report(c, line_of(c, sec, "port", UINT32_MAX), "%s: port %ld is out of range [0, 65535]",
		       name, port);
		ok = false;
	}
	r->port = (uint16_t)port;
	mask_host_bits(r);
	return ok;
}

static void check_rules(struct conf_ctx *c, cfg_t *cfg, const char *name,
			struct turn_addr_rule *rules, unsigned *n)
{
	unsigned count = cfg_size(cfg, name);
	for (unsigned i = 0; i < count; i++) {
		if (*n >= TURN_CONF_MAX_RULES) {
			report(c, line_of(c, cfg, name, i), "%s: more than %d rules", name,
			       TURN_CONF_MAX_RULES);
			return;
		}
		if (parse_rule(c, cfg, name, i, &rules[*n]))
			(*n)++;
	}
}

static void check_users(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	unsigned count = cfg_size(cfg, "users");
	for (unsigned i = 0; i < count; i++) {
		const char *s = cfg_getnstr(cfg, "users", i);
		int line = line_of(c, cfg, "users", i);
		const char *colon = strchr(s, ':');
		if (conf->n_users >= TURN_CONF_MAX_USERS) {
			report(c, line, "users: more than %d entries (use account_file)",
			       TURN_CONF_MAX_USERS);
			return;
		}
		/* The entry itself is not quoted: it may hold a password. */
		if (!colon) {
			report(c, line, "users: an entry has no ':' (not \"name:password\"; not shown)");
			continue;
		}
		if (colon == s) {
			report(c, line, "users: an entry has an empty name (not \"name:password\")");
			continue;
		}
		if (colon[1] == '\0') {
			report(c, line, "users: '%.*s' has an empty password (not \"name:password\")",
			       (int)(colon - s > 64 ? 64 : colon - s), s);
			continue;
		}
		size_t nlen = (size_t)(colon - s);
		if (nlen > 513) { /* STUN USERNAME limit */
			report(c, line, "users: name longer than 513 bytes");
			continue;
		}
		bool dup = false;
		for (unsigned j = 0; j < conf->n_users; j++)
			dup |= strlen(conf->users[j].name) == nlen &&
			       memcmp(conf->users[j].name, s, nlen) == 0;
		if (dup) {
			report(c, line, "users: '%.*s' is listed twice", (int)nlen, s);
			continue;
		}
		struct turn_user *u = &conf->users[conf->n_users];
		u->name = strndup(s, nlen);
		u->password = strdup(colon + 1);
		if (!u->name || !u->password) {
			free(u->name);
			free(u->password);
			report(c, line, "out of memory");
			return;
		}
		conf->n_users++;
	}
}

static void check_nonempty(struct conf_ctx *c, cfg_t *cfg, const char *name, const char *v)
{
	if (v && v[0] == '\0')
		report(c, line_of(c, cfg, name, UINT32_MAX), "%s must not be empty", name);
}

static void check_auth(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	conf->realm = dup_opt(cfg, "realm");
	conf->nonce_key = dup_opt(cfg, "nonce_key");
	conf->account_file = dup_opt(cfg, "account_file");
	conf->static_auth_secret = dup_opt(cfg, "static_auth_secret");
	if (!conf->realm || conf->realm[0] == '\0')
		report(c, line_of(c, cfg, "realm", UINT32_MAX), "realm must not be empty");
	check_nonempty(c, cfg, "nonce_key", conf->nonce_key);
	check_nonempty(c, cfg, "static_auth_secret", conf->static_auth_secret);
	check_nonempty(c, cfg, "account_file", conf->account_file);

	const char *method = cfg_getstr(cfg, "account_method");
	int mline = line_of(c, cfg, "account_method", UINT32_MAX);
	if (!method || strcmp(method, "file") != 0) {
		report(c, mline, "account_method '%s' is not supported: only \"file\" is "
				 "(plus users and static_auth_secret in this file)",
		       method ? method : "");
	}
	/* No account_file: accounts come only from users/static_auth_secret. */
	conf->account_method = conf->account_file ? TURN_ACCOUNT_FILE : TURN_ACCOUNT_NONE;
	if (conf->account_file && conf->account_file[0])
		check_readable(c, cfg, "account_file", conf->account_file, true);
	check_users(c, cfg, conf);
	if (!conf->account_file && conf->n_users == 0 && !conf->static_auth_secret &&
	    cfg_size(cfg, "users") == 0)
		warn(c, 0, "no account_file, users or static_auth_secret: nobody can allocate "
			   "(STUN Binding only)");
}

static void check_limits(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	long v;
	if (get_int(c, cfg, "max_client", 1, 10000000, &v))
		conf->max_client = (unsigned)v;
	if (get_int(c, cfg, "max_relay_per_username", 0, 1000000, &v))
		conf->max_relay_per_username = (unsigned)v;
	if (get_int(c, cfg, "max_connections_per_ip", 0, 1000000, &v))
		conf->max_connections_per_ip = (unsigned)v;
	if (get_int(c, cfg, "stream_queue_total_kb", 1024, 64 * 1024 * 1024, &v))
		conf->stream_queue_total_kb = (unsigned)v;
	if (get_int(c, cfg, "allocation_lifetime", 1, INT32_MAX, &v)) {
		if (v > 3600) {
			warn(c, line_of(c, cfg, "allocation_lifetime", UINT32_MAX),
			     "allocation_lifetime %ld capped at 3600", v);
			v = 3600;
		}
		conf->allocation_lifetime = (unsigned)v;
	}
	if (get_int(c, cfg, "bandwidth_per_allocation", 0, 10000000, &v))
		conf->bandwidth_per_allocation = (unsigned)v;
	if (get_int(c, cfg, "restricted_bandwidth", 0, 10000000, &v))
		conf->restricted_bandwidth = (unsigned)v;
}

static void check_process(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	long v;
	conf->daemon = cfg_getbool(cfg, "daemon");
	conf->syslog = cfg_getbool(cfg, "syslog");
	conf->unpriv_user = dup_opt(cfg, "unpriv_user");
	check_nonempty(c, cfg, "unpriv_user", conf->unpriv_user);
	if (get_int(c, cfg, "threads", 0, 1024, &v))
		conf->threads = (unsigned)v;
	if (get_int(c, cfg, "rx_moderation_us", 0, 2000, &v))
		conf->rx_moderation_us = (unsigned)v;
	conf->software = dup_opt(cfg, "software");
	if (conf->software && strlen(conf->software) > CONF_SOFTWARE_MAX)
		report(c, line_of(c, cfg, "software", UINT32_MAX),
		       "software: longer than %d characters", CONF_SOFTWARE_MAX);
	for (size_t i = 0; i < sizeof(ignored_keys) / sizeof(ignored_keys[0]); i++) {
		int line = line_of(c, cfg, ignored_keys[i], UINT32_MAX);
		if (line)
			warn(c, line, "'%s' (original TurnServer) is not supported; ignored",
			     ignored_keys[i]);
	}
}

/* The concrete listen address of family, or NULL. */
static const struct sockaddr_storage *listen_of(const struct turn_conf *conf, int family)
{
	for (unsigned i = 0; i < conf->n_listen; i++)
		if (conf->listen[i].ss_family == family && !is_wildcard(&conf->listen[i]))
			return &conf->listen[i];
	return NULL;
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* One alt_listen_address entry: a concrete address that pairs with a
 * concrete listen address of its family. false after reporting why not. */
static bool alt_entry_ok(struct conf_ctx *c, int line, const char *s,
			 const struct turn_conf *conf, const struct sockaddr_storage *alt)
{
	const char *fam = alt->ss_family == AF_INET ? "IPv4" : "IPv6";
	if (is_wildcard(alt)) {
		report(c, line, "alt_listen_address: '%s' is a wildcard; give the server's second address", s);
		return false;
	}
	if (!listen_of(conf, alt->ss_family)) {
		report(c, line, "alt_listen_address: '%s' needs a concrete %s listen address to pair "
				"with (RFC 5780 answers name both)", s, fam);
		return false;
	}
	for (unsigned i = 0; i < conf->n_listen; i++) {
		if (same_ip(&conf->listen[i], alt)) {
			report(c, line, "alt_listen_address: '%s' is a listen address already", s);
			return false;
		}
	}
	for (unsigned i = 0; i < conf->n_alt; i++) {
		if (conf->alt_listen[i].ss_family == alt->ss_family) {
			report(c, line, "alt_listen_address: more than one %s address", fam);
			return false;
		}
	}
	return true;
}

/* RFC 5780: alt_listen_address (one per family) and alt_udp_port. */
static void check_alt(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	unsigned count = cfg_size(cfg, "alt_listen_address");
	long port = cfg_getint(cfg, "alt_udp_port");
	int pline = line_of(c, cfg, "alt_udp_port", UINT32_MAX);

	for (unsigned i = 0; i < count; i++) {
		const char *s = cfg_getnstr(cfg, "alt_listen_address", i);
		int line = line_of(c, cfg, "alt_listen_address", i);
		struct sockaddr_storage alt;
		if (!parse_ip(s, AF_UNSPEC, &alt)) {
			report(c, line, "alt_listen_address: '%s' is not an IP address", s);
			continue;
		}
		if (conf->n_alt == 2 || !alt_entry_ok(c, line, s, conf, &alt))
			continue;
		conf->alt_listen[conf->n_alt] = alt;
		conf->alt_primary[conf->n_alt] = *listen_of(conf, alt.ss_family);
		conf->n_alt++;
	}
	if (count == 0) {
		if (pline)
			warn(c, pline, "alt_udp_port without alt_listen_address is ignored");
		return;
	}
	if (port == 0)
		port = (long)conf->udp_port + 1;
	if (port < 1 || port > 65535 || port == conf->udp_port) {
		report(c, pline, "alt_udp_port: %ld must be in [1, 65535] and differ from udp_port %u",
		       port, conf->udp_port);
		return;
	}
	conf->alt_udp_port = (uint16_t)port;
}

/* The Prometheus endpoint: off unless metrics_address is given. It has no
 * authentication, so a wildcard address earns a warning. */
static void check_metrics(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	const char *s = cfg_getstr(cfg, "metrics_address");
	int line = line_of(c, cfg, "metrics_address", UINT32_MAX);
	struct sockaddr_storage *ma = &conf->metrics_addr;

	if (!s)
		return;
	if (addr_parse(s, TURN_CONF_METRICS_PORT, ma) < 0 || addr_port((struct sockaddr *)ma) == 0) {
		report(c, line, "metrics_address: '%s' is not an IP address with an optional "
				"port (\"127.0.0.1:9641\", \"[::1]:9641\")", s);
		return;
	}
	conf->metrics = true;
	if (is_wildcard(ma))
		warn(c, line, "metrics_address: %s answers on every interface and has no "
			      "authentication; bind it to localhost or a management network", s);
	uint16_t port = addr_port((struct sockaddr *)ma);
	for (unsigned i = 0; i < conf->n_listen; i++) {
		const struct sockaddr *l = (const struct sockaddr *)&conf->listen[i];
		bool same = l->sa_family == ma->ss_family &&
			    (is_wildcard(&conf->listen[i]) || is_wildcard(ma) ||
			     addr_equal_ip(l, (const struct sockaddr *)ma));
		if (same && (port == conf->tcp_port || (conf->tls && port == conf->tls_port))) {
			report(c, line, "metrics_address: port %u is also a TURN listening port", port);
			return;
		}
	}
}

static void check_all(struct conf_ctx *c, cfg_t *cfg, struct turn_conf *conf)
{
	check_listen(c, cfg, conf);
	check_relay(c, cfg, conf);
	check_ports(c, cfg, conf);
	check_tls(c, cfg, conf);
	check_rules(c, cfg, "denied_address", conf->denied, &conf->n_denied);
	check_rules(c, cfg, "deny_address", conf->denied, &conf->n_denied);
	check_rules(c, cfg, "allowed_address", conf->allowed, &conf->n_allowed);
	check_auth(c, cfg, conf);
	check_limits(c, cfg, conf);
	check_process(c, cfg, conf);
	check_alt(c, cfg, conf);
	check_metrics(c, cfg, conf);
	check_conf_secrets(c, cfg);
}

/* Parses c->buf (owned by c, freed here) into conf; messages to out. */
static int load_ctx(struct conf_ctx *c, struct turn_conf *conf, FILE *out)
{
	strip_comments(c->buf);
	c->nlines = c->buf[0] ? count_lines(c->buf) : 0;

	g_ctx = c;
	cfg_t *cfg = parse_with_recovery(c);
	if (cfg) {
		check_all(c, cfg, conf);
		cfg_free(cfg);
	}
	g_ctx = NULL;

	flush_msgs(c, out);
	int errors = c->errors;
	free(c->buf);
	free(c);
	return errors;
}

static struct conf_ctx *ctx_new(struct turn_conf *conf, const char *path, FILE *out)
{
	memset(conf, 0, sizeof(*conf));
	struct conf_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(out, "%s: out of memory\n", path);
		return NULL;
	}
	c->path = path;
	conf->path = strdup(path);
	return c;
}

int turn_conf_load(struct turn_conf *conf, const char *path)
{
	struct conf_ctx *c = ctx_new(conf, path, stderr);
	if (!c)
		return 1;
	int err = 0;
	c->buf = read_file(path, &c->st, &err);
	if (!c->buf) {
		fprintf(stderr, "%s: cannot read: %s\n", path,
			err == ENOTSUP ? "contains a NUL byte" : turn_file_strerror(-err));
		free(c);
		return 1;
	}
	return load_ctx(c, conf, stderr);
}

int turn_conf_load_buf(struct turn_conf *conf, const char *name, const char *text, size_t len,
		       FILE *out)
{
	struct conf_ctx *c = ctx_new(conf, name, out);
	if (!c)
		return 1;
	if (memchr(text, '\0', len)) {
		fprintf(out, "%s: cannot read: contains a NUL byte\n", name);
		free(c);
		return 1;
	}
	c->buf = malloc(len + 1);
	if (!c->buf) {
		fprintf(out, "%s: out of memory\n", name);
		free(c);
		return 1;
	}
	memcpy(c->buf, text, len);
	c->buf[len] = '\0';
	return load_ctx(c, conf, out);
}

/* Secrets should not linger in freed heap memory. */
static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void turn_conf_free(struct turn_conf *conf)
{
	if (!conf)
		return;
	free(conf->path);
	free(conf->cert_file);
	free(conf->private_key_file);
	free(conf->realm);
	free_secret(conf->nonce_key);
	free(conf->account_file);
	free_secret(conf->static_auth_secret);
	for (unsigned i = 0; i < conf->n_users; i++) {
		free(conf->users[i].name);
		free_secret(conf->users[i].password);
	}
	free(conf->unpriv_user);
	free(conf->software);
	memset(conf, 0, sizeof(*conf));
}
