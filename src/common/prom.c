#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(struct prom_buf *b, char *buf, size_t cap)
{
	*b = (struct prom_buf){ .buf = buf, .cap = cap };
	if (cap)
		buf[0] = '\0';
}

static bool put(struct prom_buf *b, const void *p, size_t n)
{
	if (b->overflow || b->cap - b->len <= n) { /* keep room for the NUL */
		b->overflow = true;
		return false;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return true;
}

static bool puts_(struct prom_buf *b, const char *s)
{
	return put(b, s, strlen(s));
}

bool prom_name_valid(const char *name, bool label)
{
	if (!name || !*name)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (c == ':' && !label);
		if (!alpha && !(p != name && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
	if (n == 0 || c > 0xF4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
			return 0;
	if (c == 0xE0 && s[1] < 0xA0) /* overlong */
		return 0;
	if (c == 0xED && s[1] >= 0xA0) /* surrogate */
		return 0;
	if (c == 0xF0 && s[1] < 0x90) /* overlong */
		return 0;
	if (c == 0xF4 && s[1] >= 0x90) /* above U+10FFFF */
		return 0;
	return n;
}

/* Copies v escaping '\\', newline and (in label values) '"', and turns
 * each byte that does not start valid UTF-8 into U+FFFD. */
static bool escape(struct prom_buf *b, const char *v, bool quote)
{
	const unsigned char *s = (const unsigned char *)v;
	while (*s) {
		size_t run = 0, n;
		/* copy the longest run needing no escape in one go */
		while (s[run] && s[run] != '\\' && !(quote && s[run] == '"') && s[run] != '\n' &&
		       (n = utf8_len(s + run)) > 0)
			run += n;
		if (run && !put(b, s, run))
			return false;
		s += run;
		if (!*s)
			break;
		bool ok;
		if (*s == '\\')
			ok = put(b, "\\\\", 2);
		else if (*s == '"')
			ok = put(b, "\\\"", 2);
		else if (*s == '\n')
			ok = put(b, "\\n", 2);
		else
			ok = put(b, "\xEF\xBF\xBD", 3); /* U+FFFD for a bad byte */
		if (!ok)
			return false;
		s++;
	}
	return !b->overflow;
}

bool prom_escape_label(struct prom_buf *b, const char *v)
{
	return escape(b, v, true);
}

/* Runs f; on overflow the buffer goes back to where the line began. */
#define WHOLE_LINE(b, body)                              \
	do {                                             \
		size_t start_ = (b)->len;                \
		if (!(b)->overflow && !(body)) {         \
			(b)->len = start_;               \
			if ((b)->cap)                    \
				(b)->buf[start_] = '\0'; \
		}                                        \
	} while (0)

void prom_family(struct prom_buf *b, const char *name, enum prom_type type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "untyped" };
	if (!prom_name_valid(name, false) || (unsigned)type > PROM_UNTYPED) {
		b->bad_name = true;
		return;
	}
	WHOLE_LINE(b, puts_(b, "# HELP ") && puts_(b, name) && put(b, " ", 1) &&
			      escape(b, help ? help : "", false) && put(b, "\n", 1) &&
			      puts_(b, "# TYPE ") && puts_(b, name) && put(b, " ", 1) &&
			      puts_(b, types[type]) && put(b, "\n", 1));
}

static bool put_labels(struct prom_buf *b, const struct prom_label *l, size_t n)
{
	if (n == 0)
		return true;
	if (!put(b, "{", 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((i && !put(b, ",", 1)) || !puts_(b, l[i].name) || !put(b, "=\"", 2) ||
		    !prom_escape_label(b, l[i].value ? l[i].value : "") || !put(b, "\"", 1))
			return false;
	}
	return put(b, "}", 1);
}

static bool names_ok(struct prom_buf *b, const char *name, const struct prom_label *l, size_t n)
{
	bool ok = prom_name_valid(name, false);
	for (size_t i = 0; i < n && ok; i++)
		ok = prom_name_valid(l[i].name, true);
	if (!ok)
		b->bad_name = true;
	return ok;
}

void prom_sample(struct prom_buf *b, const char *name, const struct prom_label *labels,
		 size_t nlabels, uint64_t value)
{
	char num[24];
	if (!names_ok(b, name, labels, nlabels))
		return;
	int n = snprintf(num, sizeof(num), " %llu\n", (unsigned long long)value);
	WHOLE_LINE(b, puts_(b, name) && put_labels(b, labels, nlabels) && put(b, num, (size_t)n));
}

void prom_sample_f(struct prom_buf *b, const char *name, const struct prom_label *labels,
		   size_t nlabels, double value)
{
	char num[40];
	int n;
	if (!names_ok(b, name, labels, nlabels))
		return;
	if (isnan(value))
		n = snprintf(num, sizeof(num), " NaN\n");
	else if (isinf(value))
		n = snprintf(num, sizeof(num), value > 0 ? " +Inf\n" : " -Inf\n");
	else {
		/* the shortest of 15 or 17 digits that reads back the same */
		n = snprintf(num, sizeof(num), " %.15g\n", value);
		if (strtod(num, NULL) != value)
			n = snprintf(num, sizeof(num), " %.17g\n", value);
	}
	WHOLE_LINE(b, puts_(b, name) && put_labels(b, labels, nlabels) && put(b, num, (size_t)n));
}

void prom_one(struct prom_buf *b, const char *name, enum prom_type type, const char *help,
	      uint64_t value)
{
	prom_family(b, name, type, help);
	prom_sample(b, name, NULL, 0, value);
}

void prom_sample1(struct prom_buf *b, const char *name, const char *label, const char *lvalue,
		  uint64_t value)
{
	struct prom_label l = { label, lvalue };
	prom_sample(b, name, &l, 1, value);
}
