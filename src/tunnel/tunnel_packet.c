/* Tunnel packet parsing and the batched data path, see tunnel_packet.h. */
#include "tunnel_packet.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

bool tunnel_packet_is_tunnel(const uint8_t *buf, size_t len)
{
	return len > 0 && buf[0] >= TUNNEL_MSG_TYPE_MIN && buf[0] <= TUNNEL_MSG_TYPE_MAX;
}

int tunnel_packet_parse(const uint8_t *buf, size_t len, struct tunnel_packet *out)
{
	if (len < 4 || !tunnel_packet_is_tunnel(buf, len))
		return -EINVAL;
	if (buf[1] || buf[2] || buf[3])
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->type = buf[0];
	switch (buf[0]) {
	case TUNNEL_MSG_INITIATION:
		if (len != TUNNEL_INITIATION_LEN && len != TUNNEL_INITIATION_MAC2_LEN)
			return -EINVAL;
		out->sender_index = tunnel_get_le32(buf + 4);
		return 0;
	case TUNNEL_MSG_COOKIE_REPLY:
		if (len != TUNNEL_COOKIE_REPLY_LEN)
			return -EINVAL;
		out->receiver_index = tunnel_get_le32(buf + 4);
		return 0;
	case TUNNEL_MSG_RESPONSE:
		if (len != TUNNEL_RESPONSE_LEN)
			return -EINVAL;
		out->sender_index = tunnel_get_le32(buf + 4);
		out->receiver_index = tunnel_get_le32(buf + 8);
		return 0;
	case TUNNEL_MSG_DATA:
		if (len < TUNNEL_DATA_MIN_LEN || len - TUNNEL_DATA_MIN_LEN > TUNNEL_MAX_PAYLOAD)
			return -EINVAL;
		out->receiver_index = tunnel_get_le32(buf + 4);
		out->counter = tunnel_get_le64(buf + 8);
		out->payload_len = len - TUNNEL_DATA_MIN_LEN;
		return 0;
	default:
		return -EPROTONOSUPPORT;
	}
}

/* Everything of a seal but the AEAD: checks, counter, header. */
static int seal_header(struct session_keypair *kp, struct tunnel_buf *b, struct tunnel_crypt_job *job)
{
	uint8_t *hdr = b->data;

	if (b->len > TUNNEL_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (b->cap < TUNNEL_DATA_MIN_LEN || b->cap - TUNNEL_DATA_MIN_LEN < b->len)
		return -ENOBUFS;
	if (kp->send_counter >= SESSION_REJECT_AFTER_MESSAGES)
		return -ENOKEY;
	uint64_t n = kp->send_counter++;
	hdr[0] = TUNNEL_MSG_DATA;
	hdr[1] = hdr[2] = hdr[3] = 0;
	tunnel_put_le32(hdr + 4, kp->remote_index);
	tunnel_put_le64(hdr + 8, n);
	memcpy(job->key, kp->send_key, NOISE_KEY_LEN);
	job->counter = n;
	job->hdr = hdr;
	job->len = b->len;
	job->index = 0;
	job->open = false;
	job->err = 0;
	b->len += TUNNEL_DATA_MIN_LEN;
	return 0;
}

void tunnel_job_run(struct tunnel_crypt_job *job)
{
	uint8_t *hdr = job->hdr;

	if (!job->open) {
		noise_aead_seal(job->key, job->counter, hdr, TUNNEL_DATA_HEADER_LEN, hdr + TUNNEL_DATA_HEADER_LEN,
				job->len, hdr + TUNNEL_DATA_HEADER_LEN);
		return;
	}
	job->err = noise_aead_open(job->key, job->counter, hdr, TUNNEL_DATA_HEADER_LEN,
				   hdr + TUNNEL_DATA_HEADER_LEN, job->len, hdr + TUNNEL_DATA_HEADER_LEN) != 0
			   ? -EBADMSG
			   : 0;
}

static int seal_one(struct session_keypair *kp, struct tunnel_buf *b)
{
	struct tunnel_crypt_job job;
	int rc = seal_header(kp, b, &job);

	if (rc == 0)
		tunnel_job_run(&job);
	sodium_memzero(job.key, sizeof(job.key));
	return rc;
}

int tunnel_seal_prepare(struct session_peer *p, struct tunnel_buf *b, uint64_t now_ms, bool *want_rekey,
			struct tunnel_crypt_job *job)
{
	struct session_keypair *kp = session_send_keypair(p, now_ms);

	if (want_rekey)
		*want_rekey = !kp || session_wants_rekey(p, now_ms);
	if (!kp) {
		b->err = -ENOKEY;
		return -ENOKEY;
	}
	b->err = seal_header(kp, b, job);
	if (b->err)
		return 0;
	session_sent(p, now_ms);
	if (want_rekey && session_wants_rekey(p, now_ms))
		*want_rekey = true;
	return 1;
}

int tunnel_seal_batch(struct session_peer *p, struct tunnel_buf *pkts, size_t n, uint64_t now_ms,
		      bool *want_rekey)
{
	struct session_keypair *kp = session_send_keypair(p, now_ms);
	int sealed = 0;

	if (want_rekey)
		*want_rekey = !kp || session_wants_rekey(p, now_ms);
	if (!kp) {
		for (size_t i = 0; i < n; i++)
			pkts[i].err = -ENOKEY;
		return -ENOKEY;
	}
	for (size_t i = 0; i < n; i++) {
		pkts[i].err = seal_one(kp, &pkts[i]);
		if (pkts[i].err == 0)
			sealed++;
	}
	if (sealed)
		session_sent(p, now_ms);
	if (want_rekey && session_wants_rekey(p, now_ms))
		*want_rekey = true;
	return sealed;
}

int tunnel_open_prepare(struct session_peer *p, struct tunnel_buf *b, uint64_t now_ms,
			struct tunnel_crypt_job *job)
{
	struct tunnel_packet tp;
	uint8_t *hdr = b->data;

	if (tunnel_packet_parse(hdr, b->len, &tp) != 0 || tp.type != TUNNEL_MSG_DATA) {
		p->rx_dropped_malformed++;
		return -EINVAL;
	}
	struct session_keypair *kp = session_recv_keypair(p, tp.receiver_index, now_ms);
	if (!kp) {
		p->rx_dropped_nokey++;
		return -ENOKEY;
	}
	if (!replay_check(&kp->replay, tp.counter)) {
		p->rx_dropped_replay++;
		return -EALREADY;
	}
	memcpy(job->key, kp->recv_key, NOISE_KEY_LEN);
	job->counter = tp.counter;
	job->hdr = hdr;
	job->len = tp.payload_len + TUNNEL_TAG_LEN;
	job->index = tp.receiver_index;
	job->open = true;
	job->err = 0;
	return 0;
}

int tunnel_open_finish(struct session_peer *p, struct tunnel_buf *b, const struct tunnel_crypt_job *job,
		       uint64_t now_ms)
{
	if (job->err) {
		p->rx_dropped_auth++;
		return -EBADMSG;
	}
	/* Looked up again: an earlier packet of the batch may have promoted
	 * or retired keypairs (an index names one keypair for its life). */
	struct session_keypair *kp = session_recv_keypair(p, job->index, now_ms);
	if (!kp) {
		p->rx_dropped_nokey++;
		return -ENOKEY;
	}
	/* Only an authenticated counter may move the window. */
	if (!replay_update(&kp->replay, job->counter)) {
		p->rx_dropped_replay++;
		return -EALREADY;
	}
	size_t payload_len = job->len - TUNNEL_TAG_LEN;
	session_received(p, kp, payload_len, now_ms);
	b->len = payload_len;
	return 0;
}

static int open_one(struct session_peer *p, struct tunnel_buf *b, uint64_t now_ms)
{
	struct tunnel_crypt_job job;
	int rc = tunnel_open_prepare(p, b, now_ms, &job);

	if (rc == 0) {
		tunnel_job_run(&job);
		rc = tunnel_open_finish(p, b, &job, now_ms);
	}
	sodium_memzero(job.key, sizeof(job.key));
	return rc;
}

int tunnel_open_batch(struct session_peer *p, struct tunnel_buf *pkts, size_t n, uint64_t now_ms)
{
	int opened = 0;

	for (size_t i = 0; i < n; i++) {
		pkts[i].err = open_one(p, &pkts[i], now_ms);
		if (pkts[i].err == 0)
			opened++;
	}
	return opened;
}
