#include "addr.h"
#include "hash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > 65535 || *s == '-' || *s == '+')
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int parse_ip(const char *host, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return 0;
	}
	return -EINVAL;
}

int addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *out)
{
	char host[ADDR_STRLEN];
	uint16_t port = default_port;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1)
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (close[1] == ':') {
			if (parse_port(close + 2, &port))
				return -EINVAL;
		} else if (close[1] != '\0') {
			return -EINVAL;
		}
		return parse_ip(host, port, out) == 0 && out->ss_family == AF_INET6 ? 0 : -EINVAL;
	}
	const char *colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':') == NULL) { /* exactly one colon: v4:port */
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (parse_port(colon + 1, &port))
			return -EINVAL;
		return parse_ip(host, port, out) == 0 && out->ss_family == AF_INET ? 0 : -EINVAL;
	}
	memcpy(host, s, n + 1);
	return parse_ip(host, port, out);
}

const char *addr_format(const struct sockaddr *sa, bool with_port, char buf[ADDR_STRLEN])
{
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		if (with_port)
			snprintf(buf, ADDR_STRLEN, "%s:%u", ip, ntohs(sin->sin_port));
		else
			snprintf(buf, ADDR_STRLEN, "%s", ip);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (with_port)
			snprintf(buf, ADDR_STRLEN, "[%s]:%u", ip, ntohs(sin6->sin6_port));
		else
			snprintf(buf, ADDR_STRLEN, "%s", ip);
	} else {
		snprintf(buf, ADDR_STRLEN, "(family %d)", sa->sa_family);
	}
	return buf;
}

void addr_ip_set(union addr_ip *u, const struct sockaddr *sa)
{
	memset(u, 0, sizeof(*u));
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		memcpy(u, sa, addr_len(sa));
}

void addr_ip_store(struct sockaddr_storage *ss, const union addr_ip *u)
{
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, u, sizeof(*u));
}

socklen_t addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

bool addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_equal_ip(a, b) && addr_port(a) == addr_port(b);
}

uint64_t addr_hash(const struct sockaddr *sa, uint64_t seed)
{
	uint64_t h = seed ^ ((uint64_t)addr_port(sa) << 48) ^ sa->sa_family;
	if (sa->sa_family == AF_INET) {
		h ^= ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
	} else if (sa->sa_family == AF_INET6) {
		uint64_t w[2];
		memcpy(w, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		h ^= hash_mix64(w[0] ^ seed) ^ w[1];
	}
	return hash_mix64(h);
}
