#include "ctl_cli.h"

#include <inttypes.h>
#include <string.h>

const char *ctl_color(const struct ctl_cli *c, enum ctl_color k)
{
	static const char *const codes[] = {
		[CTL_C_RESET] = "\033[0m", [CTL_C_BOLD] = "\033[1m",    [CTL_C_GREEN] = "\033[32m",
		[CTL_C_YELLOW] = "\033[33m", [CTL_C_RED] = "\033[31m", [CTL_C_CYAN] = "\033[36m",
	};
	if (!c->color || (unsigned)k >= sizeof(codes) / sizeof(codes[0]))
		return "";
	return codes[k];
}

const char *ctl_fmt_bytes(uint64_t v, char buf[CTL_FMT_LEN])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (v < 1024) {
		snprintf(buf, CTL_FMT_LEN, "%" PRIu64 " B", v);
		return buf;
	}
	double d = (double)v / 1024;
	unsigned u = 0;
	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	/* Three significant digits, like "1.50 KiB", "12.3 MiB", "512 GiB". */
	int prec = d < 10 ? 2 : d < 100 ? 1 : 0;
	snprintf(buf, CTL_FMT_LEN, "%.*f %s", prec, d, units[u]);
	return buf;
}

const char *ctl_fmt_ago(int64_t then, time_t now, char buf[CTL_FMT_LEN])
{
	if (then <= 0) {
		snprintf(buf, CTL_FMT_LEN, "never");
		return buf;
	}
	int64_t s = (int64_t)now - then;
	if (s <= 0) /* clocks of the daemon and of ipopctl agree to the second */
		snprintf(buf, CTL_FMT_LEN, "now");
	else if (s < 60)
		snprintf(buf, CTL_FMT_LEN, "%" PRId64 "s ago", s);
	else if (s < 3600)
		snprintf(buf, CTL_FMT_LEN, "%" PRId64 "m %" PRId64 "s ago", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, CTL_FMT_LEN, "%" PRId64 "h %" PRId64 "m ago", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, CTL_FMT_LEN, "%" PRId64 "d %" PRId64 "h ago", s / 86400, s % 86400 / 3600);
	return buf;
}

const char *ctl_fmt_rtt(double ms, char buf[CTL_FMT_LEN])
{
	if (!(ms >= 0)) /* also NaN */
		snprintf(buf, CTL_FMT_LEN, "-");
	else
		snprintf(buf, CTL_FMT_LEN, "%.*f ms", ms < 10 ? 3 : ms < 100 ? 2 : 1, ms);
	return buf;
}

const char *ctl_fmt_jid(const char *jid, char *buf, size_t cap)
{
	const char *res = strstr(jid, "/ipop-");
	size_t keep = strlen(jid);
	if (res && strlen(res + 6) > 8)
		keep = (size_t)(res - jid) + 6 + 8;
	snprintf(buf, cap, "%.*s", (int)keep, jid);
	return buf;
}

size_t ctl_fmt_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

const char *ctl_jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t ctl_jint(const json_t *o, const char *key, int64_t def)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return def;
}

double ctl_jnum(const json_t *o, const char *key, double def)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : def;
}
