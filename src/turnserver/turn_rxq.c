#include "turn_rxq.h"

#include <string.h>

bool turn_rxq_enable(int fd)
{
	int one = 1;
	return setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) == 0;
}

uint32_t turn_rxq_new_drops(struct msghdr *mh, uint32_t *seen)
{
	if (mh->msg_controllen == 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
		    c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
			uint32_t v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			uint32_t n = v - *seen; /* the kernel's counter wraps at 2^32 */
			*seen = v;
			return n;
		}
	}
	return 0;
}
