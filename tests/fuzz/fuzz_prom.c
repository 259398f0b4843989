/* libFuzzer harness for the Prometheus text writer (src/common/prom.c):
 * arbitrary bytes as a label value, in a buffer of a size the first byte
 * picks. Whatever the bytes, the output is whole lines of valid UTF-8 with
 * no raw newline, quote or backslash inside the value; read back, the
 * value is the input with invalid UTF-8 replaced by U+FFFD, so valid UTF-8
 * comes back unchanged. A buffer too small keeps only whole lines. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
			       : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
	for (size_t i = 1; i < len; i++)
		cp = cp << 6 | (s[i] & 0x3Fu);
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* What the writer must produce for in: U+FFFD for each byte that does not
 * start a valid sequence. */
static size_t sanitize(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(in + i, n - i);
		if (l) {
			memcpy(out + o, in + i, l);
			o += l;
			i += l;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	return o;
}

static char outbuf[16384];
static uint8_t want[3 * 4096 + 1], got[3 * 4096 + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	size_t cap = data[0] == 0 ? sizeof(outbuf) : (size_t)data[0] * 8;
	char *value = malloc(size);
	if (!value)
		return 0;
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	size_t vlen = strlen(value); /* the writer takes a C string */

	struct prom_buf b;
	prom_init(&b, outbuf, cap);
	prom_family(&b, "m", PROM_GAUGE, value); /* the help text too */
	prom_sample1(&b, "m", "l", value, 7);
	CHECK(!b.bad_name);
	CHECK(b.len < cap && strlen(outbuf) == b.len);
	CHECK(b.len == 0 || outbuf[b.len - 1] == '\n');

	const char *line = strstr(outbuf, "\nm{l=\"");
	if (!b.overflow) {
		CHECK(line);
		line += 1;
		const char *p = line + 5, *end = outbuf + b.len;
		size_t g = 0;
		for (; p < end && *p != '"'; p++) {
			CHECK(*p != '\n');
			if (*p == '\\') {
				p++;
				CHECK(*p == '\\' || *p == '"' || *p == 'n');
				got[g++] = *p == 'n' ? '\n' : (uint8_t)*p;
			} else {
				got[g++] = (uint8_t)*p;
			}
		}
		CHECK(p + 5 <= end && memcmp(p, "\"} 7\n", 5) == 0 && p + 5 == end);
		size_t w = sanitize((const uint8_t *)value, vlen, want);
		CHECK(g == w && memcmp(got, want, g) == 0);
	}
	/* every byte written is valid UTF-8 */
	for (size_t i = 0; i < b.len;) {
		size_t l = utf8_seq((const uint8_t *)outbuf + i, b.len - i);
		CHECK(l > 0);
		i += l;
	}
	free(value);
	return 0;
}
