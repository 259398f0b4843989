/* ipopctl pins, pin forget WHAT: the node ids pinned to their keys and
 * members, the overlay addresses and the members that own them
 * (docs/security.md), and forgetting them when a member really changed. */
#include "ctl_cli.h"

#include <inttypes.h>
#include <string.h>

static void pins_print(struct ctl_cli *c, const json_t *res)
{
	const json_t *pins = json_object_get(res, "pins"), *owners = json_object_get(res, "owners"), *e;
	char ago[CTL_FMT_LEN];
	size_t i;

	fprintf(c->out, "%snode ids%s (pinned to their key and member): %zu\n", ctl_color(c, CTL_C_BOLD),
		ctl_color(c, CTL_C_RESET), json_array_size(pins));
	json_array_foreach(pins, i, e) {
		const char *id = ctl_jstr(e, "node_id"), *key = ctl_jstr(e, "key"), *jid = ctl_jstr(e, "jid");
		fprintf(c->out, "  %s  key %s  %s  seen %s\n", id ? id : "?", key ? key : "?", jid ? jid : "?",
			ctl_fmt_ago(ctl_jint(e, "seen", 0), c->now, ago));
	}
	fprintf(c->out, "%saddresses%s (owned by a member): %zu\n", ctl_color(c, CTL_C_BOLD), ctl_color(c, CTL_C_RESET),
		json_array_size(owners));
	json_array_foreach(owners, i, e) {
		const char *ip = ctl_jstr(e, "ip4"), *ip6 = ctl_jstr(e, "ip6"), *jid = ctl_jstr(e, "jid");
		bool mapped = json_is_true(json_object_get(e, "mapped"));
		fprintf(c->out, "  %-15s  %s  %s%s\n", ip ? ip : ip6 ? ip6 : "?", jid ? jid : "?", mapped ? "address map" : "up ",
			mapped ? "" : ctl_fmt_ago(ctl_jint(e, "seen", 0), c->now, ago));
	}
}

int ctl_cmd_pins(struct ctl_cli *c, int argc, char **argv)
{
	int rc = ctl_cli_no_args(c, argc, argv);
	json_t *res = NULL;
	if (rc == 0)
		rc = ctl_cli_call(c, "pins", &res);
	if (rc != 0)
		return rc;
	if (!json_is_object(res)) {
		fprintf(c->err, "ipopctl: the daemon's pins are not an object\n");
		rc = CTL_EXIT_FAIL;
	} else if (c->json) {
		rc = ctl_cli_print_json(c, res);
	} else {
		pins_print(c, res);
	}
	json_decref(res);
	return rc;
}

int ctl_cmd_pin(struct ctl_cli *c, int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "forget") != 0) {
		fprintf(c->err, "usage: ipopctl pin forget JID|NODE_ID|ADDRESS\n");
		return CTL_EXIT_USAGE;
	}
	if (strchr(argv[2], ' ') || strlen(argv[2]) > 700) {
		fprintf(c->err, "ipopctl pin: '%s' is not a JID, a node id or an address\n", argv[2]);
		return CTL_EXIT_USAGE;
	}
	char req[800];
	snprintf(req, sizeof(req), "pin forget %s", argv[2]);
	json_t *res = NULL;
	int rc = ctl_cli_call(c, req, &res);
	if (rc != 0)
		return rc;
	if (c->json)
		rc = ctl_cli_print_json(c, res);
	else
		fprintf(c->out, "forgot %" PRId64 " pinned node id(s) and %" PRId64 " address owner(s) of %s\n",
			ctl_jint(res, "pins", 0), ctl_jint(res, "owners", 0), argv[2]);
	json_decref(res);
	return rc;
}
