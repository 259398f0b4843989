/* A link's round-trip time, measured on its data path: a ping sealed in
 * the tunnel (struct tunnel_probe) leaves on the link's current path, the
 * peer answers with a pong at once, and the time between the two is one
 * sample. Every up link whose peer answers probes is measured, direct or
 * relayed, the first time LINK_RTT_FIRST_MS after it came up (past the
 * burst of its setup), then every LINK_RTT_PROBE_MS while data packets
 * move either way and every LINK_RTT_IDLE_PROBE_MS once none has for
 * LINK_RTT_IDLE_AFTER_MS: an idle group of hundreds of links would
 * otherwise wake every node several times a second for probes alone.
 * When data moves again the next ping goes within LINK_RTT_PROBE_MS. A
 * move to another path starts the estimate over (and counts as busy).
 *
 * Probes are timed in microseconds, given as input like every other time:
 * the caller says when a probe leaves (link_poll_probe, just before it
 * sends it) and when a pong arrived (link_probe_rx, the time its batch
 * was received). The link reads no clock.
 *
 * A sample R is first the median of the last three round trips (of two,
 * the smaller), so that one late answer (the peer's thread was not
 * scheduled, a burst queued before it) does not count, then smoothed like
 * TCP's SRTT (RFC 6298 2.2-2.3): srtt += (R - srtt)/8 and rttvar +=
 * (|srtt - R| - rttvar)/4; until three round trips are known, srtt = R
 * and rttvar = R/2, so one slow first answer does not linger for a
 * minute. The last round trip, the smallest and when the last one was
 * taken are kept too, for ipopctl and /metrics. */
#ifndef IPOP_LINK_RTT_H
#define IPOP_LINK_RTT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	LINK_RTT_PROBE_MS = 2000,       /* a ping this often on a link that carries data */
	LINK_RTT_IDLE_PROBE_MS = 30000, /* ...and this often on an idle one */
	LINK_RTT_IDLE_AFTER_MS = 10000, /* idle: no data packet either way for this long */
	LINK_RTT_FIRST_MS = 1000,       /* the first one this long after the link came up */
};

/* The smoothed estimate, usable on its own (pure). */
struct rtt_est {
	uint64_t samples;  /* 0: not measured (the other members are 0) */
	uint64_t srtt_us, rttvar_us, last_us, min_us;
	uint64_t at_ms;    /* when the last sample was taken (monotonic ms) */
	uint64_t recent[3]; /* the last round trips, newest first */
};

void rtt_est_reset(struct rtt_est *e);
void rtt_est_sample(struct rtt_est *e, uint64_t sample_us, uint64_t now_ms);

struct link_rtt {
	struct rtt_est est;
	uint64_t next_ms;   /* the next ping is due (0: as soon as the link is up) */
	uint64_t data_seen; /* the link's tx + rx data packets at the last tick... */
	uint64_t data_ms;   /* ...and when that last changed */
	bool ping_due;
	uint32_t seq;       /* of the last ping sent */
	uint64_t sent_us;   /* when it left; 0: no ping awaits its pong */
	bool pong_owed;
	uint32_t pong_seq;
	/* the path the estimate is about */
	bool have_path;
	uint32_t base_id;
	struct sockaddr_in endpoint;
	uint64_t pings_tx, pongs_rx, pongs_tx, pongs_stale;
};

struct link;
struct link_tx;

/* From link_handle_timeout: is a ping due? Lowers *deadline to the next. */
void link_rtt_tick(struct link *l, uint64_t now_ms, uint64_t *deadline);
/* A probe to send now (a pong owed, else a ping due), sealed into buf
 * (cap bytes, at least TUNNEL_DATA_MIN_LEN + TUNNEL_PROBE_LEN) for the
 * link's path. now_us: the time it leaves. Call it after
 * link_poll_transmit() until it returns false. */
bool link_poll_probe(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_us);
/* Whether an opened data payload is a probe rather than an IP packet. */
bool link_probe_is(const uint8_t *payload, size_t len);
/* An authenticated probe from the peer, received at now_us. */
void link_probe_rx(struct link *l, const uint8_t *payload, size_t len, uint64_t now_us);

#endif
