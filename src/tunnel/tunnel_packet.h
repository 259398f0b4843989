/* Tunnel packets: a strict parser for anything arriving from the network,
 * and the data path, which seals and opens batches in place without
 * allocating or copying.
 *
 * In-place layout of a buffer: the caller reserves TUNNEL_DATA_HEADER_LEN
 * bytes before the plaintext and TUNNEL_TAG_LEN after it, so sealing writes
 * the header in front and the tag behind, and opening leaves the plaintext
 * at data + TUNNEL_DATA_HEADER_LEN. */
#ifndef IPOP_TUNNEL_PACKET_H
#define IPOP_TUNNEL_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "tunnel_proto.h"

struct tunnel_packet {
	uint8_t type;            /* enum tunnel_msg_type */
	uint32_t sender_index;   /* initiation, response */
	uint32_t receiver_index; /* response, cookie reply, data: our index, to route by */
	uint64_t counter;        /* data */
	size_t payload_len;      /* data: plaintext length (ciphertext minus tag) */
};

/* True when the first byte says "tunnel" rather than STUN/TURN. */
bool tunnel_packet_is_tunnel(const uint8_t *buf, size_t len);
/* Validates type, reserved bytes and exact sizes; reads nothing outside
 * buf[0..len). Returns 0, -EINVAL (malformed) or -EPROTONOSUPPORT (a type in
 * our range we do not speak, e.g. TUNNEL_MSG_PROBE). */
int tunnel_packet_parse(const uint8_t *buf, size_t len, struct tunnel_packet *out);

struct tunnel_buf {
	uint8_t *data; /* packet start */
	size_t len;    /* seal: payload in, packet out; open: packet in, payload out */
	size_t cap;    /* writable bytes at data */
	int err;       /* per packet: 0 or -errno */
};

/* Seals n payloads for p with its current keypair, one counter each.
 * Returns how many were sealed (the rest have err set: -EMSGSIZE, -ENOBUFS,
 * -ENOKEY), or -ENOKEY when p has no usable keypair (start a handshake).
 * *want_rekey (may be NULL) is set when a handshake is due. */
int tunnel_seal_batch(struct session_peer *p, struct tunnel_buf *pkts, size_t n, uint64_t now_ms,
		      bool *want_rekey);
/* Opens n data packets the caller routed to p by receiver index. Returns
 * how many opened; failures have err set (-EINVAL malformed, -ENOKEY no
 * such keypair, -EALREADY replay or too old, -EBADMSG forged) and must be
 * dropped. A keepalive opens with len 0. */
int tunnel_open_batch(struct session_peer *p, struct tunnel_buf *pkts, size_t n, uint64_t now_ms);

/* The same two operations in steps, so that the AEAD (the expensive,
 * order-free part) can run on another thread while everything that
 * depends on order (counters, replay window, keypair promotion) stays on
 * the caller's. A job carries a copy of its key: a thread running it reads
 * nothing of the session. */
struct tunnel_crypt_job {
	uint8_t key[NOISE_KEY_LEN];
	uint64_t counter; /* the nonce */
	uint8_t *hdr;     /* packet start; the AEAD works in place behind it */
	size_t len;       /* seal: payload length; open: ciphertext + tag */
	uint32_t index;   /* open: our receiver index, looked up again after */
	bool open;
	int err;          /* open: -EBADMSG when it did not authenticate */
};
/* One seal as tunnel_seal_batch(p, b, 1, ...) but the AEAD is left to
 * tunnel_job_run(job): the counter is taken and the header written now,
 * b->len is the final packet length. Same returns. */
int tunnel_seal_prepare(struct session_peer *p, struct tunnel_buf *b, uint64_t now_ms, bool *want_rekey,
			struct tunnel_crypt_job *job);
/* First step of one open: parse, keypair, replay pre-check (which does
 * not move the window). 0, or the err tunnel_open_batch would set. */
int tunnel_open_prepare(struct session_peer *p, struct tunnel_buf *b, uint64_t now_ms,
			struct tunnel_crypt_job *job);
/* Runs the AEAD of a prepared job (any thread). */
void tunnel_job_run(struct tunnel_crypt_job *job);
/* Last step of an open, in packet order: only an authenticated packet
 * moves the replay window and promotes keypairs. 0 (b->len = payload) or
 * -EBADMSG, -ENOKEY, -EALREADY. */
int tunnel_open_finish(struct session_peer *p, struct tunnel_buf *b, const struct tunnel_crypt_job *job,
		       uint64_t now_ms);

#endif
