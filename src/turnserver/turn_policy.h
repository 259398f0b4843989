/* Which peer addresses a relay may send to, as far as the configuration
 * says (the server's own addresses are turn_self.h's concern):
 * 1. loopback, unspecified, multicast, link-local and broadcast are always
 *    refused, in every spelling (IPv4-mapped and -compatible IPv6, SIIT,
 *    NAT64, 6to4, Teredo);
 * 2. an allowed_address rule that matches allows;
 * 3. private ranges (RFC 1918, CGNAT 100.64/10, ULA fc00::/7, site-local
 *    fec0::/10) are refused, in every spelling;
 * 4. a denied_address rule that matches refuses;
 * 5. anything else is allowed.
 * Rules match a peer by its own address and by every IPv4 address it
 * stands for (mapped, SIIT, NAT64, 6to4, Teredo server and client). */
#ifndef IPOP_TURN_POLICY_H
#define IPOP_TURN_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct turn_conf;

/* true when the peer may be relayed to. conf NULL: no rules. */
bool turn_policy_peer_allowed(const struct turn_conf *conf, const struct sockaddr *peer);
/* true for addresses no relay ever reaches, whatever the config says. */
bool turn_policy_always_banned(const struct sockaddr *peer);
/* true for the private ranges of step 3, in any spelling. */
bool turn_policy_private(const struct sockaddr *peer);
/* The IPv4 addresses a peer stands for: itself when IPv4, the embedded
 * address(es) of an IPv6 spelling of IPv4 (Teredo has two). Returns how
 * many were written to v4. */
unsigned turn_policy_v4_of(const struct sockaddr *peer, uint8_t v4[2][4]);

#endif
