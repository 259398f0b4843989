/* libFuzzer harness for the STUN codec: parse, every getter on every
 * attribute, integrity and fingerprint checks, nonce and REST helpers, and
 * a re-encode of whatever parsed that must parse back the same. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun_auth.h"
#include "stun_msg.h"
#include "stun_nonce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

static const uint8_t KEY[] = "fuzz-key";

static void probe_attr(const struct stun_msg *m, const struct stun_attr *a)
{
	struct sockaddr_storage ss;
	uint32_t u32;
	uint64_t u64;
	uint16_t chan, algs[4];
	uint8_t u8;
	unsigned n;
	int code;
	const char *reason;
	size_t rlen;

	CHECK((size_t)a->off + a->len <= m->len);
	if (stun_attr_get_addr(m, a, &ss) == 0)
		CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if (stun_attr_get_u32(m, a, &u32) == 0)
		CHECK(a->len == 4);
	if (stun_attr_get_u64(m, a, &u64) == 0)
		CHECK(a->len == 8);
	if (stun_attr_get_error(m, a, &code, &reason, &rlen) == 0)
		CHECK(code >= 300 && code <= 699 && reason + rlen <= (const char *)m->buf + m->len);
	(void)stun_attr_get_channel(m, a, &chan);
	(void)stun_attr_get_u8(m, a, &u8);
	if (stun_attr_get_pwalgs(m, a, algs, 4, &n) == 0)
		CHECK(n <= a->len / 4u);
	if (a->type == STUN_ATTR_NONCE) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		uint32_t feat;
		(void)stun_nonce_check(KEY, sizeof(KEY), 1000, (struct sockaddr *)&sin,
				       stun_attr_value(m, a), a->len);
		(void)stun_nonce_features(stun_attr_value(m, a), a->len, &feat);
	}
	if (a->type == STUN_ATTR_USERNAME && a->len < 600) {
		char user[600];
		memcpy(user, stun_attr_value(m, a), a->len);
		user[a->len] = '\0';
		(void)turn_rest_check_username(user, 1000);
	}
}

/* Builds the same message again from the parsed attributes, re-signed
 * with our key, and checks it parses to the same attributes and verifies. */
static void reencode(const struct stun_msg *m)
{
	static uint8_t out[STUN_MAX_MSG_LEN];
	struct stun_builder b;
	struct stun_msg r;

	stun_build_init(&b, out, sizeof(out), m->method, m->cls, m->tid);
	for (unsigned i = 0; i < m->nattrs; i++) {
		const struct stun_attr *a = &m->attrs[i];
		if ((int)i == m->mi || (int)i == m->mi256 || (int)i == m->fp)
			continue;
		stun_build_attr(&b, a->type, stun_attr_value(m, a), a->len);
	}
	if (m->mi >= 0)
		stun_build_integrity(&b, KEY, sizeof(KEY));
	if (m->mi256 >= 0)
		stun_build_integrity_sha256(&b, KEY, sizeof(KEY));
	if (m->fp >= 0)
		stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	CHECK(n > 0 && (size_t)n == m->len);
	CHECK(stun_msg_parse(&r, out, (size_t)n) == 0);
	CHECK(r.method == m->method && r.cls == m->cls && r.nattrs == m->nattrs);
	CHECK(r.mi == m->mi && r.mi256 == m->mi256 && r.fp == m->fp);
	CHECK(r.nunknown == m->nunknown);
	for (unsigned i = 0; i < m->nattrs; i++) {
		CHECK(r.attrs[i].type == m->attrs[i].type && r.attrs[i].len == m->attrs[i].len);
		if ((int)i != m->mi && (int)i != m->mi256 && (int)i != m->fp)
			CHECK(memcmp(stun_attr_value(&r, &r.attrs[i]), stun_attr_value(m, &m->attrs[i]),
				     m->attrs[i].len) == 0);
	}
	if (m->mi >= 0 || m->mi256 >= 0)
		CHECK(stun_check_integrity(&r, KEY, sizeof(KEY)) == 0);
	CHECK(stun_check_fingerprint(&r));
}

/* RFC 3489 messages: the same bounds, and an answer that echoes the
 * whole 16-byte id. */
static void classic(const uint8_t *data, size_t size)
{
	static uint8_t out[256];
	struct stun_msg m;
	struct stun_builder b;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = 1 };

	bool is = stun_is_classic(data, size);
	if (stun_msg_parse_classic(&m, data, size) < 0)
		return;
	CHECK(is && m.classic && !stun_is_message(data, size));
	CHECK(m.nattrs <= STUN_MAX_ATTRS && m.nunknown <= STUN_MAX_UNKNOWN);
	for (unsigned i = 0; i < m.nattrs; i++)
		probe_attr(&m, &m.attrs[i]);
	stun_build_response(&b, out, sizeof(out), &m, STUN_CLASS_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, (struct sockaddr *)&sin);
	int n = stun_build_finish(&b);
	CHECK(n == 32 && memcmp(out + 4, data + 4, 16) == 0 && stun_is_classic(out, (size_t)n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;

	classic(data, size);
	bool is = stun_is_message(data, size);
	if (stun_msg_parse(&m, data, size) < 0)
		return 0;
	CHECK(is);
	CHECK(m.nattrs <= STUN_MAX_ATTRS && m.nunknown <= STUN_MAX_UNKNOWN);
	for (unsigned i = 0; i < m.nattrs; i++)
		probe_attr(&m, &m.attrs[i]);
	(void)stun_check_integrity(&m, KEY, sizeof(KEY));
	(void)stun_check_fingerprint(&m);
	(void)stun_method_name(m.method);
	reencode(&m);
	return 0;
}
