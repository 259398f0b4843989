/* libFuzzer harness for the social map file (social_map.c): the input is
 * the file ipopd reads at start (its own saved map, or the operator's pin
 * file), loaded as pins or not (first byte). Whatever it holds, the map
 * must stay consistent (unique addresses of the subnet, never ours), and
 * what ipopd saves must load back to the same map. The file lives in a
 * memfd, so nothing touches the disk. */

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "social_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static int memfile(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("social_map", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

static void check(const struct social_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		CHECK(!social_map_check_addr(m, m->e[i].ip4));
		CHECK(social_map_find(m, m->e[i].bare) == &m->e[i]);
		for (size_t j = i + 1; j < m->n; j++)
			CHECK(m->e[i].ip4.s_addr != m->e[j].ip4.s_addr);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct social_map m, back;
	struct in_addr own;
	char path[64], saved[64];
	FILE *devnull = fopen("/dev/null", "w");

	if (size < 1 || size > 1 << 16 || !devnull) {
		if (devnull)
			fclose(devnull);
		return 0;
	}
	inet_pton(AF_INET, "172.31.0.100", &own);
	social_map_init(&m, own, 24);
	int fd = memfile(data + 1, size - 1, path, sizeof(path));
	CHECK(fd >= 0);
	CHECK(social_map_load(&m, path, data[0] & 1, devnull) >= 0);
	close(fd);
	check(&m);

	/* saved (through a memfd's directory-less path: write it by hand) and read back */
	int sfd = memfd_create("saved", MFD_CLOEXEC);
	CHECK(sfd >= 0);
	FILE *f = fdopen(dup(sfd), "w");
	CHECK(f);
	for (size_t i = 0; i < m.n; i++) {
		char a[INET_ADDRSTRLEN];
		fprintf(f, "%s %s\n", m.e[i].bare, inet_ntop(AF_INET, &m.e[i].ip4, a, sizeof(a)));
	}
	fclose(f);
	snprintf(saved, sizeof(saved), "/proc/self/fd/%d", sfd);
	social_map_init(&back, own, 24);
	CHECK(social_map_load(&back, saved, false, devnull) == 0);
	CHECK(back.n == m.n);
	close(sfd);
	social_map_free(&back);
	social_map_free(&m);
	fclose(devnull);
	return 0;
}
