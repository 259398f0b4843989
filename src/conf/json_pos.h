/* Source positions of JSON values. jansson keeps none per value, so after
 * jansson has accepted a text, this scans it once more and records the
 * line:column of keys and values down to a small depth, for diagnostics. */
#ifndef IPOP_JSON_POS_H
#define IPOP_JSON_POS_H

#include <stdbool.h>
#include <stddef.h>

enum { JSON_POS_MAX = 256, JSON_POS_PATH = 64, JSON_POS_DEPTH = 3 };

/* path: "key" for a top-level member, "key[2]" for an array element,
 * "key[2].sub" for a member of an object in an array or "key.sub" in an
 * object. Lines and columns are 1-based; columns count characters, like
 * jansson's json_error_t. An array element's key position is its value's. */
struct json_pos_entry {
	char path[JSON_POS_PATH];
	int kline, kcol, vline, vcol;
};

struct json_pos {
	unsigned n;
	struct json_pos_entry e[JSON_POS_MAX];
};

/* Records up to JSON_POS_DEPTH levels below the top-level value. Entries
 * beyond JSON_POS_MAX or with longer paths are not recorded. Safe on any
 * input, but only meaningful for text jansson has accepted. */
void json_pos_scan(struct json_pos *t, const char *text, size_t len);
/* Position of path's key (key=true) or value. false when not recorded. */
bool json_pos_find(const struct json_pos *t, const char *path, bool key, int *line, int *col);

#endif
