/* STUN message codec: a strict, allocation-free parser and a builder that
 * writes into caller buffers. Shared by ipop-turnserver and ipopd. */
#ifndef IPOP_STUN_MSG_H
#define IPOP_STUN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun_proto.h"

enum { STUN_MAX_ATTRS = 40, STUN_MAX_UNKNOWN = 8 };

struct stun_attr {
	uint16_t type;
	uint16_t len; /* value length, without padding */
	uint16_t off; /* offset of the value from the start of the message */
};

/* A parsed message. It points into the caller's buffer, which must stay
 * alive and unchanged while the struct is used. */
struct stun_msg {
	const uint8_t *buf;
	size_t len; /* STUN_HEADER_LEN + length field */
	uint16_t method;
	uint16_t cls;
	uint8_t tid[STUN_TID_LEN];
	unsigned nattrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	int mi;      /* index in attrs of MESSAGE-INTEGRITY, or -1 */
	int mi256;   /* index of MESSAGE-INTEGRITY-SHA256, or -1 */
	int fp;      /* index of FINGERPRINT, or -1 */
	bool classic; /* RFC 3489: no magic cookie, a 16-byte transaction id at buf + 4 */
	unsigned nunknown; /* comprehension-required types this codec does not know */
	uint16_t unknown[STUN_MAX_UNKNOWN];
};

/* Cheap demultiplexing test (RFC 7983 / 8489 6): top two bits zero, magic
 * cookie present, length a multiple of 4 and consistent with len. */
bool stun_is_message(const uint8_t *buf, size_t len);
/* The same test for an RFC 3489 message: no magic cookie in its place.
 * The first byte is still 0-3, so the demultiplexing of RFC 7983 holds. */
bool stun_is_classic(const uint8_t *buf, size_t len);

/* Parses and bounds-checks a whole message. Only attributes up to and
 * including MESSAGE-INTEGRITY(-SHA256)/FINGERPRINT are allowed in the order
 * RFC 8489 14.5-14.7 requires; anything after them rejects the message
 * (RFC 8489 allows ignoring instead; rejecting keeps unauthenticated bytes
 * out). len must be exactly 20 + the length field: over TCP/TLS cut the
 * frame with stun_stream_frame_len first. MI must be 20 bytes, MI-SHA256 the
 * full 32, FINGERPRINT 4. Returns 0 or -EBADMSG. */
int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len);
/* The same parser for an RFC 3489 message (stun_is_classic): m->classic is
 * set and m->tid holds the last 12 bytes of its 16-byte id. XOR-* attribute
 * values mean nothing in such a message. Returns 0 or -EBADMSG. */
int stun_msg_parse_classic(struct stun_msg *m, const uint8_t *buf, size_t len);

/* First attribute of that type, or NULL. Attributes after MESSAGE-INTEGRITY
 * (other than MI-SHA256 and FINGERPRINT) are rejected by the parser already. */
const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type);

static inline const uint8_t *stun_attr_value(const struct stun_msg *m, const struct stun_attr *a)
{
	return m->buf + a->off;
}

/* Typed getters. They return 0, or -EBADMSG when the value is malformed. */
int stun_attr_get_addr(const struct stun_msg *m, const struct stun_attr *a,
		       struct sockaddr_storage *out); /* XORs the XOR-* types */
int stun_attr_get_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out);
int stun_attr_get_u64(const struct stun_msg *m, const struct stun_attr *a, uint64_t *out);
int stun_attr_get_error(const struct stun_msg *m, const struct stun_attr *a,
			int *code, const char **reason, size_t *reason_len);
/* CHANNEL-NUMBER: the 16-bit number, RFFU must be zero. */
int stun_attr_get_channel(const struct stun_msg *m, const struct stun_attr *a, uint16_t *chan);
/* REQUESTED-TRANSPORT / REQUESTED-ADDRESS-FAMILY: the first byte. */
int stun_attr_get_u8(const struct stun_msg *m, const struct stun_attr *a, uint8_t *out);
/* PASSWORD-ALGORITHMS: count and fills up to max algorithm numbers. */
int stun_attr_get_pwalgs(const struct stun_msg *m, const struct stun_attr *a,
			 uint16_t *algs, unsigned max, unsigned *n);

/* Builder. Errors are sticky: after an overflow every call is a no-op and
 * stun_build_finish returns -ENOSPC (-EINVAL for an error code outside
 * 300-699 or an address that is neither AF_INET nor AF_INET6). The buffer is zeroed as it is written,
 * padding included, so no stale bytes ever leave the process. */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap,
		     uint16_t method, uint16_t cls, const uint8_t tid[STUN_TID_LEN]);
/* Starts a response to m: same method and transaction id (all 16 bytes of
 * it, in place of the cookie, when m is an RFC 3489 message). */
void stun_build_response(struct stun_builder *b, uint8_t *buf, size_t cap,
			 const struct stun_msg *req, uint16_t cls);
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_build_u64(struct stun_builder *b, uint16_t type, uint64_t v);
void stun_build_flag(struct stun_builder *b, uint16_t type); /* zero-length */
/* PADDING (RFC 5780 7.6): len zero bytes, to make a message bigger. */
void stun_build_padding(struct stun_builder *b, size_t len);
void stun_build_u8(struct stun_builder *b, uint16_t type, uint8_t v); /* REQUESTED-TRANSPORT etc. */
void stun_build_channel(struct stun_builder *b, uint16_t chan);
void stun_build_addr(struct stun_builder *b, uint16_t type, const struct sockaddr *sa);
void stun_build_error(struct stun_builder *b, int code, const char *reason);
void stun_build_unknown(struct stun_builder *b, const uint16_t *types, unsigned n);
void stun_build_pwalgs(struct stun_builder *b, const uint16_t *algs, unsigned n);
void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_build_fingerprint(struct stun_builder *b);
/* Returns the message length, or -ENOSPC / -EINVAL (see above). */
int stun_build_finish(struct stun_builder *b);

/* Random transaction id (OpenSSL RAND_bytes). */
void stun_tid_random(uint8_t tid[STUN_TID_LEN]);

/* Human names for logs. */
const char *stun_method_name(uint16_t method);
const char *stun_error_reason(int code); /* RFC reason phrase */

#endif
