/* ipopctl members: every online member of the group and how this node
 * reaches it: its own link, or through the overlay via which member and
 * how many hops, with the RTT and why there is no direct link. */
#include "ctl_cli.h"

#include <stdlib.h>
#include <string.h>

enum { COL_JID, COL_IP, COL_REACH, COL_VIA, COL_HOPS, COL_RTT, COL_KEPT, N_COLS };
enum { CELL_LEN = 160 };

static const char *const col_names[N_COLS] = {
	"MEMBER", "ADDRESS", "REACHED", "VIA", "HOPS", "RTT", "LINK KEPT FOR",
};

struct member_row {
	char cell[N_COLS][CELL_LEN];
	const char *why; /* why_not_linked, or NULL */
};

static enum ctl_color reach_color(const char *s)
{
	if (strncmp(s, "link", 4) == 0)
		return CTL_C_GREEN;
	if (strcmp(s, "overlay") == 0 || strcmp(s, "connecting") == 0)
		return CTL_C_YELLOW;
	return CTL_C_RED;
}

static void row_fill(const json_t *m, struct member_row *r)
{
	char tmp[CTL_FMT_LEN];
	const char *jid = ctl_jstr(m, "jid"), *ip = ctl_jstr(m, "ip4"), *reach = ctl_jstr(m, "reach"),
		   *path = ctl_jstr(m, "path"), *via = ctl_jstr(m, "via"), *kept = ctl_jstr(m, "kept_for"),
		   *why = ctl_jstr(m, "why_not_linked");
	int64_t hops = ctl_jint(m, "hops", 0);

	ctl_fmt_jid(jid ? jid : "-", r->cell[COL_JID], CELL_LEN);
	snprintf(r->cell[COL_IP], CELL_LEN, "%s", ip ? ip : "-");
	if (reach && strcmp(reach, "link") == 0 && path)
		snprintf(r->cell[COL_REACH], CELL_LEN, "link (%s)", path);
	else
		snprintf(r->cell[COL_REACH], CELL_LEN, "%s", reach ? reach : "?");
	if (via)
		ctl_fmt_jid(via, r->cell[COL_VIA], CELL_LEN);
	else
		snprintf(r->cell[COL_VIA], CELL_LEN, "-");
	if (hops > 0)
		snprintf(r->cell[COL_HOPS], CELL_LEN, "%lld", (long long)hops);
	else
		snprintf(r->cell[COL_HOPS], CELL_LEN, "-");
	snprintf(r->cell[COL_RTT], CELL_LEN, "%s", ctl_fmt_rtt(ctl_jnum(m, "rtt_ms", -1), tmp));
	snprintf(r->cell[COL_KEPT], CELL_LEN, "%s", kept ? kept : "-");
	r->why = why && *why ? why : NULL;
}

static void row_details(struct ctl_cli *c, size_t i, void *ctx)
{
	const struct member_row *r = (const struct member_row *)ctx + i;

	if (r->why)
		fprintf(c->out, "  %snot linked:%s %s\n", ctl_color(c, CTL_C_YELLOW), ctl_color(c, CTL_C_RESET),
			r->why);
}

static int members_print(struct ctl_cli *c, const json_t *list)
{
	size_t n = json_array_size(list);

	if (n == 0) {
		fprintf(c->out, "no members online (members are a GroupVPN's; social mode has friends)\n");
		return CTL_EXIT_OK;
	}
	struct member_row *rows = calloc(n, sizeof(*rows));
	if (!rows) {
		fprintf(c->err, "ipopctl: out of memory\n");
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		row_fill(json_array_get(list, i), &rows[i]);
	const struct ctl_table t = { col_names, N_COLS, rows[0].cell[0], CELL_LEN, sizeof(rows[0]), n,
				     COL_REACH, reach_color, row_details, rows };
	ctl_table_print(c, &t);
	free(rows);
	return CTL_EXIT_OK;
}

int ctl_cmd_members(struct ctl_cli *c, int argc, char **argv)
{
	int rc = ctl_cli_no_args(c, argc, argv);
	json_t *list = NULL;

	if (rc == 0)
		rc = ctl_cli_call(c, "members", &list);
	if (rc != 0)
		return rc;
	if (!json_is_array(list)) {
		fprintf(c->err, "ipopctl: the daemon's member list is not an array\n");
		rc = CTL_EXIT_FAIL;
	} else if (c->json) {
		rc = ctl_cli_print_json(c, list);
	} else {
		rc = members_print(c, list);
	}
	json_decref(list);
	return rc;
}
