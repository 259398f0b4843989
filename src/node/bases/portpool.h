/* Extra UDP sockets for multi-port probing (docs/nat.md "Hard NATs"): a
 * node behind a symmetric NAT opens up to LINK_POOL_MAX of them, each an
 * extra base (LINK_POOL_BASE + i) whose first datagram to the peer makes a
 * new mapping on its NAT. One link uses the pool at a time; when a port
 * wins, that socket stays (the link's path) and the others close. */
#ifndef IPOP_PORTPOOL_H
#define IPOP_PORTPOOL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "link_base.h"

struct bases;

struct portpool_slot {
	struct bases *b;
	unsigned i;
};

struct portpool {
	int epfd;          /* the sockets' own epoll set, one registration on the loop */
	struct portpool_slot *slot; /* the epoll context of socket i */
	int *fd;           /* n sockets, -1 when closed */
	uint16_t *port;    /* their local ports */
	unsigned n;        /* opened (first n of the range) */
	unsigned open;     /* still open */
	void *owner;       /* the link using it, opaque; NULL: free */
	uint8_t *buf;      /* one received datagram */
	uint64_t rx, tx, tx_err;
};

/* Opens n sockets (up to LINK_POOL_MAX) for owner. Returns how many
 * opened (0 with -errno in *err when none), or -EBUSY if another owner
 * holds the pool. */
int portpool_open(struct bases *b, void *owner, unsigned n, int *err);
/* Closes every socket but keep (a pool base id; LINK_BASE_ANY: all). */
void portpool_keep(struct bases *b, uint32_t keep);
/* Closes everything and frees the pool for the next owner. */
void portpool_close(struct bases *b);
void portpool_free(struct bases *b);
int portpool_send(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		  bool df);

#endif
