/* Control-socket request fuzzer. The first line of the input is a request
 * as ctl_server.c hands it to ctl_json_dispatch (the line without its
 * newline); the bytes after it fill the daemon's status and peer records,
 * so that JSON building also sees any JIDs and addresses. Every request
 * must get exactly one well-formed reply line: a JSON object with
 * "version" 1 and either "result" (is_error 0) or a non-empty "error". */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_json.h"
#include "ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	const uint8_t *extra;
	size_t extra_len;
	unsigned npeers;
};

/* Copies up to n bytes of the extra data into dst, from offset *off. */
static void take(struct fuzz_ctx *f, size_t *off, void *dst, size_t n)
{
	size_t k = 0;
	if (*off < f->extra_len)
		k = f->extra_len - *off < n ? f->extra_len - *off : n;
	memcpy(dst, f->extra + *off, k);
	*off += k;
}

static void take_addr(struct fuzz_ctx *f, size_t *off, struct sockaddr_storage *ss)
{
	uint8_t kind = 0;
	take(f, off, &kind, 1);
	if (kind % 3 == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		take(f, off, &in->sin_addr, sizeof(in->sin_addr));
		take(f, off, &in->sin_port, sizeof(in->sin_port));
	} else if (kind % 3 == 2) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		take(f, off, &in6->sin6_addr, sizeof(in6->sin6_addr));
		take(f, off, &in6->sin6_port, sizeof(in6->sin6_port));
	}
}

static int fake_status(void *ctx, struct ctl_node_status *st)
{
	struct fuzz_ctx *f = ctx;
	size_t off = 0;
	uint8_t b = 0;

	take(f, &off, st->jid, sizeof(st->jid)); /* unterminated on purpose */
	take(f, &off, st->node_id, sizeof(st->node_id));
	take(f, &off, st->interface, sizeof(st->interface));
	take(f, &off, &st->ip4, sizeof(st->ip4));
	take(f, &off, &b, 1);
	st->xmpp = (enum ctl_xmpp_state)(b % 3);
	st->social = b & 0x80;
	take_addr(f, &off, &st->public_addr);
	take(f, &off, &st->uptime_s, sizeof(st->uptime_s));
	take(f, &off, &st->drop_no_route, sizeof(st->drop_no_route));
	return b == 0xEE ? -EIO : 0;
}

static int fake_peers(void *ctx, struct ctl_peer_status *arr, unsigned max)
{
	struct fuzz_ctx *f = ctx;
	size_t off = 0;
	unsigned n = f->npeers < max ? f->npeers : max;

	for (unsigned i = 0; i < n; i++) {
		struct ctl_peer_status *p = &arr[i];
		uint8_t b[4] = { 0 };
		take(f, &off, p->jid, 64);
		take(f, &off, p->node_id, sizeof(p->node_id));
		take(f, &off, &p->ip4, sizeof(p->ip4));
		take(f, &off, b, sizeof(b));
		p->state = (enum ctl_peer_state)(b[0] % 5);
		p->path = (enum ctl_path)(b[1] % 3);
		p->local_type = (enum ctl_cand_type)(b[2] % 5);
		p->remote_type = (enum ctl_cand_type)(b[3] % 5);
		p->has_rtt = b[0] & 0x80;
		take_addr(f, &off, &p->endpoint);
		take_addr(f, &off, &p->relay);
		take(f, &off, &p->rx_bytes, sizeof(p->rx_bytes));
		take(f, &off, &p->last_handshake, sizeof(p->last_handshake));
		take(f, &off, p->why_not_direct, sizeof(p->why_not_direct));
	}
	/* more peers than fit: the reply must say "truncated" */
	return f->npeers == 200 ? (int)max + 1 : (int)f->npeers;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t req_len = nl ? (size_t)(nl - data) : size;
	struct fuzz_ctx f = { .extra = nl ? nl + 1 : NULL, .extra_len = nl ? size - req_len - 1 : 0 };
	f.npeers = f.extra_len ? f.extra[0] % 8 : 0;
	if (f.extra_len && f.extra[0] == 0xC8)
		f.npeers = 200;
	/* One of the two ops missing in some runs ("not supported"). */
	struct ctl_ops ops = { .status = fake_status, .peers = fake_peers };
	if (f.extra_len > 1 && f.extra[1] == 0xFF)
		ops.peers = NULL;

	size_t out_len = 0;
	int is_error = -1;
	char *out = ctl_json_dispatch(&ops, &f, (const char *)data, req_len, &out_len, &is_error);
	if (!out)
		abort(); /* only when out of memory, which a fuzz input cannot cause */
	if (out_len < 2 || out_len > CTL_MAX_RESPONSE || out[out_len - 1] != '\n' ||
	    memchr(out, '\n', out_len - 1) || strlen(out) != out_len)
		abort(); /* one line, NUL-terminated */
	json_error_t jerr;
	json_t *reply = json_loadb(out, out_len, 0, &jerr);
	if (!json_is_object(reply) || json_integer_value(json_object_get(reply, "version")) != CTL_PROTO_VERSION)
		abort();
	json_t *res = json_object_get(reply, "result"), *err = json_object_get(reply, "error");
	if ((res != NULL) == (err != NULL) || (is_error != 0) != (err != NULL))
		abort();
	if (err && (!json_is_string(err) || json_string_length(err) == 0))
		abort();
	json_decref(reply);
	free(out);
	return 0;
}
