/* ipopd's control socket: a UNIX stream socket that answers one request
 * line per connection with one JSON reply (protocol in ctl_proto.h). It
 * never blocks the daemon: every socket is non-blocking, a reply that does
 * not fit the socket buffer is finished on later calls, and clients that
 * stall are dropped after CTL_CLIENT_TIMEOUT_MS.
 *
 * Use from an epoll loop:
 *   s = ctl_server_new(conf->control_socket, &ops, node);
 *   epoll_ctl(ep, EPOLL_CTL_ADD, ctl_server_fd(s), {EPOLLIN});
 *   on EPOLLIN, or when ctl_server_next_deadline(s) has passed:
 *       ctl_server_handle(s, now_ms);
 *   at exit: ctl_server_free(s);
 * ctl_server_fd() is an epoll descriptor of the server's own (listening
 * socket and clients), so the daemon registers one fd once. */
#ifndef IPOP_CTL_SERVER_H
#define IPOP_CTL_SERVER_H

#include <stdint.h>

#include "ctl_proto.h"

struct ctl_server;

/* Creates the socket at path with mode CTL_SOCKET_MODE, creating a
 * missing parent directory (0755). A stale socket left by a dead daemon is
 * replaced; a live one (a daemon answers) gives EADDRINUSE, and a path
 * that exists but is not a socket gives EEXIST, so nothing else is ever
 * deleted. Returns NULL with errno set, after logging why. ops is copied;
 * ctx is passed to every op. */
struct ctl_server *ctl_server_new(const char *path, const struct ctl_ops *ops, void *ctx);
/* Closes every client and the socket, and removes the socket file if it is
 * still the one this server created. NULL is ignored. */
void ctl_server_free(struct ctl_server *s);

int ctl_server_fd(const struct ctl_server *s);
/* Accepts, reads, answers and expires whatever is ready, without blocking.
 * now_ms is the caller's monotonic clock. */
void ctl_server_handle(struct ctl_server *s, uint64_t now_ms);
/* When the oldest client times out (monotonic ms), or UINT64_MAX. */
uint64_t ctl_server_next_deadline(const struct ctl_server *s);

struct ctl_server_stats {
	uint64_t requests, errors, dropped, timeouts;
	unsigned clients; /* connected now */
};
void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out);

#endif
