/* Sessions through the overlay, and when to end them (sans-IO).
 *
 * The first packet for a member without a direct link creates an
 * end-to-end session with it (a link whose path is the overlay). Such a
 * session costs a slot of the node's link table and its Noise state, so
 * it must not outlive its use: this table follows every session's
 * traffic, fed once a second by the caller, and names the ones to end:
 *  - idle: no data either way for idle_s (OV_SESSION_IDLE_S by default;
 *    by then its keys expired anyway, SESSION_REJECT_AFTER_TIME_MS, so the
 *    next packet needs a new handshake whether the session stays or not);
 *  - its member left the group and it carried nothing for
 *    OV_SESSION_GONE_S (an XMPP failover does not end a busy session);
 *  - the table is full (cap sessions) and a new one starts: the least
 *    recently used goes, so members coming and going never fill it.
 * A new session that finds the table full and the queue of endings full
 * as well is not admitted now; it is offered again at the next report.
 * Owns no link, socket or clock. */
#ifndef IPOP_OV_SESSIONS_H
#define IPOP_OV_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	OV_SESSION_ID_LEN = 20,
	OV_SESSION_IDLE_S = 300, /* > the 180 s after which its keys are dead */
	OV_SESSION_GONE_S = 60,
	OV_SESSION_ENDQ = 16,    /* endings waiting for the caller */
};

struct ov_session {
	uint8_t id[OV_SESSION_ID_LEN];
	uint64_t used_ms;  /* last report with data (or creation) */
	uint64_t gone_ms;  /* its member left (0: a member) */
};

struct ov_sessions_stats {
	uint64_t opened, idle, gone, evicted, deferred;
};

struct ov_sessions {
	struct ov_session *s;
	size_t n, cap;
	unsigned idle_s;
	uint8_t endq[OV_SESSION_ENDQ][OV_SESSION_ID_LEN];
	unsigned nend;
	uint64_t next_scan_ms;
	struct ov_sessions_stats st;
};

/* cap: sessions at most (>= 1); idle_s: 0 for OV_SESSION_IDLE_S. 0 or -ENOMEM. */
int ov_sessions_init(struct ov_sessions *t, size_t cap, unsigned idle_s);
void ov_sessions_free(struct ov_sessions *t);
/* A session to id exists; bytes of data it carried since the last report
 * (0: none). False when it could not be admitted (see above). */
bool ov_sessions_used(struct ov_sessions *t, const uint8_t id[OV_SESSION_ID_LEN], uint64_t bytes,
		      uint64_t now_ms);
/* The session ended for another reason (removed, or moved to a direct
 * link): forgotten, no ending is asked for. */
void ov_sessions_gone(struct ov_sessions *t, const uint8_t id[OV_SESSION_ID_LEN]);
/* id's member left the group (online false) or is back. */
void ov_sessions_member(struct ov_sessions *t, const uint8_t id[OV_SESSION_ID_LEN], bool online, uint64_t now_ms);
/* The next session to end (copied to id), or false. */
bool ov_sessions_poll_end(struct ov_sessions *t, uint8_t id[OV_SESSION_ID_LEN], uint64_t now_ms);
size_t ov_sessions_count(const struct ov_sessions *t);

#endif
