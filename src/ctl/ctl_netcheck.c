/* ipopctl netcheck: what the network lets this node do, without the
 * daemon. It reads the node's config.json for the server lists, asks every
 * STUN server (and the TURN servers, which answer Binding too) from one
 * fresh UDP socket, classifies the NAT (netcheck.c), and checks each relay
 * over TCP, or TLS for "tls" entries, with a STUN Binding on the stream.
 *
 * Why here and not in ipopd: the answer matters most when the daemon is
 * not running or cannot link; the probes block for seconds, which the
 * daemon's single data thread and its one-request control protocol must
 * not; and a NAT's mapping behaviour is a property of the NAT, the same
 * from the daemon's socket or a fresh one (the daemon's own public
 * address is in "ipopctl status"). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ctl_cli.h"
#include "netcheck.h"
#include "netcheck_probe.h"
#include "node_conf.h"

#define NETCHECK_DEFAULT_CONFIG "/etc/ipop/config.json"

struct target {
	char name[300];           /* "host:port" as configured */
	const char *source;       /* "stun" or "turn" */
};

struct check {
	unsigned nstun, nrelay;
	struct netcheck_stun stun[NETCHECK_MAX_STUN];
	struct target st[NETCHECK_MAX_STUN];
	struct netcheck_relay relay[2 * NETCHECK_MAX_RELAYS];
	char rname[2 * NETCHECK_MAX_RELAYS][300];
	const char *rtransport[2 * NETCHECK_MAX_RELAYS];
	int rstun[2 * NETCHECK_MAX_RELAYS]; /* udp rows: index into stun[], else -1 */
	struct sockaddr_storage local;
	struct netcheck_result res;
	int disc;                     /* index into stun[] of the RFC 5780 server, or -1 */
	struct netcheck_5780 d5780;
};

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *out)
{
	struct addrinfo hints = { .ai_family = AF_INET }, *ai;
	char p[8];

	snprintf(p, sizeof(p), "%u", port);
	if (getaddrinfo(host, p, &hints, &ai) != 0 || !ai)
		return -EHOSTUNREACH;
	memset(out, 0, sizeof(*out));
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static int add_stun(struct check *k, const char *host, uint16_t port, const char *source)
{
	struct sockaddr_storage a;

	if (resolve(host, port, &a) < 0)
		return -1;
	for (unsigned i = 0; i < k->nstun; i++)
		if (addr_equal((struct sockaddr *)&a, (struct sockaddr *)&k->stun[i].server))
			return (int)i;
	if (k->nstun == NETCHECK_MAX_STUN)
		return -1;
	memset(&k->stun[k->nstun], 0, sizeof(k->stun[0]));
	k->stun[k->nstun].server = a;
	snprintf(k->st[k->nstun].name, sizeof(k->st[0].name), "%s:%u", host, port);
	k->st[k->nstun].source = source;
	return (int)k->nstun++;
}

static void add_relay(struct check *k, const struct node_turn *t, const char *transport, int stun_idx)
{
	unsigned i = k->nrelay++;
	struct netcheck_relay *r = &k->relay[i];

	memset(r, 0, sizeof(*r));
	r->host = t->host;
	r->tls = strcmp(transport, "tls") == 0;
	r->ca_file = t->ca_file;
	snprintf(k->rname[i], sizeof(k->rname[0]), "%s:%u", t->host, t->port);
	k->rtransport[i] = transport;
	k->rstun[i] = stun_idx;
	if (resolve(t->host, t->port, &r->server) < 0)
		snprintf(r->error, sizeof(r->error), "cannot resolve %s", t->host);
}

static void run_checks(struct check *k, const struct node_conf *conf)
{
	int turn_stun[NODE_CONF_MAX_TURN];

	for (unsigned i = 0; i < conf->n_stun; i++)
		add_stun(k, conf->stun[i].host, conf->stun[i].port, "stun");
	for (unsigned i = 0; i < conf->n_turn; i++)
		turn_stun[i] = conf->turn[i].transport == NODE_TURN_UDP
				       ? add_stun(k, conf->turn[i].host, conf->turn[i].port, "turn")
				       : -1;
	if (k->nstun)
		netcheck_probe_udp(k->stun, k->nstun, &k->local);
	netcheck_classify((struct sockaddr *)&k->local, k->stun, k->nstun, &k->res);
	/* RFC 5780 with the first server that offers it. */
	k->disc = -1;
	for (unsigned i = 0; i < k->nstun && k->disc < 0; i++) {
		if (!k->stun[i].answered || k->stun[i].other.ss_family == AF_UNSPEC)
			continue;
		if (netcheck_probe_5780(&k->stun[i].server, &k->d5780) == 0) {
			k->disc = (int)i;
			netcheck_classify_5780(&k->d5780, &k->res);
		}
	}
	for (unsigned i = 0; i < conf->n_turn && k->nrelay + 2 <= 2 * NETCHECK_MAX_RELAYS; i++) {
		const struct node_turn *t = &conf->turn[i];
		if (t->transport == NODE_TURN_UDP) {
			add_relay(k, t, "udp", turn_stun[i]);
			add_relay(k, t, "tcp", -1); /* what a node falls back to when UDP is blocked */
		} else {
			add_relay(k, t, node_turn_transport_name(t->transport), -1);
		}
	}
	for (unsigned i = 0; i < k->nrelay; i++) {
		struct netcheck_relay *r = &k->relay[i];
		if (r->server.ss_family == AF_UNSPEC)
			continue;
		if (k->rstun[i] >= 0) {
			const struct netcheck_stun *s = &k->stun[k->rstun[i]];
			r->ok = s->answered;
			r->mapped = s->mapped;
			r->rtt_us = s->rtt_us;
			memcpy(r->error, s->error, sizeof(r->error)); /* same size, NUL-terminated */
		} else if (strcmp(k->rtransport[i], "udp") == 0) {
			snprintf(r->error, sizeof(r->error), "not probed");
		} else {
			netcheck_probe_stream(r);
		}
	}
}

static json_t *jaddr(const struct sockaddr_storage *a)
{
	char b[ADDR_STRLEN];
	return a->ss_family == AF_UNSPEC ? json_null() : json_string(addr_format((const struct sockaddr *)a, true, b));
}

static json_t *to_json(const struct check *k)
{
	const struct netcheck_result *r = &k->res;
	bool known = r->mapping != NETCHECK_MAP_UNKNOWN;
	json_t *o = json_object(), *st = json_array(), *rl = json_array();

	json_object_set_new(o, "udp", json_boolean(r->udp));
	json_object_set_new(o, "local", jaddr(&k->local));
	json_object_set_new(o, "public", jaddr(&r->public_addr));
	json_object_set_new(o, "nat", known ? json_boolean(r->mapping != NETCHECK_MAP_NONE) : json_null());
	json_object_set_new(o, "mapping", json_string(netcheck_mapping_name(r->mapping)));
	json_object_set_new(o, "hard_nat", r->mapping == NETCHECK_MAP_DEPENDENT || r->mapping == NETCHECK_MAP_ADDRESS_PORT
						   ? json_true()
					   : r->mapping == NETCHECK_MAP_INDEPENDENT || r->mapping == NETCHECK_MAP_NONE
						   ? json_false()
						   : json_null());
	json_object_set_new(o, "port_preserved", json_boolean(r->port_preserved));
	json_object_set_new(o, "advice", json_string(netcheck_mapping_advice(r->mapping)));
	for (unsigned i = 0; i < k->nstun; i++) {
		const struct netcheck_stun *s = &k->stun[i];
		json_array_append_new(st, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "server", k->st[i].name, "source",
						    k->st[i].source, "address", jaddr(&s->server), "mapped",
						    jaddr(&s->mapped), "rtt_ms",
						    s->answered ? json_real(s->rtt_us / 1000.0) : json_null(), "error",
						    s->answered ? json_null() : json_string(s->error)));
	}
	for (unsigned i = 0; i < k->nrelay; i++) {
		const struct netcheck_relay *x = &k->relay[i];
		json_array_append_new(rl, json_pack("{s:s, s:o, s:s, s:b, s:o, s:o, s:o}", "server", k->rname[i],
						    "address", jaddr(&x->server), "transport", k->rtransport[i], "ok",
						    x->ok, "mapped", jaddr(&x->mapped), "rtt_ms",
						    x->ok ? json_real(x->rtt_us / 1000.0) : json_null(), "error",
						    x->ok ? json_null() : json_string(x->error)));
	}
	json_object_set_new(o, "filtering", json_string(netcheck_filtering_name(r->filtering)));
	json_object_set_new(o, "rfc5780", k->disc >= 0 && r->rfc5780 ? json_string(k->st[k->disc].name)
								   : json_null());
	json_t *dl = json_object();
	for (unsigned i = 0; i < NETCHECK_PEER_KINDS; i++) {
		const struct netcheck_peer_kind *pk = &netcheck_peer_kinds[i];
		enum netcheck_direct d = netcheck_predict_direct(r->mapping, r->filtering, pk->mapping, pk->filtering);
		json_object_set_new(dl, pk->name, d == NETCHECK_DIRECT_UNKNOWN ? json_null()
									 : json_boolean(d == NETCHECK_DIRECT_YES));
	}
	json_object_set_new(o, "direct_with", dl);
	json_object_set_new(o, "stun", st);
	json_object_set_new(o, "relays", rl);
	return o;
}

static void print_human(struct ctl_cli *c, const struct check *k)
{
	const struct netcheck_result *r = &k->res;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	const char *ok = ctl_color(c, CTL_C_GREEN), *bad = ctl_color(c, CTL_C_RED), *rs = ctl_color(c, CTL_C_RESET);

	fprintf(c->out, "UDP:          %s%s%s (%u of %u STUN servers answered)\n", r->udp ? ok : bad,
		r->udp ? "yes" : "no", rs, r->answered, r->asked);
	fprintf(c->out, "local:        %s\n", addr_format((const struct sockaddr *)&k->local, true, a));
	fprintf(c->out, "public:       %s\n",
		r->udp ? addr_format((const struct sockaddr *)&r->public_addr, true, a) : "unknown");
	fprintf(c->out, "NAT mapping:  %s%s%s%s\n",
		r->mapping == NETCHECK_MAP_DEPENDENT || r->mapping == NETCHECK_MAP_ADDRESS_PORT ? bad : "",
		netcheck_mapping_name(r->mapping), rs, r->udp && r->port_preserved ? ", port preserved" : "");
	fprintf(c->out, "              %s\n", netcheck_mapping_advice(r->mapping));
	fprintf(c->out, "NAT filter:   %s%s\n", netcheck_filtering_name(r->filtering),
		r->filtering == NETCHECK_FILTER_UNKNOWN
			? " (needs a STUN server with RFC 5780: alt_listen_address in its turn.conf)"
			: "");
	if (k->disc >= 0 && r->rfc5780)
		fprintf(c->out, "              measured with RFC 5780 against %s (other address %s)\n",
			k->st[k->disc].name, addr_format((const struct sockaddr *)&k->d5780.other, true, b));
	fprintf(c->out, "direct links expected with a peer behind:\n");
	for (unsigned i = 0; i < NETCHECK_PEER_KINDS; i++) {
		const struct netcheck_peer_kind *pk = &netcheck_peer_kinds[i];
		enum netcheck_direct d = netcheck_predict_direct(r->mapping, r->filtering, pk->mapping, pk->filtering);
		fprintf(c->out, "  %-22s %s%s%s\n", pk->name, d == NETCHECK_DIRECT_YES ? ok : d == NETCHECK_DIRECT_NO ? bad : "",
			netcheck_direct_name(d), rs);
	}
	for (unsigned i = 0; i < k->nstun; i++) {
		const struct netcheck_stun *s = &k->stun[i];
		if (s->answered)
			fprintf(c->out, "  %s %-22s saw %s (%.1f ms)\n", k->st[i].source, k->st[i].name,
				addr_format((const struct sockaddr *)&s->mapped, true, b), s->rtt_us / 1000.0);
		else
			fprintf(c->out, "  %s %-22s %s%s%s\n", k->st[i].source, k->st[i].name, bad, s->error, rs);
	}
	fprintf(c->out, "relays:%s\n", k->nrelay ? "" : "       none configured");
	for (unsigned i = 0; i < k->nrelay; i++) {
		const struct netcheck_relay *x = &k->relay[i];
		if (x->ok)
			fprintf(c->out, "  %-3s %-22s %sok%s (%.1f ms)\n", k->rtransport[i], k->rname[i], ok, rs,
				x->rtt_us / 1000.0);
		else
			fprintf(c->out, "  %-3s %-22s %sfailed%s: %s\n", k->rtransport[i], k->rname[i], bad, rs,
				x->error);
	}
}

int ctl_cmd_netcheck(struct ctl_cli *c, int argc, char **argv)
{
	static struct check k; /* large; ipopctl runs one command */
	struct node_conf conf;
	const char *path = c->config ? c->config : NETCHECK_DEFAULT_CONFIG;
	int rc = ctl_cli_no_args(c, argc, argv);

	if (rc != 0)
		return rc;
	if (node_conf_load_diag(&conf, path, c->err) != 0) {
		fprintf(c->err, "ipopctl netcheck: cannot use %s (give the node's config with -c FILE)\n", path);
		node_conf_free(&conf);
		return CTL_EXIT_FAIL;
	}
	if (conf.n_stun == 0 && conf.n_turn == 0) {
		fprintf(c->err, "ipopctl netcheck: %s lists no \"stun\" or \"turn\" server to ask\n", path);
		node_conf_free(&conf);
		return CTL_EXIT_FAIL;
	}
	memset(&k, 0, sizeof(k));
	run_checks(&k, &conf);
	if (c->json) {
		json_t *o = to_json(&k);
		rc = ctl_cli_print_json(c, o);
		json_decref(o);
	} else {
		print_human(c, &k);
	}
	node_conf_free(&conf);
	return rc;
}
