/* JSON views of the status records (field list: docs/ipopctl.md), and the
 * request dispatcher: one request line in, one reply document out, with no
 * I/O, so the socket code and the tests share it. */
#ifndef IPOP_CTL_JSON_H
#define IPOP_CTL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl_proto.h"

const char *ctl_xmpp_state_name(enum ctl_xmpp_state st);
const char *ctl_peer_state_name(enum ctl_peer_state st);
const char *ctl_path_name(enum ctl_path p);          /* NULL for NONE */
const char *ctl_cand_type_name(enum ctl_cand_type t); /* NULL for NONE */
const char *ctl_reach_name(enum ctl_reach r);

/* New references, or NULL when out of memory. */
json_t *ctl_json_node_status(const struct ctl_node_status *st);
json_t *ctl_json_peer(const struct ctl_peer_status *p);
json_t *ctl_json_friend(const struct ctl_friend_status *f);
json_t *ctl_json_pin(const struct ctl_pin *p);
json_t *ctl_json_owner(const struct ctl_owner *o);
json_t *ctl_json_member(const struct ctl_member_status *m);

/* Parses one request (line without its newline, len bytes, not
 * NUL-terminated), runs it through ops and returns the reply as a
 * malloc'd, newline-terminated compact JSON text of *out_len bytes (at
 * most CTL_MAX_RESPONSE). Never NULL unless memory runs out; a bad
 * request gets an error reply. *is_error tells which kind it is. */
char *ctl_json_dispatch(const struct ctl_ops *ops, void *ctx, const char *req, size_t len,
			size_t *out_len, int *is_error);
/* The same for a caller who may (root, the daemon's user) or may not
 * change state: without may_change, "friend ..." and "pin forget" are refused. The socket
 * server passes what SO_PEERCRED says; ctl_json_dispatch trusts. */
char *ctl_json_dispatch_as(const struct ctl_ops *ops, void *ctx, const char *req, size_t len, bool may_change,
			   size_t *out_len, int *is_error);
/* The reply for an error found before dispatching (oversized request...). */
char *ctl_json_error_reply(const char *msg, size_t *out_len);

#endif
