/* The ipop element of a node's presence (see signal_presence.h). */
#include "signal_presence.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int signal_presence_parse(struct signal_presence *p, const char *ip4, const char *ip6, const char *key)
{
	memset(p, 0, sizeof(*p));
	if (ip4) {
		if (strlen(ip4) >= INET_ADDRSTRLEN || inet_pton(AF_INET, ip4, &p->ip4) != 1)
			goto bad;
		uint32_t a = ntohl(p->ip4.s_addr);
		if ((a >> 24) == 0 || (a >> 24) == 127 || (a >> 28) >= 14 || a == 0xffffffffu)
			goto bad; /* 0/8, loopback, multicast and reserved are nobody's overlay address */
		p->has_ip4 = true;
	}
	if (ip6) {
		/* the same rule as an ip6 in a link's signalling (signal_msg.c) */
		if (strlen(ip6) >= INET6_ADDRSTRLEN || inet_pton(AF_INET6, ip6, &p->ip6) != 1 ||
		    ip_addr_unusable(AF_INET6, &p->ip6))
			goto bad;
		p->has_ip6 = true;
	}
	if (key) {
		if (!signal_key_decode(key, strlen(key), p->key))
			goto bad;
		p->has_key = true;
	}
	return 0;
bad:
	memset(p, 0, sizeof(*p));
	return -EINVAL;
}

void signal_presence_format(const struct signal_presence *p, char ip4[INET_ADDRSTRLEN], char ip6[INET6_ADDRSTRLEN],
			    char key[SIGNAL_KEY_B64_LEN + 1])
{
	ip4[0] = ip6[0] = key[0] = '\0';
	if (p->has_ip4)
		inet_ntop(AF_INET, &p->ip4, ip4, INET_ADDRSTRLEN);
	if (p->has_ip6)
		inet_ntop(AF_INET6, &p->ip6, ip6, INET6_ADDRSTRLEN);
	if (p->has_key)
		signal_key_encode(p->key, key);
}
