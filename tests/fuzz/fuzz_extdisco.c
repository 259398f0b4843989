/* XEP-0215 answer fuzzer: the XMPP server's <iq><services/></iq> (or a
 * disco#info result) as libstrophe parses it, through the walker and the
 * attribute validation. Whatever is accepted must be well-formed: a
 * printable, NUL-terminated host, a port, credentials in pairs. The
 * input is also tried as an XEP-0082 date-time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "extdisco.h"
#include "xmpp_extdisco.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *ctx;

static void check(const struct extdisco_service *s)
{
	size_t h = strnlen(s->host, sizeof(s->host));
	if (h == 0 || h >= sizeof(s->host) || s->port == 0)
		abort();
	if (strnlen(s->username, sizeof(s->username)) >= sizeof(s->username) ||
	    strnlen(s->password, sizeof(s->password)) >= sizeof(s->password))
		abort();
	if (!s->username[0] != !s->password[0])
		abort();
	if (s->kind != EXTDISCO_STUN && s->kind != EXTDISCO_TURN)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct extdisco_service sv[EXTDISCO_MAX];
	unsigned skipped;
	int64_t t;

	if (size > 16384)
		return 0;
	if (!ctx) {
		xmpp_initialize();
		ctx = xmpp_ctx_new(NULL, NULL);
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)extdisco_datetime(s, &t);
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, s);
	if (st) {
		unsigned n = xmpp_extdisco_parse(st, sv, EXTDISCO_MAX, &skipped);
		if (n > EXTDISCO_MAX)
			abort();
		for (unsigned i = 0; i < n; i++)
			check(&sv[i]);
		(void)extdisco_refresh_at(sv, n, 1700000000);
		(void)xmpp_extdisco_offered(st);
		xmpp_stanza_release(st);
	}
	free(s);
	return 0;
}
