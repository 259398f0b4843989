/* config.json keys for observing a node (docs/config.md, docs/metrics.md):
 * metrics_address, where ipopd serves /metrics for Prometheus. */
#include "node_conf_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* "IP" or "IP:PORT" ("[v6]:PORT"); off when absent. The exporter has no
 * authentication, so a wildcard address is allowed with a warning. */
void node_conf_obs_metrics_address(struct ctx *x, const char *k, const json_t *v)
{
	const char *what = "an IP address with an optional port, like \"127.0.0.1:9642\" or \"[::1]:9642\"";
	struct sockaddr_storage ss;

	if (!json_is_string(v) || addr_parse(json_string_value(v), NODE_CONF_DEFAULT_METRICS_PORT, &ss) < 0 ||
	    addr_port((const struct sockaddr *)&ss) == 0) {
		node_conf_expected(x, k, what, v);
		return;
	}
	x->c->metrics = true;
	x->c->metrics_addr = ss;
	if (is_wildcard(&ss))
		node_conf_warn(x, k, "%s answers on every interface and has no authentication; bind it to "
				     "localhost or a management network",
			       json_string_value(v));
}
