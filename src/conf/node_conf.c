#include "node_conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conf_file.h"
#include "json_pos.h"
#include "node_conf_int.h"

/* A config file is a few hundred bytes; anything near this is a mistake. */
enum { NODE_CONF_MAX_FILE = 1 << 20, NODE_CONF_MAX_PATH = 4096 };

static const char *const DEFAULT_INTERFACE = "ipop0";
static const char *const DEFAULT_STATE_DIR = "/var/lib/ipop";
static const char *const DEFAULT_RUN_DIR = "/run/ipop";

/* Every default lives here or in node_conf_derive_defaults() (the ones that
 * depend on other keys); docs/config.md lists them with their reasons. */
static void node_conf_defaults(struct node_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ip4_mask = NODE_CONF_DEFAULT_IP4_MASK;
	c->ip6_mask = NODE_CONF_DEFAULT_IP6_MASK;
	c->mode = NODE_MODE_GROUP;
	snprintf(c->interface, sizeof(c->interface), "%s", DEFAULT_INTERFACE);
	c->mtu = NODE_CONF_DEFAULT_MTU;
	c->max_links = NODE_CONF_DEFAULT_MAX_LINKS;
	c->multihop = true;
	c->hop_limit = NODE_CONF_DEFAULT_HOP_LIMIT;
	c->on_demand = true;
	c->on_demand_bps = NODE_CONF_DEFAULT_DEMAND_BPS;
	c->on_demand_timeout_s = NODE_CONF_DEFAULT_DEMAND_TIMEOUT_S;
	c->trim = true;
	c->crypto_threads = -1; /* auto */
	c->xmpp_port = NODE_CONF_DEFAULT_XMPP_PORT;
	c->xmpp_tls = NODE_TLS_REQUIRED;
	c->log_level = LOG_LVL_INFO;
	c->nat_prime_ttl = NODE_CONF_DEFAULT_PRIME_TTL;
	c->full_size_checks = true;
	c->hard_nat_sockets = NODE_CONF_DEFAULT_HARD_SOCKETS;
	c->hard_nat_ports = NODE_CONF_DEFAULT_HARD_PORTS;
	c->xmpp_services = true;
	c->max_links_per_member = NODE_CONF_DEFAULT_LINKS_PER_MEMBER;
}

static char *strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strfmt(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int node_conf_derive_defaults(struct node_conf *c)
{
	if (!c->state_dir)
		c->state_dir = strdup(DEFAULT_STATE_DIR);
	if (!c->key_file && c->state_dir)
		c->key_file = strfmt("%s/%s.key", c->state_dir, c->interface);
	if (!c->control_socket)
		c->control_socket = strfmt("%s/%s.sock", DEFAULT_RUN_DIR, c->interface);
	if (!c->social_map_file && c->state_dir)
		c->social_map_file = strfmt("%s/%s.social", c->state_dir, c->interface);
	if (node_conf_trust_defaults(c) < 0)
		return -ENOMEM;
	return c->state_dir && c->key_file && c->control_socket && c->social_map_file && c->trust_file ? 0 : -ENOMEM;
}

/* ---- diagnostics ---- */

/* The position of where's value (or key), else of its nearest recorded
 * parent: "turn[1].user" falls back to "turn[1]" and then "turn". */
static bool ctx_find_pos(const struct ctx *x, const char *where, bool at_key, int *line, int *col)
{
	char p[JSON_POS_PATH];
	if (!x->pos || snprintf(p, sizeof(p), "%s", where) >= (int)sizeof(p))
		return false;
	for (;;) {
		if (json_pos_find(x->pos, p, at_key, line, col))
			return true;
		char *cut = strrchr(p, '.');
		char *br = strrchr(p, '[');
		if (br && (!cut || br > cut))
			cut = br;
		if (!cut)
			return false;
		*cut = '\0';
		at_key = false;
	}
}

static void ctx_vreport(struct ctx *x, bool warn, const char *where, bool at_key, const char *fmt,
			va_list ap)
{
	int line, col;
	fprintf(x->diag, "%s:", x->file);
	if (where && ctx_find_pos(x, where, at_key, &line, &col))
		fprintf(x->diag, "%d:%d:", line, col);
	fputs(warn ? " warning: " : " ", x->diag);
	if (where)
		fprintf(x->diag, "key \"%s\": ", where);
	vfprintf(x->diag, fmt, ap);
	fputc('\n', x->diag);
}

static void conf_error(struct ctx *x, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conf_error(struct ctx *x, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx_vreport(x, false, where, false, fmt, ap);
	va_end(ap);
	x->errors++;
}

/* Warnings point at the key: they are about the key being there at all. */
static void conf_warn(struct ctx *x, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conf_warn(struct ctx *x, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx_vreport(x, true, where, true, fmt, ap);
	va_end(ap);
	x->c->n_warnings++;
}

/* A short JSON rendering of a bad value for "got ...". */
static const char *describe(const json_t *v, char buf[80])
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s) {
		snprintf(buf, 80, "an unprintable value");
	} else if (strlen(s) > 60) {
		snprintf(buf, 80, "%.57s...", s);
	} else {
		snprintf(buf, 80, "%s", s);
	}
	free(s);
	return buf;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static void expected(struct ctx *x, const char *where, const char *what, const json_t *v)
{
	char b[80];
	conf_error(x, where, "expected %s, got %s", what, describe(v, b));
}

/* The same, for node_conf_net.c (node_conf_int.h). */
void node_conf_error(struct ctx *x, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx_vreport(x, false, where, false, fmt, ap);
	va_end(ap);
	x->errors++;
}

void node_conf_warn(struct ctx *x, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx_vreport(x, true, where, true, fmt, ap);
	va_end(ap);
	x->c->n_warnings++;
}

void node_conf_expected(struct ctx *x, const char *where, const char *what, const json_t *v)
{
	expected(x, where, what, v);
}

const char *node_conf_describe(const json_t *v, char buf[80])
{
	return describe(v, buf);
}

/* ---- value checks: NULL when fine, else what is wrong ---- */

static bool is_port_text(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535 || (s[0] == '0'))
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool is_ip6(const char *s)
{
	struct in6_addr a;
	return inet_pton(AF_INET6, s, &a) == 1;
}

/* A DNS name (letters, digits, '-', '_', dots between labels of at most 63)
 * or an IP literal. Nothing is resolved here. */
static bool is_host(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (n == 0 || n > 253)
		return false;
	if (strchr(h, ':'))
		return is_ip6(h);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal.
 * *port is 0 when none is given. */
static const char *split_hostport(const char *s, size_t n, char **host, uint16_t *port)
{
	const char *h = s, *colon = NULL;
	size_t hn = n;
	*port = 0;
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return "missing ']' after an IPv6 address";
		h = s + 1;
		hn = (size_t)(rb - h);
		if (rb + 1 < s + n) {
			if (rb[1] != ':')
				return "unexpected text after ']'";
			colon = rb + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		if (colon && memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
			colon = NULL; /* several colons: a bare IPv6 literal */
		else if (colon)
			hn = (size_t)(colon - s);
	}
	if (colon && !is_port_text(colon + 1, (size_t)(s + n - colon - 1), port))
		return "the port must be a number from 1 to 65535";
	*host = strndup(h, hn);
	if (!*host)
		return "out of memory";
	if (s[0] == '[' ? !is_ip6(*host) : !is_host(*host)) {
		free(*host);
		*host = NULL;
		return "not a valid host name or IP address";
	}
	return NULL;
}

const char *node_conf_split_hostport(const char *s, size_t n, char **host, uint16_t *port)
{
	return split_hostport(s, n, host, port);
}

const char *node_turn_transport_name(enum node_turn_transport t)
{
	switch (t) {
	case NODE_TURN_UDP: return "udp";
	case NODE_TURN_TCP: return "tcp";
	case NODE_TURN_TLS: return "tls";
	}
	return "?";
}

static int transport_parse(const char *s)
{
	for (int t = NODE_TURN_UDP; t <= NODE_TURN_TLS; t++)
		if (strcmp(s, node_turn_transport_name((enum node_turn_transport)t)) == 0)
			return t;
	return -1;
}

const char *node_conf_parse_turn_server(const char *spec, char **host, uint16_t *port,
					unsigned *allowed)
{
	const unsigned udp = 1u << NODE_TURN_UDP, tcp = 1u << NODE_TURN_TCP, tls = 1u << NODE_TURN_TLS;
	bool secure = false;
	*host = NULL;
	*allowed = 0;
	if (strncasecmp(spec, "turns:", 6) == 0) {
		secure = true;
		spec += 6;
	} else if (strncasecmp(spec, "turn:", 5) == 0) {
		spec += 5;
	} else {
		return split_hostport(spec, strlen(spec), host, port);
	}
	/* RFC 7065: the URI has no "//", and transport is its only query;
	 * without one, turn: leaves UDP or TCP to the client. */
	if (spec[0] == '/')
		return "a turn: URI has no \"//\" (turn:host:port)";
	const char *q = strchr(spec, '?');
	size_t hn = q ? (size_t)(q - spec) : strlen(spec);
	*allowed = secure ? tls : udp | tcp;
	if (q) {
		const char *t = q + 11;
		if (strncmp(q + 1, "transport=", 10) != 0)
			return "the only URI query allowed is ?transport=udp or ?transport=tcp";
		if (strcmp(t, "udp") != 0 && strcmp(t, "tcp") != 0)
			return "transport must be udp or tcp";
		if (secure && strcmp(t, "udp") == 0)
			return "turns: with transport=udp means DTLS, which is not supported";
		if (!secure)
			*allowed = strcmp(t, "udp") == 0 ? udp : tcp;
	}
	return split_hostport(spec, hn, host, port);
}

/* Linux's rules for device names, and printable ASCII. */
static bool is_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= NODE_CONF_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/' || s[i] == ':')
			return false;
	return true;
}

/* RFC 7622 localpart@domainpart, without a resource. */
static const char *check_bare_jid(const char *s, char **local, char **domain)
{
	const char *at = strchr(s, '@');
	if (strchr(s, '/'))
		return "a bare JID has no /resource";
	if (!at || at == s || strchr(at + 1, '@'))
		return "need exactly one '@' with a user before it";
	if (at - s > 1023)
		return "the user part is longer than 1023 bytes";
	for (const char *p = s; p < at; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("\"&':<>", *p))
			return "the user part has a character JIDs forbid (space \" & ' : < >)";
	if (!is_host(at + 1))
		return "the part after '@' is not a valid domain";
	*local = strndup(s, (size_t)(at - s));
	*domain = strdup(at + 1);
	return *local && *domain ? NULL : "out of memory";
}

const char *node_conf_bare_jid_why(const char *s)
{
	char *l = NULL, *d = NULL;
	const char *why = check_bare_jid(s, &l, &d);
	free(l);
	free(d);
	return why;
}

/* ---- per-key handlers ---- */

static const char *get_str(struct ctx *x, const char *where, const json_t *v, const char *what)
{
	if (!json_is_string(v) || json_string_length(v) == 0) {
		expected(x, where, what, v);
		return NULL;
	}
	return json_string_value(v);
}

static bool get_int(struct ctx *x, const char *where, const json_t *v, long long lo, long long hi,
		    const char *hint, long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		char what[128];
		snprintf(what, sizeof(what), "an integer from %lld to %lld%s", lo, hi, hint);
		expected(x, where, what, v);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

bool node_conf_get_bool(struct ctx *x, const char *where, const json_t *v, bool *out)
{
	if (!json_is_boolean(v)) {
		expected(x, where, "true or false", v);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

bool node_conf_get_uint(struct ctx *x, const char *where, const json_t *v, unsigned lo, unsigned hi, unsigned *out)
{
	long long n;
	if (!get_int(x, where, v, lo, hi, "", &n))
		return false;
	*out = (unsigned)n;
	return true;
}

static void set_str(struct ctx *x, char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
	if (!*dst)
		conf_error(x, NULL, "out of memory");
}

static void h_ip4(struct ctx *x, const char *k, const json_t *v)
{
	const char *what = "an IPv4 address string like \"172.31.0.100\"";
	struct in_addr a;
	if (!json_is_string(v) || inet_pton(AF_INET, json_string_value(v), &a) != 1) {
		expected(x, k, what, v);
		return;
	}
	/* loopback, multicast, 0.0.0.0/8, broadcast: never a node's address */
	const char *why = ip_addr_unusable(AF_INET, &a);
	if (why) {
		char b[80];
		conf_error(x, k, "expected a unicast IPv4 address (172.16.0.0/12 suits an overlay), got %s: it %s",
			   describe(v, b), why);
		return;
	}
	x->c->ip4 = a;
}

static void h_ip4_mask(struct ctx *x, const char *k, const json_t *v)
{
	long long m;
	if (get_int(x, k, v, 8, 30, " (prefix length)", &m))
		x->c->ip4_mask = (unsigned)m;
}

static void h_xmpp_username(struct ctx *x, const char *k, const json_t *v)
{
	const char *what = "a bare JID string like \"ipopuser@ejabberd\"";
	const char *s = get_str(x, k, v, what);
	if (!s)
		return;
	const char *why = check_bare_jid(s, &x->c->xmpp_local, &x->c->xmpp_domain);
	if (why) {
		char b[80];
		conf_error(x, k, "expected %s, got %s: %s", what, describe(v, b), why);
		return;
	}
	set_str(x, &x->c->xmpp_username, s);
}

static void h_xmpp_password(struct ctx *x, const char *k, const json_t *v)
{
	/* Never echo a password, not even a wrong one. */
	if (!json_is_string(v) || json_string_length(v) == 0) {
		conf_error(x, k, "expected a non-empty string, got %s",
			   json_is_string(v) ? "an empty string" : type_name(v));
		return;
	}
	set_str(x, &x->c->xmpp_password, json_string_value(v));
}

static void h_xmpp_port(struct ctx *x, const char *k, const json_t *v)
{
	long long p;
	if (get_int(x, k, v, 1, 65535, "", &p))
		x->c->xmpp_port = (uint16_t)p;
}

static void h_xmpp_tls(struct ctx *x, const char *k, const json_t *v)
{
	static const char *const names[] = { "required", "optional", "off" };
	for (int i = 0; json_is_string(v) && i < 3; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			x->c->xmpp_tls = (enum node_tls_mode)i;
			return;
		}
	}
	expected(x, k, "\"required\", \"optional\" or \"off\"", v);
}

static bool get_path(struct ctx *x, const char *k, const json_t *v, size_t max, char **dst)
{
	char what[96];
	snprintf(what, sizeof(what), "a file path string of at most %zu bytes", max);
	const char *s = get_str(x, k, v, what);
	if (!s)
		return false;
	if (strlen(s) > max) {
		expected(x, k, what, v);
		return false;
	}
	set_str(x, dst, s);
	return true;
}

static void h_xmpp_ca_file(struct ctx *x, const char *k, const json_t *v)
{
	get_path(x, k, v, NODE_CONF_MAX_PATH, &x->c->xmpp_ca_file);
}

static void h_key_file(struct ctx *x, const char *k, const json_t *v)
{
	get_path(x, k, v, NODE_CONF_MAX_PATH, &x->c->key_file);
}

static void h_state_dir(struct ctx *x, const char *k, const json_t *v)
{
	get_path(x, k, v, NODE_CONF_MAX_PATH, &x->c->state_dir);
}

static void h_control_socket(struct ctx *x, const char *k, const json_t *v)
{
	/* It must fit sockaddr_un.sun_path with its NUL. */
	get_path(x, k, v, sizeof(((struct sockaddr_un *)0)->sun_path) - 1, &x->c->control_socket);
}

static void h_mode(struct ctx *x, const char *k, const json_t *v)
{
	if (json_is_string(v) && strcmp(json_string_value(v), "group") == 0)
		x->c->mode = NODE_MODE_GROUP;
	else if (json_is_string(v) && strcmp(json_string_value(v), "social") == 0)
		x->c->mode = NODE_MODE_SOCIAL;
	else
		expected(x, k, "\"group\" or \"social\"", v);
}

static void h_interface(struct ctx *x, const char *k, const json_t *v)
{
	const char *what = "an interface name of 1 to 15 characters without '/', ':' or spaces";
	if (!json_is_string(v) || !is_ifname(json_string_value(v))) {
		expected(x, k, what, v);
		return;
	}
	snprintf(x->c->interface, sizeof(x->c->interface), "%s", json_string_value(v));
}

static void h_mtu(struct ctx *x, const char *k, const json_t *v)
{
	long long m;
	if (get_int(x, k, v, 576, 9000, "", &m))
		x->c->mtu = (unsigned)m;
}

static void h_crypto_threads(struct ctx *x, const char *k, const json_t *v)
{
	long long t;
	if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
		x->c->crypto_threads = -1;
		return;
	}
	if (!json_is_integer(v)) {
		expected(x, k, "\"auto\" or an integer 0..8", v);
		return;
	}
	if (get_int(x, k, v, 0, 8, "", &t))
		x->c->crypto_threads = (int)t;
}

static void h_log_level(struct ctx *x, const char *k, const json_t *v)
{
	int l = json_is_string(v) ? log_level_parse(json_string_value(v)) : -1;
	if (l < 0) {
		expected(x, k, "\"error\", \"warn\", \"info\" or \"debug\"", v);
		return;
	}
	x->c->log_level = (enum log_level)l;
}

static void h_stun(struct ctx *x, const char *k, const json_t *v)
{
	if (!json_is_array(v) || json_array_size(v) > NODE_CONF_MAX_STUN) {
		expected(x, k, "an array of at most 8 \"host:port\" strings", v);
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		char where[32];
		snprintf(where, sizeof(where), "%s[%zu]", k, i);
		if (!json_is_string(e)) {
			expected(x, where, "a \"host:port\" string", e);
			continue;
		}
		const char *s = json_string_value(e);
		if (strncasecmp(s, "stun:", 5) == 0) /* RFC 7064 URI */
			s += 5;
		struct node_stun *st = &x->c->stun[x->c->n_stun];
		const char *why = split_hostport(s, strlen(s), &st->host, &st->port);
		if (why) {
			char b[80];
			conf_error(x, where, "expected a \"host:port\" string, got %s: %s",
				   describe(e, b), why);
			continue;
		}
		if (st->port == 0)
			st->port = NODE_CONF_DEFAULT_STUN_PORT;
		x->c->n_stun++;
	}
}

static const char *const turn_members[] = { "server", "user", "pass", "transport", "ca_file" };

static bool turn_member_known(const char *m)
{
	for (size_t i = 0; i < sizeof(turn_members) / sizeof(turn_members[0]); i++)
		if (strcmp(m, turn_members[i]) == 0)
			return true;
	return false;
}

static void turn_credentials(struct ctx *x, const char *where, const json_t *e, struct node_turn *t)
{
	static const char *const names[] = { "user", "pass" };
	char **dst[] = { &t->user, &t->pass };
	/* Neither: the XMPP server hands them out (XEP-0215, docs/nat.md). */
	if (!json_object_get(e, "user") && !json_object_get(e, "pass"))
		return;
	for (int i = 0; i < 2; i++) {
		char w[48];
		const json_t *m = json_object_get(e, names[i]);
		snprintf(w, sizeof(w), "%s.%s", where, names[i]);
		if (!m) {
			conf_error(x, where, "missing \"%s\"; expected a non-empty string", names[i]);
			continue;
		}
		if (!json_is_string(m) || json_string_length(m) == 0) {
			conf_error(x, w, "expected a non-empty string, got %s",
				   json_is_string(m) ? "an empty string" : type_name(m));
			continue;
		}
		set_str(x, dst[i], json_string_value(m));
	}
}

static bool turn_server(struct ctx *x, const char *where, const json_t *e, struct node_turn *t)
{
	char w[48];
	const json_t *m = json_object_get(e, "server");
	snprintf(w, sizeof(w), "%s.server", where);
	if (!m) {
		conf_error(x, where, "missing \"server\"; expected a \"host:port\" or turn: URI string");
		return false;
	}
	if (!json_is_string(m)) {
		expected(x, w, "a \"host:port\" or turn: URI string", m);
		return false;
	}
	unsigned allowed = 0;
	const char *why = node_conf_parse_turn_server(json_string_value(m), &t->host, &t->port, &allowed);
	if (why) {
		char b[80];
		conf_error(x, w, "expected \"host:port\" or a turn:/turns: URI, got %s: %s", describe(m, b), why);
		return false;
	}
	const json_t *tv = json_object_get(e, "transport");
	snprintf(w, sizeof(w), "%s.transport", where);
	int ktr = json_is_string(tv) ? transport_parse(json_string_value(tv)) : -1;
	if (tv && ktr < 0) {
		expected(x, w, "\"udp\", \"tcp\" or \"tls\"", tv);
		return false;
	}
	if (tv && allowed && !(allowed & (1u << ktr))) {
		conf_error(x, w, "\"%s\" contradicts the server URI %s", json_string_value(tv),
			   json_string_value(m));
		return false;
	}
	/* Without a "transport" key: the URI's first choice, else UDP. */
	t->transport = tv ? (enum node_turn_transport)ktr
			  : allowed ? (enum node_turn_transport)__builtin_ctz(allowed) : NODE_TURN_UDP;
	if (t->port == 0)
		t->port = t->transport == NODE_TURN_TLS ? NODE_CONF_DEFAULT_TURNS_PORT
							 : NODE_CONF_DEFAULT_STUN_PORT;
	return true;
}

static void turn_entry(struct ctx *x, const char *where, const json_t *e)
{
	struct node_turn *t = &x->c->turn[x->c->n_turn];
	if (!json_is_object(e)) {
		expected(x, where, "an object {\"server\", \"user\", \"pass\"}", e);
		return;
	}
	const char *mk;
	json_t *mv;
	json_object_foreach((json_t *)e, mk, mv) {
		char w[JSON_POS_PATH];
		snprintf(w, sizeof(w), "%s.%s", where, mk);
		if (!turn_member_known(mk))
			conf_warn(x, w, "unknown key, ignored");
	}
	turn_server(x, where, e, t);
	turn_credentials(x, where, e, t);
	const json_t *ca = json_object_get(e, "ca_file");
	if (ca) {
		char w[48];
		snprintf(w, sizeof(w), "%s.ca_file", where);
		/* UDP entries fall back to TLS when UDP is blocked (relay.c) */
		if (get_path(x, w, ca, NODE_CONF_MAX_PATH, &t->ca_file) && t->transport == NODE_TURN_TCP)
			conf_warn(x, w, "only used for TLS (transport \"tls\", or the TLS fallback of a UDP entry)");
	}
	/* Count the entry even when broken so node_conf_free() releases it. */
	x->c->n_turn++;
}

static void h_turn(struct ctx *x, const char *k, const json_t *v)
{
	if (!json_is_array(v) || json_array_size(v) > NODE_CONF_MAX_TURN) {
		expected(x, k, "an array of at most 8 {\"server\", \"user\", \"pass\"} objects", v);
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		char where[32];
		snprintf(where, sizeof(where), "%s[%zu]", k, i);
		turn_entry(x, where, json_array_get(v, i));
	}
}

/* An array of at most max strings that ok() accepts, into dst[*n]; each
 * bad element is its own error. */
static void get_str_list(struct ctx *x, const char *k, const json_t *v, size_t max, const char *what_list,
			 bool (*ok)(const char *), const char *what_item, char **dst, unsigned *n)
{
	if (!json_is_array(v) || json_array_size(v) > max) {
		expected(x, k, what_list, v);
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		char where[48];
		snprintf(where, sizeof(where), "%s[%zu]", k, i);
		if (!json_is_string(e) || !ok(json_string_value(e))) {
			expected(x, where, what_item, e);
			continue;
		}
		set_str(x, &dst[(*n)++], json_string_value(e));
	}
}

static void h_ignore_list(struct ctx *x, const char *k, const json_t *v)
{
	get_str_list(x, k, v, NODE_CONF_MAX_IGNORE, "an array of at most 32 interface names", is_ifname,
		     "an interface name of 1 to 15 characters", x->c->network_ignore_list, &x->c->n_ignore);
}

/* ---- social mode ---- */

static void h_social_map_file(struct ctx *x, const char *k, const json_t *v)
{
	get_path(x, k, v, NODE_CONF_MAX_PATH, &x->c->social_map_file);
}

static void h_social_pin_file(struct ctx *x, const char *k, const json_t *v)
{
	get_path(x, k, v, NODE_CONF_MAX_PATH, &x->c->social_pin_file);
}

/* "social_map": {"bob@example.org": "172.31.0.120", ...} pins addresses;
 * the subnet is checked once ip4/ip4_mask are known (check_together). */
static void h_social_map(struct ctx *x, const char *k, const json_t *v)
{
	if (!json_is_object(v) || json_object_size(v) > NODE_CONF_MAX_PINS) {
		expected(x, k, "an object of at most 64 \"user@domain\": \"IPv4 address\" members", v);
		return;
	}
	const char *jid;
	json_t *e;
	json_object_foreach((json_t *)v, jid, e) {
		char where[600];
		char *l = NULL, *d = NULL;
		snprintf(where, sizeof(where), "%s.%.500s", k, jid);
		const char *why = check_bare_jid(jid, &l, &d);
		free(l);
		free(d);
		struct node_pin *pin = &x->c->pins[x->c->n_pins];
		if (why) {
			conf_error(x, where, "the member name must be a bare JID: %s", why);
			continue;
		}
		if (!json_is_string(e) || inet_pton(AF_INET, json_string_value(e), &pin->ip4) != 1) {
			expected(x, where, "an IPv4 address string like \"172.31.0.120\"", e);
			continue;
		}
		set_str(x, &pin->jid, jid);
		x->c->n_pins++;
	}
}

static void h_social_broadcast(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->social_broadcast);
}

static void h_social_dns(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->social_dns);
}

static bool is_accept_pattern(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	if (strncmp(s, "*@", 2) == 0)
		return is_host(s + 2);
	char *l = NULL, *d = NULL;
	const char *why = check_bare_jid(s, &l, &d);
	free(l);
	free(d);
	return !why;
}

static void h_auto_accept(struct ctx *x, const char *k, const json_t *v)
{
	get_str_list(x, k, v, NODE_CONF_MAX_AUTO_ACCEPT,
		     "an array of at most 32 patterns (\"user@domain\", \"*@domain\" or \"*\")", is_accept_pattern,
		     "\"user@domain\", \"*@domain\" or \"*\"", x->c->auto_accept, &x->c->n_auto_accept);
}

/* The original's "vpn_type" and "controller_logging" still work when our
 * keys are absent. */
static void h_vpn_type(struct ctx *x, const char *k, const json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	if (strcmp(s, "GroupVPN") == 0)
		x->c->mode = NODE_MODE_GROUP;
	else if (strcmp(s, "SocialVPN") == 0)
		x->c->mode = NODE_MODE_SOCIAL;
	else
		expected(x, k, "\"GroupVPN\" or \"SocialVPN\" (or use \"mode\")", v);
}

static void h_controller_logging(struct ctx *x, const char *k, const json_t *v)
{
	static const char *const names[] = { "ERROR", "WARNING", "INFO", "DEBUG" };
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			x->c->log_level = (enum log_level)i;
			return;
		}
	}
	if (strcasecmp(s, "CRITICAL") == 0) {
		x->c->log_level = LOG_LVL_ERROR;
		return;
	}
	conf_warn(x, k, "unrecognised level, ignored (use \"log_level\")");
}

typedef void (*key_fn)(struct ctx *, const char *, const json_t *);

struct key_def {
	const char *name;
	key_fn fn;
	const char *required; /* what is expected, when the key is required */
	const char *superseded_by; /* an alias applied only when this key is absent */
};

static const struct key_def keys[] = {
	{ "ip4", h_ip4, "an IPv4 address string like \"172.31.0.100\"", NULL },
	{ "ip4_mask", h_ip4_mask, NULL, NULL },
	{ "xmpp_username", h_xmpp_username, "a bare JID string like \"ipopuser@ejabberd\"", NULL },
	{ "xmpp_password", h_xmpp_password, "a non-empty string (ipopd does not prompt for it)", NULL },
	{ "xmpp_host", node_conf_xmpp_host, NULL, NULL },
	{ "xmpp_port", h_xmpp_port, NULL, NULL },
	{ "xmpp_tls", h_xmpp_tls, NULL, NULL },
	{ "xmpp_ca_file", h_xmpp_ca_file, NULL, NULL },
	{ "mode", h_mode, NULL, NULL },
	{ "vpn_type", h_vpn_type, NULL, "mode" },
	{ "interface", h_interface, NULL, NULL },
	{ "mtu", h_mtu, NULL, NULL },
	{ "crypto_threads", h_crypto_threads, NULL, NULL },
	{ "key_file", h_key_file, NULL, NULL },
	{ "control_socket", h_control_socket, NULL, NULL },
	{ "state_dir", h_state_dir, NULL, NULL },
	{ "log_level", h_log_level, NULL, NULL },
	{ "metrics_address", node_conf_obs_metrics_address, NULL, NULL },
	{ "controller_logging", h_controller_logging, NULL, "log_level" },
	{ "stun", h_stun, NULL, NULL },
	{ "turn", h_turn, NULL, NULL },
	{ "network_ignore_list", h_ignore_list, NULL, NULL },
	{ "social_map_file", h_social_map_file, NULL, NULL },
	{ "social_pin_file", h_social_pin_file, NULL, NULL },
	{ "social_map", h_social_map, NULL, NULL },
	{ "auto_accept", h_auto_accept, NULL, NULL },
	{ "social_broadcast", h_social_broadcast, NULL, NULL },
	{ "social_dns", h_social_dns, NULL, NULL },
	{ "ip6", node_conf_net_ip6, NULL, NULL },
	{ "ip6_mask", node_conf_net_ip6_mask, NULL, NULL },
	{ "ip6_prefix", node_conf_net_ip6_prefix, NULL, "ip6" },
	{ "routes", node_conf_net_routes, NULL, NULL },
	{ "accept_routes", node_conf_net_accept_routes, NULL, NULL },
	{ "router_mode", node_conf_net_router_mode, NULL, NULL },
	{ "nat_prime_ttl", node_conf_nat_prime_ttl, NULL, NULL },
	{ "full_size_checks", node_conf_nat_full_size, NULL, NULL },
	{ "tunnel_candidates", node_conf_nat_tunnel_candidates, NULL, NULL },
	{ "hard_nat_sockets", node_conf_nat_hard_sockets, NULL, NULL },
	{ "hard_nat_ports", node_conf_nat_hard_ports, NULL, NULL },
	{ "xmpp_services", node_conf_nat_xmpp_services, NULL, NULL },
	{ "trust_file", node_conf_trust_file, NULL, NULL },
	{ "address_map_file", node_conf_address_map_file, NULL, NULL },
	{ "max_links_per_member", node_conf_max_links_per_member, NULL, NULL },
	{ "max_links", node_conf_ovl_max_links, NULL, NULL },
	{ "multihop_cl", node_conf_ovl_max_links, NULL, "max_links" },
	{ "multihop", node_conf_ovl_multihop, NULL, NULL },
	{ "multihop_hl", node_conf_ovl_hop_limit, NULL, NULL },
	{ "multihop_ihc", node_conf_ovl_unused, NULL, NULL },
	{ "multihop_tl", node_conf_ovl_unused, NULL, NULL },
	{ "multihop_sr", node_conf_ovl_unused, NULL, NULL },
	{ "on-demand_connection", node_conf_ovl_on_demand, NULL, NULL },
	{ "on-demand_inactive_timeout", node_conf_ovl_demand_timeout, NULL, NULL },
	{ "on-demand_threshold", node_conf_ovl_demand_bps, NULL, NULL },
	{ "trim_enabled", node_conf_ovl_trim, NULL, NULL },
};

/* Keys of the original IPOP controllers that ipopd accepts and ignores. */
static const char *const ignored_keys[] = {
	"subnet_mask", "router_ip", "router_ip4_mask", "router_ip6_mask", "sec", "tincan_logging", "svpn_port",
	"uid_size", "wait_time", "buf_size", "switchmode", "icc", "icc_port",
	"contr_port", "local_uid", "localhost", "localhost6", "stat_report", "stat_server",
	"stat_server_port", "dhcp_servers", "seed", "use_central_visualizer",
	"central_visualizer_addr", "central_visualizer_port",
};

static void check_key(struct ctx *x, const json_t *root, const char *k, const json_t *v)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(k, keys[i].name) != 0)
			continue;
		if (keys[i].superseded_by && json_object_get(root, keys[i].superseded_by))
			conf_warn(x, k, "ignored because \"%s\" is set", keys[i].superseded_by);
		else
			keys[i].fn(x, k, v);
		return;
	}
	for (size_t i = 0; i < sizeof(ignored_keys) / sizeof(ignored_keys[0]); i++) {
		if (strcmp(k, ignored_keys[i]) == 0) {
			conf_warn(x, k, "ignored (an original IPOP setting ipopd does not implement)");
			return;
		}
	}
	conf_warn(x, k, "unknown key, ignored");
}

/* Pinned addresses must be usable hosts of our subnet, not ours, unique. */
static void check_pins(struct ctx *x)
{
	struct node_conf *c = x->c;
	uint32_t mask = 0xffffffffu << (32 - c->ip4_mask), own = ntohl(c->ip4.s_addr);
	for (unsigned i = 0; i < c->n_pins; i++) {
		uint32_t a = ntohl(c->pins[i].ip4.s_addr), host = a & ~mask;
		char where[600], b[INET_ADDRSTRLEN];
		snprintf(where, sizeof(where), "social_map.%.500s", c->pins[i].jid);
		inet_ntop(AF_INET, &c->pins[i].ip4, b, sizeof(b));
		if ((a & mask) != (own & mask) || host == 0 || host == ~mask || a == own)
			conf_error(x, where, "%s is not a free host address of this node's /%u (nor ip4 itself)", b,
				   c->ip4_mask);
		for (unsigned j = 0; j < i; j++)
			if (c->pins[j].ip4.s_addr == c->pins[i].ip4.s_addr)
				conf_error(x, where, "%s is pinned twice", b);
	}
}

/* Checks that need several keys, once each key is known to be valid. */
static void check_together(struct ctx *x, const json_t *root)
{
	struct node_conf *c = x->c;
	if (c->ip4.s_addr && json_object_get(root, "ip4")) {
		uint32_t a = ntohl(c->ip4.s_addr);
		uint32_t host = a & (0xffffffffu >> c->ip4_mask);
		if (host == 0 || host == (0xffffffffu >> c->ip4_mask)) {
			char b[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &c->ip4, b, sizeof(b));
			conf_error(x, "ip4", "%s is the network or broadcast address of its /%u", b,
				   c->ip4_mask);
		}
	}
	check_pins(x);
	node_conf_net_check(x, root);
	node_conf_ovl_check(x, root);
}

static void check_root(struct ctx *x, const json_t *root)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)root, k, v)
		check_key(x, root, k, v);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].required && !json_object_get(root, keys[i].name))
			conf_error(x, keys[i].name, "missing; expected %s", keys[i].required);
	if (x->errors == 0)
		check_together(x, root);
}

/* ---- loading ---- */

/* The file holds the XMPP password (and TURN passwords): a regular file
 * only (a FIFO would hang `ipopd -n`), and a warning when others may read
 * it. */
static char *read_file(struct ctx *x, size_t *len)
{
	struct conf_file f;
	const char *why = NULL;
	int rc = conf_file_read(x->file, NODE_CONF_MAX_FILE, &f, &why);
	if (rc < 0) {
		if (why)
			conf_error(x, NULL, "%s", why);
		else
			conf_error(x, NULL, "cannot %s: %s", rc == -ENOENT || rc == -EACCES ? "open" : "read",
				   strerror(-rc));
		return NULL;
	}
	/* group access is how a deployment lets the daemon's user read it
	 * (install -m 640 -g ipop); others never need it */
	if (f.mode & (S_IROTH | S_IWOTH))
		conf_warn(x, NULL, "mode %04o lets others %s the passwords in it (xmpp_password, TURN pass); "
			  "run: chmod o-rw %s", (unsigned)(f.mode & 07777), f.mode & S_IROTH ? "read" : "change",
			  x->file);
	*len = f.len;
	return f.text;
}

static json_t *parse_json(struct ctx *x, const char *text, size_t len)
{
	json_error_t err;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		fprintf(x->diag, "%s:%d:%d: %s\n", x->file, err.line, err.column, err.text);
		x->errors++;
		return NULL;
	}
	if (!json_is_object(root)) {
		conf_error(x, NULL, "expected a JSON object { ... } at the top level, got %s", type_name(root));
		json_decref(root);
		return NULL;
	}
	return root;
}

static int load_text(struct ctx *x, const char *text, size_t len)
{
	json_t *root = parse_json(x, text, len);
	if (root) {
		x->pos = calloc(1, sizeof(*x->pos));
		if (x->pos)
			json_pos_scan(x->pos, text, len);
		check_root(x, root);
		json_decref(root);
		free(x->pos);
		x->pos = NULL;
	}
	if (node_conf_derive_defaults(x->c) < 0)
		conf_error(x, NULL, "out of memory");
	return x->errors;
}

int node_conf_load_buf(struct node_conf *c, const char *name, const char *text, size_t len, FILE *diag)
{
	struct ctx x = { c, name, diag, NULL, 0 };
	node_conf_defaults(c);
	c->path = strdup(name);
	return load_text(&x, text, len);
}

int node_conf_load_diag(struct node_conf *c, const char *path, FILE *diag)
{
	struct ctx x = { c, path, diag, NULL, 0 };
	size_t len = 0;
	node_conf_defaults(c);
	c->path = strdup(path);
	char *text = read_file(&x, &len);
	if (!text)
		return x.errors;
	load_text(&x, text, len);
	free(text);
	return x.errors;
}

int node_conf_load(struct node_conf *c, const char *path)
{
	return node_conf_load_diag(c, path, stderr);
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void node_conf_free(struct node_conf *c)
{
	free(c->path);
	free(c->xmpp_username);
	free(c->xmpp_local);
	free(c->xmpp_domain);
	free_secret(c->xmpp_password);
	node_conf_xmpp_free(c);
	free(c->xmpp_ca_file);
	free(c->key_file);
	free(c->control_socket);
	free(c->state_dir);
	for (unsigned i = 0; i < c->n_stun; i++)
		free(c->stun[i].host);
	for (unsigned i = 0; i < c->n_turn; i++) {
		free(c->turn[i].host);
		free(c->turn[i].user);
		free_secret(c->turn[i].pass);
		free(c->turn[i].ca_file);
	}
	for (unsigned i = 0; i < c->n_ignore; i++)
		free(c->network_ignore_list[i]);
	free(c->social_map_file);
	free(c->social_pin_file);
	for (unsigned i = 0; i < c->n_pins; i++)
		free(c->pins[i].jid);
	for (unsigned i = 0; i < c->n_auto_accept; i++)
		free(c->auto_accept[i]);
	node_conf_net_free(c);
	node_conf_trust_free(c);
	memset(c, 0, sizeof(*c));
}

unsigned node_conf_security_warnings(const struct node_conf *c, const char **out, unsigned max)
{
	unsigned n = 0;
	const char *w = NULL;
	if (c->xmpp_tls == NODE_TLS_OFF)
		w = "xmpp_tls is \"off\": the XMPP password and all signalling cross the network in "
		    "clear text; use this only in a lab";
	else if (c->xmpp_tls == NODE_TLS_OPTIONAL)
		w = "xmpp_tls is \"optional\": an attacker on the path can strip STARTTLS and read "
		    "the XMPP password";
	if (w && n < max)
		out[n] = w;
	if (w)
		n++;
	return n;
}
