/* Which peer addresses a relay may send to. Loopback, unspecified,
 * multicast, link-local and broadcast are always refused, in every spelling
 * (IPv4-mapped and -compatible IPv6, NAT64 of them, 0.0.0.0, ::), then
 * allowed_address wins over denied_address. */
#ifndef IPOP_TURN_POLICY_H
#define IPOP_TURN_POLICY_H

#include <stdbool.h>
#include <sys/socket.h>

struct turn_conf;

/* true when the peer may be relayed to. */
bool turn_policy_peer_allowed(const struct turn_conf *conf, const struct sockaddr *peer);
/* true for addresses no relay ever reaches, whatever the config says. */
bool turn_policy_always_banned(const struct sockaddr *peer);

#endif
