/* Friend host names (jid_hostname.h). */
#include "jid_hostname.h"

#include <stdio.h>
#include <string.h>

/* The user part as a DNS label, lower-cased. */
static bool label_of(const char *jid, char out[64])
{
	const char *at = strchr(jid, '@');
	size_t n = at ? (size_t)(at - jid) : 0;
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = jid[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch + 32);
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		out[i] = ch;
	}
	out[n] = '\0';
	return out[0] != '-' && out[n - 1] != '-';
}

/* The domain as DNS labels, lower-cased (IP literals and odd characters
 * refused). */
static bool domain_of(const char *jid, char *out, size_t cap)
{
	const char *d = strchr(jid, '@');
	if (!d || !d[1] || strlen(d + 1) >= cap)
		return false;
	size_t i = 0, lab = 0;
	for (d++; *d; d++, i++) {
		char ch = *d >= 'A' && *d <= 'Z' ? (char)(*d + 32) : *d;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
		if (!ok || (ch == '.' && lab == 0) || ++lab > 64)
			return false;
		if (ch == '.')
			lab = 0;
		out[i] = ch;
	}
	out[i] = '\0';
	return lab > 0;
}

bool jid_hostname(const char *bare, const char *const *all, size_t n, char *out, size_t cap)
{
	char l[64], l2[64], dom[JID_HOSTNAME_MAX];
	if (!label_of(bare, l))
		return false;
	bool shared = false;
	for (size_t i = 0; i < n && !shared; i++)
		shared = strcmp(all[i], bare) != 0 && label_of(all[i], l2) && strcmp(l, l2) == 0;
	if (!shared)
		return snprintf(out, cap, "%s", l) < (int)cap;
	if (!domain_of(bare, dom, sizeof(dom)))
		return false;
	int k = snprintf(out, cap, "%s.%s", l, dom);
	return k > 0 && (size_t)k < cap && (size_t)k + sizeof("." JID_HOSTNAME_SUFFIX) <= 254;
}
