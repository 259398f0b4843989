/* rtnetlink requests about the TUN, one with an acknowledgement each,
 * made when the node starts or links change, never per packet:
 *  - its IPv6 address, with IFA_F_NODAD: usable at once (the ioctl path
 *    leaves it tentative for a moment, and the first packets would leave
 *    with the link-local source; a TUN does no DAD anyway);
 *  - routes through it for the subnets behind peers (router mode,
 *    docs/ipv6.md): "10.77.0.0/24 dev ipop0", "fd00:77::/64 dev ipop0",
 *    added when the daemon installs a peer's route and deleted when the
 *    link goes. A route the kernel already has for the same prefix (the
 *    user's, or a LAN's) is never replaced. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ip_prefix.h"
#include "tun.h"

struct rt_req {
	struct nlmsghdr nh;
	union {
		struct rtmsg rt;
		struct ifaddrmsg ifa;
	};
	char attrs[64]; /* RTA_DST (4 + 16) and RTA_OIF (4 + 4), or IFA_ADDRESS and IFA_FLAGS, aligned */
};

static void add_attr(struct rt_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends r and waits for the kernel's acknowledgement: 0 or -errno. */
static int rt_talk(struct rt_req *r)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nh;
		char buf[512];
	} ans;
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int rc = -EIO;

	if (s < 0)
		return -errno;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(s, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(s, &ans, sizeof(ans), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		for (struct nlmsghdr *h = &ans.nh; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->nh.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			rc = e->error; /* 0 (an ACK) or -errno */
			goto out;
		}
	}
out:
	close(s);
	return rc;
}

static unsigned nl_seq;

static int rt_change(const struct tun *t, const struct ip_prefix *p, unsigned short type, unsigned short flags)
{
	struct rt_req r;
	unsigned idx = if_nametoindex(t->name);
	size_t alen = p->family == AF_INET ? 4 : 16;

	if (!idx)
		return -errno;
	if (p->family != AF_INET && p->family != AF_INET6)
		return -EAFNOSUPPORT;
	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	r.nh.nlmsg_type = type;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r.nh.nlmsg_seq = ++nl_seq;
	r.rt.rtm_family = p->family;
	r.rt.rtm_dst_len = p->len;
	r.rt.rtm_table = RT_TABLE_MAIN;
	r.rt.rtm_protocol = RTPROT_STATIC;
	/* what "ip route add PREFIX dev IF" sends: link scope for IPv4,
	 * universe for IPv6 (the kernel ignores the scope of IPv6 routes) */
	r.rt.rtm_scope = p->family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	r.rt.rtm_type = RTN_UNICAST;
	add_attr(&r, RTA_DST, p->addr, alen);
	int oif = (int)idx;
	add_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return rt_talk(&r);
}

int tun_route_add(const struct tun *t, const struct ip_prefix *p)
{
	return rt_change(t, p, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
}

int tun_route_del(const struct tun *t, const struct ip_prefix *p)
{
	return rt_change(t, p, RTM_DELROUTE, 0);
}

int tun_add_ip6(struct tun *t, const struct in6_addr *addr, unsigned prefix)
{
	struct rt_req r;
	unsigned idx = if_nametoindex(t->name);
	uint32_t flags = IFA_F_NODAD | IFA_F_PERMANENT;

	if (prefix > 128)
		return -EINVAL;
	if (!idx)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	r.nh.nlmsg_seq = ++nl_seq;
	r.ifa.ifa_family = AF_INET6;
	r.ifa.ifa_prefixlen = (unsigned char)prefix;
	r.ifa.ifa_flags = (unsigned char)flags;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	r.ifa.ifa_index = idx;
	add_attr(&r, IFA_ADDRESS, addr, sizeof(*addr));
	add_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	return rt_talk(&r);
}
