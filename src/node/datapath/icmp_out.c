/* ICMP errors the data path writes back into its own TUN (docs/ipv6.md
 * "MTU, offloads, Packet Too Big"). The kernel enforces the TUN's MTU
 * itself, so a packet ipopd reads is larger than the tunnel carries only
 * when the TUN's MTU was raised by hand past "mtu": the node never
 * fragments it (IPv6 never is fragmented on the way; IPv4 with DF must not
 * be), drops it and tells the sender the MTU, so that its path MTU cache
 * learns it:
 *   - IPv6: Packet Too Big from the node's own ip6 (Linux accepts it);
 *   - IPv4 with DF: "fragmentation needed" from the packet's destination
 *     (an error from the node's own ip4 would be a martian to Linux);
 *   - IPv4 without DF: dropped and counted (the node does not fragment).
 * At most DP_ICMP_BURST at once and DP_ICMP_RATE a second. */
#include <string.h>
#include <unistd.h>

#include "datapath.h"
#include "ip_pkt.h"
#include "log.h"

void dp_too_big(struct datapath *dp, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	uint8_t out[TUN_VNET_HDR_LEN + ICMP_ERR_V6_MAX];
	size_t head = dp->tun.vnet ? TUN_VNET_HDR_LEN : 0;
	struct in_addr dst4;
	const struct in_addr *src4 = ip_pkt_dst4(pkt, len, &dst4) ? &dst4 : NULL;
	const struct in6_addr *src6 = dp->conf->has_ip6 ? &dp->conf->ip6 : NULL;

	dp->cnt.too_big++;
	size_t n = icmp_err_too_big(out + head, sizeof(out) - head, src4, src6, (unsigned)dp->tun.mtu, pkt, len);
	if (n == 0 || !icmp_err_limit_take(&dp->icmp_limit, now_ms)) {
		log_debug("tun: packet of %zu bytes over the mtu %d dropped%s", len, dp->tun.mtu,
			  n ? " (ICMP errors rate-limited)" : "");
		return;
	}
	memset(out, 0, head); /* a plain packet: no GSO, checksums complete */
	if (write(dp->tun.fds[0], out, head + n) < 0) {
		dp->cnt.tun_tx_err++;
		return;
	}
	dp->cnt.icmp_too_big++;
	log_debug("tun: packet of %zu bytes over the mtu %d: %s sent", len, dp->tun.mtu,
		  pkt[0] >> 4 == 6 ? "packet too big" : "fragmentation needed");
}
