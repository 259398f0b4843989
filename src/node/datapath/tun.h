/* The L3 TUN device: open, configure (IPv4 address, mask, MTU, up; an
 * IPv6 address and routes through it: tun_nl.c), and move packets. One fd per queue; IFF_MULTI_QUEUE lets each worker own one. */
#ifndef IPOP_TUN_H
#define IPOP_TUN_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

struct tun {
	char name[IFNAMSIZ];
	int fds[8];
	unsigned nqueues;
	int mtu;
	bool vnet;          /* every read/write starts with a virtio_net_hdr */
	unsigned offloads;  /* TUN_F_* the kernel accepted */
};

/* Creates (or attaches to) `name` with nqueues queues (1..8), non-blocking
 * fds, no packet-info header. Returns 0 or -errno. */
int tun_open(struct tun *t, const char *name, unsigned nqueues);
/* One queue with IFF_VNET_HDR and TUNSETOFFLOAD (CSUM, TSO4, TSO6, and
 * USO4+6 when the kernel has it): reads may then return GSO super-packets
 * (tun_offload.h). Falls back to a plain device (t->vnet false) when the
 * kernel refuses. Returns 0 or -errno. */
int tun_open_offload(struct tun *t, const char *name);
/* Sets address/prefix and MTU and brings the link up. Returns 0 or -errno. */
int tun_configure(struct tun *t, struct in_addr addr, unsigned prefix, int mtu);
void tun_close(struct tun *t);

/* tun_nl.c, over rtnetlink. An IPv6 address/prefix, usable at once (no
 * DAD; the kernel adds the on-link route). Returns 0 or -errno (-EACCES
 * when IPv6 is disabled on the device). */
int tun_add_ip6(struct tun *t, const struct in6_addr *addr, unsigned prefix);
/* A route "PREFIX dev t->name" in the main table (routes behind a peer,
 * docs/ipv6.md). add: 0, -EEXIST when the kernel has a route for exactly
 * that prefix already (left alone), or -errno. del: 0 or -errno (-ESRCH:
 * none). */
struct ip_prefix;
int tun_route_add(const struct tun *t, const struct ip_prefix *p);
int tun_route_del(const struct tun *t, const struct ip_prefix *p);

#endif
