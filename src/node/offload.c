/* ipopd's offload setup: the TUN with IFF_VNET_HDR + TUNSETOFFLOAD, UDP
 * GSO (UDP_SEGMENT) and GRO (UDP_GRO) on the node's socket, and the
 * buffers they need. With all of it, a 64 KB TCP write costs one TUN read,
 * one sendmsg, one recvmsg and one TUN write per direction instead of ~45
 * of each (see docs/benchmarks.md for the profile).
 *
 * IPOP_OFFLOAD=0 in the environment turns all of it off (A/B benchmarks,
 * or a kernel that misbehaves); each part also falls back on its own when
 * the kernel refuses it. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "node.h"

bool node_offload_wanted(void)
{
	const char *e = getenv("IPOP_OFFLOAD");
	return !e || strcmp(e, "0") != 0;
}

int node_offload_tun_open(struct node *n, const char *name)
{
	if (!node_offload_wanted())
		return tun_open(&n->tun, name, 1);
	int rc = tun_open_offload(&n->tun, name);
	if (rc == 0 && !n->tun.vnet)
		log_info("tun: the kernel refused offloads; plain packets");
	return rc;
}

void node_offload_udp(struct node *n)
{
	int one = 1, seg = 0;
	socklen_t sl = sizeof(seg);

	if (!node_offload_wanted())
		return;
	n->udp_gro = setsockopt(n->udp_fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0 && n->rx_cap >= NODE_RX_GRO_CAP;
	if (!n->udp_gro)
		setsockopt(n->udp_fd, IPPROTO_UDP, UDP_GRO, &seg, sizeof(seg));
	n->udp_gso = getsockopt(n->udp_fd, IPPROTO_UDP, UDP_SEGMENT, &seg, &sl) == 0;
	log_info("offloads: tun %s (0x%x), udp gso %s, udp gro %s", n->tun.vnet ? "vnet" : "off", n->tun.offloads,
		 n->udp_gso ? "on" : "off", n->udp_gro ? "on" : "off");
}

int node_offload_alloc(struct node *n)
{
	n->rx_cap = node_offload_wanted() ? NODE_RX_GRO_CAP : n->slot_cap;
	n->tun_rbuf = malloc(TUN_VNET_HDR_LEN + TUN_GSO_MAX);
	if (!n->tun_rbuf)
		return -ENOMEM;
	return tun_co_init(&n->co);
}

void node_offload_free(struct node *n)
{
	free(n->tun_rbuf);
	n->tun_rbuf = NULL;
	tun_co_free(&n->co);
}
