/* ipopctl status: who this node is and how it is connected. */
#include "ctl_cli.h"

#include <inttypes.h>
#include <string.h>

static enum ctl_color xmpp_color(const char *st)
{
	if (st && strcmp(st, "online") == 0)
		return CTL_C_GREEN;
	if (st && strcmp(st, "connecting") == 0)
		return CTL_C_YELLOW;
	return CTL_C_RED;
}

static void status_line(struct ctl_cli *c, const char *label, const char *value)
{
	fprintf(c->out, "  %s%-9s%s %s\n", ctl_color(c, CTL_C_BOLD), label, ctl_color(c, CTL_C_RESET),
		value ? value : "-");
}

static void status_print(struct ctl_cli *c, const json_t *st)
{
	char buf[256];
	const char *ifname = ctl_jstr(st, "interface");
	fprintf(c->out, "%sinterface%s: %s%s%s\n", ctl_color(c, CTL_C_BOLD), ctl_color(c, CTL_C_RESET),
		ctl_color(c, CTL_C_GREEN), ifname ? ifname : "-", ctl_color(c, CTL_C_RESET));
	status_line(c, "jid:", ctl_jstr(st, "jid"));
	status_line(c, "node id:", ctl_jstr(st, "node_id"));
	status_line(c, "key:", ctl_jstr(st, "key"));
	const char *ip4 = ctl_jstr(st, "ip4"), *ip6 = ctl_jstr(st, "ip6");
	char six[80] = "";
	if (ip6)
		snprintf(six, sizeof(six), ", %s/%" PRId64, ip6, ctl_jint(st, "ip6_mask", 0));
	snprintf(buf, sizeof(buf), "%s/%" PRId64 "%s (mtu %" PRId64 ", %s mode)", ip4 ? ip4 : "-",
		 ctl_jint(st, "ip4_mask", 0), six, ctl_jint(st, "mtu", 0),
		 ctl_jstr(st, "mode") ? ctl_jstr(st, "mode") : "?");
	status_line(c, "address:", buf);
	const json_t *routes = json_object_get(st, "routes");
	if (json_is_array(routes) && json_array_size(routes)) {
		size_t n = 0;
		buf[0] = '\0';
		for (size_t i = 0; i < json_array_size(routes) && n < sizeof(buf); i++) {
			const char *r = json_string_value(json_array_get(routes, i));
			int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", r ? r : "?");
			n += w > 0 ? (size_t)w : 0;
		}
		status_line(c, "routes:", buf);
	}
	const char *x = ctl_jstr(st, "xmpp");
	snprintf(buf, sizeof(buf), "%s%s%s", ctl_color(c, xmpp_color(x)), x ? x : "?",
		 ctl_color(c, CTL_C_RESET));
	status_line(c, "xmpp:", buf);
	const char *pub = ctl_jstr(st, "public");
	status_line(c, "public:", pub ? pub : "unknown (no server-reflexive address yet)");
	const json_t *rel = json_object_get(st, "relay");
	if (json_is_object(rel)) {
		const char *ra = ctl_jstr(rel, "address"), *rs = ctl_jstr(rel, "server"), *rt = ctl_jstr(rel, "transport");
		snprintf(buf, sizeof(buf), "%s on %s (%s)", ra ? ra : "?", rs ? rs : "?", rt ? rt : "?");
		status_line(c, "relay:", buf);
	} else {
		status_line(c, "relay:", "none (no turn server configured, or none gave an allocation)");
	}
	snprintf(buf, sizeof(buf), "%" PRId64 " up of %" PRId64, ctl_jint(st, "peers_up", 0),
		 ctl_jint(st, "peers_total", 0));
	status_line(c, "peers:", buf);
	const json_t *o = json_object_get(st, "overlay");
	if (json_is_object(o)) {
		const char *shape = ctl_jstr(o, "shape");
		snprintf(buf, sizeof(buf),
			 "%s, %" PRId64 " of %" PRId64 " links, %" PRId64 " members online; frames %" PRId64
			 " sent, %" PRId64 " received, %" PRId64 " forwarded, %" PRId64 " dropped",
			 shape ? shape : "?", ctl_jint(o, "links", 0), ctl_jint(o, "max_links", 0),
			 ctl_jint(o, "members", 0), ctl_jint(o, "sent", 0), ctl_jint(o, "received", 0),
			 ctl_jint(o, "forwarded", 0), ctl_jint(o, "dropped", 0));
		status_line(c, "overlay:", buf);
	}
	const json_t *d = json_object_get(st, "drops");
	int n = snprintf(buf, sizeof(buf), "%" PRId64 " no route, %" PRId64 " bad source, %" PRId64 " untranslatable",
			 ctl_jint(d, "no_route", 0), ctl_jint(d, "bad_source", 0), ctl_jint(d, "untranslatable", 0));
	if (ctl_jint(d, "link_local", 0) > 0 && n > 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", %" PRId64 " link-local", ctl_jint(d, "link_local", 0));
	if (ctl_jint(d, "too_big", 0) > 0 && n > 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, ", %" PRId64 " too big", ctl_jint(d, "too_big", 0));
	status_line(c, "dropped:", buf);
	const json_t *t = json_object_get(st, "trust");
	if (json_is_object(t)) {
		snprintf(buf, sizeof(buf), "%" PRId64 " signalling messages and %" PRId64 " links refused; %s%s",
			 ctl_jint(t, "refused_signals", 0), ctl_jint(t, "refused_links", 0),
			 json_is_true(json_object_get(t, "under_load")) ? "handshakes under load" : "not under load",
			 ctl_jint(t, "cookie_replies", 0) ? ", cookie replies sent" : "");
		status_line(c, "trust:", buf);
	}
}

int ctl_cmd_status(struct ctl_cli *c, int argc, char **argv)
{
	int rc = ctl_cli_no_args(c, argc, argv);
	json_t *st = NULL;
	if (rc == 0)
		rc = ctl_cli_call(c, "status", &st);
	if (rc != 0)
		return rc;
	if (!json_is_object(st)) {
		fprintf(c->err, "ipopctl: the daemon's status is not an object\n");
		rc = CTL_EXIT_FAIL;
	} else if (c->json) {
		rc = ctl_cli_print_json(c, st);
	} else {
		status_print(c, st);
	}
	json_decref(st);
	return rc;
}
