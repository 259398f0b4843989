/* Friend -> address map of SocialVPN mode (see social_map.h). */
#include "social_map.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void social_map_init(struct social_map *m, struct in_addr own, unsigned prefix)
{
	memset(m, 0, sizeof(*m));
	m->own = ntohl(own.s_addr);
	m->mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
}

void social_map_free(struct social_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].bare);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

const char *social_map_check_addr(const struct social_map *m, struct in_addr ip)
{
	uint32_t a = ntohl(ip.s_addr), host = a & ~m->mask;
	if ((a & m->mask) != (m->own & m->mask))
		return "outside this node's subnet";
	if (host == 0 || host == ~m->mask)
		return "the subnet's network or broadcast address";
	if (a == m->own)
		return "this node's own address";
	return NULL;
}

const struct social_map_entry *social_map_find(const struct social_map *m, const char *bare)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].bare, bare) == 0)
			return &m->e[i];
	return NULL;
}

const struct social_map_entry *social_map_by_addr(const struct social_map *m, struct in_addr ip)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].ip4.s_addr == ip.s_addr)
			return &m->e[i];
	return NULL;
}

static void drop_at(struct social_map *m, size_t i)
{
	free(m->e[i].bare);
	m->e[i] = m->e[--m->n];
}

static int add(struct social_map *m, const char *bare, struct in_addr ip, bool pinned)
{
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		struct social_map_entry *e = realloc(m->e, ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->e = e;
		m->cap = ncap;
	}
	char *dup = strdup(bare);
	if (!dup)
		return -ENOMEM;
	m->e[m->n++] = (struct social_map_entry){ dup, ip, pinned };
	return 0;
}

/* Sets bare -> ip; a pin takes the address from an unpinned holder, a
 * saved entry never takes anything. */
static int set(struct social_map *m, const char *bare, struct in_addr ip, bool pinned)
{
	if (social_map_check_addr(m, ip))
		return -EINVAL;
	const struct social_map_entry *holder = social_map_by_addr(m, ip);
	if (holder && strcmp(holder->bare, bare) != 0) {
		if (holder->pinned || !pinned)
			return -EEXIST;
		drop_at(m, (size_t)(holder - m->e));
	}
	struct social_map_entry *e = (struct social_map_entry *)social_map_find(m, bare);
	if (e) {
		if (e->pinned && !pinned)
			return 0; /* the pin wins over a saved entry */
		e->ip4 = ip;
		e->pinned = pinned;
		return 0;
	}
	return add(m, bare, ip, pinned);
}

int social_map_pin(struct social_map *m, const char *bare, struct in_addr ip)
{
	return set(m, bare, ip, true);
}

static bool plausible_jid(const char *s)
{
	const char *at = strchr(s, '@');
	return at && at != s && at[1] && !strchr(at + 1, '@') && !strchr(s, '/') && strlen(s) < 768;
}

static const char *parse_line(struct social_map *m, char *line, bool pinned)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *save = NULL, *jid = strtok_r(line, " \t\r\n", &save);
	if (!jid)
		return NULL; /* blank */
	char *addr = strtok_r(NULL, " \t\r\n", &save);
	struct in_addr ip;
	if (!addr || strtok_r(NULL, " \t\r\n", &save))
		return "expected \"user@domain ADDRESS\"";
	if (!plausible_jid(jid))
		return "not a bare JID";
	if (inet_pton(AF_INET, addr, &ip) != 1)
		return "not an IPv4 address";
	const char *why = social_map_check_addr(m, ip);
	if (why)
		return why;
	int rc = set(m, jid, ip, pinned);
	return rc == -EEXIST ? "address already taken by another friend" : rc ? strerror(-rc) : NULL;
}

int social_map_load(struct social_map *m, const char *path, bool pinned, FILE *diag)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char line[1024];
	int bad = 0;
	for (unsigned no = 1; fgets(line, sizeof(line), f); no++) {
		const char *why = m->n >= SOCIAL_MAP_MAX ? "too many entries" : parse_line(m, line, pinned);
		if (why) {
			bad++;
			if (diag)
				fprintf(diag, "%s:%u: %s; line ignored\n", path, no, why);
		}
	}
	fclose(f);
	return bad;
}

int social_map_save(const struct social_map *m, const char *path)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "# ipopd SocialVPN map: friend -> address in this node's subnet (rewritten by ipopd)\n");
	for (size_t i = 0; i < m->n; i++) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &m->e[i].ip4, a, sizeof(a));
		fprintf(f, "%s %s\n", m->e[i].bare, a);
	}
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int social_map_assign(struct social_map *m, const char *bare, struct in_addr *out)
{
	const struct social_map_entry *e = social_map_find(m, bare);
	if (e) {
		*out = e->ip4;
		return 0;
	}
	uint32_t net = m->own & m->mask, size = ~m->mask + 1u;
	for (uint32_t k = 1; k < size; k++) {
		uint32_t host = ((m->own & ~m->mask) + k) & ~m->mask;
		struct in_addr ip = { htonl(net | host) };
		if (social_map_check_addr(m, ip) || social_map_by_addr(m, ip))
			continue;
		int rc = add(m, bare, ip, false);
		if (rc)
			return rc;
		*out = ip;
		return 1;
	}
	return -ENOSPC;
}
