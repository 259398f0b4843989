/* Multi-port probing for hard NATs (see hardnat.h). */
#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>

#include "addr.h"
#include "hardnat.h"
#include "link.h"
#include "links.h"
#include "log.h"
#include "stun_auth.h"
#include "stun_msg.h"

static bool reflexive_v4(const struct ice_cand *c)
{
	return c->type == ICE_CAND_SRFLX && c->addr.sa.sa_family == AF_INET;
}

/* The peer's server-reflexive candidate: where it sends from toward us
 * when its NAT is easy, and the public IP of its NAT when it is hard. */
static bool peer_srflx(const struct link *l, struct sockaddr_in *out)
{
	for (unsigned i = 0; i < l->ice.nremote; i++)
		if (reflexive_v4(&l->ice.remote[i])) {
			memcpy(out, &l->ice.remote[i].addr, sizeof(*out));
			return true;
		}
	return false;
}

/* Our own srflx candidate's base and the host address under it. */
static bool own_srflx(const struct link *l, uint32_t *base, struct in_addr *ip)
{
	const struct link_env *e = &l->tab->env;
	for (unsigned i = 0; i < e->nlocal; i++)
		if (reflexive_v4(&e->local[i])) {
			*base = e->local[i].base_id;
			*ip = ((const struct sockaddr_in *)&e->local[i].rel_addr)->sin_addr;
			return true;
		}
	return false;
}

static void release(struct link *l)
{
	struct hardnat *h = &l->hn;
	if (h->role == HARDNAT_SPRAY && (h->phase == HARDNAT_POOL || h->granted)) {
		h->release = true;
		link_queue_event(l, LINK_EV_POOL);
	}
}

static void finish(struct link *l, const char *why)
{
	struct hardnat *h = &l->hn;
	if (h->phase == HARDNAT_OVER || h->phase == HARDNAT_IDLE)
		return;
	log_info("peer %s: hard-NAT probing over after %llu datagrams: %s", l->jid, (unsigned long long)h->sent, why);
	release(l);
	h->phase = HARDNAT_OVER;
	h->granted = 0;
}

void hardnat_reset(struct link *l)
{
	if (l->hn.phase == HARDNAT_WON || l->hn.granted || l->hn.phase == HARDNAT_POOL) {
		l->hn.phase = HARDNAT_RUNNING; /* so release() sees it */
		release(l);
	}
	bool rel = l->hn.release;
	memset(&l->hn, 0, sizeof(l->hn));
	l->hn.release = rel;
	l->hn.won_base = LINK_BASE_ANY;
}

static void start_round(struct hardnat *h, uint64_t now_ms);

void hardnat_check(struct link *l, uint64_t now_ms)
{
	const struct link_env *e = &l->tab->env;
	struct hardnat *h = &l->hn;
	struct sockaddr_in peer;
	uint32_t base;
	struct in_addr ip;

	if (h->phase != HARDNAT_IDLE || !l->ice_on || !l->ice.have_remote_creds || !peer_srflx(l, &peer) ||
	    !own_srflx(l, &base, &ip))
		return;
	if (e->nat == SIGNAL_NAT_HARD && l->peer_nat == SIGNAL_NAT_EASY && e->hard_sockets) {
		h->role = HARDNAT_SPRAY;
		h->want = e->hard_sockets;
		h->phase = HARDNAT_WAIT;
		h->at_ms = now_ms + HARDNAT_DELAY_MS;
	} else if (e->nat == SIGNAL_NAT_EASY && l->peer_nat == SIGNAL_NAT_HARD && e->hard_ports && e->prime_ttl) {
		h->role = HARDNAT_PRIME;
		h->want = e->hard_ports;
		h->phase = HARDNAT_RUNNING;
		h->end_ms = now_ms + HARDNAT_PRIME_ROUNDS * HARDNAT_PRIME_ROUND_MS;
		randombytes_buf(&h->seed, sizeof(h->seed));
		start_round(h, now_ms);
	} else {
		return;
	}
	h->target = peer;
	h->prime_base = base;
	h->local_ip = ip;
	h->won_base = LINK_BASE_ANY;
	char a[ADDR_STRLEN];
	log_info("peer %s: its NAT is %s, ours %s: hard-NAT probing, %s %u %s %s", l->jid,
		 l->peer_nat == SIGNAL_NAT_HARD ? "hard" : "easy", e->nat == SIGNAL_NAT_HARD ? "hard" : "easy",
		 h->role == HARDNAT_SPRAY ? "checks from" : "low-TTL primes to", h->want,
		 h->role == HARDNAT_SPRAY ? "extra sockets to" : "ports of", addr_format((struct sockaddr *)&peer, true, a));
	l->deadline_ms = now_ms;
}

static void start_round(struct hardnat *h, uint64_t now_ms)
{
	h->round_due = true;
	h->idx = 0;
	h->in_batch = 0;
	h->prng = h->seed ? h->seed : 1;
	h->batch_ms = now_ms;
	if (h->role == HARDNAT_SPRAY)
		randombytes_buf(h->tid[h->round], STUN_TID_LEN);
}

void hardnat_tick(struct link *l, uint64_t now_ms, uint64_t *deadline)
{
	struct hardnat *h = &l->hn;
	uint64_t d = UINT64_MAX;

	switch (h->phase) {
	case HARDNAT_WAIT:
		if (now_ms >= h->at_ms) {
			h->phase = HARDNAT_POOL;
			link_queue_event(l, LINK_EV_POOL);
		} else {
			d = h->at_ms;
		}
		break;
	case HARDNAT_RUNNING:
		if (now_ms >= h->end_ms) {
			finish(l, h->role == HARDNAT_SPRAY ? "no port met; the link stays relayed"
							   : "the peer's checks did not come through");
			break;
		}
		if (!h->round_due && h->at_ms <= now_ms && h->round < (h->role == HARDNAT_SPRAY ? HARDNAT_ROUNDS
											: HARDNAT_PRIME_ROUNDS))
			start_round(h, now_ms);
		d = h->round_due ? h->batch_ms : h->at_ms < h->end_ms ? h->at_ms : h->end_ms;
		if (!h->round_due && h->round >= (h->role == HARDNAT_SPRAY ? HARDNAT_ROUNDS : HARDNAT_PRIME_ROUNDS))
			d = h->end_ms;
		break;
	default:
		break;
	}
	if (d < *deadline)
		*deadline = d;
}

static uint16_t next_port(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint16_t)(HARDNAT_PORT_MIN + (*s * 0x2545F4914F6CDD1Dull >> 33) % (65536 - HARDNAT_PORT_MIN));
}

static int build_prime(uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	stun_tid_random(tid);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_INDICATION, tid);
	stun_build_fingerprint(&b);
	return stun_build_finish(&b);
}

/* One datagram of the round under way. */
static int round_datagram(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap)
{
	struct hardnat *h = &l->hn;
	int n;

	memset(tx, 0, sizeof(*tx));
	tx->dst = h->target;
	if (h->role == HARDNAT_PRIME) {
		tx->dst.sin_port = htons(next_port(&h->prng)); /* the same sequence each round */
		tx->base_id = h->prime_base;
		tx->ttl = l->tab->env.prime_ttl;
		n = build_prime(buf, cap);
	} else {
		tx->base_id = LINK_POOL_BASE + h->idx;
		n = ice_agent_build_probe(&l->ice, h->tid[h->round], buf, cap);
	}
	if (n <= 0)
		return n;
	tx->data = buf;
	tx->len = (size_t)n;
	return n;
}

bool hardnat_poll_transmit(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_ms)
{
	struct hardnat *h = &l->hn;
	unsigned total = h->role == HARDNAT_SPRAY ? h->granted : h->want;

	if (h->phase != HARDNAT_RUNNING || !h->round_due || now_ms < h->batch_ms)
		return false;
	if (h->idx >= total) {
		h->round_due = false;
		h->round++;
		h->at_ms = now_ms + (h->role == HARDNAT_SPRAY ? HARDNAT_ROUND_MS : HARDNAT_PRIME_ROUND_MS);
		l->deadline_ms = now_ms;
		return false;
	}
	if (h->in_batch == HARDNAT_BATCH) { /* a pause between batches: no burst */
		h->in_batch = 0;
		h->batch_ms = now_ms + HARDNAT_BATCH_MS;
		if (h->batch_ms < l->deadline_ms)
			l->deadline_ms = h->batch_ms;
		return false;
	}
	int n = round_datagram(l, tx, buf, cap);
	h->idx++;
	h->in_batch++;
	if (n <= 0)
		return false;
	h->sent++;
	return true;
}

static void won(struct link *l, uint32_t base_id, const struct sockaddr *from, const char *how)
{
	struct hardnat *h = &l->hn;
	char a[ADDR_STRLEN];

	h->phase = HARDNAT_WON;
	h->won_base = base_id;
	h->round_due = false;
	log_info("peer %s: hard-NAT probing: a port met after %llu datagrams (%s on socket %u, from %s); the others "
		 "stop",
		 l->jid, (unsigned long long)h->sent, how, base_id - LINK_POOL_BASE, addr_format(from, true, a));
	link_queue_event(l, LINK_EV_POOL);
}

bool hardnat_input(struct link *l, uint32_t base_id, const struct sockaddr *from, const uint8_t *buf, size_t len,
		   uint64_t now_ms)
{
	struct hardnat *h = &l->hn;
	struct stun_msg m;
	(void)now_ms;

	if (h->role != HARDNAT_SPRAY || !link_base_is_pool(base_id) || stun_msg_parse(&m, buf, len) != 0)
		return false;
	if (m.cls == STUN_CLASS_REQUEST) {
		/* the peer's triggered check (signed with our password): ICE
		 * answers it; the port met */
		if (h->phase == HARDNAT_RUNNING &&
		    stun_check_integrity(&m, (const uint8_t *)l->lpwd, strlen(l->lpwd)) == 0)
			won(l, base_id, from, "the peer's check came in");
		return false;
	}
	for (unsigned r = 0; r < HARDNAT_ROUNDS && r <= h->round; r++)
		if (ice_agent_probe_answer(&l->ice, buf, len, h->tid[r])) {
			if (h->phase == HARDNAT_RUNNING)
				won(l, base_id, from, "our check was answered");
			return true;
		}
	return false;
}

void hardnat_selected(struct link *l, uint32_t base_id, bool relayed, uint64_t now_ms)
{
	struct hardnat *h = &l->hn;
	(void)now_ms;
	if (relayed || h->phase == HARDNAT_IDLE || h->phase == HARDNAT_OVER)
		return;
	if (h->phase == HARDNAT_WON && base_id == h->won_base) {
		log_info("peer %s: direct through the hard NAT (socket %u)", l->jid, base_id - LINK_POOL_BASE);
		return;
	}
	if (h->role == HARDNAT_PRIME) {
		log_info("peer %s: direct; the primed ports did their part", l->jid);
		h->phase = HARDNAT_OVER;
		return;
	}
	if (h->phase != HARDNAT_WON)
		finish(l, "a direct path was found otherwise");
}

unsigned hardnat_pool_want(const struct link *l)
{
	const struct hardnat *h = &l->hn;
	if (h->release || h->role != HARDNAT_SPRAY)
		return 0;
	if (h->phase == HARDNAT_POOL)
		return h->want;
	if (h->phase == HARDNAT_WON)
		return 1; /* the winning socket: the link's path */
	return h->phase == HARDNAT_RUNNING ? h->granted : 0;
}

uint32_t hardnat_pool_keep(const struct link *l)
{
	return l->hn.phase == HARDNAT_WON && !l->hn.release && !l->hn.kept ? l->hn.won_base : LINK_BASE_ANY;
}

void link_pool_granted(struct link *l, unsigned n, uint64_t now_ms)
{
	struct hardnat *h = &l->hn;

	h->release = false;
	if (h->phase != HARDNAT_POOL)
		return;
	if (n == 0) {
		finish(l, "no extra sockets (another link is probing, or none could be opened)");
		return;
	}
	h->granted = n;
	h->phase = HARDNAT_RUNNING;
	h->round = 0;
	h->end_ms = now_ms + (HARDNAT_ROUNDS + 1) * HARDNAT_ROUND_MS;
	start_round(h, now_ms);
	l->deadline_ms = now_ms;
	links_mark_dirty(l->tab, l);
}

void link_pool_kept(struct link *l, uint32_t base_id, uint16_t port, uint64_t now_ms)
{
	struct hardnat *h = &l->hn;
	struct ice_cand c;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = h->local_ip, .sin_port = htons(port) };

	h->granted = 0;
	if (!l->ice_on || h->phase != HARDNAT_WON || base_id != h->won_base || h->kept)
		return;
	h->kept = true;
	/* one more host candidate, its own foundation (the same address as
	 * the main socket's would freeze its pairs behind that one's) */
	if (ice_cand_init(&c, ICE_CAND_HOST, (struct sockaddr *)&sin, NULL, base_id, 65535 - LINK_MAX_HOSTS, NULL) < 0)
		return;
	snprintf(c.foundation, sizeof(c.foundation), "pool%u", (unsigned)port);
	ice_agent_add_local_candidate(&l->ice, &c, now_ms);
	l->deadline_ms = now_ms;
	links_mark_dirty(l->tab, l);
}
