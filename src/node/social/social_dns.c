/* The ".ipop" DNS responder of SocialVPN mode: a UDP socket on the
 * node's own address, port 53, answering A queries for friends' names
 * (jid_hostname) with their mapped addresses (dns_answer, the codec). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_answer.h"
#include "friends.h"
#include "jid_hostname.h"
#include "log.h"
#include "social.h"

/* Friends that have an address: the names ipopctl hosts prints too. */
static bool dns_lookup(void *ctx, const char *name, struct in_addr *out)
{
	struct social *s = ctx;
	const struct friends *fl = s->friends;
	const char **all = calloc(fl->n + 1, sizeof(*all));
	const struct social_map_entry **ent = calloc(fl->n + 1, sizeof(*ent));
	size_t k = 0;
	bool found = false;
	for (size_t i = 0; all && ent && i < fl->n; i++) {
		const struct social_map_entry *e = social_map_find(&s->smap, fl->f[i].bare);
		if (e) {
			ent[k] = e;
			all[k++] = fl->f[i].bare;
		}
	}
	for (size_t i = 0; i < k && !found; i++) {
		char h[JID_HOSTNAME_MAX];
		if (jid_hostname(all[i], all, k, h, sizeof(h)) && strcmp(h, name) == 0) {
			*out = ent[i]->ip4;
			found = true;
		}
	}
	free(all);
	free(ent);
	return found;
}

/* Answers the queries waiting on the socket. */
static void dns_input(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct social *s = ctx;
	uint8_t q[DNS_MAX_UDP], r[DNS_MAX_UDP];

	(void)events;
	(void)now_ms;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(s->dns_fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (len < 0)
			return;
		s->dns_queries++;
		size_t out = dns_answer(q, (size_t)len, dns_lookup, s, r, sizeof(r));
		if (out && sendto(s->dns_fd, r, out, MSG_DONTWAIT, (struct sockaddr *)&from, fl) < 0)
			log_debug("social: DNS reply not sent: %s", strerror(errno));
	}
}

int social_dns_open(struct social *s)
{
	char a[INET_ADDRSTRLEN];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(DNS_PORT), .sin_addr = s->conf->ip4 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	inet_ntop(AF_INET, &s->conf->ip4, a, sizeof(a));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		log_warn("social: no DNS responder on %s:%d: %s (needs CAP_NET_BIND_SERVICE)", a, DNS_PORT, strerror(e));
		return -e;
	}
	int rc = evloop_add(s->loop, fd, EPOLLIN, dns_input, s);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	s->dns_fd = fd;
	log_info("social: DNS responder for *.%s on %s:%d", DNS_SUFFIX, a, DNS_PORT);
	return 0;
}

void social_dns_close(struct social *s)
{
	if (s->dns_fd < 0)
		return;
	evloop_del(s->loop, s->dns_fd);
	close(s->dns_fd);
	s->dns_fd = -1;
}
