/* netmon: the node's own addresses moving. An rtnetlink socket subscribed
 * to IPv4 address and link events wakes the data thread; events come in
 * bursts (an address replaced is a delete and an add, a link going down
 * drops routes too), so the host candidates are gathered again only
 * NODE_NETMON_SETTLE_MS after the last event. If the set of host addresses
 * changed, the server-reflexive address is stale as well: it is dropped
 * and asked for again, and every link restarts ICE (roam.c) with the new
 * candidates, the srflx one trickling in when STUN answers. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "node.h"
#include "roam.h"

int netmon_open(struct node *n)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	n->nl_fd = -1;
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	n->nl_fd = fd;
	return 0;
}

void netmon_close(struct node *n)
{
	if (n->nl_fd >= 0)
		close(n->nl_fd);
	n->nl_fd = -1;
}

/* Only whether something relevant happened matters: the addresses are
 * read again with getifaddrs() once the burst is over. */
void netmon_input(struct node *n, uint64_t now_ms)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	bool relevant = false;
	ssize_t r;

	while ((r = recv(n->nl_fd, buf, sizeof(buf), 0)) > 0) {
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
		n->netmon_due_ms = now_ms + NODE_NETMON_SETTLE_MS;
}

uint64_t netmon_deadline(const struct node *n)
{
	return n->netmon_due_ms ? n->netmon_due_ms : UINT64_MAX;
}

static bool same_hosts(const struct sockaddr_in *old, unsigned old_n, const struct node *n)
{
	if (old_n != n->nhosts)
		return false;
	for (unsigned i = 0; i < old_n; i++)
		if (old[i].sin_addr.s_addr != n->hosts[i].addr.sin_addr.s_addr)
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

void netmon_tick(struct node *n, uint64_t now_ms)
{
	struct sockaddr_in old[NODE_MAX_HOSTS];
	unsigned old_n = n->nhosts;
	char before[NODE_MAX_HOSTS * 24], after[NODE_MAX_HOSTS * 24], why[sizeof(before) + sizeof(after) + 48];

	if (!n->netmon_due_ms || now_ms < n->netmon_due_ms)
		return;
	n->netmon_due_ms = 0;
	for (unsigned i = 0; i < old_n; i++)
		old[i] = n->hosts[i].addr;
	if (gather_hosts(n) < 0)
		return;
	if (same_hosts(old, old_n, n))
		return;
	describe(old, old_n, before, sizeof(before));
	struct sockaddr_in now_h[NODE_MAX_HOSTS];
	for (unsigned i = 0; i < n->nhosts; i++)
		now_h[i] = n->hosts[i].addr;
	describe(now_h, n->nhosts, after, sizeof(after));
	snprintf(why, sizeof(why), "local addresses changed (%s -> %s)", before, after);
	log_info("netmon: %s", why);
	/* The server-reflexive address came through the old addresses. */
	n->have_srflx = false;
	if (!n->stun_running) {
		n->stun_refresh = true;
		n->stun_retry_ms = now_ms;
	}
	roam_local_changed(n, old, old_n, now_ms, why);
}
