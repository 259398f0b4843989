/* Why a link is not direct, in words for `ipopctl peers`: from what the
 * node knows about its own candidates (STUN answered? UDP blocked?), the
 * peer's candidates, and the state of the ICE pairs that would be direct
 * (neither side relayed). */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "link.h"
#include "path.h"

struct direct_pairs {
	unsigned total, failed, pending, timed_out, mtu;
	unsigned to_srflx; /* direct pairs whose remote is srflx/prflx */
	unsigned to_srflx_timed_out;
};

static void count_direct(const struct ice_agent *a, struct direct_pairs *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < ice_agent_pair_count(a); i++) {
		struct ice_pair_info pi;
		if (ice_agent_pair_info(a, i, &pi) != 0 || pi.local.type == ICE_CAND_RELAY ||
		    pi.remote.type == ICE_CAND_RELAY)
			continue;
		bool refl = pi.remote.type == ICE_CAND_SRFLX || pi.remote.type == ICE_CAND_PRFLX;
		d->total++;
		d->to_srflx += refl;
		/* a failed pair being checked again keeps its last error */
		if (pi.state == ICE_PAIR_FAILED || (pi.state != ICE_PAIR_SUCCEEDED && pi.err != ICE_ERR_NONE)) {
			d->failed++;
			if (pi.err == ICE_ERR_TIMEOUT) {
				d->timed_out++;
				d->to_srflx_timed_out += refl;
			}
			d->mtu += pi.err == ICE_ERR_MTU;
		} else if (pi.state != ICE_PAIR_SUCCEEDED) {
			d->pending++;
		}
	}
}

static bool remote_has_srflx(const struct ice_agent *a)
{
	for (unsigned i = 0; i < a->nremote; i++)
		if (a->remote[i].type == ICE_CAND_SRFLX || a->remote[i].type == ICE_CAND_PRFLX)
			return true;
	return false;
}

void path_refused(const struct link *l, char *buf, size_t cap)
{
	size_t off = 0;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	buf[0] = '\0';
	for (unsigned i = 0; l->ice_on && i < ice_agent_pair_count(&l->ice) && off < cap; i++) {
		struct ice_pair_info pi;
		if (ice_agent_pair_info(&l->ice, i, &pi) != 0 || pi.err != ICE_ERR_MTU)
			continue;
		int n = snprintf(buf + off, cap - off, "%s%s %s -> %s %s: %s", off ? "; " : "",
				 ice_cand_type_name(pi.local.type),
				 addr_format((const struct sockaddr *)&pi.local.addr, true, a),
				 ice_cand_type_name(pi.remote.type),
				 addr_format((const struct sockaddr *)&pi.remote.addr, true, b), ice_pair_err_name(pi.err));
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

void path_why_not_direct(const struct link *l, const struct path_env *e, char *buf, size_t cap)
{
	struct direct_pairs d;

	buf[0] = '\0';
	if (l->have_path && !link_path_relayed(l))
		return;
	if (e->udp_blocked && !e->have_srflx) {
		snprintf(buf, cap, "UDP blocked (only TCP/TLS to the relay works)");
		return;
	}
	if (!l->ice_on) {
		snprintf(buf, cap, "no ICE session");
		return;
	}
	count_direct(&l->ice, &d);
	if (d.pending) {
		snprintf(buf, cap, "checks to direct pairs in progress (%u of %u pending)", d.pending, d.total);
		return;
	}
	if (!e->have_srflx) {
		snprintf(buf, cap, "no server-reflexive candidate%s",
			 e->stun_timed_out ? " (STUN servers did not answer)" : "");
		return;
	}
	if (!remote_has_srflx(&l->ice)) {
		snprintf(buf, cap, "peer has no server-reflexive candidate");
		return;
	}
	if (d.mtu)
		snprintf(buf, cap, "%u of %u direct pairs pass small checks but lose full-size packets", d.mtu,
			 d.total);
	else if (d.to_srflx && d.to_srflx_timed_out == d.to_srflx)
		snprintf(buf, cap, "checks to srflx pairs timed out");
	else if (d.total && d.failed == d.total)
		snprintf(buf, cap, "all %u direct pairs failed", d.total);
	else
		snprintf(buf, cap, "no direct pair succeeded yet");
}
