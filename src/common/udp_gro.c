#include "udp_gro.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

size_t udp_gro_segment_size(struct msghdr *mh)
{
	size_t seg = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			seg = v > 0 ? (size_t)v : 0;
		}
	}
	return seg;
}

void udp_gro_iter_init(struct udp_gro_iter *it, const uint8_t *buf, size_t len, size_t seg)
{
	it->p = buf;
	it->left = len;
	it->single = seg == 0 || seg >= len;
	it->seg = it->single ? len : seg;
	it->done = false;
}

bool udp_gro_next(struct udp_gro_iter *it, const uint8_t **p, size_t *len)
{
	if (it->single) {
		if (it->done)
			return false;
		*p = it->p;
		*len = it->left;
		it->done = true;
		return true;
	}
	if (it->left == 0)
		return false;
	size_t n = it->left < it->seg ? it->left : it->seg;
	*p = it->p;
	*len = n;
	it->p += n;
	it->left -= n;
	return true;
}

bool udp_gro_enable(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}
