/* A table for people: a bold header row, columns as wide as their widest
 * cell, one column coloured by its value, and lines of detail under a row
 * (peers' "not direct", members' "not linked"). */
#include "ctl_cli.h"

#include <string.h>

static void cell_print(struct ctl_cli *c, const char *s, size_t width, enum ctl_color k, bool last)
{
	if (k == CTL_C_RESET)
		fputs(s, c->out);
	else
		fprintf(c->out, "%s%s%s", ctl_color(c, k), s, ctl_color(c, CTL_C_RESET));
	if (last)
		return;
	for (size_t w = ctl_fmt_width(s); w < width + 2; w++)
		fputc(' ', c->out);
}

static const char *cell(const struct ctl_table *t, size_t row, size_t col)
{
	return t->cells + row * t->row_stride + col * t->cell_len;
}

void ctl_table_print(struct ctl_cli *c, const struct ctl_table *t)
{
	size_t width[CTL_TABLE_MAX_COLS];

	for (size_t k = 0; k < t->ncols && k < CTL_TABLE_MAX_COLS; k++) {
		width[k] = strlen(t->names[k]);
		for (size_t i = 0; i < t->nrows; i++) {
			size_t w = ctl_fmt_width(cell(t, i, k));
			width[k] = w > width[k] ? w : width[k];
		}
	}
	for (size_t k = 0; k < t->ncols && k < CTL_TABLE_MAX_COLS; k++)
		cell_print(c, t->names[k], width[k], CTL_C_BOLD, k == t->ncols - 1);
	fputc('\n', c->out);
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t k = 0; k < t->ncols && k < CTL_TABLE_MAX_COLS; k++) {
			const char *s = cell(t, i, k);
			enum ctl_color col = (int)k == t->color_col && t->color ? t->color(s) : CTL_C_RESET;
			cell_print(c, s, width[k], col, k == t->ncols - 1);
		}
		fputc('\n', c->out);
		if (t->after)
			t->after(c, i, t->ctx);
	}
}
