#include "stun_client.h"

#include <errno.h>
#include <string.h>

#include "stun_auth.h"
#include "stun_msg.h"

void stun_client_init(struct stun_client *c, bool stream, uint32_t rto_ms)
{
	memset(c, 0, sizeof(*c));
	c->stream = stream;
	c->rto_ms = rto_ms ? rto_ms : STUN_CLIENT_RTO_MS;
}

/* Arms the timer after a send: the RTO doubles between UDP sends, the last
 * one waits Rm * RTO (RFC 8489 6.2.1); a stream waits Ti once. */
static void arm(struct stun_client *c, uint64_t now_ms)
{
	c->tries++;
	if (c->stream) {
		c->deadline_ms = now_ms + STUN_CLIENT_TI_MS;
	} else if (c->tries >= STUN_CLIENT_RC) {
		c->deadline_ms = now_ms + (uint64_t)STUN_CLIENT_RM * c->rto_ms;
	} else {
		c->deadline_ms = now_ms + c->next_rto_ms;
		c->next_rto_ms *= 2;
	}
}

int stun_client_start(struct stun_client *c, uint64_t now_ms)
{
	struct stun_builder b;

	stun_tid_random(c->tid);
	stun_build_init(&b, c->msg, sizeof(c->msg), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, c->tid);
	if (c->change)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, c->change);
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	if (n < 0)
		return n;
	c->len = (size_t)n;
	c->state = STUN_CLIENT_RUNNING;
	c->error = 0;
	c->tries = 0;
	c->next_rto_ms = c->rto_ms;
	c->need_send = true;
	memset(&c->mapped, 0, sizeof(c->mapped));
	memset(&c->other, 0, sizeof(c->other));
	arm(c, now_ms);
	return 0;
}

int stun_client_poll_transmit(struct stun_client *c, uint8_t *buf, size_t cap)
{
	if (!c->need_send)
		return 0;
	if (cap < c->len)
		return -ENOSPC;
	memcpy(buf, c->msg, c->len);
	c->need_send = false;
	return (int)c->len;
}

static void on_success(struct stun_client *c, const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	if (!a)
		a = stun_msg_find(m, STUN_ATTR_MAPPED_ADDRESS); /* RFC 3489 servers */
	if (a && stun_attr_get_addr(m, a, &c->mapped) == 0) {
		c->state = STUN_CLIENT_DONE;
		const struct stun_attr *o = stun_msg_find(m, STUN_ATTR_OTHER_ADDRESS);
		if (o && stun_attr_get_addr(m, o, &c->other) != 0)
			memset(&c->other, 0, sizeof(c->other));
	} else {
		c->state = STUN_CLIENT_FAILED;
		c->error = -EBADMSG;
	}
}

int stun_client_input(struct stun_client *c, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct stun_msg m;
	(void)now_ms;

	if (!stun_is_message(buf, len))
		return -ENOENT;
	if (stun_msg_parse(&m, buf, len) < 0 || !stun_check_fingerprint(&m))
		return -EBADMSG;
	if (c->state != STUN_CLIENT_RUNNING || m.method != STUN_METHOD_BINDING ||
	    (m.cls != STUN_CLASS_SUCCESS && m.cls != STUN_CLASS_ERROR) ||
	    memcmp(m.tid, c->tid, STUN_TID_LEN) != 0)
		return -ENOENT;
	c->need_send = false;
	if (m.cls == STUN_CLASS_SUCCESS) {
		on_success(c, &m);
		return 0;
	}
	const struct stun_attr *ea = stun_msg_find(&m, STUN_ATTR_ERROR_CODE);
	const char *reason;
	size_t rlen;
	int code = 0;
	c->state = STUN_CLIENT_FAILED;
	c->error = ea && stun_attr_get_error(&m, ea, &code, &reason, &rlen) == 0 ? code : -EBADMSG;
	return 0;
}

uint64_t stun_client_timeout(const struct stun_client *c)
{
	return c->state == STUN_CLIENT_RUNNING ? c->deadline_ms : UINT64_MAX;
}

void stun_client_handle_timeout(struct stun_client *c, uint64_t now_ms)
{
	if (c->state != STUN_CLIENT_RUNNING || now_ms < c->deadline_ms)
		return;
	if (c->stream || c->tries >= STUN_CLIENT_RC) {
		c->state = STUN_CLIENT_FAILED;
		c->error = -ETIMEDOUT;
		c->need_send = false;
		return;
	}
	c->need_send = true;
	c->retransmits++;
	arm(c, now_ms);
}

const char *stun_client_state_name(enum stun_client_state s)
{
	switch (s) {
	case STUN_CLIENT_IDLE: return "idle";
	case STUN_CLIENT_RUNNING: return "running";
	case STUN_CLIENT_DONE: return "done";
	case STUN_CLIENT_FAILED: return "failed";
	}
	return "?";
}
