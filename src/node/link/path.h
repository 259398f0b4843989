/* Path diagnostics for ipopctl: why a link is not direct. */
#ifndef IPOP_PATH_H
#define IPOP_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct link;

/* What the node knows about its own reachability (from its bases). */
struct path_env {
	bool udp_blocked;    /* UDP got no answer; only TCP/TLS to the relay works */
	bool have_srflx;     /* a STUN server told us our public address */
	bool stun_timed_out; /* the last STUN round: every server was silent */
};

/* "" when the path is direct; else a short reason, e.g. "no
 * server-reflexive candidate", "checks to srflx pairs timed out", "UDP
 * blocked". */
void path_why_not_direct(const struct link *l, const struct path_env *env, char *buf, size_t cap);
/* "" or the pairs that passed small checks but not the full-size one,
 * "host A -> host B: full-size packets lost; ...", for ipopctl. */
void path_refused(const struct link *l, char *buf, size_t cap);

#endif
