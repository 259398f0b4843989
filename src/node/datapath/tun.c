#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/ip.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int tun_open_queue(const char *name, bool multi, bool vnet, char *actual)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0) | (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, strlen(name)); /* length checked by tun_open */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	return fd;
}

int tun_open(struct tun *t, const char *name, unsigned nqueues)
{
	memset(t, 0, sizeof(*t));
	if (nqueues < 1 || nqueues > sizeof(t->fds) / sizeof(t->fds[0]) || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	for (unsigned i = 0; i < nqueues; i++) {
		int fd = tun_open_queue(name, nqueues > 1, false, t->name);
		if (fd < 0) {
			tun_close(t);
			return fd;
		}
		t->fds[t->nqueues++] = fd;
	}
	return 0;
}

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

int tun_open_offload(struct tun *t, const char *name)
{
	static const unsigned want[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, /* kernels before 6.2: no USO */
	};

	memset(t, 0, sizeof(*t));
	if (strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	int fd = tun_open_queue(name, false, true, t->name);
	if (fd < 0)
		return fd;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)want[i]) == 0) {
			t->fds[t->nqueues++] = fd;
			t->vnet = true;
			t->offloads = want[i];
			return 0;
		}
	}
	close(fd); /* no offloads: a plain device does without the header */
	return tun_open(t, name, 1);
}

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return rc;
}

static void set_sin(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };
	memcpy(sa, &sin, sizeof(sin));
}

int tun_configure(struct tun *t, struct in_addr addr, unsigned prefix, int mtu)
{
	struct ifreq ifr;
	int rc;

	if (prefix > 32)
		return -EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
	set_sin(&ifr.ifr_addr, addr);
	if ((rc = ifreq_ioctl(SIOCSIFADDR, &ifr)))
		return rc;
	struct in_addr mask = { .s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0 };
	set_sin(&ifr.ifr_netmask, mask);
	if ((rc = ifreq_ioctl(SIOCSIFNETMASK, &ifr)))
		return rc;
	ifr.ifr_mtu = mtu;
	if ((rc = ifreq_ioctl(SIOCSIFMTU, &ifr)))
		return rc;
	if ((rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr)))
		return rc;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if ((rc = ifreq_ioctl(SIOCSIFFLAGS, &ifr)))
		return rc;
	t->mtu = mtu;
	return 0;
}

void tun_close(struct tun *t)
{
	for (unsigned i = 0; i < t->nqueues; i++)
		close(t->fds[i]);
	t->nqueues = 0;
}
