#include "turn_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "addr.h"
#include "turn_conf.h"

int turn_relay_pick_address(const struct turn_conf *conf, int family,
			    struct sockaddr_storage *out)
{
	const struct sockaddr_storage *list = conf->n_relay ? conf->relay : conf->listen;
	unsigned n = conf->n_relay ? conf->n_relay : conf->n_listen;

	for (unsigned i = 0; i < n; i++) {
		if (list[i].ss_family == family) {
			*out = list[i];
			return 0;
		}
	}
	return -EAFNOSUPPORT;
}

enum {
	RANDOM_PROBES = 32,     /* per parity, before scanning */
	RANDOM_MIN_SPAN = 256,  /* smaller ranges are only scanned */
};

/* Random so that relay ports of a restarted server, and of the workers,
 * do not collide in the same order, and are not guessable from outside. */
static uint32_t random_offset(uint32_t span)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)getpid() ^ (uint32_t)(uintptr_t)&r;
	return span ? r % span : 0;
}

static int try_bind(int fd, const struct sockaddr_storage *base, uint16_t port,
		    struct sockaddr_storage *bound)
{
	struct sockaddr_storage sa = *base;

	addr_set_port((struct sockaddr *)&sa, port);
	if (bind(fd, (struct sockaddr *)&sa, addr_len((struct sockaddr *)&sa)) < 0)
		return -errno;
	*bound = sa;
	return 0;
}

static int relay_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		int one = 1;
		/* A v6 relay must not receive v4-mapped traffic: policy and
		 * permissions are per family. */
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	return fd;
}

int turn_relay_bind_at(const struct sockaddr_storage *addr)
{
	int fd = relay_socket(addr->ss_family);
	if (fd < 0)
		return fd;
	if (bind(fd, (const struct sockaddr *)addr, addr_len((const struct sockaddr *)addr)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int turn_relay_set_df(int fd, int family)
{
	int rc;
	if (family == AF_INET6) {
		int one = 1;
		rc = setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one));
	} else {
		int v = IP_PMTUDISC_DO;
		rc = setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	}
	return rc < 0 ? -errno : 0;
}

int turn_relay_bind(const struct sockaddr_storage *base, uint16_t min_port, uint16_t max_port,
		    struct sockaddr_storage *bound)
{
	if (min_port == 0 || max_port < min_port)
		return -EINVAL;
	int fd = relay_socket(base->ss_family);
	if (fd < 0)
		return fd;
	uint32_t span = (uint32_t)(max_port - min_port) + 1;
	uint32_t start = random_offset(span);
	int err = -EADDRINUSE;

	/* Even ports first, then odd ones: the core asks for an even port when
	 * a client sends EVEN-PORT (RTP), and any port serves everyone else.
	 * Random probes find a free port in a few binds even when the range
	 * is mostly taken; the scan below, one bind per port, runs only when
	 * they all missed (a nearly full range). Scanning first made every
	 * allocation cost thousands of binds once the even ports ran out
	 * (about 8,000 allocations with the default range), stalling the
	 * worker's packets meanwhile. In a big range an odd port may thus come
	 * while a few even ones are free (the core's EVEN-PORT retry covers
	 * that); a small range is scanned, strictly even first. */
	if (span >= RANDOM_MIN_SPAN) {
		for (uint32_t parity = 0; parity < 2; parity++) {
			for (unsigned t = 0; t < RANDOM_PROBES; t++) {
				uint32_t port = min_port + random_offset(span);
				if ((port & 1u) != parity)
					port = port < max_port ? port + 1 : port - 1;
				err = try_bind(fd, base, (uint16_t)port, bound);
				if (err == 0)
					return fd;
				if (err != -EADDRINUSE && err != -EACCES)
					goto out;
			}
		}
	}
	for (uint32_t parity = 0; parity < 2; parity++) {
		for (uint32_t i = 0; i < span; i++) {
			uint16_t port = (uint16_t)(min_port + (start + i) % span);
			if ((port & 1u) != parity)
				continue;
			err = try_bind(fd, base, port, bound);
			if (err == 0)
				return fd;
			if (err != -EADDRINUSE && err != -EACCES)
				goto out;
		}
	}
out:
	close(fd);
	return err;
}
