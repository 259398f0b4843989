/* Socket addresses: parsing "host:port", "[v6]:port", formatting, compare. */
#ifndef IPOP_ADDR_H
#define IPOP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 socket address in 28 bytes where a sockaddr_storage
 * takes 128: for what is held many times over (every link's ICE
 * candidates). Pass &x.sa where a struct sockaddr * is wanted. */
union addr_ip {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

enum { ADDR_STRLEN = 64 }; /* "[ffff:...:ffff]:65535" + NUL fits */

/* u from sa (AF_INET or AF_INET6; any other family gives AF_UNSPEC),
 * and back into a sockaddr_storage (zero beyond u). */
void addr_ip_set(union addr_ip *u, const struct sockaddr *sa);
void addr_ip_store(struct sockaddr_storage *ss, const union addr_ip *u);

/* Numeric only (no DNS). "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5".
 * default_port is used when none is given. Returns 0 or -EINVAL. */
int addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *out);
/* "1.2.3.4:5" / "[::1]:5"; with_port false gives the bare address. */
const char *addr_format(const struct sockaddr *sa, bool with_port, char buf[ADDR_STRLEN]);
socklen_t addr_len(const struct sockaddr *sa);
uint16_t addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr *sa, uint16_t port);
/* Same family, address and port. */
bool addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* Same family and address, ignoring port. */
bool addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b);
/* A 64-bit hash of address and port, for hash tables. */
uint64_t addr_hash(const struct sockaddr *sa, uint64_t seed);

#endif
