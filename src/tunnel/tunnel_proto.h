/* ipop tunnel wire format (UDP payloads between nodes, direct or via TURN).
 *
 * Every message starts with a type byte and three zero bytes. Multi-byte
 * integers are little-endian (like the Noise nonce and WireGuard). The type
 * values sit in 0xE1..0xEF so a socket shared with ICE can tell them from
 * STUN (first byte 0..3) and TURN ChannelData (64..79), RFC 7983.
 *
 * Handshake: Noise_IK_25519_ChaChaPoly_BLAKE2b (noise.h), prologue
 * TUNNEL_PROLOGUE, initiator payload = 12-byte TAI64N timestamp, responder
 * payload empty. mac1 = keyed BLAKE2b-128 over the message up to mac1 with
 * key BLAKE2b-256(TUNNEL_MAC1_LABEL || receiver's static public key): it
 * lets a node drop junk before spending a Diffie-Hellman on it.
 *
 * Under load (WireGuard's cookie, tunnel/cookie.h): a responder that gets
 * more initiations than it wants to spend Diffie-Hellmans on answers those
 * without a valid mac2 with a cookie reply instead. The cookie is a MAC of
 * the initiator's source address and port under a secret that changes
 * every 2 minutes, sent encrypted (XChaCha20-Poly1305, key BLAKE2b-256(
 * TUNNEL_COOKIE_LABEL || responder's static key), AD = the mac1 it
 * answers). The initiator sends the same initiation again with mac2 =
 * keyed BLAKE2b-128 over the message up to mac2, key the cookie, appended:
 * TUNNEL_INITIATION_MAC2_LEN bytes. Initiations without mac2 keep their old
 * size, and only a node that sent a cookie reply gets the longer form, so
 * nodes without cookies still link with nodes that have them.
 *
 * Data: ChaCha20-Poly1305 with the session's key, nonce = counter, AD = the
 * 16-byte header. An empty payload is a keepalive. A payload whose first
 * byte is 0 is not an IP packet (IPv4 and IPv6 start with 0x4_ and 0x6_)
 * but a probe of the tunnel itself (struct tunnel_probe): a ping, which
 * the receiver answers at once with a pong carrying the same sequence
 * number, on its current path. Round trips of probes are the link's RTT.
 * Probes are sealed like data, so nobody but the peer can forge, replay
 * or answer one; a node sends pings only to peers that said in signalling
 * that they answer them ("probes", docs/signalling.md). */
#ifndef IPOP_TUNNEL_PROTO_H
#define IPOP_TUNNEL_PROTO_H

#include <stdint.h>

#define TUNNEL_PROLOGUE "ipop v1"
#define TUNNEL_MAC1_LABEL "mac1----"
#define TUNNEL_COOKIE_LABEL "cookie--"

enum tunnel_msg_type {
	TUNNEL_MSG_INITIATION = 0xE1,
	TUNNEL_MSG_RESPONSE = 0xE2,
	TUNNEL_MSG_COOKIE_REPLY = 0xE3,
	TUNNEL_MSG_DATA = 0xE4,
	TUNNEL_MSG_PROBE = 0xE5, /* reserved for path probes; not parsed yet */
};
#define TUNNEL_MSG_TYPE_MIN 0xE1
#define TUNNEL_MSG_TYPE_MAX 0xEF

struct tunnel_msg_initiation {
	uint8_t type;
	uint8_t reserved[3];
	uint8_t sender_index[4];
	uint8_t ephemeral[32];
	uint8_t enc_static[32 + 16];
	uint8_t enc_timestamp[12 + 16];
	uint8_t mac1[16];
};

struct tunnel_msg_response {
	uint8_t type;
	uint8_t reserved[3];
	uint8_t sender_index[4];
	uint8_t receiver_index[4];
	uint8_t ephemeral[32];
	uint8_t enc_empty[16];
	uint8_t mac1[16];
};

/* An initiation that carries mac2 (the first TUNNEL_INITIATION_LEN bytes
 * are a plain initiation). */
struct tunnel_msg_initiation_mac2 {
	struct tunnel_msg_initiation init;
	uint8_t mac2[16];
};

/* The answer of a responder under load to an initiation without a valid
 * mac2: receiver_index is the initiation's sender_index. */
struct tunnel_msg_cookie_reply {
	uint8_t type;
	uint8_t reserved[3];
	uint8_t receiver_index[4];
	uint8_t nonce[24];
	uint8_t enc_cookie[16 + 16];
};

struct tunnel_msg_data_header {
	uint8_t type;
	uint8_t reserved[3];
	uint8_t receiver_index[4];
	uint8_t counter[8];
	/* then ciphertext and a 16-byte tag */
};

/* The plaintext of a probe, inside a data packet. */
enum tunnel_probe_type { TUNNEL_PROBE_PING = 1, TUNNEL_PROBE_PONG = 2 };
struct tunnel_probe {
	uint8_t zero;        /* 0: not an IP packet */
	uint8_t type;        /* enum tunnel_probe_type */
	uint8_t reserved[2]; /* 0 when sent, ignored when received */
	uint8_t seq[4];      /* the ping's number; a pong echoes it */
};

enum {
	TUNNEL_PROBE_LEN = 8, /* longer probes are accepted: later versions may add members */
	TUNNEL_INITIATION_LEN = 132,
	TUNNEL_RESPONSE_LEN = 76,
	TUNNEL_NOISE_MSG1_LEN = 32 + 48 + 28, /* ephemeral .. enc_timestamp */
	TUNNEL_NOISE_MSG2_LEN = 32 + 16,      /* ephemeral .. enc_empty */
	TUNNEL_MAC_LEN = 16,
	TUNNEL_INITIATION_MAC2_LEN = TUNNEL_INITIATION_LEN + 16,
	TUNNEL_COOKIE_LEN = 16,
	TUNNEL_COOKIE_NONCE_LEN = 24,
	TUNNEL_COOKIE_REPLY_LEN = 64,
	TUNNEL_DATA_HEADER_LEN = 16,
	TUNNEL_TAG_LEN = 16,
	TUNNEL_DATA_MIN_LEN = TUNNEL_DATA_HEADER_LEN + TUNNEL_TAG_LEN, /* keepalive */
	/* Largest inner packet we carry; a UDP payload can never exceed 65507
	 * (IPv4), so anything larger is malformed. */
	TUNNEL_MAX_PAYLOAD = 65507 - TUNNEL_DATA_MIN_LEN,
	TUNNEL_DATA_OVERHEAD = TUNNEL_DATA_MIN_LEN,
};

_Static_assert(sizeof(struct tunnel_msg_initiation) == TUNNEL_INITIATION_LEN, "initiation size");
_Static_assert(sizeof(struct tunnel_msg_response) == TUNNEL_RESPONSE_LEN, "response size");
_Static_assert(sizeof(struct tunnel_msg_data_header) == TUNNEL_DATA_HEADER_LEN, "data header size");
_Static_assert(sizeof(struct tunnel_msg_initiation_mac2) == TUNNEL_INITIATION_MAC2_LEN, "initiation+mac2 size");
_Static_assert(sizeof(struct tunnel_msg_cookie_reply) == TUNNEL_COOKIE_REPLY_LEN, "cookie reply size");
_Static_assert(TUNNEL_COOKIE_REPLY_LEN == 8 + TUNNEL_COOKIE_NONCE_LEN + TUNNEL_COOKIE_LEN + 16, "cookie layout");
_Static_assert(sizeof(struct tunnel_probe) == TUNNEL_PROBE_LEN, "probe size");
_Static_assert(TUNNEL_INITIATION_LEN == 8 + TUNNEL_NOISE_MSG1_LEN + TUNNEL_MAC_LEN, "msg1 layout");
_Static_assert(TUNNEL_RESPONSE_LEN == 12 + TUNNEL_NOISE_MSG2_LEN + TUNNEL_MAC_LEN, "msg2 layout");

static inline void tunnel_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t tunnel_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void tunnel_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t tunnel_get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#endif
