#include "ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_json.h"
#include "log.h"

/* ipopctl is run by hand or by scripts: a handful of concurrent clients is
 * plenty, and more are refused rather than queued. */
enum { CTL_MAX_CLIENTS = 16, CTL_LISTEN_BACKLOG = 16, CTL_EVENTS = 32, CTL_LISTEN_ID = CTL_MAX_CLIENTS };

struct ctl_client {
	int fd; /* -1: slot free */
	uint64_t deadline;
	size_t in_len;
	bool may_change; /* SO_PEERCRED: root or the daemon's own user */
	char *out; /* the reply, once the request line is complete */
	size_t out_len, out_off;
	char in[CTL_MAX_REQUEST];
};

struct ctl_server {
	int ep, lfd;
	bool listen_paused;
	char *path;
	dev_t dev; /* of the socket file, to remove only our own at exit */
	ino_t ino;
	struct ctl_ops ops;
	void *ctx;
	struct ctl_server_stats st;
	struct ctl_client cl[CTL_MAX_CLIENTS];
};

static struct log_ratelimit ctl_rl = LOG_RATELIMIT_INIT(5, 10000);

/* ---- creating the socket ---- */

static int ctl_fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, n);
	return 0;
}

/* The run directory (/run/ipop) is usually missing after boot. Only the
 * last level is created: a missing grandparent is a configuration error. */
static int ctl_make_parent(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	const char *dir = dirname(copy);
	int rc = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		rc = -errno;
	free(copy);
	return rc;
}

/* A socket file nobody listens on is left by a daemon that died; one that
 * answers belongs to a running daemon, which we must not hijack. */
static int ctl_remove_stale(const struct sockaddr_un *sun)
{
	struct stat sb;
	if (lstat(sun->sun_path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int e = errno;
	close(fd);
	/* EAGAIN: a live listener with a full backlog. */
	if (rc == 0 || e == EAGAIN)
		return -EADDRINUSE;
	if (e != ECONNREFUSED)
		return -e;
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	log_info("ctl: removed stale control socket %s", sun->sun_path);
	return 0;
}

/* Binds with a umask that gives exactly CTL_SOCKET_MODE, so the socket is
 * never reachable with wider permissions, even briefly. */
static int ctl_bind_listen(struct ctl_server *s, const struct sockaddr_un *sun)
{
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0)
		return -errno;
	mode_t old = umask(0777 & ~CTL_SOCKET_MODE);
	int rc = bind(s->lfd, (const struct sockaddr *)sun, sizeof(*sun));
	int e = errno;
	umask(old);
	if (rc < 0)
		return -e;
	struct stat sb;
	if (chmod(sun->sun_path, CTL_SOCKET_MODE) < 0 || stat(sun->sun_path, &sb) < 0)
		return -errno;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	if (listen(s->lfd, CTL_LISTEN_BACKLOG) < 0)
		return -errno;
	return 0;
}

static int ctl_server_open(struct ctl_server *s, const char *path)
{
	struct sockaddr_un sun;
	int rc = ctl_fill_sun(&sun, path);
	if (rc == 0)
		rc = ctl_make_parent(path);
	if (rc == 0)
		rc = ctl_remove_stale(&sun);
	if (rc == 0)
		rc = ctl_bind_listen(s, &sun);
	if (rc < 0)
		return rc;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = CTL_LISTEN_ID };
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) < 0)
		return -errno;
	return 0;
}

struct ctl_server *ctl_server_new(const char *path, const struct ctl_ops *ops, void *ctx)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->ep = s->lfd = -1;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	s->ops = *ops;
	s->ctx = ctx;
	int rc = ctl_server_open(s, path);
	if (rc < 0) {
		log_error("ctl: control socket %s: %s", path,
			  rc == -EADDRINUSE ? "in use by a running daemon" :
			  rc == -EEXIST ? "exists and is not a socket" : strerror(-rc));
		bool created = s->dev || s->ino;
		if (!created)
			s->path[0] = '\0'; /* someone else's file: never unlink it */
		ctl_server_free(s);
		errno = -rc;
		return NULL;
	}
	log_info("ctl: listening on %s", path);
	return s;
}

/* ---- clients ---- */

/* With every slot taken, further clients wait in the listen backlog (their
 * connect blocks, within ipopctl's timeout) instead of being refused; the
 * listening socket leaves the epoll set meanwhile so it cannot spin. */
static void ctl_listen_pause(struct ctl_server *s, bool pause)
{
	if (s->listen_paused == pause)
		return;
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.u32 = CTL_LISTEN_ID };
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, s->lfd, &ev) == 0)
		s->listen_paused = pause;
}

/* Closing a UNIX socket with unread input resets the peer, which may then
 * miss the end of our reply; so the rest of an oversized request is
 * discarded first, up to a bound (more than that is the client's fault). */
static void ctl_client_drain(int fd)
{
	char junk[4096];
	for (int i = 0; i < 16; i++) {
		if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			return;
	}
}

static void ctl_client_close(struct ctl_server *s, struct ctl_client *c)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	ctl_client_drain(c->fd);
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->in_len = c->out_len = c->out_off = 0;
	s->st.clients--;
	ctl_listen_pause(s, false);
}

/* The socket's mode lets its group read; changing state (friend add...)
 * takes root or the user the daemon runs as. */
static bool ctl_peer_may_change(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof(cr))
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void ctl_accept(struct ctl_server *s, uint64_t now_ms)
{
	for (;;) {
		unsigned i = 0;
		while (i < CTL_MAX_CLIENTS && s->cl[i].fd >= 0)
			i++;
		if (i == CTL_MAX_CLIENTS) {
			ctl_listen_pause(s, true);
			return;
		}
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    log_ratelimit_ok(&ctl_rl, now_ms))
				log_warn("ctl: accept: %s", strerror(errno));
			return;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			s->st.dropped++;
			close(fd);
			continue;
		}
		s->cl[i].fd = fd;
		s->cl[i].may_change = ctl_peer_may_change(fd);
		s->cl[i].deadline = now_ms + CTL_CLIENT_TIMEOUT_MS;
		s->st.clients++;
	}
}

/* Sends what the socket takes; the rest waits for EPOLLOUT. Closes the
 * connection once the reply is out or the client went away. */
static void ctl_client_flush(struct ctl_server *s, struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)(c - s->cl) };
			if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
				return;
		}
		if (n <= 0) {
			s->st.dropped++;
			break;
		}
		c->out_off += (size_t)n;
	}
	ctl_client_close(s, c);
}

static void ctl_client_answer(struct ctl_server *s, struct ctl_client *c, size_t line_len,
			      const char *pre_error)
{
	int is_error = 1;
	if (pre_error)
		c->out = ctl_json_error_reply(pre_error, &c->out_len);
	else
		c->out = ctl_json_dispatch_as(&s->ops, s->ctx, c->in, line_len, c->may_change, &c->out_len,
					      &is_error);
	s->st.requests++;
	s->st.errors += is_error != 0;
	if (!c->out) {
		ctl_client_close(s, c);
		return;
	}
	c->out_off = 0;
	ctl_client_flush(s, c);
}

static void ctl_client_read(struct ctl_server *s, struct ctl_client *c)
{
	for (;;) {
		size_t room = sizeof(c->in) - c->in_len;
		if (room == 0) {
			ctl_client_answer(s, c, 0, "request too long");
			return;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0 && c->in_len > 0) { /* half-closed: EOF ends the line */
			ctl_client_answer(s, c, c->in_len, NULL);
			return;
		}
		if (n <= 0) {
			ctl_client_close(s, c);
			return;
		}
		const char *nl = memchr(c->in + c->in_len, '\n', (size_t)n);
		c->in_len += (size_t)n;
		if (nl) { /* anything after the first line is ignored */
			ctl_client_answer(s, c, (size_t)(nl - c->in), NULL);
			return;
		}
	}
}

static void ctl_client_event(struct ctl_server *s, struct ctl_client *c, uint32_t events)
{
	if (c->out)
		ctl_client_flush(s, c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ctl_client_read(s, c);
}

static void ctl_expire(struct ctl_server *s, uint64_t now_ms)
{
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (s->cl[i].fd >= 0 && s->cl[i].deadline <= now_ms) {
			s->st.timeouts++;
			ctl_client_close(s, &s->cl[i]);
		}
	}
}

void ctl_server_handle(struct ctl_server *s, uint64_t now_ms)
{
	struct epoll_event evs[CTL_EVENTS];
	int n = epoll_wait(s->ep, evs, CTL_EVENTS, 0);
	for (int i = 0; i < n; i++) {
		uint32_t id = evs[i].data.u32;
		if (id == CTL_LISTEN_ID)
			ctl_accept(s, now_ms);
		else if (id < CTL_MAX_CLIENTS && s->cl[id].fd >= 0)
			ctl_client_event(s, &s->cl[id], evs[i].events);
	}
	ctl_expire(s, now_ms);
}

uint64_t ctl_server_next_deadline(const struct ctl_server *s)
{
	uint64_t d = UINT64_MAX;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (s->cl[i].fd >= 0 && s->cl[i].deadline < d)
			d = s->cl[i].deadline;
	}
	return d;
}

int ctl_server_fd(const struct ctl_server *s)
{
	return s->ep;
}

void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out)
{
	*out = s->st;
}

void ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (s->cl[i].fd >= 0)
			ctl_client_close(s, &s->cl[i]);
	}
	struct stat sb;
	if (s->lfd >= 0 && s->path[0] && stat(s->path, &sb) == 0 && sb.st_dev == s->dev &&
	    sb.st_ino == s->ino)
		unlink(s->path);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->ep >= 0)
		close(s->ep);
	free(s->path);
	free(s);
}
