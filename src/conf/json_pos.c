#include "json_pos.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct scan {
	const char *p, *end;
	int line, col;
	struct json_pos *t;
};

static void sc_adv(struct scan *s)
{
	if (s->p >= s->end)
		return;
	unsigned char c = (unsigned char)*s->p++;
	if (c == '\n') {
		s->line++;
		s->col = 1;
	} else if ((c & 0xC0) != 0x80) { /* UTF-8 continuation bytes share a column */
		s->col++;
	}
}

static int sc_peek(const struct scan *s) { return s->p < s->end ? (unsigned char)*s->p : -1; }

static void sc_ws(struct scan *s)
{
	int c;
	while ((c = sc_peek(s)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		sc_adv(s);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long sc_hex4(struct scan *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(sc_peek(s));
		if (h < 0)
			return -1;
		v = v * 16 + h;
		sc_adv(s);
	}
	return v;
}

/* Appends a code point as UTF-8; sets *ok false when out of room. */
static void put_utf8(char *out, size_t cap, size_t *n, unsigned long cp, bool *ok)
{
	char b[4];
	size_t k;
	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		k = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		k = 4;
	}
	if (*n + k >= cap) {
		*ok = false;
		return;
	}
	memcpy(out + *n, b, k);
	*n += k;
}

static unsigned long sc_escape(struct scan *s)
{
	int c = sc_peek(s);
	sc_adv(s);
	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': break;
	default: return (unsigned long)(c < 0 ? 0 : c); /* '"', '\\', '/' */
	}
	long hi = sc_hex4(s);
	if (hi < 0xD800 || hi > 0xDBFF || sc_peek(s) != '\\')
		return hi < 0 ? 0 : (unsigned long)hi;
	/* a surrogate pair: "\uD83D\uDE00" */
	sc_adv(s);
	if (sc_peek(s) != 'u')
		return 0;
	sc_adv(s);
	long lo = sc_hex4(s);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return 0;
	return 0x10000 + (((unsigned long)hi - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
}

/* Reads a string starting at '"', decoding it into out when out != NULL.
 * *ok turns false if it did not fit. */
static void sc_string(struct scan *s, char *out, size_t cap, bool *ok)
{
	size_t n = 0;
	sc_adv(s); /* opening quote */
	for (;;) {
		int c = sc_peek(s);
		if (c < 0 || c == '"')
			break;
		if (c == '\\') {
			sc_adv(s);
			unsigned long cp = sc_escape(s);
			if (out)
				put_utf8(out, cap, &n, cp, ok);
			continue;
		}
		if (out) {
			if (n + 1 >= cap)
				*ok = false;
			else
				out[n++] = (char)c;
		}
		sc_adv(s);
	}
	sc_adv(s); /* closing quote */
	if (out)
		out[n < cap ? n : cap - 1] = '\0';
}

/* A number, true, false or null. Always moves at least one byte, so junk
 * (even a NUL, which strchr would find in its own set) cannot stall a
 * caller's loop. */
static void sc_literal(struct scan *s)
{
	int c;
	do
		sc_adv(s);
	while ((c = sc_peek(s)) > 0 && !strchr(",:[]{}\" \t\r\n", c));
}

/* Skips a value without recording anything below it, iteratively, so deep
 * nesting cannot exhaust the stack. */
static void sc_skip(struct scan *s)
{
	int depth = 0;
	do {
		sc_ws(s);
		int c = sc_peek(s);
		if (c < 0)
			return;
		if (c == '"') {
			sc_string(s, NULL, 0, NULL);
		} else if (c == '{' || c == '[') {
			depth++;
			sc_adv(s);
		} else if (c == '}' || c == ']') {
			depth--;
			sc_adv(s);
		} else if (c == ',' || c == ':') {
			sc_adv(s);
		} else {
			sc_literal(s);
		}
	} while (depth > 0);
}

static void record(struct scan *s, const char *path, int kl, int kc)
{
	struct json_pos *t = s->t;
	if (!path || t->n >= JSON_POS_MAX)
		return;
	struct json_pos_entry *e = &t->e[t->n++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->kline = kl;
	e->kcol = kc;
	e->vline = s->line;
	e->vcol = s->col;
}

static void sc_value(struct scan *s, const char *path, int depth);

static void sc_object(struct scan *s, const char *path, int depth)
{
	sc_adv(s); /* '{' */
	for (;;) {
		sc_ws(s);
		int c = sc_peek(s);
		if (c != '"') {
			sc_adv(s); /* '}' (or garbage: stop) */
			return;
		}
		char key[JSON_POS_PATH], child[JSON_POS_PATH];
		bool ok = true;
		int kl = s->line, kc = s->col;
		sc_string(s, key, sizeof(key), &ok);
		int w = path ? snprintf(child, sizeof(child), "%s.%s", path, key)
			     : snprintf(child, sizeof(child), "%s", key);
		bool rec = ok && w > 0 && (size_t)w < sizeof(child);
		sc_ws(s);
		if (sc_peek(s) == ':')
			sc_adv(s);
		sc_ws(s);
		if (rec)
			record(s, child, kl, kc);
		sc_value(s, rec ? child : NULL, depth);
		sc_ws(s);
		if (sc_peek(s) != ',') {
			sc_adv(s);
			return;
		}
		sc_adv(s);
	}
}

static void sc_array(struct scan *s, const char *path, int depth)
{
	sc_adv(s); /* '[' */
	for (unsigned i = 0;; i++) {
		sc_ws(s);
		int c = sc_peek(s);
		if (c < 0 || c == ']') {
			sc_adv(s);
			return;
		}
		char child[JSON_POS_PATH];
		int w = snprintf(child, sizeof(child), "%s[%u]", path ? path : "", i);
		bool rec = path && w > 0 && (size_t)w < sizeof(child);
		if (rec)
			record(s, child, s->line, s->col);
		sc_value(s, rec ? child : NULL, depth);
		sc_ws(s);
		if (sc_peek(s) != ',') {
			sc_adv(s);
			return;
		}
		sc_adv(s);
	}
}

/* depth counts the containers entered so far; path is NULL when nothing
 * below should be recorded (except at the top, depth 0). */
static void sc_value(struct scan *s, const char *path, int depth)
{
	int c = sc_peek(s);
	bool descend = depth < JSON_POS_DEPTH && (path || depth == 0);
	if ((c == '{' || c == '[') && !descend) {
		sc_skip(s);
	} else if (c == '{') {
		sc_object(s, path, depth + 1);
	} else if (c == '[') {
		sc_array(s, path, depth + 1);
	} else if (c == '"') {
		sc_string(s, NULL, 0, NULL);
	} else {
		sc_literal(s);
	}
}

void json_pos_scan(struct json_pos *t, const char *text, size_t len)
{
	struct scan s = { text, text + len, 1, 1, t };
	t->n = 0;
	sc_ws(&s);
	sc_value(&s, NULL, 0);
}

bool json_pos_find(const struct json_pos *t, const char *path, bool key, int *line, int *col)
{
	for (unsigned i = 0; i < t->n; i++) {
		const struct json_pos_entry *e = &t->e[i];
		if (strcmp(e->path, path) == 0) {
			*line = key ? e->kline : e->vline;
			*col = key ? e->kcol : e->vcol;
			return true;
		}
	}
	return false;
}
