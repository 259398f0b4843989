/* Node id -> static key pins, each bound to the member (bare JID) it was
 * first seen under. A node id is the first 20 bytes of BLAKE2b(static
 * key), so the key of an id cannot change without the id changing (a
 * re-installed machine is a new device); what the pin adds is the member:
 * a node id first seen under bob@ is refused under mallory@, who could
 * otherwise announce bob's key (and catch his handshakes) from a resource
 * of her own account named after his id. Sans-IO: the daemon persists the
 * table through pins_format_line / pins_parse_line.
 *
 * Bounded: PINS_PER_MEMBER per member (its least recently seen goes when
 * it has more; a member flooding throw-away ids only churns its own), and
 * PINS_MAX in all (the least recently seen of all goes). */
#ifndef IPOP_PINS_H
#define IPOP_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signal_msg.h"

enum {
	PINS_MAX = 4096,
	PINS_PER_MEMBER = 32,
	PINS_LINE_MAX = 1024, /* one persisted line, with the JID */
};

struct pin {
	uint8_t id[SIGNAL_ID_LEN];
	uint8_t key[SIGNAL_KEY_LEN];
	char *bare;      /* the member, lower case */
	int64_t seen_s;  /* wall clock, last time the key was announced */
};

struct pins {
	struct pin *p;
	size_t n, cap;
	bool dirty; /* changed since the daemon last saved */
};

enum pin_verdict {
	PIN_OK,           /* known: same key, same member */
	PIN_NEW,          /* not pinned yet */
	PIN_OTHER_KEY,    /* pinned to another key (only with an id that is not the key's hash) */
	PIN_OTHER_MEMBER, /* pinned to another member */
};

void pins_init(struct pins *t);
void pins_free(struct pins *t);
const struct pin *pins_find(const struct pins *t, const uint8_t id[SIGNAL_ID_LEN]);
enum pin_verdict pins_check(const struct pins *t, const uint8_t id[SIGNAL_ID_LEN], const uint8_t key[SIGNAL_KEY_LEN],
			    const char *bare, const struct pin **found);
/* Pins a new id (after PIN_NEW) or notes a known one as seen now. 0 or
 * -ENOMEM. */
int pins_note(struct pins *t, const uint8_t id[SIGNAL_ID_LEN], const uint8_t key[SIGNAL_KEY_LEN], const char *bare,
	      int64_t now_s);
/* Forgets the pins of a member (bare JID, any case) or of one node id (40
 * hex digits). Returns how many went. */
size_t pins_forget(struct pins *t, const char *what);

/* Persistence: "pin <id hex> <key base64> <bare JID> <seen unix s>". */
int pins_format_line(const struct pin *p, char *buf, size_t cap);
/* NULL, or why the line (without "pin ") is refused; the pin is added. */
const char *pins_parse_line(struct pins *t, const char *rest);

/* The node id of a key is the first 20 bytes of its BLAKE2b (node.c). */
bool pins_id_matches(const uint8_t id[SIGNAL_ID_LEN], const uint8_t key[SIGNAL_KEY_LEN]);
/* The short form of a key people compare: its base64 (44 characters). */
void pins_key_b64(const uint8_t key[SIGNAL_KEY_LEN], char out[45]);

#endif
