/* ipopd's SocialVPN mode glue (docs/ipopd.md "SocialVPN"): the friend ->
 * address map of the node (social_map) and the per-packet translation
 * hooks (xlate) the data path calls once per packet. Data thread only. */
#ifndef IPOP_SOCIAL_H
#define IPOP_SOCIAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct peer;

/* Loads pins (config, pin file) and the saved map. 0 or -errno. */
int social_init(struct node *n);
void social_free(struct node *n);
/* Gives a new peer its address in our space (assigning and saving a new
 * mapping if needed). False when the subnet is full. */
bool social_peer_attach(struct node *n, struct peer *p);
/* The node that carried a friend's address is gone: another node of the
 * same friend (same address) that knows its keys takes the route. */
void social_route_takeover(struct node *n, struct in_addr map4);
/* The peer announced its own address (offer/answer). */
void social_peer_own_addr(struct peer *p, uint32_t own_be);
/* Translate one packet; false: dropped and counted (never forward it). */
bool social_out(struct node *n, struct peer *p, uint8_t *pkt, size_t len);
bool social_in(struct node *n, struct peer *p, uint8_t *pkt, size_t len);
/* social_dns: the UDP socket on ip4:53 (after the TUN is configured);
 * -errno when it cannot be bound (logged). Its fd is n->dns_fd. */
int social_dns_open(struct node *n);
/* Answers the queries waiting on n->dns_fd. */
void social_dns_input(struct node *n);
/* A TUN packet without a route: with social_broadcast, a broadcast or
 * multicast packet goes to every friend whose link is up. True when it was
 * taken (sent or dropped and counted); false: not such a packet. */
bool social_broadcast(struct node *n, uint8_t *pkt, size_t len, uint64_t now_ms);

#endif
