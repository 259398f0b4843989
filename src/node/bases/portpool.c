/* The port pool of multi-port probing (see portpool.h). The sockets bind
 * 0.0.0.0 with a port of the kernel's choice; the route picks the source
 * address, which is what a host candidate on the default route has too. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/epoll.h>

#include "bases.h"
#include "log.h"

static void on_readable(struct portpool_slot *sl, uint64_t now_ms);
static void on_pool(void *ctx, uint32_t events, uint64_t now_ms);

static int open_one(struct bases *b, unsigned i)
{
	struct portpool *p = &b->pool;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	p->slot[i] = (struct portpool_slot){ b, i };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->slot[i] };
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	p->fd[i] = fd;
	p->port[i] = ntohs(sin.sin_port);
	return 0;
}

int portpool_open(struct bases *b, void *owner, unsigned n, int *err)
{
	struct portpool *p = &b->pool;

	*err = 0;
	if (p->owner && p->owner != owner)
		return -EBUSY;
	portpool_close(b);
	if (n > LINK_POOL_MAX)
		n = LINK_POOL_MAX;
	if (!p->fd) {
		p->fd = malloc(LINK_POOL_MAX * sizeof(*p->fd));
		p->port = calloc(LINK_POOL_MAX, sizeof(*p->port));
		p->slot = calloc(LINK_POOL_MAX, sizeof(*p->slot));
		p->buf = malloc(b->slot_cap);
		if (!p->fd || !p->port || !p->slot || !p->buf)
			return *err = -ENOMEM, 0;
		for (unsigned i = 0; i < LINK_POOL_MAX; i++)
			p->fd[i] = -1;
		/* hundreds of sockets: their own epoll set, which the loop
		 * watches as one descriptor */
		p->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (p->epfd < 0)
			return *err = -errno, 0;
		if (evloop_add(b->loop, p->epfd, EPOLLIN, on_pool, b) < 0) {
			close(p->epfd);
			p->epfd = -1;
			return *err = -ENOSPC, 0;
		}
	}
	p->owner = owner;
	for (p->n = 0; p->n < n; p->n++) {
		int rc = open_one(b, p->n);
		if (rc < 0) {
			*err = rc;
			break;
		}
	}
	p->open = p->n;
	log_info("portpool: %u extra UDP sockets for multi-port probing%s", p->n, p->n < n ? " (fewer than asked)" : "");
	return (int)p->n;
}

static void close_one(struct bases *b, unsigned i)
{
	struct portpool *p = &b->pool;
	if (p->fd[i] < 0)
		return;
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->fd[i], NULL);
	close(p->fd[i]);
	p->fd[i] = -1;
	p->open--;
}

void portpool_keep(struct bases *b, uint32_t keep)
{
	struct portpool *p = &b->pool;
	for (unsigned i = 0; p->fd && i < p->n; i++)
		if (LINK_POOL_BASE + i != keep)
			close_one(b, i);
	if (!p->open) {
		p->owner = NULL;
		p->n = 0;
	}
}

void portpool_close(struct bases *b)
{
	portpool_keep(b, LINK_BASE_ANY);
	b->pool.owner = NULL;
	b->pool.n = 0;
}

void portpool_free(struct bases *b)
{
	struct portpool *p = &b->pool;
	if (p->fd)
		portpool_close(b);
	if (p->fd && p->epfd >= 0) {
		evloop_del(b->loop, p->epfd);
		close(p->epfd);
	}
	free(p->fd);
	free(p->port);
	free(p->slot);
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

int portpool_send(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		  bool df)
{
	struct portpool *p = &b->pool;
	unsigned i = base_id - LINK_POOL_BASE;
	int rc = 0;

	if (!link_base_is_pool(base_id) || !p->fd || i >= p->n || p->fd[i] < 0)
		return -ENETUNREACH;
	if (df) {
		int v = IP_PMTUDISC_PROBE;
		setsockopt(p->fd[i], IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	}
	if (sendto(p->fd[i], buf, len, MSG_DONTWAIT, (const struct sockaddr *)dst, sizeof(*dst)) < 0)
		rc = -errno;
	if (df) {
		int v = IP_PMTUDISC_WANT;
		setsockopt(p->fd[i], IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	}
	if (rc < 0)
		p->tx_err++;
	else
		p->tx++;
	return rc;
}

/* A datagram on pool socket i: to the daemon, as from base
 * LINK_POOL_BASE + i (STUN for the links, tunnel packets for the data
 * path). A few at a time, so one busy socket does not starve the loop. */
static void on_pool(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct bases *b = ctx;
	struct epoll_event ev[64];
	(void)events;
	int n = epoll_wait(b->pool.epfd, ev, 64, 0);
	for (int k = 0; k < n; k++)
		on_readable(ev[k].data.ptr, now_ms);
}

static void on_readable(struct portpool_slot *sl, uint64_t now_ms)
{
	struct bases *b = sl->b;
	struct portpool *p = &b->pool;

	for (int k = 0; k < 32 && sl->i < p->n && p->fd[sl->i] >= 0; k++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(p->fd[sl->i], p->buf, b->slot_cap, MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);
		if (r < 0)
			return;
		if ((size_t)r > b->slot_cap || from.sin_family != AF_INET)
			continue;
		p->rx++;
		if (b->ops.pool_rx)
			b->ops.pool_rx(b->ops.ctx, LINK_POOL_BASE + sl->i, &from, p->buf, (size_t)r, b->slot_cap,
				       now_ms);
	}
}
