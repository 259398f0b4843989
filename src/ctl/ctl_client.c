#include "ctl_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"

static int ctl_client_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A wedged daemon must not hang scripts: both directions time out. */
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno == EAGAIN ? ETIMEDOUT : errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int ctl_client_send(int fd, const char *req)
{
	size_t n = strlen(req);
	if (n + 1 > CTL_MAX_REQUEST || memchr(req, '\n', n))
		return -EINVAL;
	char line[CTL_MAX_REQUEST];
	memcpy(line, req, n);
	line[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, line + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		off += (size_t)w;
	}
	return 0;
}

static int ctl_client_recv(int fd, char **out, size_t *out_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > CTL_MAX_RESPONSE) {
				free(buf);
				return -EMSGSIZE;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ECONNRESET && len > 0)
			break; /* the daemon closed with our input unread: the reply is whole */
		if (r < 0) {
			int e = errno == EAGAIN ? ETIMEDOUT : errno;
			free(buf);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int ctl_client_request(const char *path, const char *req, int timeout_ms, char **out,
		       size_t *out_len)
{
	int fd = ctl_client_connect(path, timeout_ms);
	if (fd < 0)
		return fd;
	int rc = ctl_client_send(fd, req);
	if (rc == 0)
		rc = ctl_client_recv(fd, out, out_len);
	close(fd);
	return rc;
}

/* Checks the envelope; steals nothing from reply. */
static int ctl_client_unwrap(json_t *reply, json_t **result, int *truncated, char *err,
			     size_t errlen)
{
	if (!json_is_object(reply)) {
		snprintf(err, errlen, "the daemon's reply is not a JSON object");
		return -EBADMSG;
	}
	json_t *v = json_object_get(reply, "version");
	if (!json_is_integer(v) || json_integer_value(v) != CTL_PROTO_VERSION) {
		snprintf(err, errlen, "the daemon speaks another control protocol version "
				      "(ipopctl and ipopd are from different builds?)");
		return -EPROTO;
	}
	json_t *e = json_object_get(reply, "error");
	if (e) {
		snprintf(err, errlen, "%s", json_is_string(e) ? json_string_value(e) : "error");
		return -EREMOTEIO;
	}
	json_t *r = json_object_get(reply, "result");
	if (!r) {
		snprintf(err, errlen, "the daemon's reply has no result");
		return -EBADMSG;
	}
	if (truncated)
		*truncated = json_is_true(json_object_get(reply, "truncated"));
	*result = json_incref(r);
	return 0;
}

int ctl_client_call(const char *path, const char *req, json_t **result, int *truncated, char *err,
		    size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	*result = NULL;
	int rc = ctl_client_request(path, req, CTL_CALL_TIMEOUT_MS, &text, &len);
	if (rc == -ETIMEDOUT || rc == -EMSGSIZE) {
		snprintf(err, errlen, "no complete reply from %s: %s", path, strerror(-rc));
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s (is ipopd running? use -s PATH)", path,
			 strerror(-rc));
		return rc;
	}
	json_error_t je;
	json_t *reply = json_loadb(text, len, 0, &je);
	free(text);
	if (!reply) {
		snprintf(err, errlen, "the daemon's reply is not JSON: %s", je.text);
		return -EBADMSG;
	}
	rc = ctl_client_unwrap(reply, result, truncated, err, errlen);
	json_decref(reply);
	return rc;
}
