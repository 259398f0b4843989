/* STUN message parser and builder (RFC 8489 5, 14; RFC 8656 18). */
#include "stun_msg.h"
#include "byteorder.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "stun_auth.h"

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* The type field interleaves the 12 method bits with the 2 class bits
 * (RFC 8489 5, figure 3): M0-M3, C0, M4-M6, C1, M7-M11. */
static uint16_t type_encode(uint16_t method, uint16_t cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
			  ((method & 0x0F80) << 2) | (cls & 0x0110));
}

static void type_decode(uint16_t type, uint16_t *method, uint16_t *cls)
{
	*method = (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
	*cls = type & 0x0110;
}

bool stun_is_message(const uint8_t *buf, size_t len)
{
	if (len < STUN_HEADER_LEN || (buf[0] & 0xC0) != 0)
		return false;
	uint16_t mlen = be16_get(buf + 2);
	return (mlen & 3) == 0 && be32_get(buf + 4) == STUN_MAGIC_COOKIE &&
	       (size_t)mlen + STUN_HEADER_LEN == len;
}

/* The header of a classic (RFC 3489) message: the same layout, any value
 * but the magic cookie in the cookie's place. */
bool stun_is_classic(const uint8_t *buf, size_t len)
{
	if (len < STUN_HEADER_LEN || (buf[0] & 0xC0) != 0)
		return false;
	uint16_t mlen = be16_get(buf + 2);
	return (mlen & 3) == 0 && be32_get(buf + 4) != STUN_MAGIC_COOKIE &&
	       (size_t)mlen + STUN_HEADER_LEN == len;
}

static bool attr_is_known(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_CHANGE_REQUEST:
	case STUN_ATTR_SOURCE_ADDRESS:
	case STUN_ATTR_CHANGED_ADDRESS:
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_ERROR_CODE:
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case TURN_ATTR_CHANNEL_NUMBER:
	case TURN_ATTR_LIFETIME:
	case TURN_ATTR_XOR_PEER_ADDRESS:
	case TURN_ATTR_DATA:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case TURN_ATTR_XOR_RELAYED_ADDRESS:
	case TURN_ATTR_REQUESTED_ADDRESS_FAMILY:
	case TURN_ATTR_EVEN_PORT:
	case TURN_ATTR_REQUESTED_TRANSPORT:
	case TURN_ATTR_DONT_FRAGMENT:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
	case STUN_ATTR_PASSWORD_ALGORITHM:
	case STUN_ATTR_USERHASH:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case TURN_ATTR_RESERVATION_TOKEN:
	case ICE_ATTR_PRIORITY:
	case ICE_ATTR_USE_CANDIDATE:
	case STUN_ATTR_PADDING:
		return true;
	default:
		return false;
	}
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	for (unsigned i = 0; i < m->nunknown; i++)
		if (m->unknown[i] == type)
			return;
	/* A 420 listing the first few is enough for the client to notice. */
	if (m->nunknown < STUN_MAX_UNKNOWN)
		m->unknown[m->nunknown++] = type;
}

/* Enforces the trailer order of RFC 8489 14.5-14.7: after MESSAGE-INTEGRITY
 * only MI-SHA256 and FINGERPRINT, after MI-SHA256 only FINGERPRINT, after
 * FINGERPRINT nothing. RFC 8489 lets receivers ignore attributes that follow
 * MESSAGE-INTEGRITY; we reject the message instead, because nothing
 * legitimate sends them and ignoring would let unauthenticated bytes ride
 * along with an authenticated message. */
static int check_order(const struct stun_msg *m, uint16_t type, uint16_t len)
{
	if (m->fp >= 0)
		return -EBADMSG;
	switch (type) {
	case STUN_ATTR_MESSAGE_INTEGRITY:
		if (m->mi >= 0 || m->mi256 >= 0 || len != STUN_MI_LEN)
			return -EBADMSG;
		return 0;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		if (m->mi256 >= 0 || len != STUN_MI256_LEN)
			return -EBADMSG;
		return 0;
	case STUN_ATTR_FINGERPRINT:
		return len == STUN_FP_LEN ? 0 : -EBADMSG;
	default:
		return (m->mi >= 0 || m->mi256 >= 0) ? -EBADMSG : 0;
	}
}

static void note_attr(struct stun_msg *m, uint16_t type)
{
	int idx = (int)m->nattrs;

	if (type == STUN_ATTR_MESSAGE_INTEGRITY)
		m->mi = idx;
	else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		m->mi256 = idx;
	else if (type == STUN_ATTR_FINGERPRINT)
		m->fp = idx;
	else if (type < 0x8000 && !attr_is_known(type))
		note_unknown(m, type);
}

static int parse_attrs(struct stun_msg *m)
{
	size_t pos = STUN_HEADER_LEN;

	while (pos < m->len) {
		if (m->len - pos < STUN_ATTR_HEADER_LEN)
			return -EBADMSG;
		uint16_t type = be16_get(m->buf + pos);
		uint16_t alen = be16_get(m->buf + pos + 2);
		size_t vpos = pos + STUN_ATTR_HEADER_LEN;
		if (pad4(alen) > m->len - vpos)
			return -EBADMSG;
		if (m->nattrs >= STUN_MAX_ATTRS || check_order(m, type, alen) < 0)
			return -EBADMSG;
		note_attr(m, type);
		m->attrs[m->nattrs++] = (struct stun_attr){ type, alen, (uint16_t)vpos };
		pos = vpos + pad4(alen);
	}
	return 0;
}

static int parse_common(struct stun_msg *m, const uint8_t *buf, size_t len, bool classic)
{
	/* The largest valid message has 65532 bytes of attributes, so every
	 * value offset fits in the uint16_t of struct stun_attr. */
	if (len > STUN_HEADER_LEN + 65532)
		return -EBADMSG;
	m->classic = classic;
	m->buf = buf;
	m->len = len;
	type_decode(be16_get(buf), &m->method, &m->cls);
	memcpy(m->tid, buf + 8, STUN_TID_LEN);
	m->nattrs = 0;
	m->mi = m->mi256 = m->fp = -1;
	m->nunknown = 0;
	return parse_attrs(m);
}

int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	if (!stun_is_message(buf, len))
		return -EBADMSG;
	return parse_common(m, buf, len, false);
}

int stun_msg_parse_classic(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	if (!stun_is_classic(buf, len))
		return -EBADMSG;
	return parse_common(m, buf, len, true);
}

const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type)
{
	for (unsigned i = 0; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

static bool attr_is_xor(uint16_t type)
{
	return type == STUN_ATTR_XOR_MAPPED_ADDRESS || type == TURN_ATTR_XOR_PEER_ADDRESS ||
	       type == TURN_ATTR_XOR_RELAYED_ADDRESS;
}

/* The XOR mask is the magic cookie followed by the transaction id; IPv4
 * addresses and ports use only its first bytes. */
static void xor_mask(const uint8_t *hdr, uint8_t mask[16])
{
	memcpy(mask, hdr + 4, 16);
}

int stun_attr_get_addr(const struct stun_msg *m, const struct stun_attr *a,
		       struct sockaddr_storage *out)
{
	const uint8_t *v = stun_attr_value(m, a);
	uint8_t mask[16] = { 0 };
	bool x = attr_is_xor(a->type);

	if (x)
		xor_mask(m->buf, mask);
	if (a->len < 4)
		return -EBADMSG;
	uint16_t port = (uint16_t)(be16_get(v + 2) ^ ((mask[0] << 8) | mask[1]));
	memset(out, 0, sizeof(*out));
	if (v[1] == STUN_FAMILY_IPV4 && a->len == 8) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		uint8_t *ip = (uint8_t *)&sin->sin_addr;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		for (int i = 0; i < 4; i++)
			ip[i] = v[4 + i] ^ mask[i];
		return 0;
	}
	if (v[1] == STUN_FAMILY_IPV6 && a->len == 20) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		for (int i = 0; i < 16; i++)
			sin6->sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
		return 0;
	}
	return -EBADMSG;
}

int stun_attr_get_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out)
{
	if (a->len != 4)
		return -EBADMSG;
	*out = be32_get(stun_attr_value(m, a));
	return 0;
}

int stun_attr_get_u64(const struct stun_msg *m, const struct stun_attr *a, uint64_t *out)
{
	if (a->len != 8)
		return -EBADMSG;
	const uint8_t *v = stun_attr_value(m, a);
	*out = ((uint64_t)be32_get(v) << 32) | be32_get(v + 4);
	return 0;
}

int stun_attr_get_error(const struct stun_msg *m, const struct stun_attr *a,
			int *code, const char **reason, size_t *reason_len)
{
	if (a->len < 4)
		return -EBADMSG;
	const uint8_t *v = stun_attr_value(m, a);
	int cls = v[2] & 0x07, num = v[3];
	if (cls < 3 || cls > 6 || num > 99)
		return -EBADMSG;
	*code = cls * 100 + num;
	*reason = (const char *)v + 4;
	*reason_len = a->len - 4u;
	return 0;
}

int stun_attr_get_channel(const struct stun_msg *m, const struct stun_attr *a, uint16_t *chan)
{
	if (a->len != 4)
		return -EBADMSG;
	const uint8_t *v = stun_attr_value(m, a);
	if (v[2] != 0 || v[3] != 0)
		return -EBADMSG;
	*chan = be16_get(v);
	return 0;
}

/* One byte of meaning followed by RFFU: REQUESTED-TRANSPORT and
 * REQUESTED-ADDRESS-FAMILY are 4 bytes long, EVEN-PORT 1 byte. RFFU bits are
 * ignored on reception (RFC 8656 18.6). */
int stun_attr_get_u8(const struct stun_msg *m, const struct stun_attr *a, uint8_t *out)
{
	if (a->len != 1 && a->len != 4)
		return -EBADMSG;
	*out = stun_attr_value(m, a)[0];
	return 0;
}

/* Each entry: algorithm (16), parameters length (16), parameters padded to
 * a multiple of 4 (RFC 8489 14.11/14.12). */
int stun_attr_get_pwalgs(const struct stun_msg *m, const struct stun_attr *a,
			 uint16_t *algs, unsigned max, unsigned *n)
{
	const uint8_t *v = stun_attr_value(m, a);
	size_t pos = 0;
	unsigned cnt = 0;

	while (pos < a->len) {
		if (a->len - pos < 4)
			return -EBADMSG;
		size_t plen = pad4(be16_get(v + pos + 2));
		if (plen > a->len - pos - 4)
			return -EBADMSG;
		if (cnt < max)
			algs[cnt] = be16_get(v + pos);
		cnt++;
		pos += 4 + plen;
	}
	*n = cnt;
	return 0;
}

/* ---- builder ---- */

static void set_length(struct stun_builder *b, size_t body)
{
	be16_put(b->buf + 2, (uint16_t)body);
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap,
		     uint16_t method, uint16_t cls, const uint8_t tid[STUN_TID_LEN])
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	if (cap < STUN_HEADER_LEN) {
		b->err = -ENOSPC;
		return;
	}
	be16_put(buf, type_encode(method, cls));
	be16_put(buf + 2, 0);
	be32_put(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
}

void stun_build_response(struct stun_builder *b, uint8_t *buf, size_t cap,
			 const struct stun_msg *req, uint16_t cls)
{
	stun_build_init(b, buf, cap, req->method, cls, req->tid);
	if (req->classic && !b->err)
		memcpy(buf + 4, req->buf + 4, STUN_CLASSIC_TID_LEN); /* RFC 3489 11.1 */
}

/* Reserves an attribute with a zeroed, padded value and returns the value
 * pointer, or NULL after setting the sticky error. */
static uint8_t *attr_reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	if (b->err)
		return NULL;
	size_t need = STUN_ATTR_HEADER_LEN + pad4(len);
	if (len > 0xFFFF || b->len + need > b->cap ||
	    b->len + need - STUN_HEADER_LEN > 65532) {
		b->err = -ENOSPC;
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	be16_put(p, type);
	be16_put(p + 2, (uint16_t)len);
	memset(p + 4, 0, pad4(len));
	b->len += need;
	set_length(b, b->len - STUN_HEADER_LEN);
	return p + 4;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
	uint8_t *p = attr_reserve(b, type, len);
	if (p && len)
		memcpy(p, val, len);
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = attr_reserve(b, type, 4);
	if (p)
		be32_put(p, v);
}

void stun_build_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t *p = attr_reserve(b, type, 8);
	if (p) {
		be32_put(p, (uint32_t)(v >> 32));
		be32_put(p + 4, (uint32_t)v);
	}
}

void stun_build_padding(struct stun_builder *b, size_t len)
{
	attr_reserve(b, STUN_ATTR_PADDING, len);
}

void stun_build_flag(struct stun_builder *b, uint16_t type)
{
	attr_reserve(b, type, 0);
}

void stun_build_u8(struct stun_builder *b, uint16_t type, uint8_t v)
{
	/* EVEN-PORT is one byte on the wire; the others carry 3 RFFU bytes. */
	uint8_t *p = attr_reserve(b, type, type == TURN_ATTR_EVEN_PORT ? 1 : 4);
	if (p)
		p[0] = v;
}

void stun_build_channel(struct stun_builder *b, uint16_t chan)
{
	uint8_t *p = attr_reserve(b, TURN_ATTR_CHANNEL_NUMBER, 4);
	if (p)
		be16_put(p, chan);
}

void stun_build_addr(struct stun_builder *b, uint16_t type, const struct sockaddr *sa)
{
	uint8_t mask[16] = { 0 };
	const uint8_t *ip;
	size_t iplen;
	uint16_t port;
	uint8_t fam;

	if (b->err)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		ip = (const uint8_t *)&sin->sin_addr;
		iplen = 4;
		port = ntohs(sin->sin_port);
		fam = STUN_FAMILY_IPV4;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		ip = sin6->sin6_addr.s6_addr;
		iplen = 16;
		port = ntohs(sin6->sin6_port);
		fam = STUN_FAMILY_IPV6;
	} else {
		b->err = -EINVAL;
		return;
	}
	if (attr_is_xor(type))
		xor_mask(b->buf, mask);
	uint8_t *p = attr_reserve(b, type, 4 + iplen);
	if (!p)
		return;
	p[1] = fam;
	be16_put(p + 2, (uint16_t)(port ^ ((mask[0] << 8) | mask[1])));
	for (size_t i = 0; i < iplen; i++)
		p[4 + i] = ip[i] ^ mask[i];
}

void stun_build_error(struct stun_builder *b, int code, const char *reason)
{
	if (b->err)
		return;
	if (code < 300 || code > 699) {
		b->err = -EINVAL;
		return;
	}
	if (!reason)
		reason = stun_error_reason(code);
	size_t rlen = strlen(reason);
	if (rlen > 763) /* RFC 8489 14.8: fewer than 128 characters, 763 bytes */
		rlen = 763;
	uint8_t *p = attr_reserve(b, STUN_ATTR_ERROR_CODE, 4 + rlen);
	if (!p)
		return;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	memcpy(p + 4, reason, rlen);
}

void stun_build_unknown(struct stun_builder *b, const uint16_t *types, unsigned n)
{
	uint8_t *p = attr_reserve(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * (size_t)n);
	if (!p)
		return;
	for (unsigned i = 0; i < n; i++)
		be16_put(p + 2 * i, types[i]);
}

void stun_build_pwalgs(struct stun_builder *b, const uint16_t *algs, unsigned n)
{
	uint8_t *p = attr_reserve(b, STUN_ATTR_PASSWORD_ALGORITHMS, 4 * (size_t)n);
	if (!p)
		return;
	/* MD5 and SHA-256 take no parameters, so every entry is 4 bytes. */
	for (unsigned i = 0; i < n; i++)
		be16_put(p + 4 * i, algs[i]);
}

int stun_build_finish(struct stun_builder *b)
{
	if (b->err)
		return b->err;
	return (int)b->len;
}

void stun_tid_random(uint8_t tid[STUN_TID_LEN])
{
	if (RAND_bytes(tid, STUN_TID_LEN) != 1) {
		/* Predictable ids would let off-path attackers spoof answers;
		 * fall back to the kernel source before giving up. */
		FILE *f = fopen("/dev/urandom", "rb");
		size_t got = f ? fread(tid, 1, STUN_TID_LEN, f) : 0;
		if (f)
			fclose(f);
		if (got != STUN_TID_LEN)
			abort();
	}
}

const char *stun_method_name(uint16_t method)
{
	switch (method) {
	case STUN_METHOD_BINDING: return "Binding";
	case TURN_METHOD_ALLOCATE: return "Allocate";
	case TURN_METHOD_REFRESH: return "Refresh";
	case TURN_METHOD_SEND: return "Send";
	case TURN_METHOD_DATA: return "Data";
	case TURN_METHOD_CREATE_PERMISSION: return "CreatePermission";
	case TURN_METHOD_CHANNEL_BIND: return "ChannelBind";
	default: return "Unknown";
	}
}

/* Reason phrases as registered by RFC 8489 14.8, RFC 8656 18.13, RFC 6156
 * and RFC 8445 7.3.1.1. */
const char *stun_error_reason(int code)
{
	switch (code) {
	case STUN_ERR_TRY_ALTERNATE: return "Try Alternate";
	case STUN_ERR_BAD_REQUEST: return "Bad Request";
	case STUN_ERR_UNAUTHORIZED: return "Unauthenticated";
	case STUN_ERR_FORBIDDEN: return "Forbidden";
	case STUN_ERR_UNKNOWN_ATTRIBUTE: return "Unknown Attribute";
	case TURN_ERR_ALLOCATION_MISMATCH: return "Allocation Mismatch";
	case STUN_ERR_STALE_NONCE: return "Stale Nonce";
	case TURN_ERR_ADDRESS_FAMILY: return "Address Family not Supported";
	case TURN_ERR_WRONG_CREDENTIALS: return "Wrong Credentials";
	case TURN_ERR_UNSUPPORTED_TRANSPORT: return "Unsupported Transport Protocol";
	case TURN_ERR_PEER_ADDRESS_FAMILY: return "Peer Address Family Mismatch";
	case TURN_ERR_ALLOCATION_QUOTA: return "Allocation Quota Reached";
	case STUN_ERR_ROLE_CONFLICT: return "Role Conflict";
	case STUN_ERR_SERVER_ERROR: return "Server Error";
	case TURN_ERR_INSUFFICIENT_CAPACITY: return "Insufficient Capacity";
	default: return "Error";
	}
}
