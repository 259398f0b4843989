/* libFuzzer harness for xmpp_roster.c, who links with whom: the input is
 * a list of operations (roster items, asks, presence) on JIDs taken from
 * the input; after each, the invariants must hold: only ipop resources of
 * our own account or of a contact with subscription "both" are allowed,
 * never ourselves, and every event names an ipop resource. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmpp_roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#define OWN "alice@example.test/ipop-0000000000000000000000000000000000000001"

static void on_event(void *ctx, enum roster_event ev, const char *full)
{
	(void)ctx;
	(void)ev;
	CHECK(jid_is_ipop_resource(full));
	CHECK(strcmp(full, OWN) != 0);
}

/* The next JID: a length byte and that many bytes of the input. */
static size_t next_jid(const uint8_t **d, size_t *n, char *out, size_t cap)
{
	if (*n < 1)
		return 0;
	size_t len = (*d)[0] % 96;
	(*d)++, (*n)--;
	if (len > *n)
		len = *n;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, *d, len);
	out[len] = '\0';
	*d += len, *n -= len;
	return len + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xmpp_roster r;
	char jid[128], bare[XMPP_JID_MAX];
	const char *res;

	roster_init(&r, OWN, on_event, NULL);
	while (size >= 2) {
		uint8_t op = data[0];
		data++, size--;
		if (!next_jid(&data, &size, jid, sizeof(jid)))
			break;
		switch (op % 6) {
		case 0: roster_set(&r, jid, (enum roster_sub)(op / 6 % 5)); break;
		case 1: roster_set_ask(&r, jid, op & 0x40); break;
		case 2: roster_presence(&r, jid, op & 0x40); break;
		case 3: roster_clear_presence(&r); break;
		case 4: (void)jid_pattern_match(jid, "bob@example.test"); break;
		default: (void)roster_sub_parse(jid); break;
		}
		bool ok = roster_peer_allowed(&r, jid);
		if (ok) {
			CHECK(jid_is_ipop_resource(jid));
			CHECK(strcasecmp(jid, OWN) != 0);
			CHECK(jid_split(jid, bare, sizeof(bare), &res));
			enum roster_sub sub;
			bool ask;
			CHECK(strcmp(bare, "alice@example.test") == 0 ||
			      (roster_contact_get(&r, bare, &sub, &ask) && sub == ROSTER_SUB_BOTH));
		}
	}
	roster_free(&r);
	return 0;
}
