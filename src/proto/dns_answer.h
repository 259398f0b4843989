/* A tiny authoritative DNS responder for "<name>.ipop" (RFC 1035), sans
 * I/O: one query datagram in, one reply datagram out. It answers A
 * questions for friends' names (jid_hostname.h) with their address in this
 * node's space; nothing is forwarded or cached.
 *   - name.ipop, type A or ANY, class IN: one A record (TTL 60);
 *   - name.ipop, another type: no records (NOERROR);
 *   - unknown name under .ipop: NXDOMAIN; outside .ipop: REFUSED;
 *   - opcode other than QUERY: NOTIMP; not exactly one question, a
 *     compressed or oversized name: FORMERR.
 * A datagram that is not a query (QR set, shorter than a header) gets no
 * reply at all. Names compare case-insensitively. */
#ifndef IPOP_DNS_ANSWER_H
#define IPOP_DNS_ANSWER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_SUFFIX "ipop"
enum {
	DNS_PORT = 53,
	DNS_HEADER_LEN = 12,
	DNS_MAX_UDP = 512, /* replies fit the classic UDP limit */
	DNS_TTL_S = 60,
	DNS_TYPE_A = 1,
	DNS_TYPE_ANY = 255,
	DNS_CLASS_IN = 1,
	DNS_RCODE_OK = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

/* name: lower-case, without the ".ipop" suffix and the final dot. */
typedef bool (*dns_lookup_fn)(void *ctx, const char *name, struct in_addr *out);

/* The reply to query (len bytes) in out (cap >= DNS_MAX_UDP): its length,
 * or 0 when nothing must be sent. */
size_t dns_answer(const uint8_t *query, size_t len, dns_lookup_fn lookup, void *ctx, uint8_t *out, size_t cap);

#endif
