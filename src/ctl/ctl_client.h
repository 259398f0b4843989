/* ipopctl's side of the control protocol (ctl_proto.h): connect to the
 * daemon's socket, send one request line, read and check the reply. */
#ifndef IPOP_CTL_CLIENT_H
#define IPOP_CTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

enum { CTL_CALL_TIMEOUT_MS = 5000, CTL_CALL_ERRLEN = 512 };

/* Sends req (one line, no newline) to the socket at path and reads the
 * whole reply (at most CTL_MAX_RESPONSE bytes) into a malloc'd,
 * NUL-terminated *out. Returns 0, or -errno: connect's errors, -ETIMEDOUT
 * when the daemon does not answer within timeout_ms, -EMSGSIZE for an
 * oversized reply. */
int ctl_client_request(const char *path, const char *req, int timeout_ms, char **out,
		       size_t *out_len);

/* ctl_client_request() plus the envelope: on success *result is the
 * reply's "result" (a new reference) and *truncated its "truncated" flag
 * (NULL to ignore). On failure err holds a one-line message for the user,
 * without the program name:
 *   -errno from connecting: "cannot connect to PATH: REASON (is ipopd running? use -s PATH)"
 *   -EREMOTEIO: the daemon's error text
 *   -EBADMSG / -EPROTO: a reply that is not JSON / not our protocol version */
int ctl_client_call(const char *path, const char *req, json_t **result, int *truncated, char *err,
		    size_t errlen);

#endif
