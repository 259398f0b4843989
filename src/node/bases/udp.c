/* The node's one UDP socket (see bases.h): bound to 0.0.0.0:port with
 * IP_PKTINFO, so that each host base really sends from its own address
 * and a received datagram tells which base it arrived on; UDP GSO and GRO
 * when the kernel has them (IPOP_OFFLOAD=0 turns them off). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "bases.h"
#include "log.h"

bool udp_offload_wanted(void)
{
	const char *e = getenv("IPOP_OFFLOAD");
	return !e || strcmp(e, "0") != 0;
}

static void offloads_on(struct bases *b)
{
	int one = 1, seg = 0;
	socklen_t sl = sizeof(seg);

	if (!udp_offload_wanted())
		return;
	b->udp_gro = setsockopt(b->udp_fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	b->udp_gso = getsockopt(b->udp_fd, IPPROTO_UDP, UDP_SEGMENT, &seg, &sl) == 0;
}

int udp_open(struct bases *b, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, sz = 4 << 20;
	char a[ADDR_STRLEN];

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	socklen_t sl = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	b->udp_port = ntohs(sin.sin_port);
	b->udp_fd = fd;
	b->udp_df_on = false;
	sl = sizeof(b->udp_pmtudisc);
	if (getsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &b->udp_pmtudisc, &sl) < 0)
		b->udp_pmtudisc = IP_PMTUDISC_WANT;
	offloads_on(b);
	log_info("udp: listening on %s", addr_format((struct sockaddr *)&sin, true, a));
	return 0;
}

void udp_close(struct bases *b)
{
	if (b->udp_fd >= 0)
		close(b->udp_fd);
	b->udp_fd = -1;
}

void udp_set_cmsgs(const struct bases *b, struct msghdr *mh, char *cbuf, size_t cbuf_cap, uint32_t base_id,
		   uint16_t gso)
{
	char *at = cbuf;
	struct cmsghdr *cm;

	memset(cbuf, 0, cbuf_cap);
	if (base_id < b->nhosts) {
		cm = (struct cmsghdr *)(void *)at;
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		struct in_pktinfo pi;
		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = b->hosts[base_id].addr.sin_addr;
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		at += CMSG_SPACE(sizeof(struct in_pktinfo));
	}
	if (gso) {
		cm = (struct cmsghdr *)(void *)at;
		cm->cmsg_level = IPPROTO_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		at += CMSG_SPACE(sizeof(uint16_t));
	}
	mh->msg_controllen = (size_t)(at - cbuf);
	mh->msg_control = mh->msg_controllen ? cbuf : NULL;
}

/* An IP_TTL control message after the ones udp_set_cmsgs wrote. */
static void add_ttl(struct msghdr *mh, char *cbuf, size_t cap, uint8_t ttl)
{
	int v = ttl;
	size_t at = mh->msg_controllen;

	if (at + CMSG_SPACE(sizeof(v)) > cap)
		return;
	struct cmsghdr *cm = (struct cmsghdr *)(void *)(cbuf + at);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_TTL;
	cm->cmsg_len = CMSG_LEN(sizeof(v));
	memcpy(CMSG_DATA(cm), &v, sizeof(v));
	mh->msg_controllen = at + CMSG_SPACE(sizeof(v));
	mh->msg_control = cbuf;
}

/* DF for one datagram: IP_PMTUDISC_PROBE sets it and refuses (EMSGSIZE)
 * what the interface cannot carry whole, whatever the route's cached
 * path MTU says; the socket's own mode comes back after the send, or
 * within a batch (bases_tx_begin) before the next datagram without DF. */
static void set_df(struct bases *b, bool on)
{
	int v = on ? IP_PMTUDISC_PROBE : b->udp_pmtudisc;
	if (b->udp_df_on == on)
		return;
	setsockopt(b->udp_fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	b->udp_df_on = on;
	b->cnt.udp_df_switches++;
}

void bases_tx_begin(struct bases *b)
{
	b->udp_tx_batch = true;
}

void bases_tx_end(struct bases *b)
{
	b->udp_tx_batch = false;
	set_df(b, false);
}

void bases_tx_plain(struct bases *b)
{
	set_df(b, false);
}

int udp_send_opt(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		 uint8_t ttl, bool df)
{
	union {
		char buf[64];
		size_t align; /* cmsghdr alignment */
	} c;
	struct msghdr mh;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int rc = 0;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)dst;
	mh.msg_namelen = sizeof(*dst);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	udp_set_cmsgs(b, &mh, c.buf, sizeof(c.buf), base_id, 0);
	if (ttl)
		add_ttl(&mh, c.buf, sizeof(c.buf), ttl);
	set_df(b, df);
	if (sendmsg(b->udp_fd, &mh, MSG_DONTWAIT) < 0)
		rc = -errno;
	if (!b->udp_tx_batch)
		set_df(b, false);
	if (rc < 0) {
		b->cnt.udp_tx_err++;
		return rc;
	}
	b->cnt.udp_tx++;
	return 0;
}

int udp_send_one(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len)
{
	return udp_send_opt(b, base_id, dst, buf, len, 0, false);
}

uint32_t udp_base_of(const struct bases *b, struct in_addr local)
{
	for (unsigned i = 0; i < b->nhosts; i++)
		if (b->hosts[i].addr.sin_addr.s_addr == local.s_addr)
			return i;
	return 0;
}
