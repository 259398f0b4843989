/* The data path's offload setup: the TUN with IFF_VNET_HDR + TUNSETOFFLOAD
 * and the buffers super-packets need (a TUN read of up to 64 KB, UDP GRO
 * trains, the TCP coalescer). With all of it, a 64 KB TCP write costs one
 * TUN read, one sendmsg, one recvmsg and one TUN write per direction
 * instead of ~45 of each (see docs/benchmarks.md for the profile).
 * IPOP_OFFLOAD=0 turns all of it off (udp_offload_wanted); each part also
 * falls back on its own when the kernel refuses it. */
#include <errno.h>
#include <stdlib.h>

#include "datapath.h"
#include "log.h"

int dp_offload_tun_open(struct datapath *dp, const char *name)
{
	if (!udp_offload_wanted())
		return tun_open(&dp->tun, name, 1);
	int rc = tun_open_offload(&dp->tun, name);
	if (rc == 0 && !dp->tun.vnet)
		log_info("tun: the kernel refused offloads; plain packets");
	return rc;
}

int dp_offload_alloc(struct datapath *dp)
{
	dp->rx_cap = udp_offload_wanted() ? DP_RX_GRO_CAP : dp->slot_cap;
	dp->tun_rbuf = malloc(TUN_VNET_HDR_LEN + TUN_GSO_MAX);
	if (!dp->tun_rbuf)
		return -ENOMEM;
	return tun_co_init(&dp->co);
}

void dp_offload_free(struct datapath *dp)
{
	free(dp->tun_rbuf);
	dp->tun_rbuf = NULL;
	tun_co_free(&dp->co);
}
