/* The relay host's own addresses, which no client may reach through the
 * relay: a service that a firewall shields from the outside (the relay
 * would send from inside), and the relay's own listeners (an allocation
 * made through another allocation hides the real client). The host's
 * addresses are its listening and relay addresses plus every interface
 * address that main reads at start and on SIGHUP.
 *
 * The one exception is another allocation on this server: two clients of
 * the same relay may talk relay to relay (the ICE relay-relay pair, the
 * only path left when both sides can reach the relay only over TCP), so a
 * relay address with a port that a live allocation holds stays reachable.
 * Every other port of a relay address is refused, and so is every IPv6
 * spelling (mapped, NAT64, 6to4, Teredo) of a host address.
 *
 * Shared by all workers without a lock: the address list only grows (its
 * count is published with release/acquire), and the live relay ports are
 * atomic bitmaps, one per relay address. */
#ifndef IPOP_TURN_SELF_H
#define IPOP_TURN_SELF_H

#include <stdbool.h>
#include <sys/socket.h>

struct turn_conf;
struct turn_self;

enum { TURN_SELF_MAX = 256 };

enum turn_self_kind {
	TURN_SELF_NO = 0,   /* not one of ours */
	TURN_SELF_RELAY_IP, /* a relay address: only its live relay ports are reachable */
	TURN_SELF_HOST,     /* any other address of the host, in any spelling: refused */
};

/* Starts with the configuration's concrete listening and relay addresses.
 * NULL on allocation failure. */
struct turn_self *turn_self_new(const struct turn_conf *conf);
void turn_self_free(struct turn_self *s);
/* Adds a host address (the port is ignored); known ones are skipped. 0,
 * -ENOSPC beyond TURN_SELF_MAX, -EAFNOSUPPORT. One writer at a time. */
int turn_self_add(struct turn_self *s, const struct sockaddr *addr);
unsigned turn_self_count(const struct turn_self *s);

/* What the address (not the port) of peer is to this host. */
enum turn_self_kind turn_self_classify(const struct turn_self *s, const struct sockaddr *peer);
/* true when a datagram to peer (address and port) must not be sent: a host
 * address, or a relay address on a port no live allocation holds. */
bool turn_self_refused(const struct turn_self *s, const struct sockaddr *peer);
/* Marks a relayed address (a relay address and port) live or not. */
void turn_self_relay_live(struct turn_self *s, const struct sockaddr *relay, bool live);

#endif
