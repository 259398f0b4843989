/* The .ipop DNS responder's codec (dns_answer.h). */
#include "dns_answer.h"
#include "byteorder.h"

#include <string.h>

enum {
	FLAG_QR = 0x8000,
	FLAG_AA = 0x0400,
	FLAG_RD = 0x0100,
	OPCODE_SHIFT = 11,
	NAME_MAX_WIRE = 255,
	QUESTION_TAIL = 4, /* type + class */
};

/* Reads the question name at q into text form ("bob.ipop"), lower-cased.
 * Returns the wire length, or 0 when malformed. */
static size_t read_name(const uint8_t *q, size_t avail, char *text, size_t cap)
{
	size_t off = 0, t = 0;
	for (;;) {
		if (off >= avail)
			return 0;
		uint8_t l = q[off++];
		if (l == 0)
			break;
		if (l > 63 || off + l > avail || off + l > NAME_MAX_WIRE || t + l + 2 > cap)
			return 0; /* also refuses compression pointers (0xC0) */
		if (t)
			text[t++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char ch = (char)q[off + i];
			if (ch == '.' || (unsigned char)ch <= ' ' || (unsigned char)ch >= 0x7f)
				return 0; /* no host name has these */
			text[t++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
		}
		off += l;
	}
	text[t] = '\0';
	return off;
}

/* The header of a reply with rcode, copying id and RD from the query. */
static void header(const uint8_t *q, uint8_t *out, uint16_t rcode, uint16_t qd, uint16_t an)
{
	memset(out, 0, DNS_HEADER_LEN);
	memcpy(out, q, 2);
	uint16_t opcode = be16_get(q + 2) & (0xf << OPCODE_SHIFT);
	be16_put(out + 2, (uint16_t)(FLAG_QR | opcode | FLAG_AA | (be16_get(q + 2) & FLAG_RD) | rcode));
	be16_put(out + 4, qd);
	be16_put(out + 6, an);
}

/* name without ".ipop", or NULL when it is not under .ipop. */
static const char *strip_suffix(char *name)
{
	size_t n = strlen(name), s = strlen(DNS_SUFFIX);
	if (n == s && strcmp(name, DNS_SUFFIX) == 0) {
		name[0] = '\0';
		return name;
	}
	if (n <= s + 1 || name[n - s - 1] != '.' || strcmp(name + n - s, DNS_SUFFIX) != 0)
		return NULL;
	name[n - s - 1] = '\0';
	return name;
}

size_t dns_answer(const uint8_t *q, size_t len, dns_lookup_fn lookup, void *ctx, uint8_t *out, size_t cap)
{
	char name[NAME_MAX_WIRE + 2];

	if (len < DNS_HEADER_LEN || cap < DNS_MAX_UDP || (be16_get(q + 2) & FLAG_QR))
		return 0;
	if (((be16_get(q + 2) >> OPCODE_SHIFT) & 0xf) != 0) {
		header(q, out, DNS_RCODE_NOTIMP, 0, 0);
		return DNS_HEADER_LEN;
	}
	size_t nl = be16_get(q + 4) == 1 ? read_name(q + DNS_HEADER_LEN, len - DNS_HEADER_LEN, name, sizeof(name)) : 0;
	if (nl == 0 || DNS_HEADER_LEN + nl + QUESTION_TAIL > len) {
		header(q, out, DNS_RCODE_FORMERR, 0, 0);
		return DNS_HEADER_LEN;
	}
	size_t qlen = nl + QUESTION_TAIL;
	const uint8_t *tail = q + DNS_HEADER_LEN + nl;
	uint16_t type = be16_get(tail), cls = be16_get(tail + 2);
	memcpy(out + DNS_HEADER_LEN, q + DNS_HEADER_LEN, qlen);
	const char *host = strip_suffix(name);
	struct in_addr a;
	if (!host) {
		header(q, out, DNS_RCODE_REFUSED, 1, 0);
		return DNS_HEADER_LEN + qlen;
	}
	if (!host[0] || !lookup(ctx, host, &a)) {
		header(q, out, host[0] ? DNS_RCODE_NXDOMAIN : DNS_RCODE_OK, 1, 0);
		return DNS_HEADER_LEN + qlen;
	}
	bool want_a = (type == DNS_TYPE_A || type == DNS_TYPE_ANY) && (cls == DNS_CLASS_IN || cls == DNS_TYPE_ANY);
	header(q, out, DNS_RCODE_OK, 1, want_a ? 1 : 0);
	size_t o = DNS_HEADER_LEN + qlen;
	if (!want_a)
		return o;
	be16_put(out + o, 0xc000 | DNS_HEADER_LEN); /* the name of the question */
	be16_put(out + o + 2, DNS_TYPE_A);
	be16_put(out + o + 4, DNS_CLASS_IN);
	be16_put(out + o + 6, 0);
	be16_put(out + o + 8, DNS_TTL_S);
	be16_put(out + o + 10, 4);
	memcpy(out + o + 12, &a.s_addr, 4);
	return o + 16;
}
