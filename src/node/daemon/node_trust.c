/* The trust file and the address map on disk (the rules are the link
 * room's trust.h): loaded at start, the trust file written atomically
 * (a temporary file, mode 0600, fsync, rename) a moment after pins or
 * owners change, and at exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_file.h"
#include "log.h"
#include "node.h"

enum {
	TRUST_FILE_MAX = 8 << 20,  /* pins and owners of a large group fit well under this */
	TRUST_SAVE_DELAY_MS = 2000, /* changes in a burst are written once */
};

typedef const char *(*line_fn)(void *ctx, const char *line);

/* Every line of path through fn; bad lines are reported as FILE:LINE.
 * Returns how many lines were refused, or -errno when it cannot be read. */
static int read_lines(const char *path, line_fn fn, void *ctx, bool fatal)
{
	struct conf_file f;
	const char *why;
	int bad = 0, rc = conf_file_read(path, TRUST_FILE_MAX, &f, &why);

	if (rc < 0) {
		if (rc != -ENOENT || fatal)
			log_error("%s: %s", path, why ? why : strerror(-rc));
		return rc;
	}
	unsigned lineno = 0;
	for (char *p = f.text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		size_t n = strlen(p);
		if (n && p[n - 1] == '\r')
			p[n - 1] = '\0';
		const char *err = fn(ctx, p);
		if (err) {
			if (fatal)
				log_error("%s:%u: %s", path, lineno, err);
			else
				log_warn("%s:%u: %s; line skipped", path, lineno, err);
			bad++;
		}
		p = nl ? nl + 1 : NULL;
	}
	free(f.text);
	return bad;
}

static const char *state_line(void *ctx, const char *line)
{
	return trust_parse_line(ctx, line);
}

static const char *map_line(void *ctx, const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return NULL;
	return owners_map_line(ctx, line);
}

int node_trust_open(struct node *n)
{
	const struct node_conf *c = n->conf;
	struct trust *tr = &n->trust;

	trust_init(tr, !n->social_on, c->ip4, c->ip4_mask);
	if (c->has_ip6 && !n->social_on) /* IPv6 claims are judged too */
		owners_set_ip6(&tr->owners, &c->ip6, c->ip6_mask);
	if (c->address_map_file && !n->social_on) {
		int bad = read_lines(c->address_map_file, map_line, &tr->owners, true);
		if (bad != 0) {
			log_error("address map %s: %s; not starting", c->address_map_file,
				  bad < 0 ? "cannot be read" : "has errors");
			return -EINVAL;
		}
		log_info("address map %s: %zu address(es), only mapped claims are accepted", c->address_map_file,
			 tr->owners.n);
	}
	int bad = read_lines(c->trust_file, state_line, tr, false);
	if (bad >= 0 || bad == -ENOENT)
		log_info("trust file %s: %zu pinned node id(s), %zu address owner(s)%s", c->trust_file, tr->pins.n,
			 tr->owners.n, bad == -ENOENT ? " (new)" : "");
	trust_saved(tr);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int node_trust_save(struct node *n)
{
	const char *path = n->conf->trust_file;
	char tmp[4200], line[PINS_LINE_MAX + 64];
	size_t cur = 0;
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		rc = -errno;
		log_warn("trust file %s: cannot write: %s", path, strerror(-rc));
		return rc;
	}
	while (rc == 0 && trust_next_line(&n->trust, &cur, line, sizeof(line)))
		rc = write_all(fd, line, strlen(line));
	if (rc == 0 && fchmod(fd, 0600) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		log_warn("trust file %s: cannot write: %s", path, strerror(-rc));
		return rc;
	}
	trust_saved(&n->trust);
	return 0;
}

uint64_t node_trust_tick(struct node *n, uint64_t now_ms)
{
	if (!trust_dirty(&n->trust)) {
		n->trust_save_ms = 0;
		return UINT64_MAX;
	}
	if (!n->trust_save_ms)
		n->trust_save_ms = now_ms + TRUST_SAVE_DELAY_MS;
	if (now_ms < n->trust_save_ms)
		return n->trust_save_ms;
	n->trust_save_ms = 0;
	if (node_trust_save(n) < 0)
		n->trust_save_ms = now_ms + 60000; /* try again later */
	return n->trust_save_ms ? n->trust_save_ms : UINT64_MAX;
}

int64_t node_trust_now_s(void)
{
	return (int64_t)(evloop_wall_ns() / 1000000000u);
}
