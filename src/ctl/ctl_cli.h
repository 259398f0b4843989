/* ipopctl's subcommands and the helpers they share. Each subcommand lives
 * in its own file (ctl_<name>.c) and is listed in main.c's table. */
#ifndef IPOP_CTL_CLI_H
#define IPOP_CTL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Exit codes, documented in docs/ipopctl.md. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,        /* the daemon refused, or its reply is unusable */
	CTL_EXIT_USAGE = 2,       /* bad command line */
	CTL_EXIT_UNREACHABLE = 3, /* no daemon on the socket, or it timed out */
};

struct ctl_cli {
	const char *socket;
	const char *config; /* -c: the node's config.json (netcheck), NULL: default */
	bool json;   /* machine-readable output */
	bool color;  /* ANSI colours: only when stdout is a terminal */
	FILE *out, *err;
	time_t now;  /* wall clock for "12s ago" */
};

/* A subcommand: argv[0] is its name; returns a CTL_EXIT_* code. */
typedef int (*ctl_cli_fn)(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_status(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_peers(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_friends(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_friend(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_hosts(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_netcheck(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_pins(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_pin(struct ctl_cli *c, int argc, char **argv);
int ctl_cmd_members(struct ctl_cli *c, int argc, char **argv);

/* ---- ctl_cli.c: I/O glue ---- */
/* Sends req; on failure prints "ipopctl: REASON" to c->err and returns
 * the exit code, else CTL_EXIT_OK with *result set (caller decrefs). */
int ctl_cli_call(struct ctl_cli *c, const char *req, json_t **result);
/* Pretty JSON on c->out, newline-terminated. */
int ctl_cli_print_json(struct ctl_cli *c, const json_t *v);
/* "ipopctl NAME: unexpected argument 'X'" when argc > 1; else 0. */
int ctl_cli_no_args(struct ctl_cli *c, int argc, char **argv);

/* ---- ctl_fmt.c: pure formatting ---- */
enum ctl_color { CTL_C_RESET = 0, CTL_C_BOLD, CTL_C_GREEN, CTL_C_YELLOW, CTL_C_RED, CTL_C_CYAN };
enum { CTL_FMT_LEN = 48 };
/* The escape sequence, or "" without colour. */
const char *ctl_color(const struct ctl_cli *c, enum ctl_color k);
/* "0 B", "999 B", "1.50 KiB", "12.3 MiB", ... */
const char *ctl_fmt_bytes(uint64_t v, char buf[CTL_FMT_LEN]);
/* "never" for then <= 0, "now", "12s ago", "3m 4s ago", "2h 5m ago", "3d 2h ago". */
const char *ctl_fmt_ago(int64_t then, time_t now, char buf[CTL_FMT_LEN]);
/* "-" for a negative value, "0.423 ms", "12.35 ms", "250.0 ms": microseconds
 * show below 10 ms. */
const char *ctl_fmt_rtt(double ms, char buf[CTL_FMT_LEN]);
/* A JID for a table: the "ipop-<40 hex>" resource cut to 8 hex digits. */
const char *ctl_fmt_jid(const char *jid, char *buf, size_t cap);
/* Terminal columns s takes: UTF-8 code points (no wide characters). */
size_t ctl_fmt_width(const char *s);

/* ---- ctl_table.c: tables for people ---- */
enum { CTL_TABLE_MAX_COLS = 16 };
struct ctl_table {
	const char *const *names;  /* ncols column headings */
	size_t ncols;
	const char *cells;         /* row r, column k: cells + r * row_stride + k * cell_len */
	size_t cell_len, row_stride, nrows;
	int color_col;             /* the column coloured by color(), or -1 */
	enum ctl_color (*color)(const char *cell);
	void (*after)(struct ctl_cli *c, size_t row, void *ctx); /* detail lines; may be NULL */
	void *ctx;
};
void ctl_table_print(struct ctl_cli *c, const struct ctl_table *t);

/* JSON accessors that tolerate missing members and wrong types. */
const char *ctl_jstr(const json_t *o, const char *key); /* NULL unless a string */
/* The member as an integer, or def when missing, null or not a number. */
int64_t ctl_jint(const json_t *o, const char *key, int64_t def);
/* The member as a number, or def. */
double ctl_jnum(const json_t *o, const char *key, double def);

#endif
