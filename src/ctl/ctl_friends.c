/* ipopctl friends, friend add|accept|remove JID, hosts: the SocialVPN
 * friends of a node, managing them, and /etc/hosts lines for them. */
#include "ctl_cli.h"

#include "jid_hostname.h"

#include <stdlib.h>
#include <string.h>

static bool jbool(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* "friend", "request: accept?", "asked", "to"... */
static const char *relation(const json_t *f)
{
	if (jbool(f, "mutual"))
		return "friend";
	if (jbool(f, "request"))
		return "wants to be friends (friend accept)";
	if (jbool(f, "asked"))
		return "asked, no answer yet";
	const char *s = ctl_jstr(f, "subscription");
	if (s && strcmp(s, "to") == 0)
		return "one-way (they see us not)";
	if (s && strcmp(s, "from") == 0)
		return "one-way (we see them not)";
	return "not a friend";
}

static void friend_line(struct ctl_cli *c, const json_t *f, int wj)
{
	const char *jid = ctl_jstr(f, "jid"), *ip = ctl_jstr(f, "ip4"), *st = ctl_jstr(f, "state"),
		   *path = ctl_jstr(f, "path"), *ep = ctl_jstr(f, "endpoint");
	bool online = jbool(f, "online");
	char link[160];
	if (online)
		snprintf(link, sizeof(link), "%s%s%s%s", st ? st : "?", path ? " " : "", path ? path : "",
			 ep ? " " : "");
	else
		snprintf(link, sizeof(link), "-");
	fprintf(c->out, "%-*s  %-15s  %-7s  %s%-40s%s  %s%s\n", wj, jid ? jid : "?", ip ? ip : "-",
		online ? "online" : "offline", ctl_color(c, jbool(f, "mutual") ? CTL_C_GREEN : CTL_C_YELLOW),
		relation(f), ctl_color(c, CTL_C_RESET), link, online && ep ? ep : "");
}

/* Asks the daemon for its friends: 0 and an array in *list, or an exit
 * status (usage, no daemon, a reply that is not an array). */
static int fetch_friends(struct ctl_cli *c, int argc, char **argv, json_t **list)
{
	int rc = ctl_cli_no_args(c, argc, argv);
	*list = NULL;
	if (rc == 0)
		rc = ctl_cli_call(c, "friends", list);
	if (rc != 0)
		return rc;
	if (!json_is_array(*list)) {
		fprintf(c->err, "ipopctl: the daemon's friends list is not an array\n");
		json_decref(*list);
		*list = NULL;
		return CTL_EXIT_FAIL;
	}
	return 0;
}

int ctl_cmd_friends(struct ctl_cli *c, int argc, char **argv)
{
	json_t *list;
	int rc = fetch_friends(c, argc, argv, &list);
	if (rc != 0)
		return rc;
	if (c->json) {
		rc = ctl_cli_print_json(c, list);
	} else if (json_array_size(list) == 0) {
		fprintf(c->out, "no friends (ipopctl friend add user@domain)\n");
	} else {
		int wj = 3;
		size_t i;
		json_t *f;
		json_array_foreach(list, i, f) {
			const char *j = ctl_jstr(f, "jid");
			if (j && (int)strlen(j) > wj)
				wj = (int)strlen(j);
		}
		fprintf(c->out, "%s%-*s  %-15s  %-7s  %-40s  %s%s\n", ctl_color(c, CTL_C_BOLD), wj, "JID", "ADDRESS",
			"NODE", "RELATION", "LINK", ctl_color(c, CTL_C_RESET));
		json_array_foreach(list, i, f)
			friend_line(c, f, wj);
	}
	json_decref(list);
	return rc;
}

int ctl_cmd_friend(struct ctl_cli *c, int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "accept") && strcmp(argv[1], "remove"))) {
		fprintf(c->err, "usage: ipopctl friend add|accept|remove user@domain\n");
		return CTL_EXIT_USAGE;
	}
	if (strchr(argv[2], ' ') || strlen(argv[2]) > 700) {
		fprintf(c->err, "ipopctl friend: '%s' is not a JID\n", argv[2]);
		return CTL_EXIT_USAGE;
	}
	char req[800];
	snprintf(req, sizeof(req), "friend %s %s", argv[1], argv[2]);
	json_t *res = NULL;
	int rc = ctl_cli_call(c, req, &res);
	if (rc != 0)
		return rc;
	if (c->json)
		rc = ctl_cli_print_json(c, res);
	else if (strcmp(argv[1], "add") == 0)
		fprintf(c->out, "friend request sent to %s; the link starts once they accept\n", argv[2]);
	else if (strcmp(argv[1], "accept") == 0)
		fprintf(c->out, "accepted %s (and asked back, so it is mutual)\n", argv[2]);
	else
		fprintf(c->out, "removed %s; the link ends\n", argv[2]);
	json_decref(res);
	return rc;
}

/* "ADDRESS name.ipop" per friend with an address (names: jid_hostname.h). */
int ctl_cmd_hosts(struct ctl_cli *c, int argc, char **argv)
{
	json_t *list;
	int rc = fetch_friends(c, argc, argv, &list);
	if (rc != 0)
		return rc;
	size_t i, n = 0;
	json_t *f;
	const char **all = calloc(json_array_size(list) + 1, sizeof(*all));
	if (!all) {
		json_decref(list);
		return CTL_EXIT_FAIL;
	}
	json_array_foreach(list, i, f) {
		if (ctl_jstr(f, "ip4") && ctl_jstr(f, "jid"))
			all[n++] = ctl_jstr(f, "jid");
	}
	fprintf(c->out, "# ipop friends (ipopctl hosts)\n");
	json_array_foreach(list, i, f) {
		const char *ip = ctl_jstr(f, "ip4"), *jid = ctl_jstr(f, "jid");
		char name[JID_HOSTNAME_MAX];
		if (ip && jid && jid_hostname(jid, all, n, name, sizeof(name)))
			fprintf(c->out, "%s\t%s." JID_HOSTNAME_SUFFIX "\n", ip, name);
	}
	free(all);
	json_decref(list);
	return CTL_EXIT_OK;
}
