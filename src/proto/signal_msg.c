/* Wire format (v1), one compact JSON object per XMPP <ipop/> element:
 *   {"v":1,"kind":"offer","from":"<40 hex>","to":"<40 hex>",
 *    "key":"<base64 of 32 bytes>","ip4":"172.31.0.2",
 *    "ip6":"fd00::2","routes":["10.77.0.0/24","fd00:77::/64"],"probes":true,
 *    "ufrag":"<4-32 ice-chars>","pwd":"<22-256 ice-chars>",
 *    "tiebreaker":"<16 hex>",
 *    "cands":["<RFC 8839 candidate-attribute value>", ...]}
 * Candidates travel in SDP's own text form ("1 1 udp 2130706431 192.0.2.1
 * 4000 typ host"), which is compact enough that 16 of them with every
 * field at its maximum stay under SIGNAL_MSG_MAX, and which the ICE module
 * also prints. Unknown members are ignored; an unknown "v" or "kind" is
 * refused. docs/signalling.md describes each field. */
#include "signal_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { KEY_B64_LEN = SIGNAL_KEY_B64_LEN, CAND_TEXT_MAX = 256 };

static const char *const kind_names[] = {
	[SIGNAL_HELLO] = "hello",		[SIGNAL_OFFER] = "offer", [SIGNAL_ANSWER] = "answer",
	[SIGNAL_CANDIDATES] = "candidates", [SIGNAL_BYE] = "bye",
};
static const char *const type_names[] = { "host", "srflx", "prflx", "relay" };

const char *signal_kind_name(enum signal_kind k)
{
	return k >= SIGNAL_HELLO && k <= SIGNAL_KIND_LAST ? kind_names[k] : "?";
}

const char *signal_cand_type_name(enum signal_cand_type t)
{
	return t <= SIGNAL_CAND_RELAY ? type_names[t] : "?";
}

/* ---- small encodings ---- */

/* RFC 8445/8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static bool is_ice_chars(const char *s, size_t min, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return true;
}

/* Exactly 2n hex digits (either case). */
static bool hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	size_t got;
	const char *end;

	return slen == 2 * n && sodium_hex2bin(out, n, s, slen, NULL, &got, &end) == 0 && got == n &&
	       end == s + slen;
}

void signal_key_encode(const uint8_t key[SIGNAL_KEY_LEN], char out[SIGNAL_KEY_B64_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, key, SIGNAL_KEY_LEN);
}

/* Only the canonical form: 44 characters, one '=', zero padding bits. */
bool signal_key_decode(const char *s, size_t slen, uint8_t key[SIGNAL_KEY_LEN])
{
	unsigned char raw[SIGNAL_KEY_LEN + 1];
	char again[KEY_B64_LEN + 1];
	if (slen != KEY_B64_LEN || s[KEY_B64_LEN - 1] != '=' || s[KEY_B64_LEN - 2] == '=')
		return false;
	if (EVP_DecodeBlock(raw, (const unsigned char *)s, KEY_B64_LEN) != SIGNAL_KEY_LEN + 1)
		return false;
	signal_key_encode(raw, again);
	if (memcmp(again, s, KEY_B64_LEN) != 0)
		return false;
	memcpy(key, raw, SIGNAL_KEY_LEN);
	return true;
}

/* Digits only, no sign, no leading zero, value in [min, max]. */
static bool parse_uint(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_ip(const char *s, size_t n, uint16_t port, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];
	memset(ss, 0, sizeof(*ss));
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		return true;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		return true;
	}
	memset(ss, 0, sizeof(*ss));
	return false;
}

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static void ss_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static const char *ss_ip(const struct sockaddr_storage *ss, char buf[INET6_ADDRSTRLEN])
{
	const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
						 : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!inet_ntop(ss->ss_family, a, buf, INET6_ADDRSTRLEN))
		buf[0] = '\0';
	return buf;
}

/* An address a peer can send to: not unspecified, multicast, limited
 * broadcast or IPv4-mapped (which would give one host two identities). */
static bool is_unicast(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
		return a != 0 && a != 0xffffffffu && (a >> 28) != 0xe;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_V4MAPPED(a);
	}
	return false;
}

static bool ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
			       ((const struct sockaddr_in *)b)->sin_addr.s_addr &&
		       ss_port(a) == ss_port(b);
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) &&
		       ss_port(a) == ss_port(b);
	return true; /* both absent */
}

/* ---- candidate text: RFC 8839 5.1 candidate-attribute value ---- */

struct tok {
	const char *s;
	size_t n;
};

/* Splits on single spaces; an empty token (double, leading or trailing
 * space) is an error. Returns the count, or -1. */
static int tokenize(const char *s, size_t n, struct tok *t, int max)
{
	int k = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (i == start || k == max)
			return -1;
		t[k].s = s + start;
		t[k].n = i - start;
		k++;
		start = i + 1;
	}
	return k;
}

static bool tok_is(const struct tok *t, const char *w)
{
	return t->n == strlen(w) && strncasecmp(t->s, w, t->n) == 0;
}

enum { CAND_OK = 0, CAND_SKIP = 1, CAND_BAD = -1 };

static int cand_bad(const char **why, const char *reason)
{
	*why = reason;
	return CAND_BAD;
}

/* Returns CAND_OK, CAND_SKIP (a transport or type this version ignores)
 * or CAND_BAD with *why set. */
static int cand_parse(const char *s, size_t n, struct signal_cand *c, const char **why)
{
	struct tok t[32];
	uint64_t v;
	int k = tokenize(s, n, t, 32);
	memset(c, 0, sizeof(*c));
	*why = "expected \"<foundation> 1 udp <priority> <ip> <port> typ <type> [raddr <ip> rport <port>]\"";
	if (k < 8 || !tok_is(&t[6], "typ") || (k - 8) % 2 != 0)
		return CAND_BAD;
	if (!tok_is(&t[2], "udp"))
		return CAND_SKIP;
	int type = -1;
	for (int i = 0; i <= SIGNAL_CAND_RELAY; i++)
		if (tok_is(&t[7], type_names[i]))
			type = i;
	if (type < 0)
		return CAND_SKIP;
	c->type = (enum signal_cand_type)type;
	if (t[0].n > SIGNAL_FOUNDATION_MAX)
		return cand_bad(why, "foundation longer than 32");
	memcpy(c->foundation, t[0].s, t[0].n);
	if (!parse_uint(t[1].s, t[1].n, 1, 1, &v))
		return cand_bad(why, "component must be 1");
	c->component = 1;
	if (!parse_uint(t[3].s, t[3].n, 1, UINT32_MAX, &v))
		return cand_bad(why, "priority must be 1 to 4294967295");
	c->priority = (uint32_t)v;
	if (!parse_uint(t[5].s, t[5].n, 1, 65535, &v) || !parse_ip(t[4].s, t[4].n, (uint16_t)v, &c->addr))
		return cand_bad(why, "bad address or port");
	c->related.ss_family = AF_UNSPEC;
	for (int i = 8; i < k; i += 2) {
		if (tok_is(&t[i], "raddr")) {
			if (c->related.ss_family != AF_UNSPEC ||
			    !parse_ip(t[i + 1].s, t[i + 1].n, ss_port(&c->related), &c->related))
				return cand_bad(why, "bad raddr");
		} else if (tok_is(&t[i], "rport")) {
			if (i < 10 || !tok_is(&t[i - 2], "raddr") || !parse_uint(t[i + 1].s, t[i + 1].n, 0, 65535, &v))
				return cand_bad(why, "rport must follow raddr and be 0 to 65535");
			ss_set_port(&c->related, (uint16_t)v);
		} /* other extension pairs are ignored, as RFC 8839 says */
	}
	if (c->related.ss_family != AF_UNSPEC && !(k >= 12 && tok_is(&t[10], "rport")))
		return cand_bad(why, "raddr without rport");
	return CAND_OK;
}

static int cand_format(const struct signal_cand *c, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	int n = snprintf(buf, cap, "%s %u udp %u %s %u typ %s", c->foundation, c->component, c->priority,
			 ss_ip(&c->addr, a), ss_port(&c->addr), type_names[c->type]);
	if (n >= 0 && (size_t)n < cap && c->related.ss_family != AF_UNSPEC)
		n += snprintf(buf + n, cap - (size_t)n, " raddr %s rport %u", ss_ip(&c->related, r),
			      ss_port(&c->related));
	return n;
}

/* ---- validation shared by encode and decode ---- */

static const char *check_cand(const struct signal_cand *c)
{
	if (!is_ice_chars(c->foundation, 1, SIGNAL_FOUNDATION_MAX))
		return "foundation must be 1 to 32 ice-chars";
	if (c->component != 1)
		return "component must be 1";
	if (c->priority == 0)
		return "priority must not be 0";
	if (c->type > SIGNAL_CAND_RELAY)
		return "unknown candidate type";
	if (!is_unicast(&c->addr) || ss_port(&c->addr) == 0)
		return "address must be a unicast IPv4/IPv6 address with a port";
	if (c->related.ss_family != AF_UNSPEC && c->related.ss_family != AF_INET &&
	    c->related.ss_family != AF_INET6)
		return "related address must be IPv4 or IPv6";
	return NULL;
}

/* Canonical (host bits zero), routable, each listed once. */
static const char *check_routes(const struct signal_msg *m)
{
	if (m->n_routes > SIGNAL_MAX_ROUTES)
		return "more than 16 routes";
	for (unsigned i = 0; i < m->n_routes; i++) {
		if (!ip_prefix_is_canonical(&m->routes[i]))
			return "a route is not a prefix with its host bits zero";
		if (ip_prefix_unroutable(&m->routes[i]))
			return "a route is a default route or a host- or link-local range";
		for (unsigned j = 0; j < i; j++)
			if (ip_prefix_equal(&m->routes[i], &m->routes[j]))
				return "a route is listed twice";
	}
	return NULL;
}

static const char *check_kind_fields(const struct signal_msg *m)
{
	bool need_key_ip = m->kind == SIGNAL_HELLO || m->kind == SIGNAL_OFFER || m->kind == SIGNAL_ANSWER;
	bool need_ice = m->kind == SIGNAL_OFFER || m->kind == SIGNAL_ANSWER || m->kind == SIGNAL_CANDIDATES;
	if (need_key_ip && !m->has_key)
		return "\"key\" is required";
	if (need_key_ip && !m->has_ip4)
		return "\"ip4\" is required";
	if (need_ice && !m->has_ice)
		return "\"ufrag\" and \"pwd\" are required";
	if (m->kind == SIGNAL_CANDIDATES && m->n_cands == 0)
		return "\"cands\" needs at least one candidate";
	if (m->n_cands && !m->has_ice)
		return "candidates without \"ufrag\"/\"pwd\"";
	return NULL;
}

const char *signal_msg_check(const struct signal_msg *m)
{
	if (m->kind < SIGNAL_HELLO || m->kind > SIGNAL_KIND_LAST)
		return "unknown kind";
	if (m->has_ip4) {
		struct sockaddr_storage ss = { .ss_family = AF_INET };
		((struct sockaddr_in *)&ss)->sin_addr = m->ip4;
		if (!is_unicast(&ss))
			return "\"ip4\" must be a unicast address";
	}
	if (m->has_ip6 && ip_addr_unusable(AF_INET6, &m->ip6))
		return "\"ip6\" must be a unicast IPv6 address, not link-local";
	const char *bad_route = check_routes(m);
	if (bad_route)
		return bad_route;
	if (m->has_ice && !is_ice_chars(m->ufrag, SIGNAL_UFRAG_MIN, SIGNAL_UFRAG_MAX))
		return "\"ufrag\" must be 4 to 32 ice-chars";
	if (m->has_ice && !is_ice_chars(m->pwd, SIGNAL_PWD_MIN, SIGNAL_PWD_MAX))
		return "\"pwd\" must be 22 to 256 ice-chars";
	if (m->has_offer_ufrag && !is_ice_chars(m->offer_ufrag, SIGNAL_UFRAG_MIN, SIGNAL_UFRAG_MAX))
		return "\"offer\" must be 4 to 32 ice-chars";
	if (m->n_cands > SIGNAL_MAX_CANDS)
		return "more than 16 candidates";
	if (m->need && m->kind != SIGNAL_HELLO && m->kind != SIGNAL_OFFER)
		return "\"need\" goes with a hello or an offer";
	if (m->has_reason && (m->kind != SIGNAL_BYE || !m->reason[0] ||
			      strnlen(m->reason, sizeof(m->reason)) > SIGNAL_REASON_MAX ||
			      strspn(m->reason, "abcdefghijklmnopqrstuvwxyz-") != strlen(m->reason)))
		return "\"reason\" goes with a bye and is 1 to 16 of a-z and -";
	for (unsigned i = 0; i < m->n_cands; i++) {
		const char *why = check_cand(&m->cands[i]);
		if (why)
			return why;
	}
	return check_kind_fields(m);
}

bool signal_msg_equal(const struct signal_msg *a, const struct signal_msg *b)
{
	if (a->kind != b->kind || memcmp(a->from, b->from, SIGNAL_ID_LEN) || a->has_to != b->has_to ||
	    (a->has_to && memcmp(a->to, b->to, SIGNAL_ID_LEN)) || a->has_key != b->has_key ||
	    (a->has_key && memcmp(a->key, b->key, SIGNAL_KEY_LEN)) || a->has_ip4 != b->has_ip4 ||
	    (a->has_ip4 && a->ip4.s_addr != b->ip4.s_addr) || a->has_ip6 != b->has_ip6 ||
	    (a->has_ip6 && memcmp(&a->ip6, &b->ip6, sizeof(a->ip6))) || a->n_routes != b->n_routes ||
	    a->probes != b->probes || a->need != b->need || a->has_ice != b->has_ice ||
	    (a->has_ice && (strcmp(a->ufrag, b->ufrag) || strcmp(a->pwd, b->pwd))) ||
	    a->has_tiebreaker != b->has_tiebreaker || (a->has_tiebreaker && a->tiebreaker != b->tiebreaker) ||
	    a->has_offer_ufrag != b->has_offer_ufrag || a->nat != b->nat ||
	    (a->has_offer_ufrag && strcmp(a->offer_ufrag, b->offer_ufrag)) || a->n_cands != b->n_cands ||
	    a->has_reason != b->has_reason || (a->has_reason && strcmp(a->reason, b->reason)))
		return false;
	for (unsigned i = 0; i < a->n_routes && i < SIGNAL_MAX_ROUTES; i++)
		if (!ip_prefix_equal(&a->routes[i], &b->routes[i]))
			return false;
	for (unsigned i = 0; i < a->n_cands && i < SIGNAL_MAX_CANDS; i++) {
		const struct signal_cand *x = &a->cands[i], *y = &b->cands[i];
		if (strcmp(x->foundation, y->foundation) || x->component != y->component ||
		    x->priority != y->priority || x->type != y->type || !ip_equal(&x->addr, &y->addr) ||
		    !ip_equal(&x->related, &y->related))
			return false;
	}
	return true;
}

/* ---- encode ---- */

struct out {
	char *buf;
	size_t cap, n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->n < o->cap ? o->buf + o->n : NULL, o->n < o->cap ? o->cap - o->n : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->n += (size_t)w;
}

/* Every string written is hex, base64, ice-chars or an IP literal, none of
 * which needs JSON escaping; signal_msg_check() guarantees it. */
int signal_msg_encode(const struct signal_msg *m, char *out, size_t cap)
{
	char hex[2 * SIGNAL_ID_LEN + 1], key[KEY_B64_LEN + 1], ip[INET6_ADDRSTRLEN], cand[CAND_TEXT_MAX];
	struct out o = { out, cap, 0 };
	if (signal_msg_check(m))
		return -EINVAL;
	sodium_bin2hex(hex, sizeof(hex), m->from, SIGNAL_ID_LEN);
	put(&o, "{\"v\":%d,\"kind\":\"%s\",\"from\":\"%s\"", SIGNAL_VERSION, kind_names[m->kind], hex);
	if (m->has_to) {
		sodium_bin2hex(hex, sizeof(hex), m->to, SIGNAL_ID_LEN);
		put(&o, ",\"to\":\"%s\"", hex);
	}
	if (m->has_key) {
		signal_key_encode(m->key, key);
		put(&o, ",\"key\":\"%s\"", key);
	}
	if (m->has_ip4)
		put(&o, ",\"ip4\":\"%s\"", inet_ntop(AF_INET, &m->ip4, ip, sizeof(ip)));
	if (m->has_ip6)
		put(&o, ",\"ip6\":\"%s\"", inet_ntop(AF_INET6, &m->ip6, ip, sizeof(ip)));
	if (m->n_routes) {
		char pfx[IP_PREFIX_STRLEN];
		put(&o, ",\"routes\":[");
		for (unsigned i = 0; i < m->n_routes; i++)
			put(&o, "%s\"%s\"", i ? "," : "", ip_prefix_format(&m->routes[i], pfx));
		put(&o, "]");
	}
	if (m->probes)
		put(&o, ",\"probes\":true");
	if (m->need)
		put(&o, ",\"need\":true");
	if (m->has_ice)
		put(&o, ",\"ufrag\":\"%s\",\"pwd\":\"%s\"", m->ufrag, m->pwd);
	if (m->has_tiebreaker)
		put(&o, ",\"tiebreaker\":\"%016llx\"", (unsigned long long)m->tiebreaker);
	if (m->has_offer_ufrag)
		put(&o, ",\"offer\":\"%s\"", m->offer_ufrag);
	if (m->nat == SIGNAL_NAT_EASY || m->nat == SIGNAL_NAT_HARD)
		put(&o, ",\"nat\":\"%s\"", m->nat == SIGNAL_NAT_EASY ? "easy" : "hard");
	if (m->has_reason)
		put(&o, ",\"reason\":\"%s\"", m->reason);
	if (m->n_cands) {
		put(&o, ",\"cands\":[");
		for (unsigned i = 0; i < m->n_cands; i++) {
			cand_format(&m->cands[i], cand, sizeof(cand));
			put(&o, "%s\"%s\"", i ? "," : "", cand);
		}
		put(&o, "]");
	}
	put(&o, "}");
	if (o.n >= cap)
		return -ENOSPC;
	return (int)o.n;
}

/* ---- decode ---- */

static int bad(struct signal_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct signal_msg *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* An optional string member: 1 if present (and a string), 0 if absent,
 * -1 if present with another type. */
static int opt_str(const json_t *root, const char *name, const char **s, size_t *n)
{
	const json_t *v = json_object_get(root, name);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return -1;
	*s = json_string_value(v);
	*n = json_string_length(v);
	return 1;
}

static int decode_id(struct signal_msg *m, const json_t *root, const char *name, uint8_t *id, bool *has)
{
	const char *s;
	size_t n;
	int r = opt_str(root, name, &s, &n);
	if (r == 0 && !has)
		return bad(m, "\"%s\" is required", name);
	if (r < 0 || (r > 0 && !hex_decode(s, n, id, SIGNAL_ID_LEN)))
		return bad(m, "\"%s\" must be 40 hex digits", name);
	if (has)
		*has = r > 0;
	return 0;
}

static int decode_header(struct signal_msg *m, const json_t *root)
{
	const json_t *v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != SIGNAL_VERSION)
		return bad(m, "\"v\" must be %d", SIGNAL_VERSION);
	const json_t *k = json_object_get(root, "kind");
	for (int i = SIGNAL_HELLO; json_is_string(k) && i <= SIGNAL_KIND_LAST; i++)
		if (strcmp(json_string_value(k), kind_names[i]) == 0)
			m->kind = (enum signal_kind)i;
	if (!m->kind)
		return bad(m, "\"kind\" must be hello, offer, answer, candidates or bye");
	int r = decode_id(m, root, "from", m->from, NULL);
	return r ? r : decode_id(m, root, "to", m->to, &m->has_to);
}

static int decode_peer(struct signal_msg *m, const json_t *root)
{
	const char *s;
	size_t n;
	int r = opt_str(root, "key", &s, &n);
	if (r < 0 || (r > 0 && !signal_key_decode(s, n, m->key)))
		return bad(m, "\"key\" must be 32 bytes in base64 (44 characters)");
	m->has_key = r > 0;
	r = opt_str(root, "ip4", &s, &n);
	if (r < 0 || (r > 0 && (n >= INET_ADDRSTRLEN || inet_pton(AF_INET, s, &m->ip4) != 1)))
		return bad(m, "\"ip4\" must be a dotted IPv4 address");
	m->has_ip4 = r > 0;
	r = opt_str(root, "ip6", &s, &n);
	if (r < 0 || (r > 0 && (n >= INET6_ADDRSTRLEN || inet_pton(AF_INET6, s, &m->ip6) != 1)))
		return bad(m, "\"ip6\" must be an IPv6 address");
	m->has_ip6 = r > 0;
	r = opt_str(root, "tiebreaker", &s, &n);
	uint8_t tb[8];
	if (r < 0 || (r > 0 && !hex_decode(s, n, tb, sizeof(tb))))
		return bad(m, "\"tiebreaker\" must be 16 hex digits");
	m->has_tiebreaker = r > 0;
	for (size_t i = 0; m->has_tiebreaker && i < sizeof(tb); i++)
		m->tiebreaker = m->tiebreaker << 8 | tb[i];
	r = opt_str(root, "nat", &s, &n);
	if (r < 0)
		return bad(m, "\"nat\" must be a string");
	/* a kind this version does not know is as good as none */
	m->nat = r > 0 && strcmp(s, "easy") == 0   ? SIGNAL_NAT_EASY
		 : r > 0 && strcmp(s, "hard") == 0 ? SIGNAL_NAT_HARD
						   : SIGNAL_NAT_UNKNOWN;
	const json_t *pr = json_object_get(root, "probes");
	if (pr && !json_is_boolean(pr))
		return bad(m, "\"probes\" must be true or false");
	m->probes = json_is_true(pr);
	const json_t *nd = json_object_get(root, "need");
	if (nd && !json_is_boolean(nd))
		return bad(m, "\"need\" must be true or false");
	m->need = json_is_true(nd);
	return 0;
}

static int decode_ice(struct signal_msg *m, const json_t *root)
{
	const char *u, *p;
	size_t un, pn;
	int ru = opt_str(root, "ufrag", &u, &un), rp = opt_str(root, "pwd", &p, &pn);
	if (ru < 0 || rp < 0 || ru != rp)
		return bad(m, "\"ufrag\" and \"pwd\" must both be strings, or both absent");
	if (ru == 0)
		return 0;
	if (un > SIGNAL_UFRAG_MAX || pn > SIGNAL_PWD_MAX)
		return bad(m, "\"ufrag\" or \"pwd\" too long");
	memcpy(m->ufrag, u, un + 1);
	memcpy(m->pwd, p, pn + 1);
	m->has_ice = true;
	ru = opt_str(root, "offer", &u, &un);
	if (ru < 0 || un > SIGNAL_UFRAG_MAX)
		return bad(m, "\"offer\" must be a string of at most %d characters", SIGNAL_UFRAG_MAX);
	if (ru > 0) {
		memcpy(m->offer_ufrag, u, un + 1);
		m->has_offer_ufrag = true;
	}
	return 0;
}

static int decode_cands(struct signal_msg *m, const json_t *root)
{
	const json_t *a = json_object_get(root, "cands");
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SIGNAL_MAX_CANDS)
		return bad(m, "\"cands\" must be an array of at most %d strings", SIGNAL_MAX_CANDS);
	for (size_t i = 0; i < json_array_size(a); i++) {
		const json_t *e = json_array_get(a, i);
		const char *why = "expected a string";
		int r = CAND_BAD;
		if (json_is_string(e) && json_string_length(e) < CAND_TEXT_MAX)
			r = cand_parse(json_string_value(e), json_string_length(e), &m->cands[m->n_cands], &why);
		else if (json_is_string(e))
			why = "longer than 255 characters";
		if (r == CAND_BAD)
			return bad(m, "cands[%zu]: %s", i, why);
		if (r == CAND_SKIP)
			m->n_skipped++;
		else
			m->n_cands++;
	}
	return 0;
}

static int decode_routes(struct signal_msg *m, const json_t *root)
{
	const json_t *a = json_object_get(root, "routes");
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SIGNAL_MAX_ROUTES)
		return bad(m, "\"routes\" must be an array of at most %d prefix strings", SIGNAL_MAX_ROUTES);
	for (size_t i = 0; i < json_array_size(a); i++) {
		const json_t *e = json_array_get(a, i);
		const char *why = json_is_string(e) && json_string_length(e) < IP_PREFIX_STRLEN
					  ? ip_prefix_parse(json_string_value(e), &m->routes[i], NULL)
					  : "expected a prefix string";
		if (why)
			return bad(m, "routes[%zu]: %s", i, why);
		m->n_routes++;
	}
	return 0;
}

/* "reason": a short token in a bye (old nodes ignore it). */
static int decode_reason(struct signal_msg *m, const json_t *root)
{
	const char *s;
	size_t n;
	int r = opt_str(root, "reason", &s, &n);

	if (r < 0 || (r > 0 && (n == 0 || n > SIGNAL_REASON_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz-") != n)))
		return bad(m, "\"reason\" must be 1 to %d of a-z and -", SIGNAL_REASON_MAX);
	if (r > 0) {
		memcpy(m->reason, s, n + 1);
		m->has_reason = true;
	}
	return 0;
}

static int decode_root(struct signal_msg *m, const json_t *root)
{
	int r;
	if (!json_is_object(root))
		return bad(m, "not a JSON object");
	if ((r = decode_header(m, root)) || (r = decode_peer(m, root)) || (r = decode_routes(m, root)) ||
	    (r = decode_reason(m, root)) ||
	    (r = decode_ice(m, root)) || (r = decode_cands(m, root)))
		return r;
	const char *why = signal_msg_check(m);
	return why ? bad(m, "%s: %s", kind_names[m->kind], why) : 0;
}

int signal_msg_decode(struct signal_msg *m, const char *buf, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len > SIGNAL_MSG_MAX)
		return bad(m, "%zu bytes, more than %d", len, SIGNAL_MSG_MAX);
	json_error_t err;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return bad(m, "JSON: %s at %d:%d", err.text, err.line, err.column);
	int r = decode_root(m, root);
	json_decref(root);
	if (r) {
		/* Leave nothing half-decoded behind but the reason. */
		char why[SIGNAL_ERR_LEN];
		memcpy(why, m->error, sizeof(why));
		memset(m, 0, sizeof(*m));
		memcpy(m->error, why, sizeof(why));
	}
	return r;
}
