/* XEP-0215 service attributes and XEP-0082 date-times (see extdisco.h).
 * Everything here comes from the XMPP server: lengths and characters are
 * checked before anything is copied. */
#include "extdisco.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

/* A host name or IP literal: letters, digits, '.', '-', ':' (IPv6), '_'. */
static bool host_ok(const char *s)
{
	size_t n = strnlen(s, EXTDISCO_HOST_MAX + 1);
	if (n == 0 || n > EXTDISCO_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-:_", s[i]))
			return false;
	return true;
}

static int port_parse(const char *s, uint16_t *out)
{
	unsigned v = 0;
	size_t n = strnlen(s, 6);
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int kind_parse(const char *type, const char *transport, struct extdisco_service *o)
{
	bool tls = false;
	if (strcmp(type, "stun") == 0)
		o->kind = EXTDISCO_STUN;
	else if (strcmp(type, "turn") == 0)
		o->kind = EXTDISCO_TURN;
	else if (strcmp(type, "turns") == 0)
		o->kind = EXTDISCO_TURN, tls = true;
	else
		return 1; /* stuns, ftp, ...: not for us */
	if (tls) {
		o->transport = EXTDISCO_TLS;
		return transport && strcmp(transport, "tcp") != 0 ? -1 : 0;
	}
	if (!transport || strcmp(transport, "udp") == 0)
		o->transport = EXTDISCO_UDP;
	else if (strcmp(transport, "tcp") == 0)
		o->transport = EXTDISCO_TCP;
	else
		return -1;
	return o->kind == EXTDISCO_STUN && o->transport != EXTDISCO_UDP ? 1 : 0;
}

int extdisco_service_parse(const char *type, const char *transport, const char *host, const char *port,
			   const char *username, const char *password, const char *expires,
			   struct extdisco_service *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!type || !host)
		return *why = "a service needs type and host", -1;
	int k = kind_parse(type, transport, out);
	if (k != 0) {
		*why = k > 0 ? "not a STUN/TURN service ipopd uses" : "transport must be udp or tcp";
		return k;
	}
	if (!host_ok(host))
		return *why = "host is not a host name or IP address", -1;
	snprintf(out->host, sizeof(out->host), "%s", host);
	if (port && port_parse(port, &out->port) < 0)
		return *why = "port must be 1..65535", -1;
	if (!port)
		out->port = out->transport == EXTDISCO_TLS ? 5349 : 3478;
	if (!username != !password)
		return *why = "username and password go together", -1;
	if (username) {
		if (!printable(username, EXTDISCO_CRED_MAX) || !printable(password, EXTDISCO_CRED_MAX))
			return *why = "username/password empty, too long or not printable", -1;
		snprintf(out->username, sizeof(out->username), "%s", username);
		snprintf(out->password, sizeof(out->password), "%s", password);
	}
	if (expires && extdisco_datetime(expires, &out->expires) < 0)
		return *why = "expires is not an XEP-0082 date-time", -1;
	return 0;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int zone(const char *s, int *offset_s)
{
	int hh, mm;
	if (s[0] == 'Z' && s[1] == '\0')
		return *offset_s = 0, 0;
	if ((s[0] != '+' && s[0] != '-') || !digits(s + 1, 2, &hh) || s[3] != ':' || !digits(s + 4, 2, &mm) ||
	    s[6] != '\0' || hh > 23 || mm > 59)
		return -1;
	*offset_s = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	return 0;
}

int extdisco_datetime(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se, off;
	size_t n = strnlen(s, 64);
	if (n < 20 || n > 40 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	const char *z = s + 19;
	if (*z == '.') { /* fractions of a second: ignored */
		z++;
		if (!isdigit((unsigned char)*z))
			return -1;
		while (isdigit((unsigned char)*z))
			z++;
	}
	if (zone(z, &off) < 0)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	return 0;
}

int64_t extdisco_refresh_at(const struct extdisco_service *s, unsigned n, int64_t now)
{
	int64_t at = now + EXTDISCO_REFRESH_NONE_S;
	for (unsigned i = 0; i < n; i++) {
		if (s[i].kind != EXTDISCO_TURN || !s[i].username[0] || !s[i].expires)
			continue;
		int64_t life = s[i].expires - now;
		int64_t margin = life / 4 < EXTDISCO_REFRESH_MARGIN_S ? life / 4 : EXTDISCO_REFRESH_MARGIN_S;
		int64_t t = s[i].expires - margin;
		if (t < at)
			at = t;
	}
	return at < now + EXTDISCO_REFRESH_MIN_S ? now + EXTDISCO_REFRESH_MIN_S : at;
}
