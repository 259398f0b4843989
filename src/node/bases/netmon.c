/* netmon: the node's own addresses moving. An rtnetlink socket subscribed
 * to IPv4 address and link events wakes the data thread; events come in
 * bursts (an address replaced is a delete and an add, a link going down
 * drops routes too), so the host candidates are gathered again only
 * BASES_NETMON_SETTLE_MS after the last event. If the set of host addresses
 * changed, the server-reflexive address is stale as well: it is dropped
 * and asked for again, and every link restarts ICE (roam.c) with the new
 * candidates, the srflx one trickling in when STUN answers. The socket is
 * registered on the loop with netmon's own handler. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "bases.h"

static void netmon_input(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct bases *b = ctx;
	char buf[8192] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	bool relevant = false;

	(void)events;
	ssize_t r;

	while ((r = recv(b->nl_fd, buf, sizeof(buf), 0)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
			if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
				const struct ifaddrmsg *ifa = NLMSG_DATA(h);
				relevant |= h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifa)) && ifa->ifa_family == AF_INET;
			} else if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) {
				relevant = true;
			}
		}
	}
	if (r < 0 && errno == ENOBUFS)
		relevant = true; /* events were lost: look anyway */
	if (relevant)
		b->netmon_due_ms = now_ms + BASES_NETMON_SETTLE_MS;
}

int netmon_open(struct bases *b)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	b->nl_fd = -1;
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	int rc = evloop_add(b->loop, fd, EPOLLIN, netmon_input, b);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	b->nl_fd = fd;
	return 0;
}

void netmon_close(struct bases *b)
{
	if (b->nl_fd >= 0) {
		evloop_del(b->loop, b->nl_fd);
		close(b->nl_fd);
	}
	b->nl_fd = -1;
}

/* Only whether something relevant happened matters: the addresses are
 * read again with getifaddrs() once the burst is over. */

uint64_t netmon_deadline(const struct bases *b)
{
	return b->netmon_due_ms ? b->netmon_due_ms : UINT64_MAX;
}

static bool same_hosts(const struct sockaddr_in *old, unsigned old_n, const struct bases *b)
{
	if (old_n != b->nhosts)
		return false;
	for (unsigned i = 0; i < old_n; i++)
		if (old[i].sin_addr.s_addr != b->hosts[i].addr.sin_addr.s_addr)
			return false;
	return true;
}

static void describe(const struct sockaddr_in *h, unsigned k, char *out, size_t cap)
{
	char a[ADDR_STRLEN];
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < k && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? " " : "",
					addr_format((const struct sockaddr *)&h[i], false, a));
	if (k == 0)
		snprintf(out, cap, "none");
}

/* The new base of a host address: its index now, or 0 (it is gone; the
 * first address will do until ICE picks a path). */
static uint32_t new_base(const struct bases *b, struct sockaddr_in old)
{
	for (unsigned i = 0; i < b->nhosts; i++)
		if (b->hosts[i].addr.sin_addr.s_addr == old.sin_addr.s_addr)
			return i;
	return 0;
}

void netmon_tick(struct bases *b, uint64_t now_ms)
{
	struct sockaddr_in old[LINK_MAX_HOSTS];
	unsigned old_n = b->nhosts;
	char before[LINK_MAX_HOSTS * 24], after[LINK_MAX_HOSTS * 24], why[sizeof(before) + sizeof(after) + 48];

	if (!b->netmon_due_ms || now_ms < b->netmon_due_ms)
		return;
	b->netmon_due_ms = 0;
	for (unsigned i = 0; i < old_n; i++)
		old[i] = b->hosts[i].addr;
	if (gather_hosts(b) < 0)
		return;
	if (same_hosts(old, old_n, b))
		return;
	describe(old, old_n, before, sizeof(before));
	struct sockaddr_in now_h[LINK_MAX_HOSTS];
	for (unsigned i = 0; i < b->nhosts; i++)
		now_h[i] = b->hosts[i].addr;
	describe(now_h, b->nhosts, after, sizeof(after));
	snprintf(why, sizeof(why), "local addresses changed (%s -> %s)", before, after);
	log_info("netmon: %s", why);
	/* The server-reflexive address came through the old addresses. */
	b->have_srflx = false;
	if (!b->stun_running) {
		b->stun_refresh = true;
		b->stun_retry_ms = now_ms;
	}
	uint32_t remap[LINK_MAX_HOSTS];
	for (unsigned i = 0; i < old_n; i++)
		remap[i] = new_base(b, old[i]);
	if (b->ops.moved)
		b->ops.moved(b->ops.ctx, remap, old_n, why, now_ms);
}
