/* Multi-port probing for a symmetric NAT facing a cone NAT (docs/nat.md
 * "Hard NATs"), sans-IO like the rest of the link core. A symmetric NAT
 * gives each new destination a random public port, so the port its node's
 * checks come from is unknown to the peer, and a port-restricted cone
 * NAT drops them. Both sides act at once, bounded in packets and time:
 *  - the side with the "easy" (cone) NAT sends `ports` low-TTL primes from
 *    its srflx base to random ports of the peer's public IP: each opens
 *    its own NAT to that port and dies before the peer's NAT;
 *  - the side with the "hard" (symmetric) NAT opens `sockets` extra UDP
 *    sockets (the bases' port pool) and sends an ICE check from each to
 *    the peer's srflx, a round every HARDNAT_ROUND_MS.
 * A check whose random mapped port is one of the primed ones gets through
 * (the birthday paradox: 256 sockets and 512 ports meet with about 87%);
 * the peer's ICE agent answers it as a peer-reflexive candidate. The first
 * socket to hear back wins: everything else stops at once, the other
 * sockets close, and the winning one becomes a local candidate whose
 * pair ICE checks and nominates. Otherwise the link stays on its relay.
 * Which side is which comes from the "nat" member of offers and answers. */
#ifndef IPOP_HARDNAT_H
#define IPOP_HARDNAT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "stun_proto.h"

struct link;
struct link_tx;

enum {
	HARDNAT_DELAY_MS = 2000,        /* symmetric side: the peer primes first */
	HARDNAT_ROUND_MS = 2000,        /* symmetric side: one check per socket per round */
	HARDNAT_ROUNDS = 10,
	HARDNAT_PRIME_ROUND_MS = 20000, /* cone side: primes again before conntrack's 30 s */
	HARDNAT_PRIME_ROUNDS = 2,
	HARDNAT_BATCH = 64,             /* datagrams per HARDNAT_BATCH_MS, no burst */
	HARDNAT_BATCH_MS = 10,
	HARDNAT_PORT_MIN = 1024,        /* where NATs map (Linux: 1024-65535) */
};

enum hardnat_role { HARDNAT_NONE = 0, HARDNAT_SPRAY, HARDNAT_PRIME };
enum hardnat_phase {
	HARDNAT_IDLE = 0,  /* nothing to do (yet) for this ICE session */
	HARDNAT_WAIT,      /* symmetric side: until the peer has primed */
	HARDNAT_POOL,      /* symmetric side: sockets asked of the daemon */
	HARDNAT_RUNNING,   /* sending rounds */
	HARDNAT_WON,       /* a port met: its socket is the link's */
	HARDNAT_OVER,      /* done (or gave up): the relay stays */
};

struct hardnat {
	enum hardnat_role role;
	enum hardnat_phase phase;
	unsigned want;                /* sockets (spray) or ports (prime) */
	uint64_t at_ms;               /* the next round, or the wait's end */
	uint64_t end_ms;
	uint64_t batch_ms;            /* the next batch of a round */
	unsigned round, idx;          /* the round and the next socket/port in it */
	unsigned in_batch;            /* datagrams sent since the last pause */
	bool round_due;
	struct sockaddr_in target;    /* the peer's srflx */
	uint32_t prime_base;          /* cone side: the base of our srflx */
	struct in_addr local_ip;      /* spray side: the address the pool sends from */
	uint64_t seed;                /* cone side: the ports, the same each round */
	uint64_t prng;                /* ...drawn from this, reset to seed each round */
	unsigned granted;             /* spray side: pool bases LINK_POOL_BASE + 0..granted-1 */
	uint8_t tid[HARDNAT_ROUNDS][STUN_TID_LEN];
	uint32_t won_base;
	bool kept;                    /* the daemon kept won_base's socket */
	uint64_t sent;
	bool release;                 /* the daemon should close the pool */
};

/* A new ICE session: anything under way stops (the pool is released). */
void hardnat_reset(struct link *l);
/* The peer's candidates or NAT kind came: start when one side is hard and
 * the other easy and the peer's srflx is known. */
void hardnat_check(struct link *l, uint64_t now_ms);
void hardnat_tick(struct link *l, uint64_t now_ms, uint64_t *deadline);
bool hardnat_poll_transmit(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_ms);
/* A datagram on base_id: true when it was the probing's own (consumed);
 * a request from the peer on a pool socket is noted and left to ICE. */
bool hardnat_input(struct link *l, uint32_t base_id, const struct sockaddr *from, const uint8_t *buf, size_t len,
		   uint64_t now_ms);
/* ICE selected a pair: a direct one ends the probing. */
void hardnat_selected(struct link *l, uint32_t base_id, bool relayed, uint64_t now_ms);

/* For the daemon (LINK_EV_POOL): how many sockets the link wants now (0:
 * none, close them), which one to keep (LINK_BASE_ANY: none). */
unsigned hardnat_pool_want(const struct link *l);
uint32_t hardnat_pool_keep(const struct link *l);
/* The daemon opened n sockets (LINK_POOL_BASE + 0..n-1); 0: none. */
void link_pool_granted(struct link *l, unsigned n, uint64_t now_ms);
/* The daemon kept the winning socket (local port `port`), closed the rest. */
void link_pool_kept(struct link *l, uint32_t base_id, uint16_t port, uint64_t now_ms);

#endif
