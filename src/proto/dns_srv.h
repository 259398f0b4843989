/* DNS SRV records (RFC 2782), sans I/O, for the XMPP client's server
 * lookup (RFC 6120 3.2.1: _xmpp-client._tcp.<domain>). The caller sends
 * the query (res_nquery) and hands the response here:
 *
 *   dns_srv_parse()  the SRV records of a response's answer section
 *   dns_srv_order()  the order to try them in: ascending priority, and
 *                    within one priority a weighted random draw
 *
 * Names may be compressed (RFC 1035 4.1.4; RFC 2782 forbids it in the
 * target, resolvers do it anyway); a target that is not a host name is
 * skipped, so nothing odd reaches a log line or getaddrinfo(). */
#ifndef IPOP_DNS_SRV_H
#define IPOP_DNS_SRV_H

#include <stddef.h>
#include <stdint.h>

enum {
	DNS_SRV_TYPE = 33,
	DNS_SRV_MAX = 16,      /* records kept from one answer */
	DNS_SRV_NAME_MAX = 253, /* a host name's text, without the final dot */
	DNS_SRV_NONE = -2,     /* the only record's target is ".": no such service */
};

struct dns_srv {
	uint16_t priority, weight, port;
	char target[DNS_SRV_NAME_MAX + 1]; /* without the final dot */
};

/* The SRV records (class IN) in the answer section of the response msg
 * (len bytes), at most max into out. Returns how many, 0 when there are
 * none (an error rcode, NXDOMAIN, only other types), DNS_SRV_NONE when the
 * domain says the service is decidedly not available (RFC 2782: a single
 * record with the target "."), or -1 when the message is malformed. */
int dns_srv_parse(const uint8_t *msg, size_t len, struct dns_srv *out, unsigned max);

/* Orders r[0..n) as RFC 2782 says a client tries them: lowest priority
 * first; among equal priorities, repeatedly a random pick weighted by
 * weight, exactly as the RFC's algorithm does it (a draw from 0 to the sum
 * inclusive, weight-0 records first in line: they win only a draw of 0).
 * rnd(ctx) gives uniform 32-bit values. */
void dns_srv_order(struct dns_srv *r, unsigned n, uint32_t (*rnd)(void *ctx), void *ctx);

#endif
