/* Internet checksum (RFC 1071), shared by the TUN offload code and the
 * SocialVPN address translation. */
#ifndef IPOP_INET_CSUM_H
#define IPOP_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Internet checksum (RFC 1071) over buffers in native byte order:
 * accumulate with inet_csum_add (every buffer but the last of even length),
 * then inet_csum_final gives the value to store with memcpy, already
 * complemented; inet_csum_fold gives the folded sum, not complemented (what
 * a partial checksum field holds). */
uint64_t inet_csum_add(uint64_t sum, const void *buf, size_t len);
uint16_t inet_csum_fold(uint64_t sum);
uint16_t inet_csum_final(uint64_t sum);
/* RFC 1624 incremental update, HC' = ~(~HC + ~m + m'): the checksum hc
 * after a 16-bit word changed from old to new (all numeric values). */
uint16_t inet_csum_update16(uint16_t hc, uint16_t old, uint16_t new);

#endif
