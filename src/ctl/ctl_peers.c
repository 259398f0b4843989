/* ipopctl peers: one line per peer with its link's state and path. */
#include "ctl_cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { COL_JID, COL_IP, COL_KEY, COL_STATE, COL_PATH, COL_RTT, COL_RX, COL_TX, COL_HS, N_COLS };
enum { CELL_LEN = 192 };

static const char *const col_names[N_COLS] = {
	"JID", "ADDRESS", "KEY", "STATE", "PATH", "RTT", "RX", "TX", "HANDSHAKE",
};

struct peer_row {
	char cell[N_COLS][CELL_LEN];
	const char *why; /* why_not_direct, or NULL */
	const char *refused_paths; /* paths_refused, or NULL */
	const char *trust_refused; /* why its signalling was refused, or NULL */
	const json_t *routes, *refused; /* arrays, or NULL */
};

static enum ctl_color state_color(const char *st)
{
	if (st && strcmp(st, "up") == 0)
		return CTL_C_GREEN;
	if (!st || strcmp(st, "down") == 0)
		return CTL_C_RED;
	return CTL_C_YELLOW;
}

/* "direct host->srflx 198.51.100.7:4000", "relay srflx->relay 203.0.113.9:50000
 * via 203.0.113.1:3478", or "-" before a path is chosen. */
static void path_text(const json_t *p, char *buf, size_t cap)
{
	const char *path = ctl_jstr(p, "path"), *lt = ctl_jstr(p, "local_type"),
		   *rt = ctl_jstr(p, "remote_type"), *ep = ctl_jstr(p, "endpoint"),
		   *relay = ctl_jstr(p, "relay");
	if (!path) {
		snprintf(buf, cap, "-");
		return;
	}
	int n = snprintf(buf, cap, "%s %s->%s %s", path, lt ? lt : "?", rt ? rt : "?", ep ? ep : "?");
	if (relay && n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, " via %s", relay);
}

/* "0.523 ms (4s ago)": the smoothed RTT and when it was last measured;
 * "-" when the path has not been measured. */
static void rtt_text(const json_t *p, char *buf, size_t cap)
{
	char tmp[CTL_FMT_LEN];
	int64_t us = ctl_jint(p, "rtt_us", -1), age = ctl_jint(p, "rtt_age_ms", -1);
	double ms = us >= 0 ? (double)us / 1000 : ctl_jnum(p, "rtt_ms", -1); /* older daemons: rtt_ms only */

	ctl_fmt_rtt(ms, tmp);
	if (ms < 0 || age < 0)
		snprintf(buf, cap, "%s", tmp);
	else if (age < 1000)
		snprintf(buf, cap, "%s (now)", tmp);
	else
		snprintf(buf, cap, "%s (%" PRId64 "s ago)", tmp, age / 1000);
}

static void row_fill(struct ctl_cli *c, const json_t *p, struct peer_row *r)
{
	char tmp[CTL_FMT_LEN];
	const char *jid = ctl_jstr(p, "jid"), *ip = ctl_jstr(p, "ip4"), *ip6 = ctl_jstr(p, "ip6"),
		   *st = ctl_jstr(p, "state");
	ctl_fmt_jid(jid ? jid : "-", r->cell[COL_JID], CELL_LEN);
	/* dual-stack peers: both addresses in the column */
	snprintf(r->cell[COL_IP], CELL_LEN, "%s%s%s", ip ? ip : "-", ip6 ? " " : "", ip6 ? ip6 : "");
	/* the key's first characters, to compare with the peer's own status */
	const char *key = ctl_jstr(p, "key");
	snprintf(r->cell[COL_KEY], CELL_LEN, "%.8s%s", key ? key : "-", key ? "..." : "");
	snprintf(r->cell[COL_STATE], CELL_LEN, "%s", st ? st : "?");
	path_text(p, r->cell[COL_PATH], CELL_LEN);
	rtt_text(p, r->cell[COL_RTT], CELL_LEN);
	snprintf(r->cell[COL_RX], CELL_LEN, "%s",
		 ctl_fmt_bytes((uint64_t)ctl_jint(p, "rx_bytes", 0), tmp));
	snprintf(r->cell[COL_TX], CELL_LEN, "%s",
		 ctl_fmt_bytes((uint64_t)ctl_jint(p, "tx_bytes", 0), tmp));
	snprintf(r->cell[COL_HS], CELL_LEN, "%s",
		 ctl_fmt_ago(ctl_jint(p, "last_handshake", 0), c->now, tmp));
	r->why = ctl_jstr(p, "why_not_direct");
	r->refused_paths = ctl_jstr(p, "paths_refused");
	r->trust_refused = ctl_jstr(p, "trust_refused");
	const json_t *a = json_object_get(p, "routes"), *b = json_object_get(p, "routes_refused");
	r->routes = json_is_array(a) && json_array_size(a) ? a : NULL;
	r->refused = json_is_array(b) && json_array_size(b) ? b : NULL;
}

/* "  routes: 10.77.0.0/24 fd00:77::/64", then one line per refused route. */
static void routes_print(struct ctl_cli *c, const struct peer_row *r)
{
	if (r->routes) {
		fprintf(c->out, "  %sroutes:%s", ctl_color(c, CTL_C_CYAN), ctl_color(c, CTL_C_RESET));
		for (size_t i = 0; i < json_array_size(r->routes); i++) {
			const char *s = json_string_value(json_array_get(r->routes, i));
			fprintf(c->out, " %s", s ? s : "?");
		}
		fputc('\n', c->out);
	}
	for (size_t i = 0; r->refused && i < json_array_size(r->refused); i++) {
		const json_t *e = json_array_get(r->refused, i);
		const char *pfx = ctl_jstr(e, "prefix"), *why = ctl_jstr(e, "why");
		fprintf(c->out, "  %sroute refused:%s %s: %s\n", ctl_color(c, CTL_C_RED), ctl_color(c, CTL_C_RESET),
			pfx ? pfx : "?", why ? why : "?");
	}
}

static void row_details(struct ctl_cli *c, size_t i, void *ctx)
{
	const struct peer_row *r = (const struct peer_row *)ctx + i;

	if (r->why)
		fprintf(c->out, "  %snot direct:%s %s\n", ctl_color(c, CTL_C_YELLOW), ctl_color(c, CTL_C_RESET), r->why);
	if (r->refused_paths)
		fprintf(c->out, "  %spath refused:%s %s\n", ctl_color(c, CTL_C_YELLOW), ctl_color(c, CTL_C_RESET),
			r->refused_paths);
	routes_print(c, r);
	if (r->trust_refused)
		fprintf(c->out, "  %srefused:%s %s\n", ctl_color(c, CTL_C_RED), ctl_color(c, CTL_C_RESET),
			r->trust_refused);
}

static int peers_print(struct ctl_cli *c, const json_t *list)
{
	size_t n = json_array_size(list);
	if (n == 0) {
		fprintf(c->out, "no peers\n");
		return CTL_EXIT_OK;
	}
	struct peer_row *rows = calloc(n, sizeof(*rows));
	if (!rows) {
		fprintf(c->err, "ipopctl: out of memory\n");
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		row_fill(c, json_array_get(list, i), &rows[i]);
	const struct ctl_table t = { col_names, N_COLS, rows[0].cell[0], CELL_LEN, sizeof(rows[0]), n,
				     COL_STATE, state_color, row_details, rows };
	ctl_table_print(c, &t);
	free(rows);
	return CTL_EXIT_OK;
}

int ctl_cmd_peers(struct ctl_cli *c, int argc, char **argv)
{
	int rc = ctl_cli_no_args(c, argc, argv);
	json_t *list = NULL;
	if (rc == 0)
		rc = ctl_cli_call(c, "peers", &list);
	if (rc != 0)
		return rc;
	if (!json_is_array(list)) {
		fprintf(c->err, "ipopctl: the daemon's peer list is not an array\n");
		rc = CTL_EXIT_FAIL;
	} else if (c->json) {
		rc = ctl_cli_print_json(c, list);
	} else {
		rc = peers_print(c, list);
	}
	json_decref(list);
	return rc;
}
