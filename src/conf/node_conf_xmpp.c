/* config.json's "xmpp_host" (docs/config.md): the original's single
 * server name, or a list of servers, e.g. the members of an ejabberd
 * cluster, each "host" or "host:port". The node tries a list in random
 * order and moves to the next server on failure; without the key it
 * looks up the _xmpp-client._tcp SRV records of the JID's domain. */
#include "node_conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const HOST_WHAT = "a \"host\" or \"host:port\" string";

static bool same_server(const struct node_xmpp_host *a, const struct node_xmpp_host *b)
{
	return strcasecmp(a->host, b->host) == 0 && a->port == b->port;
}

static void add_host(struct ctx *x, const char *where, const json_t *v)
{
	struct node_conf *c = x->c;
	struct node_xmpp_host *h = &c->xmpp_hosts[c->n_xmpp_hosts];
	char b[80];

	if (!json_is_string(v) || json_string_length(v) == 0) {
		node_conf_expected(x, where, HOST_WHAT, v);
		return;
	}
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	const char *why = strlen(s) != n ? "it contains a NUL character"
					 : node_conf_split_hostport(s, n, &h->host, &h->port);
	if (why) {
		node_conf_error(x, where, "expected %s, got %s: %s", HOST_WHAT, node_conf_describe(v, b), why);
		return;
	}
	for (unsigned i = 0; i < c->n_xmpp_hosts; i++) {
		if (same_server(&c->xmpp_hosts[i], h)) {
			node_conf_error(x, where, "%s is listed twice", node_conf_describe(v, b));
			free(h->host);
			h->host = NULL;
			return;
		}
	}
	c->n_xmpp_hosts++;
}

void node_conf_xmpp_host(struct ctx *x, const char *k, const json_t *v)
{
	if (json_is_string(v)) {
		add_host(x, k, v);
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > NODE_CONF_MAX_XMPP_HOSTS) {
		char what[200];
		snprintf(what, sizeof(what),
			 "%s, or a list of 1 to %d of them (leave the key out to use the domain's DNS SRV records)",
			 HOST_WHAT, NODE_CONF_MAX_XMPP_HOSTS);
		node_conf_expected(x, k, what, v);
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		char where[32];
		snprintf(where, sizeof(where), "%s[%zu]", k, i);
		add_host(x, where, json_array_get(v, i));
	}
}

void node_conf_xmpp_free(struct node_conf *c)
{
	for (unsigned i = 0; i < c->n_xmpp_hosts; i++)
		free(c->xmpp_hosts[i].host);
	c->n_xmpp_hosts = 0;
}
