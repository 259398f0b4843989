/* Signalling codec: round trips, every refusal, size and count limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "signal_msg.h"

static const char KEY_B64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; /* bytes 0..31 */
static const char FROM[] = "0102030405060708090a0b0c0d0e0f1011121314";

static void set_ip(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
	}
}

/* A message with every field set, n candidates of mixed kinds. */
static void full_msg(struct signal_msg *m, enum signal_kind kind, unsigned n)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	for (int i = 0; i < SIGNAL_ID_LEN; i++) {
		m->from[i] = (uint8_t)(i + 1);
		m->to[i] = (uint8_t)(0xf0 - i);
	}
	for (int i = 0; i < SIGNAL_KEY_LEN; i++)
		m->key[i] = (uint8_t)(0xa0 + i);
	m->has_to = m->has_key = m->has_ip4 = m->has_ice = m->has_tiebreaker = true;
	inet_pton(AF_INET, "172.31.0.7", &m->ip4);
	if (kind == SIGNAL_HELLO || kind == SIGNAL_OFFER || kind == SIGNAL_ANSWER) {
		m->has_ip6 = true;
		inet_pton(AF_INET6, "fd00::7", &m->ip6);
		m->n_routes = 2;
		assert_null(ip_prefix_parse("10.77.0.0/24", &m->routes[0], NULL));
		assert_null(ip_prefix_parse("fd00:77::/64", &m->routes[1], NULL));
	}
	strcpy(m->ufrag, "uF+/");
	strcpy(m->pwd, "pAsSwOrD0123456789+/xy");
	m->tiebreaker = 0xfedcba9876543210ull;
	if (kind == SIGNAL_ANSWER) {
		m->has_offer_ufrag = true;
		strcpy(m->offer_ufrag, "oFfR");
	}
	m->n_cands = n;
	for (unsigned i = 0; i < n; i++) {
		struct signal_cand *c = &m->cands[i];
		snprintf(c->foundation, sizeof(c->foundation), "f%u", i);
		c->component = 1;
		c->priority = 0xffffffffu - i;
		c->type = (enum signal_cand_type)(i % 4);
		set_ip(&c->addr, i % 2 ? "2001:db8::1:2" : "198.51.100.3", (uint16_t)(40000 + i));
		c->related.ss_family = AF_UNSPEC;
		if (c->type != SIGNAL_CAND_HOST)
			set_ip(&c->related, i % 3 ? "192.0.2.9" : "::", (uint16_t)i);
	}
}

static void roundtrip(const struct signal_msg *m)
{
	char buf[SIGNAL_MSG_MAX + 1], buf2[SIGNAL_MSG_MAX + 1];
	struct signal_msg *d = malloc(sizeof(*d));
	assert_non_null(d);
	int n = signal_msg_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(strlen(buf), n);
	/* the output is one JSON object jansson accepts on its own */
	json_error_t err;
	json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &err);
	assert_non_null(j);
	assert_true(json_is_object(j));
	json_decref(j);
	assert_int_equal(signal_msg_decode(d, buf, (size_t)n), 0);
	assert_true(signal_msg_equal(m, d));
	assert_int_equal(signal_msg_encode(d, buf2, sizeof(buf2)), n);
	assert_memory_equal(buf, buf2, (size_t)n);
	free(d);
}

static void test_roundtrip_every_kind(void **state)
{
	(void)state;
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	for (int k = SIGNAL_HELLO; k <= SIGNAL_KIND_LAST; k++) {
		full_msg(m, (enum signal_kind)k, 5);
		roundtrip(m);
	}
	/* minimal forms */
	full_msg(m, SIGNAL_BYE, 0);
	m->has_to = m->has_key = m->has_ip4 = m->has_ice = m->has_tiebreaker = false;
	roundtrip(m);
	full_msg(m, SIGNAL_HELLO, 0);
	m->has_to = m->has_ice = m->has_tiebreaker = false;
	roundtrip(m);
	m->has_ip6 = false; /* a v4-only node, or one from before IPv6 */
	m->n_routes = 0;
	roundtrip(m);
	free(m);
}

/* A literal message decodes to the fields it spells. */
static void test_decode_literal(void **state)
{
	(void)state;
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"v\":1,\"kind\":\"offer\",\"from\":\"%s\",\"key\":\"%s\",\"ip4\":\"172.31.0.2\","
		 "\"ufrag\":\"Ab+/\",\"pwd\":\"abcdefghijklmnopqrstuv\",\"tiebreaker\":\"0123456789ABCDEF\","
		 "\"future\":{\"x\":[1,2]},"
		 "\"cands\":[\"1 1 udp 2130706431 192.0.2.1 4000 typ host\","
		 "\"2 1 UDP 1694498815 198.51.100.7 50000 typ srflx raddr 192.0.2.1 rport 4000\","
		 "\"3 1 udp 16777215 2001:db8::9 3478 typ relay raddr 0.0.0.0 rport 0 generation 0\"]}",
		 FROM, KEY_B64);
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
	assert_int_equal(m->kind, SIGNAL_OFFER);
	for (int i = 0; i < SIGNAL_ID_LEN; i++)
		assert_int_equal(m->from[i], i + 1);
	for (int i = 0; i < SIGNAL_KEY_LEN; i++)
		assert_int_equal(m->key[i], i);
	assert_false(m->has_to);
	assert_int_equal(ntohl(m->ip4.s_addr), 0xac1f0002);
	assert_string_equal(m->ufrag, "Ab+/");
	assert_string_equal(m->pwd, "abcdefghijklmnopqrstuv");
	assert_true(m->has_tiebreaker);
	assert_true(m->tiebreaker == 0x0123456789abcdefull);
	assert_int_equal(m->n_cands, 3);
	assert_int_equal(m->n_skipped, 0);
	assert_string_equal(m->cands[0].foundation, "1");
	assert_int_equal(m->cands[0].priority, 2130706431u);
	assert_int_equal(m->cands[0].type, SIGNAL_CAND_HOST);
	assert_int_equal(m->cands[0].related.ss_family, AF_UNSPEC);
	assert_int_equal(m->cands[1].type, SIGNAL_CAND_SRFLX);
	assert_int_equal(ntohs(((struct sockaddr_in *)&m->cands[1].addr)->sin_port), 50000);
	assert_int_equal(ntohs(((struct sockaddr_in *)&m->cands[1].related)->sin_port), 4000);
	assert_int_equal(m->cands[2].type, SIGNAL_CAND_RELAY);
	assert_int_equal(m->cands[2].addr.ss_family, AF_INET6);
	assert_int_equal(m->cands[2].related.ss_family, AF_INET);
	free(m);
}

/* Candidates of a transport or type v1 does not know are skipped. */
static void test_forward_compatible_candidates(void **state)
{
	(void)state;
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"v\":1,\"kind\":\"candidates\",\"from\":\"%s\",\"ufrag\":\"wxyz\","
		 "\"pwd\":\"0123456789012345678901\",\"cands\":["
		 "\"t 1 tcp 1 192.0.2.5 9 typ host tcptype active\","
		 "\"q 1 udp 1 192.0.2.5 9 typ quantum\","
		 "\"x 1 udp 1 2001:db8::1 1 typ prflx\"]}", FROM);
	struct signal_msg m;
	assert_int_equal(signal_msg_decode(&m, text, strlen(text)), 0);
	assert_int_equal(m.n_cands, 1);
	assert_int_equal(m.n_skipped, 2);
	assert_int_equal(m.cands[0].type, SIGNAL_CAND_PRFLX);
}

/* Each rule, broken once; the error names it. */
static void test_each_refusal(void **state)
{
	(void)state;
	static const struct {
		const char *body, *error;
	} cases[] = {
		{ "", "JSON:" },
		{ "[1]", "not a JSON object" },
		{ "{\"v\":2,\"kind\":\"bye\",\"from\":\"@F\"}", "\"v\" must be 1" },
		{ "{\"kind\":\"bye\",\"from\":\"@F\"}", "\"v\" must be 1" },
		{ "{\"v\":1.0,\"kind\":\"bye\",\"from\":\"@F\"}", "\"v\" must be 1" },
		{ "{\"v\":1,\"kind\":\"ping\",\"from\":\"@F\"}", "\"kind\" must be" },
		{ "{\"v\":1,\"kind\":\"bye\"}", "\"from\" is required" },
		{ "{\"v\":1,\"kind\":\"bye\",\"from\":\"0102\"}", "\"from\" must be 40 hex" },
		{ "{\"v\":1,\"kind\":\"bye\",\"from\":\"@F\",\"to\":5}", "\"to\" must be 40 hex" },
		{ "{\"v\":1,\"kind\":\"bye\",\"from\":\"@F\",\"from\":\"@F\"}", "duplicate" },
		{ "{\"v\":1,\"kind\":\"hello\",\"from\":\"@F\",\"ip4\":\"10.0.0.1\"}", "\"key\" is required" },
		{ "{\"v\":1,\"kind\":\"hello\",\"from\":\"@F\",\"key\":\"@K\"}", "\"ip4\" is required" },
		{ "{\"v\":1,\"kind\":\"hello\",\"from\":\"@F\",\"key\":\"AAEC\",\"ip4\":\"10.0.0.1\"}",
		  "\"key\" must be 32 bytes" },
		/* non-canonical base64: the last character carries non-zero padding bits */
		{ "{\"v\":1,\"kind\":\"hello\",\"from\":\"@F\",\"key\":"
		  "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\",\"ip4\":\"10.0.0.1\"}",
		  "\"key\" must be 32 bytes" },
		{ "{\"v\":1,\"kind\":\"hello\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.300\"}",
		  "\"ip4\" must be a dotted" },
		{ "{\"v\":1,\"kind\":\"hello\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"224.0.0.1\"}",
		  "unicast" },
		{ "{\"v\":1,\"kind\":\"offer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\"}",
		  "\"ufrag\" and \"pwd\" are required" },
		{ "@H\"ip6\":\"fe80::1\"}", "\"ip6\" must be a unicast IPv6 address" },
		{ "@H\"ip6\":\"ff02::1\"}", "\"ip6\" must be a unicast IPv6 address" },
		{ "@H\"ip6\":\"::\"}", "\"ip6\" must be a unicast IPv6 address" },
		{ "@H\"ip6\":\"::ffff:10.0.0.1\"}", "\"ip6\" must be a unicast IPv6 address" },
		{ "@H\"ip6\":\"10.0.0.1\"}", "\"ip6\" must be an IPv6 address" },
		{ "@H\"ip6\":6}", "\"ip6\" must be an IPv6 address" },
		{ "@H\"routes\":\"10.77.0.0/24\"}", "\"routes\" must be an array of at most 16" },
		{ "@H\"routes\":[7]}", "routes[0]: expected a prefix string" },
		{ "@H\"routes\":[\"10.77.0.0/24\",\"10.77.0.1/24\"]}", "routes[1]: host bits are set" },
		{ "@H\"routes\":[\"10.77.0.0\"]}", "routes[0]: expected ADDRESS/LENGTH" },
		{ "@H\"routes\":[\"0.0.0.0/0\"]}", "a route is a default route or a host- or link-local range" },
		{ "@H\"routes\":[\"ff02::/16\"]}", "a route is a default route or a host- or link-local range" },
		{ "@H\"routes\":[\"10.77.0.0/24\",\"10.77.0.0/24\"]}", "a route is listed twice" },
		{ "{\"v\":1,\"kind\":\"offer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"abcd\"}",
		  "both be strings" },
		{ "{\"v\":1,\"kind\":\"offer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"abc\","
		  "\"pwd\":\"0123456789012345678901\"}", "\"ufrag\" must be 4 to 32" },
		{ "{\"v\":1,\"kind\":\"offer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"ab-d\","
		  "\"pwd\":\"0123456789012345678901\"}", "\"ufrag\" must be 4 to 32" },
		{ "{\"v\":1,\"kind\":\"offer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"abcd\","
		  "\"pwd\":\"012345678901234567890\"}", "\"pwd\" must be 22 to 256" },
		{ "{\"v\":1,\"kind\":\"offer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"abcd\","
		  "\"pwd\":\"0123456789012345678901\",\"tiebreaker\":\"123\"}", "\"tiebreaker\" must be 16 hex" },
		{ "{\"v\":1,\"kind\":\"answer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"abcd\","
		  "\"pwd\":\"0123456789012345678901\",\"offer\":\"a:b\"}", "\"offer\" must be 4 to 32" },
		{ "{\"v\":1,\"kind\":\"answer\",\"from\":\"@F\",\"key\":\"@K\",\"ip4\":\"10.0.0.1\",\"ufrag\":\"abcd\","
		  "\"pwd\":\"0123456789012345678901\",\"offer\":7}", "\"offer\" must be a string" },
		{ "{\"v\":1,\"kind\":\"candidates\",\"from\":\"@F\",\"ufrag\":\"abcd\",\"pwd\":\"@P\"}",
		  "at least one candidate" },
		{ "{\"v\":1,\"kind\":\"bye\",\"from\":\"@F\",\"cands\":[\"1 1 udp 1 192.0.2.1 1 typ host\"]}",
		  "candidates without" },
		{ "{\"v\":1,\"kind\":\"candidates\",\"from\":\"@F\",\"ufrag\":\"abcd\",\"pwd\":\"@P\",\"cands\":{}}",
		  "\"cands\" must be an array" },
		{ "@C" "[5]}", "cands[0]: expected a string" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ\"]}", "cands[0]: expected \"<foundation>" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 host host\"]}", "cands[0]: expected" },
		{ "@C" "[\"1  1 udp 1 192.0.2.1 1 typ host\"]}", "cands[0]: expected" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ host \"]}", "cands[0]: expected" },
		{ "@C" "[\"123456789012345678901234567890123 1 udp 1 192.0.2.1 1 typ host\"]}",
		  "foundation longer" },
		{ "@C" "[\"f-1 1 udp 1 192.0.2.1 1 typ host\"]}", "foundation must be" },
		{ "@C" "[\"1 2 udp 1 192.0.2.1 1 typ host\"]}", "component must be 1" },
		{ "@C" "[\"1 1 udp 0 192.0.2.1 1 typ host\"]}", "priority must be" },
		{ "@C" "[\"1 1 udp 4294967296 192.0.2.1 1 typ host\"]}", "priority must be" },
		{ "@C" "[\"1 1 udp 01 192.0.2.1 1 typ host\"]}", "priority must be" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 0 typ host\"]}", "bad address or port" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 65536 typ host\"]}", "bad address or port" },
		{ "@C" "[\"1 1 udp 1 host.example 1 typ host\"]}", "bad address or port" },
		{ "@C" "[\"1 1 udp 1 0.0.0.0 1 typ host\"]}", "unicast" },
		{ "@C" "[\"1 1 udp 1 ff02::1 1 typ host\"]}", "unicast" },
		{ "@C" "[\"1 1 udp 1 ::ffff:192.0.2.1 1 typ host\"]}", "unicast" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ srflx raddr 192.0.2.300 rport 1\"]}", "bad raddr" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ srflx raddr 192.0.2.3\"]}", "raddr without rport" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ srflx raddr 192.0.2.3 foo 1\"]}", "raddr without rport" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ srflx rport 1 raddr 192.0.2.3\"]}", "rport must follow" },
		{ "@C" "[\"1 1 udp 1 192.0.2.1 1 typ srflx raddr 192.0.2.3 rport 65536\"]}", "rport must follow" },
	};
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* @F, @K, @P, @C expand to a valid from, key, pwd and message head */
		char body[2048] = "";
		const char *p = cases[i].body;
		while (*p) {
			const char *rep = NULL;
			if (p[0] == '@' && p[1] == 'F')
				rep = FROM;
			else if (p[0] == '@' && p[1] == 'K')
				rep = KEY_B64;
			else if (p[0] == '@' && p[1] == 'P')
				rep = "0123456789012345678901";
			else if (p[0] == '@' && p[1] == 'H')
				rep = "{\"v\":1,\"kind\":\"hello\",\"from\":\"0102030405060708090a0b0c0d0e0f1011121314\","
				      "\"key\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"ip4\":\"10.0.0.1\",";
			else if (p[0] == '@' && p[1] == 'C')
				rep = "{\"v\":1,\"kind\":\"candidates\",\"from\":\"0102030405060708090a0b0c0d0e0f1011121314\","
				      "\"ufrag\":\"abcd\",\"pwd\":\"0123456789012345678901\",\"cands\":";
			if (rep) {
				strcat(body, rep);
				p += 2;
			} else {
				strncat(body, p++, 1);
			}
		}
		int r = signal_msg_decode(m, body, strlen(body));
		if (r != -EBADMSG || !strstr(m->error, cases[i].error))
			print_error("case %zu: %s\n  -> %d \"%s\", want \"%s\"\n", i, body, r, m->error,
				    cases[i].error);
		assert_int_equal(r, -EBADMSG);
		assert_non_null(strstr(m->error, cases[i].error));
		/* nothing half-decoded is left behind */
		assert_int_equal(m->kind, 0);
		assert_int_equal(m->n_cands, 0);
		assert_int_equal(m->n_routes, 0);
		assert_false(m->has_ip6);
	}
	free(m);
}

static void test_size_limit(void **state)
{
	(void)state;
	char *buf = malloc(SIGNAL_MSG_MAX + 2);
	struct signal_msg m;
	assert_non_null(buf);
	int n = snprintf(buf, SIGNAL_MSG_MAX + 2, "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\"", FROM);
	/* pad with whitespace to exactly the limit: still accepted */
	memset(buf + n, ' ', SIGNAL_MSG_MAX - n - 1);
	buf[SIGNAL_MSG_MAX - 1] = '}';
	assert_int_equal(signal_msg_decode(&m, buf, SIGNAL_MSG_MAX), 0);
	assert_int_equal(m.kind, SIGNAL_BYE);
	/* one byte more is refused before parsing */
	buf[SIGNAL_MSG_MAX - 1] = ' ';
	buf[SIGNAL_MSG_MAX] = '}';
	assert_int_equal(signal_msg_decode(&m, buf, SIGNAL_MSG_MAX + 1), -EBADMSG);
	assert_non_null(strstr(m.error, "more than 4096"));
	/* a NUL inside the body is not JSON */
	const char nul[] = "{\"v\":1,\"kind\":\"bye\",\"from\":\"0102\0x\"}";
	assert_int_equal(signal_msg_decode(&m, nul, sizeof(nul) - 1), -EBADMSG);
	free(buf);
}

/* Sixteen candidates with every field at its longest still fit. */
static void test_max_candidates(void **state)
{
	(void)state;
	struct signal_msg *m = malloc(sizeof(*m));
	char *buf = malloc(SIGNAL_MSG_MAX + 1);
	assert_non_null(m);
	assert_non_null(buf);
	full_msg(m, SIGNAL_OFFER, SIGNAL_MAX_CANDS);
	memset(m->ufrag, 'u', SIGNAL_UFRAG_MAX);
	m->ufrag[SIGNAL_UFRAG_MAX] = '\0';
	memset(m->pwd, 'p', SIGNAL_PWD_MAX);
	m->pwd[SIGNAL_PWD_MAX] = '\0';
	for (unsigned i = 0; i < SIGNAL_MAX_CANDS; i++) {
		struct signal_cand *c = &m->cands[i];
		memset(c->foundation, 'F', SIGNAL_FOUNDATION_MAX);
		c->foundation[SIGNAL_FOUNDATION_MAX] = '\0';
		c->type = SIGNAL_CAND_SRFLX;
		c->priority = 4000000000u;
		set_ip(&c->addr, "2001:db8:1111:2222:3333:4444:5555:6666", 65535);
		set_ip(&c->related, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 65535);
	}
	/* and the longest IPv6 address and sixteen of the longest prefixes */
	m->probes = true;
	m->has_ip6 = true;
	inet_pton(AF_INET6, "fd00:1111:2222:3333:4444:5555:6666:7777", &m->ip6);
	m->n_routes = SIGNAL_MAX_ROUTES;
	for (unsigned i = 0; i < SIGNAL_MAX_ROUTES; i++) {
		char r[64];
		snprintf(r, sizeof(r), "2abc:2def:%x:4444:5555:6666:7777:8800/120", 0x1000 + i);
		assert_null(ip_prefix_parse(r, &m->routes[i], NULL));
	}
	m->nat = SIGNAL_NAT_HARD;
	int n = signal_msg_encode(m, buf, SIGNAL_MSG_MAX + 1);
	assert_true(n > 3000);
	print_message("worst-case message: %d bytes\n", n);
	assert_true(n <= SIGNAL_MSG_MAX);
	roundtrip(m);
	/* a seventeenth is refused both ways */
	m->n_routes = SIGNAL_MAX_ROUTES + 1;
	assert_int_equal(signal_msg_encode(m, buf, SIGNAL_MSG_MAX + 1), -EINVAL);
	m->n_routes = SIGNAL_MAX_ROUTES;
	m->n_cands = SIGNAL_MAX_CANDS + 1;
	assert_int_equal(signal_msg_encode(m, buf, SIGNAL_MSG_MAX + 1), -EINVAL);
	char text[SIGNAL_MSG_MAX];
	int k = snprintf(text, sizeof(text),
			 "{\"v\":1,\"kind\":\"candidates\",\"from\":\"%s\",\"ufrag\":\"abcd\","
			 "\"pwd\":\"0123456789012345678901\",\"cands\":[", FROM);
	for (int i = 0; i <= SIGNAL_MAX_CANDS; i++)
		k += snprintf(text + k, sizeof(text) - (size_t)k, "%s\"%d 1 udp 1 192.0.2.1 %d typ host\"",
			      i ? "," : "", i, i + 1);
	snprintf(text + k, sizeof(text) - (size_t)k, "]}");
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), -EBADMSG);
	assert_non_null(strstr(m->error, "at most 16"));
	/* and sixteen of them decode */
	char *last = strrchr(text, ',');
	strcpy(last, "]}");
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
	assert_int_equal(m->n_cands, SIGNAL_MAX_CANDS);
	free(buf);
	free(m);
}

static void test_encode_nospace(void **state)
{
	(void)state;
	struct signal_msg m;
	char buf[SIGNAL_MSG_MAX + 1];
	full_msg(&m, SIGNAL_ANSWER, 3);
	int n = signal_msg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	for (size_t cap = 0; cap <= (size_t)n; cap++)
		assert_int_equal(signal_msg_encode(&m, buf, cap), -ENOSPC);
	assert_int_equal(signal_msg_encode(&m, buf, (size_t)n + 1), n);
	assert_int_equal(buf[n], '\0');
}

/* The encoder refuses what the decoder would refuse. */
static void test_encode_invalid(void **state)
{
	(void)state;
	struct signal_msg m;
	char buf[SIGNAL_MSG_MAX + 1];
	full_msg(&m, SIGNAL_OFFER, 2);
	m.kind = (enum signal_kind)0;
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	full_msg(&m, SIGNAL_OFFER, 2);
	m.has_key = false;
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	assert_non_null(strstr(signal_msg_check(&m), "key"));
	full_msg(&m, SIGNAL_OFFER, 2);
	strcpy(m.ufrag, "a\"b}");
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	full_msg(&m, SIGNAL_OFFER, 2);
	memset(m.ufrag, 'u', sizeof(m.ufrag)); /* no NUL within the array */
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	full_msg(&m, SIGNAL_OFFER, 2);
	m.cands[1].component = 2;
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	full_msg(&m, SIGNAL_OFFER, 2);
	set_ip(&m.cands[0].addr, "192.0.2.1", 0);
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	full_msg(&m, SIGNAL_CANDIDATES, 0);
	assert_int_equal(signal_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	full_msg(&m, SIGNAL_OFFER, 2);
	assert_null(signal_msg_check(&m));
}

static void test_names_and_equality(void **state)
{
	(void)state;
	struct signal_msg a, b;
	assert_string_equal(signal_kind_name(SIGNAL_CANDIDATES), "candidates");
	assert_string_equal(signal_kind_name((enum signal_kind)99), "?");
	assert_string_equal(signal_cand_type_name(SIGNAL_CAND_RELAY), "relay");
	full_msg(&a, SIGNAL_OFFER, 4);
	full_msg(&b, SIGNAL_OFFER, 4);
	assert_true(signal_msg_equal(&a, &b));
	b.cands[3].related.ss_family = AF_UNSPEC;
	assert_false(signal_msg_equal(&a, &b));
	full_msg(&b, SIGNAL_OFFER, 4);
	b.tiebreaker ^= 1;
	assert_false(signal_msg_equal(&a, &b));
	full_msg(&b, SIGNAL_OFFER, 4);
	b.to[19] ^= 1;
	assert_false(signal_msg_equal(&a, &b));
	b.has_to = a.has_to = false; /* an absent field's bytes do not matter */
	assert_true(signal_msg_equal(&a, &b));
}


/* The IPv6 fields are optional members of v1: a literal decodes to them,
 * a message without them decodes as before, and a message with them is
 * what an old node reads as the same message minus two unknown members
 * (which v1 ignores), so old and new nodes link both ways. */
/* "nat" (easy/hard) round-trips; a value of a later version reads as
 * unknown, as does its absence; a non-string is refused. */
static void test_nat_member(void **state)
{
	(void)state;
	char text[512], buf[SIGNAL_MSG_MAX + 1];
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	static const char *const in[] = { "\"easy\"", "\"hard\"", "\"cgnat\"", "" };
	static const enum signal_nat want[] = { SIGNAL_NAT_EASY, SIGNAL_NAT_HARD, SIGNAL_NAT_UNKNOWN,
						SIGNAL_NAT_UNKNOWN };
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text),
			 "{\"v\":1,\"kind\":\"hello\",\"from\":\"%s\",\"key\":\"%s\",\"ip4\":\"172.31.0.2\"%s%s}",
			 FROM, KEY_B64, in[i][0] ? ",\"nat\":" : "", in[i]);
		assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
		assert_int_equal(m->nat, want[i]);
		assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
		assert_true((strstr(buf, "\"nat\"") != NULL) == (i < 2));
		roundtrip(m);
	}
	snprintf(text, sizeof(text),
		 "{\"v\":1,\"kind\":\"hello\",\"from\":\"%s\",\"key\":\"%s\",\"ip4\":\"172.31.0.2\",\"nat\":1}",
		 FROM, KEY_B64);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), -EBADMSG);
	free(m);
}

static void test_ip6_and_routes_compatible(void **state)
{
	(void)state;
	char text[1024], buf[SIGNAL_MSG_MAX + 1];
	char pfx[IP_PREFIX_STRLEN], a[INET6_ADDRSTRLEN];
	struct signal_msg *m = malloc(sizeof(*m)), *old = malloc(sizeof(*old));
	assert_non_null(m);
	assert_non_null(old);
	snprintf(text, sizeof(text),
		 "{\"v\":1,\"kind\":\"hello\",\"from\":\"%s\",\"key\":\"%s\",\"ip4\":\"172.31.0.2\","
		 "\"ip6\":\"FD00:0::2\",\"routes\":[\"10.77.0.0/24\",\"fd00:77::/64\"]}", FROM, KEY_B64);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
	assert_true(m->has_ip6);
	assert_string_equal(inet_ntop(AF_INET6, &m->ip6, a, sizeof(a)), "fd00::2");
	assert_int_equal(m->n_routes, 2);
	assert_string_equal(ip_prefix_format(&m->routes[0], pfx), "10.77.0.0/24");
	assert_string_equal(ip_prefix_format(&m->routes[1], pfx), "fd00:77::/64");
	int n = signal_msg_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, ",\"ip6\":\"fd00::2\",\"routes\":[\"10.77.0.0/24\",\"fd00:77::/64\"]"));

	/* what an old decoder sees: the other members, unchanged */
	json_error_t err;
	json_t *j = json_loads(buf, 0, &err);
	assert_non_null(j);
	assert_int_equal(json_object_del(j, "ip6"), 0);
	assert_int_equal(json_object_del(j, "routes"), 0);
	char *stripped = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_int_equal(signal_msg_decode(old, stripped, strlen(stripped)), 0);
	free(stripped);
	m->has_ip6 = false;
	memset(&m->ip6, 0, sizeof(m->ip6));
	m->n_routes = 0;
	assert_true(signal_msg_equal(m, old));
	/* and a new node reading an old node's hello */
	assert_false(old->has_ip6);
	assert_int_equal(old->n_routes, 0);
	/* ... and encodes without the new members */
	assert_true(signal_msg_encode(old, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "\"ip6\""));
	assert_null(strstr(buf, "\"routes\""));
	free(m);
	free(old);
}

/* Decodes a hello from FROM with KEY_B64, 172.31.0.2 and one more member
 * (JSON text such as "\"need\":true"). */
static int decode_hello_with(struct signal_msg *m, const char *member)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"hello\",\"from\":\"%s\",\"key\":\"%s\",\"ip4\":\"172.31.0.2\",%s}",
		 FROM, KEY_B64, member);
	return signal_msg_decode(m, text, strlen(text));
}

/* "need": true in a hello or an offer says the sender has no other path
 * (multihop off); absent is false, a non-boolean or another kind is
 * refused. */
static void test_need_member(void **state)
{
	(void)state;
	char text[512], buf[SIGNAL_MSG_MAX + 1];
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	assert_int_equal(decode_hello_with(m, "\"need\":true"), 0);
	assert_true(m->need);
	assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"need\":true"));
	roundtrip(m);
	m->need = false;
	assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "need"));
	assert_int_equal(decode_hello_with(m, "\"need\":1"), -EBADMSG);
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\",\"need\":true}", FROM);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), -EBADMSG);
	assert_non_null(strstr(m->error, "need"));
	free(m);
}

/* "probes": true says the sender answers tunnel pings; absent is false
 * (nodes before it), anything but a boolean is refused. */
static void test_probes_member(void **state)
{
	(void)state;
	char buf[SIGNAL_MSG_MAX + 1];
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	assert_int_equal(decode_hello_with(m, "\"probes\":true"), 0);
	assert_true(m->probes);
	assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"probes\":true"));
	roundtrip(m);
	assert_int_equal(decode_hello_with(m, "\"probes\":false"), 0);
	assert_false(m->probes);
	assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "probes"));
	assert_int_equal(decode_hello_with(m, "\"probes\":1"), -EBADMSG);
	assert_non_null(strstr(m->error, "probes"));
	free(m);
}

/* "reason" in a bye: "full" (a node whose links are all in use) round
 * trips; it is 1 to SIGNAL_REASON_MAX of a-z and '-', only in a bye, and
 * anything else is refused by the decoder and the encoder alike. */
static void test_bye_reason(void **state)
{
	(void)state;
	char text[512], buf[SIGNAL_MSG_MAX + 1];
	struct signal_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"full\"}",
		 FROM, FROM);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
	assert_int_equal(m->kind, SIGNAL_BYE);
	assert_true(m->has_reason);
	assert_string_equal(m->reason, "full");
	assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"reason\":\"full\""));
	roundtrip(m);
	/* the longest, and the other characters allowed */
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\",\"reason\":\"abcdefghijklmno-\"}", FROM);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
	assert_int_equal(strlen(m->reason), SIGNAL_REASON_MAX);
	roundtrip(m);
	/* a bye without one is as before */
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\"}", FROM);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), 0);
	assert_false(m->has_reason);
	assert_true(signal_msg_encode(m, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "reason"));

	static const char *const bad_values[] = {
		"1", "true", "null", "[\"full\"]", "{}", "\"\"", "\"Full\"", "\"ful l\"", "\"full!\"",
		"\"abcdefghijklmnopq\"", /* 17 */
		"\"f\\u00fcll\"",      /* not ASCII */
	};
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\",\"reason\":%s}", FROM,
			 bad_values[i]);
		assert_int_equal(signal_msg_decode(m, text, strlen(text)), -EBADMSG);
		assert_non_null(strstr(m->error, "reason"));
		assert_false(m->has_reason);
		assert_int_equal(m->kind, 0); /* nothing half-decoded */
	}
	/* a NUL inside: jansson refuses the string before "reason" is read */
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"bye\",\"from\":\"%s\",\"reason\":\"full\\u0000x\"}", FROM);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), -EBADMSG);
	assert_false(m->has_reason);
	/* only a bye carries one */
	snprintf(text, sizeof(text), "{\"v\":1,\"kind\":\"hello\",\"from\":\"%s\",\"key\":\"%s\",\"ip4\":\"172.31.0.2\","
		 "\"reason\":\"full\"}", FROM, KEY_B64);
	assert_int_equal(signal_msg_decode(m, text, strlen(text)), -EBADMSG);
	assert_non_null(strstr(m->error, "reason"));

	/* the encoder refuses what the decoder would */
	static const char *const bad_reasons[] = { "", "Full", "no space", "abcdefghijklmnop" };
	full_msg(m, SIGNAL_BYE, 0);
	m->has_ice = m->has_tiebreaker = false;
	m->has_reason = true;
	strcpy(m->reason, "full");
	assert_null(signal_msg_check(m));
	for (size_t i = 0; i < sizeof(bad_reasons) / sizeof(bad_reasons[0]); i++) {
		snprintf(m->reason, sizeof(m->reason), "%s", bad_reasons[i]);
		if (strlen(bad_reasons[i]) == SIGNAL_REASON_MAX)
			m->reason[SIGNAL_REASON_MAX - 1] = 'P'; /* a valid length, a bad character */
		assert_int_equal(signal_msg_encode(m, buf, sizeof(buf)), -EINVAL);
	}
	memset(m->reason, 'a', sizeof(m->reason)); /* no NUL within the array */
	assert_int_equal(signal_msg_encode(m, buf, sizeof(buf)), -EINVAL);
	full_msg(m, SIGNAL_OFFER, 1);
	m->has_reason = true;
	strcpy(m->reason, "full");
	assert_int_equal(signal_msg_encode(m, buf, sizeof(buf)), -EINVAL);
	assert_non_null(strstr(signal_msg_check(m), "reason"));
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_kind),
		cmocka_unit_test(test_decode_literal),
		cmocka_unit_test(test_forward_compatible_candidates),
		cmocka_unit_test(test_each_refusal),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_max_candidates),
		cmocka_unit_test(test_ip6_and_routes_compatible),
		cmocka_unit_test(test_nat_member),
		cmocka_unit_test(test_probes_member),
		cmocka_unit_test(test_need_member),
		cmocka_unit_test(test_bye_reason),
		cmocka_unit_test(test_encode_nospace),
		cmocka_unit_test(test_encode_invalid),
		cmocka_unit_test(test_names_and_equality),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
