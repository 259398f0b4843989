/* ipopd's SocialVPN mode (docs/ipopd.md "SocialVPN"): every friend gets
 * an address in our own subnet (social_map), and packets are translated
 * in place on their way in and out (xlate). social.c keeps the map and
 * the per-link translation state; social_dns.c answers "<friend>.ipop"
 * names. Data thread only. */
#ifndef IPOP_SOCIAL_H
#define IPOP_SOCIAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop.h"
#include "node_conf.h"
#include "social_map.h"
#include "xlate.h"

struct friends;
struct link;

/* A link's translation: its friend's address in our space, and its own. */
struct social_link {
	struct xlate_pair xl;
};

struct social {
	const struct node_conf *conf;
	struct social_map smap;      /* friend -> address in our subnet */
	const struct friends *friends; /* names for the DNS responder */
	struct evloop *loop;
	int dns_fd;                  /* social_dns: UDP ip4:53, or -1 */
	uint64_t dns_queries;
	uint64_t xlate_drop;         /* packets that could not be translated */
	uint64_t bcast_tx, bcast_rx; /* social_broadcast: copies sent / taken */
};

/* Loads pins (config, pin file) and the saved map. 0 or -errno. */
int social_init(struct social *s, const struct node_conf *conf, const struct friends *friends,
		struct evloop *loop);
void social_free(struct social *s);
/* Gives a new link its friend's address in our space (assigning and saving
 * a new mapping if needed) in l->map4. False when the subnet is full. */
bool social_link_attach(struct social *s, struct link *l);
/* Before the link goes. */
void social_link_detach(struct link *l);
/* The peer announced its own address (offer/answer). */
void social_link_own_addr(struct link *l, uint32_t own_be);
/* Translate one packet; false: dropped and counted (never forward it). */
bool social_out(struct social *s, struct link *l, uint8_t *pkt, size_t len);
bool social_in(struct social *s, struct link *l, uint8_t *pkt, size_t len);

enum social_bcast { SOCIAL_BCAST_NO = 0, SOCIAL_BCAST_SEND, SOCIAL_BCAST_DROP };
/* A TUN packet without a route: with social_broadcast, a broadcast or
 * multicast packet is translated for every friend (SEND: the caller sends
 * a copy to every link that is up) or refused (DROP, counted). */
enum social_bcast social_bcast_out(struct social *s, uint8_t *pkt, size_t len);

/* social_dns.c: the UDP socket on ip4:53 (after the TUN is configured),
 * registered on the loop; -errno when it cannot be bound (logged). */
int social_dns_open(struct social *s);
void social_dns_close(struct social *s);

#endif
