/* What an ipop node tells its group in its XMPP presence, so that members
 * without a direct link can still reach each other through the overlay:
 *
 *   <presence><ipop xmlns='urn:ipop:presence:1' ip4='172.31.0.5'
 *              ip6='fd00::5' key='<static public key, base64>'/></presence>
 *
 * Every attribute is optional (an older node sends none, and is then
 * reached only over a direct link; ip6 only from a dual-stack node). Parsing and formatting only, no I/O;
 * the wire format is in docs/signalling.md. */
#ifndef IPOP_SIGNAL_PRESENCE_H
#define IPOP_SIGNAL_PRESENCE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "signal_msg.h"

#define SIGNAL_PRESENCE_NS "urn:ipop:presence:1"

struct signal_presence {
	bool has_ip4;
	struct in_addr ip4;
	bool has_ip6;
	struct in6_addr ip6;
	bool has_key;
	uint8_t key[SIGNAL_KEY_LEN];
};

/* From the element's attributes (NULL when absent). 0, or -EINVAL when
 * one is malformed (p is then left empty). */
int signal_presence_parse(struct signal_presence *p, const char *ip4, const char *ip6, const char *key);
/* Attribute values; "" for what p does not have. */
void signal_presence_format(const struct signal_presence *p, char ip4[INET_ADDRSTRLEN], char ip6[INET6_ADDRSTRLEN],
			    char key[SIGNAL_KEY_B64_LEN + 1]);

#endif
