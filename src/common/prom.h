/* A writer of the Prometheus text exposition format (version 0.0.4) into a
 * caller's buffer: HELP and TYPE lines, samples with escaped labels. It
 * allocates nothing; a sample that does not fit sets `overflow` and
 * leaves the buffer at the last whole line, so the caller can retry with
 * a bigger one (metrics_http.c does). Used by both daemons' exporters.
 *
 * Metric and label names are the caller's constants and must match
 * [a-zA-Z_:][a-zA-Z0-9_:]* (label names without ':'); a bad one sets
 * `bad_name` and writes nothing. Label values may be any bytes: '\\', '"'
 * and newline are escaped, and bytes that are not valid UTF-8 become
 * U+FFFD, so no input can break a line or the scraper's parser. */
#ifndef IPOP_PROM_H
#define IPOP_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_UNTYPED };

struct prom_buf {
	char *buf;
	size_t cap, len;
	bool overflow, bad_name;
};

struct prom_label {
	const char *name, *value;
};

void prom_init(struct prom_buf *b, char *buf, size_t cap);
/* "# HELP name help" and "# TYPE name type"; once per metric, before its
 * samples. '\\' and newline in help are escaped, bad UTF-8 replaced. */
void prom_family(struct prom_buf *b, const char *name, enum prom_type type, const char *help);
/* One sample "name{l1="v1",...} value". nlabels may be 0 (labels NULL). */
void prom_sample(struct prom_buf *b, const char *name, const struct prom_label *labels,
		 size_t nlabels, uint64_t value);
void prom_sample_f(struct prom_buf *b, const char *name, const struct prom_label *labels,
		   size_t nlabels, double value);
/* The common shapes: a family with one unlabelled sample, or with one
 * label. */
void prom_one(struct prom_buf *b, const char *name, enum prom_type type, const char *help,
	      uint64_t value);
void prom_sample1(struct prom_buf *b, const char *name, const char *label, const char *lvalue,
		  uint64_t value);

/* Appends v escaped as a label value (without quotes). false on overflow. */
bool prom_escape_label(struct prom_buf *b, const char *v);
bool prom_name_valid(const char *name, bool label);

#endif
