#include "xmpp_signal.h"

#include <arpa/nameser.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_srv.h"
#include "log.h"
#include "xmpp_extdisco.h"
#include "xmpp_keepalive.h"
#include "xmpp_redact.h"

#define NS_ROSTER "jabber:iq:roster"
#define NS_PING "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"

struct xmpp_sig {
	struct xmpp_sig_conf conf;
	struct xmpp_sig_ops ops;
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	xmpp_log_t logger;
	enum xmpp_sig_state state;
	struct xmpp_roster roster;
	char full_jid[XMPP_JID_MAX];
	uint64_t now_ms, next_attempt_ms;
	struct xmpp_servers servers; /* which server next (xmpp_servers.h) */
	struct xmpp_ka ka; /* keepalive, probe and services timers (xmpp_keepalive.h) */
	bool disconnecting; /* xmpp_disconnect() called: libstrophe's cleanup timer runs */
	bool release_conn; /* disconnected: release on the next run */
	int fd;            /* the connection's socket, -1 when unknown */
	int connect_errno; /* why the last connect failed, from libstrophe's log */
	bool secured;      /* the session runs over TLS: its errors are TLS codes */
};

/* libstrophe creates the socket inside xmpp_connect_client() and shows
 * it only to the sockopt callback, which gets no user data: the instance
 * connecting right now is remembered here (one thread runs all of them). */
static struct xmpp_sig *connecting_sig;

static int on_sockopt(xmpp_conn_t *conn, void *sock)
{
	(void)conn;
	if (connecting_sig)
		connecting_sig->fd = *(int *)sock;
	return 0;
}

static const char *const state_names[] = { "offline", "connecting", "online" };

const char *xmpp_sig_state_name(enum xmpp_sig_state st)
{
	return st <= XMPP_SIG_ONLINE ? state_names[st] : "?";
}

/* Server order and backoff jitter: distinct in every node, so that the
 * nodes of a group spread over a cluster's members. */
static uint32_t sig_random(void *ctx)
{
	(void)ctx;
	return randombytes_random();
}

static void set_state(struct xmpp_sig *s, enum xmpp_sig_state st)
{
	if (s->state == st)
		return;
	log_info("xmpp: %s -> %s", state_names[s->state], state_names[st]);
	s->state = st;
	if (s->ops.state)
		s->ops.state(s->ops.ctx, st);
}

/* libstrophe's own lines; the SASL exchange never reaches the log, at any
 * level (xmpp_redact.h). */
static void strophe_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg)
{
	struct xmpp_sig *s = userdata;
	int e;

	/* libstrophe 0.12 reports why a connect failed (refused,
	 * unreachable) only in this line, not to the connection handler. */
	if (s && area && strcmp(area, "xmpp") == 0 && sscanf(msg, "connection failed, error %d", &e) == 1)
		s->connect_errno = e;
	char buf[96];

	msg = xmpp_redact(msg, buf, sizeof(buf));
	if (level >= XMPP_LEVEL_ERROR)
		log_warn("xmpp(%s): %s", area, msg);
	else
		log_debug("xmpp(%s): %.300s", area, msg);
}

static void on_roster_peer(void *ctx, enum roster_event ev, const char *full)
{
	struct xmpp_sig *s = ctx;
	log_info("xmpp: peer %s %s", full,
		 ev == ROSTER_PEER_UP ? "online" : ev == ROSTER_PEER_DOWN ? "offline" : "no longer a friend");
	if (s->ops.peer)
		s->ops.peer(s->ops.ctx, ev, full);
}

struct xmpp_sig *xmpp_sig_new(const struct xmpp_sig_conf *conf, const struct xmpp_sig_ops *ops)
{
	struct xmpp_sig *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->conf = *conf;
	if (!s->conf.ping_interval_s)
		s->conf.ping_interval_s = 15;
	if (!s->conf.ping_timeout_s)
		s->conf.ping_timeout_s = 10;
	s->ops = *ops;
	s->fd = -1;
	xmpp_servers_init(&s->servers, sig_random, NULL);
	xmpp_initialize();
	s->logger = (xmpp_log_t){ strophe_log, s };
	s->ctx = xmpp_ctx_new(NULL, &s->logger);
	if (!s->ctx) {
		free(s);
		return NULL;
	}
	snprintf(s->full_jid, sizeof(s->full_jid), "%s/%s", conf->jid, conf->resource);
	roster_init(&s->roster, s->full_jid, on_roster_peer, s);
	return s;
}

void xmpp_sig_free(struct xmpp_sig *s)
{
	if (!s)
		return;
	if (s->conn) {
		if (s->state == XMPP_SIG_ONLINE) {
			xmpp_disconnect(s->conn);
			xmpp_run_once(s->ctx, 100);
		}
		xmpp_conn_release(s->conn);
	}
	roster_free(&s->roster);
	xmpp_ctx_free(s->ctx);
	xmpp_shutdown();
	free(s);
}

enum xmpp_sig_state xmpp_sig_state(const struct xmpp_sig *s)
{
	return s->state;
}

static void send_iq_result(struct xmpp_sig *s, xmpp_stanza_t *iq)
{
	if (!s->conn)
		return; /* xmpp_sig_stanza_text without a connection */
	xmpp_stanza_t *reply = xmpp_stanza_reply(iq);
	if (!reply)
		return;
	xmpp_stanza_set_type(reply, "result");
	xmpp_send(s->conn, reply);
	xmpp_stanza_release(reply);
}

static void apply_roster_items(struct xmpp_sig *s, xmpp_stanza_t *query)
{
	for (xmpp_stanza_t *it = xmpp_stanza_get_children(query); it; it = xmpp_stanza_get_next(it)) {
		const char *name = xmpp_stanza_get_name(it);
		const char *jid = xmpp_stanza_get_attribute(it, "jid");
		if (!name || strcmp(name, "item") != 0 || !jid)
			continue;
		enum roster_sub sub = roster_sub_parse(xmpp_stanza_get_attribute(it, "subscription"));
		const char *ask = xmpp_stanza_get_attribute(it, "ask");
		bool asking = ask && strcmp(ask, "subscribe") == 0;
		log_debug("xmpp: roster %s subscription %d%s", jid, sub, asking ? " (asked)" : "");
		roster_set(&s->roster, jid, sub);
		roster_set_ask(&s->roster, jid, asking);
		if (s->ops.friend)
			s->ops.friend(s->ops.ctx, XMPP_FRIEND_ITEM, jid, sub, asking);
	}
}

static void send_presence_type(struct xmpp_sig *s, const char *to, const char *type)
{
	if (!s->conn)
		return;
	xmpp_stanza_t *p = xmpp_presence_new(s->ctx);
	xmpp_stanza_set_type(p, type);
	xmpp_stanza_set_to(p, to);
	xmpp_send(s->conn, p);
	xmpp_stanza_release(p);
}

static void send_roster_remove(struct xmpp_sig *s, const char *bare)
{
	char *id = xmpp_uuid_gen(s->ctx);
	xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "set", id);
	xmpp_stanza_t *q = xmpp_stanza_new(s->ctx);
	xmpp_stanza_t *item = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(q, "query");
	xmpp_stanza_set_ns(q, NS_ROSTER);
	xmpp_stanza_set_name(item, "item");
	xmpp_stanza_set_attribute(item, "jid", bare);
	xmpp_stanza_set_attribute(item, "subscription", "remove");
	xmpp_stanza_add_child(q, item);
	xmpp_stanza_add_child(iq, q);
	xmpp_send(s->conn, iq);
	xmpp_stanza_release(item);
	xmpp_stanza_release(q);
	xmpp_stanza_release(iq);
	xmpp_free(s->ctx, id);
}

static void approve(struct xmpp_sig *s, const char *bare)
{
	send_presence_type(s, bare, "subscribed");
	enum roster_sub sub;
	bool ask;
	/* ask back unless we already see them or asked already */
	if (!roster_contact_get(&s->roster, bare, &sub, &ask) || (sub != ROSTER_SUB_TO && sub != ROSTER_SUB_BOTH && !ask))
		send_presence_type(s, bare, "subscribe");
}

int xmpp_sig_friend(struct xmpp_sig *s, enum xmpp_friend_cmd cmd, const char *bare)
{
	char b[XMPP_JID_MAX];
	if (strchr(bare, '/') || !jid_split(bare, b, sizeof(b), NULL))
		return -EINVAL;
	if (s->state != XMPP_SIG_ONLINE || s->release_conn)
		return -ENOTCONN;
	switch (cmd) {
	case XMPP_FRIEND_ADD:
		log_info("xmpp: friend request sent to %s", b);
		send_presence_type(s, b, "subscribe");
		break;
	case XMPP_FRIEND_ACCEPT:
		log_info("xmpp: friend %s accepted", b);
		approve(s, b);
		break;
	case XMPP_FRIEND_REMOVE:
		log_info("xmpp: friend %s removed", b);
		send_roster_remove(s, b);
		break;
	}
	return 0;
}

/* Someone asks to see our presence (to become a friend). */
static void on_subscribe(struct xmpp_sig *s, const char *from)
{
	char bare[XMPP_JID_MAX];
	enum roster_sub sub;
	bool ask;
	if (!jid_split(from, bare, sizeof(bare), NULL) || strcmp(bare, s->roster.own_bare) == 0)
		return;
	bool asked = roster_contact_get(&s->roster, bare, &sub, &ask) &&
		     (ask || sub == ROSTER_SUB_TO || sub == ROSTER_SUB_BOTH);
	const char *why = asked ? "we asked them" : NULL;
	for (unsigned i = 0; !why && i < s->conf.n_auto_accept; i++)
		if (jid_pattern_match(s->conf.auto_accept[i], bare))
			why = "auto_accept";
	if (why) {
		log_info("xmpp: friend request from %s accepted (%s)", bare, why);
		approve(s, bare);
		return;
	}
	log_info("xmpp: friend request from %s waits for 'ipopctl friend accept %s'", bare, bare);
	if (s->ops.friend)
		s->ops.friend(s->ops.ctx, XMPP_FRIEND_REQUEST, bare, ROSTER_SUB_NONE, false);
}

/* A roster push is trusted only from our own account (or the server). */
static bool from_own_account(struct xmpp_sig *s, const char *from)
{
	char bare[XMPP_JID_MAX];
	if (!from)
		return true;
	return jid_split(from, bare, sizeof(bare), NULL) && strcmp(bare, s->roster.own_bare) == 0;
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	(void)conn;
	const char *type = xmpp_stanza_get_type(st);
	if (!type)
		return 1;
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_ROSTER);
	if (q && (strcmp(type, "result") == 0 || strcmp(type, "set") == 0)) {
		if (!from_own_account(s, xmpp_stanza_get_from(st)))
			return 1;
		if (strcmp(type, "result") == 0 && s->ops.friend)
			s->ops.friend(s->ops.ctx, XMPP_FRIEND_RESET, "", ROSTER_SUB_NONE, false);
		apply_roster_items(s, q);
		if (strcmp(type, "set") == 0)
			send_iq_result(s, st);
		return 1;
	}
	if (strcmp(type, "get") == 0 && xmpp_stanza_get_child_by_name_and_ns(st, "ping", NS_PING))
		send_iq_result(s, st);
	return 1;
}

/* The ipop element of an available presence from an authorized ipop
 * resource: its overlay addresses and key, for the overlay. */
static void presence_info(struct xmpp_sig *s, xmpp_stanza_t *st, const char *from)
{
	struct signal_presence p;
	xmpp_stanza_t *e = xmpp_stanza_get_child_by_ns(st, SIGNAL_PRESENCE_NS);

	if (!e || !s->ops.info || !roster_peer_allowed(&s->roster, from))
		return;
	if (signal_presence_parse(&p, xmpp_stanza_get_attribute(e, "ip4"), xmpp_stanza_get_attribute(e, "ip6"),
				  xmpp_stanza_get_attribute(e, "key")) < 0) {
		log_debug("xmpp: malformed ipop presence from %s; ignored", from);
		return;
	}
	s->ops.info(s->ops.ctx, from, &p);
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	(void)conn;
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	if (!from)
		return 1;
	if (!type) {
		roster_presence(&s->roster, from, true);
		presence_info(s, st, from);
	}
	else if (strcmp(type, "unavailable") == 0)
		roster_presence(&s->roster, from, false);
	else if (strcmp(type, "subscribe") == 0)
		on_subscribe(s, from);
	return 1;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	(void)conn;
	const char *from = xmpp_stanza_get_from(st);
	xmpp_stanza_t *el = xmpp_stanza_get_child_by_name_and_ns(st, "ipop", XMPP_SIGNAL_NS);
	if (!from || !el)
		return 1;
	if (!roster_peer_allowed(&s->roster, from)) {
		log_debug("xmpp: signalling from unauthorized %s dropped", from);
		return 1;
	}
	char *text = xmpp_stanza_get_text(el);
	if (!text)
		return 1;
	size_t len = strlen(text);
	if (len > XMPP_SIGNAL_MAX_BODY)
		log_debug("xmpp: oversized signalling message (%zu bytes) from %s dropped", len, from);
	else if (s->ops.message)
		s->ops.message(s->ops.ctx, from, text, len);
	xmpp_free(s->ctx, text);
	return 1;
}

int xmpp_sig_stanza_text(struct xmpp_sig *s, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(s->ctx, xml);
	const char *name = st ? xmpp_stanza_get_name(st) : NULL;

	if (!name) {
		if (st)
			xmpp_stanza_release(st);
		return -EINVAL;
	}
	if (strcmp(name, "iq") == 0)
		on_iq(NULL, st, s);
	else if (strcmp(name, "presence") == 0)
		on_presence(NULL, st, s);
	else if (strcmp(name, "message") == 0)
		on_message(NULL, st, s);
	xmpp_stanza_release(st);
	return 0;
}

static int on_ping_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	(void)conn;
	(void)st;
	xmpp_ka_answered(&s->ka);
	return 0;
}

static void send_ping(struct xmpp_sig *s, xmpp_conn_t *conn)
{
	char *id = xmpp_uuid_gen(s->ctx);
	xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "get", id);
	xmpp_stanza_t *ping = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(ping, "ping");
	xmpp_stanza_set_ns(ping, NS_PING);
	xmpp_stanza_add_child(iq, ping);
	xmpp_stanza_release(ping);
	xmpp_id_handler_add(conn, on_ping_result, id, s);
	xmpp_send(conn, iq);
	xmpp_stanza_release(iq);
	xmpp_free(s->ctx, id);
	xmpp_ka_sent(&s->ka);
}

/* Any stanza from the server proves the session alive, even when the
 * answer to our ping is still queued behind it. */
static int on_any(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	(void)conn;
	(void)st;
	xmpp_ka_rx(&s->ka);
	return 1;
}

/* What the timers of xmpp_keepalive.h ask for (the reasons are there). */
static void end_session(struct xmpp_sig *s)
{
	s->disconnecting = true;
	xmpp_disconnect(s->conn);
}

/* A stream error ends the session (RFC 6120 4.9.1.1: the server then
 * closes the stream), but libstrophe 0.12 only records it for the
 * connection handler: it neither closes the stream nor arms a timer, so a
 * server that keeps TCP open after the error would leave us "online" until
 * our ping went unanswered (about 30 s). Logging out here sends </stream:stream>
 * and arms libstrophe's cleanup timer (2 s), and xmpp_sig_poll wakes at
 * XMPP_SIG_POLL_MS (as while logging out) until the session has ended. */
static int on_stream_error(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	const char *name = "?";

	(void)conn;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
		const char *n = xmpp_stanza_get_name(c), *ns = xmpp_stanza_get_ns(c);
		if (n && ns && strcmp(ns, XMPP_NS_STREAMS_IETF) == 0 && strcmp(n, "text") != 0) {
			name = n;
			break;
		}
	}
	log_warn("xmpp: stream error %.60s from the server; logging out", name);
	if (s->conn && !s->disconnecting && s->state == XMPP_SIG_ONLINE && !s->release_conn)
		end_session(s);
	return 0;
}

static void probe_failed(struct xmpp_sig *s)
{
	log_warn("xmpp: no answer to the ping after an address change; reconnecting");
	/* A graceful close would wait for a server that cannot answer. */
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	else
		end_session(s);
}

static void send_get(struct xmpp_sig *s, const char *name, const char *ns, xmpp_handler h);
static int on_services(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);

static void run_timers(struct xmpp_sig *s)
{
	enum xka_action a;

	if (s->state != XMPP_SIG_ONLINE || !s->conn || s->release_conn)
		return;
	while ((a = xmpp_ka_poll(&s->ka, s->now_ms)) != XKA_NONE) {
		switch (a) {
		case XKA_PING:
			send_ping(s, s->conn);
			break;
		case XKA_SLOW:
			log_debug("xmpp: the server is slow to answer a ping but delivers; waiting one more interval");
			break;
		case XKA_RECONNECT:
			log_warn("xmpp: server did not answer a ping; reconnecting");
			end_session(s);
			return;
		case XKA_PROBE_FAILED:
			probe_failed(s);
			return;
		case XKA_SERVICES:
			send_get(s, "services", EXTDISCO_NS, on_services);
			break;
		case XKA_NONE:
			break;
		}
	}
}

/* Whether the connection's local address still exists on this host: a
 * socket can be bound to it. */
static bool local_addr_gone(int fd)
{
	struct sockaddr_storage la;
	socklen_t l = sizeof(la);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&la, &l) < 0)
		return false;
	if (la.ss_family == AF_INET)
		((struct sockaddr_in *)&la)->sin_port = 0;
	else if (la.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&la)->sin6_port = 0;
	else
		return false;
	int t = socket(la.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t < 0)
		return false;
	bool gone = bind(t, (struct sockaddr *)&la, l) < 0 && errno == EADDRNOTAVAIL;
	close(t);
	return gone;
}

void xmpp_sig_probe(struct xmpp_sig *s)
{
	if (s->state != XMPP_SIG_ONLINE || !s->conn || s->release_conn)
		return;
	if (local_addr_gone(s->fd)) {
		log_info("xmpp: the connection's local address is gone; reconnecting");
		shutdown(s->fd, SHUT_RDWR);
		return;
	}
	log_info("xmpp: local address changed; checking the server connection");
	send_ping(s, s->conn);
	xmpp_ka_probe(&s->ka, s->now_ms);
}

/* ---- XEP-0215 external services ---- */

static void send_get(struct xmpp_sig *s, const char *name, const char *ns, xmpp_handler h)
{
	char *id = xmpp_uuid_gen(s->ctx);
	char *domain = xmpp_jid_domain(s->ctx, s->conf.jid);
	xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "get", id);
	xmpp_stanza_t *q = xmpp_stanza_new(s->ctx);

	xmpp_stanza_set_to(iq, domain);
	xmpp_stanza_set_name(q, name);
	xmpp_stanza_set_ns(q, ns);
	xmpp_stanza_add_child(iq, q);
	xmpp_stanza_release(q);
	xmpp_id_handler_add(s->conn, h, id, s);
	xmpp_send(s->conn, iq);
	xmpp_stanza_release(iq);
	xmpp_free(s->ctx, domain);
	xmpp_free(s->ctx, id);
}

static void log_services(const struct extdisco_service *sv, unsigned n, unsigned skipped, int64_t now)
{
	for (unsigned i = 0; i < n; i++) {
		const struct extdisco_service *v = &sv[i];
		char life[48];
		if (!v->username[0])
			snprintf(life, sizeof(life), "no credentials");
		else if (!v->expires)
			snprintf(life, sizeof(life), "credentials without expiry");
		else
			snprintf(life, sizeof(life), "credentials for %lld s", (long long)(v->expires - now));
		log_info("xmpp: external service %s %s:%u (%s)%s%s, %s", v->kind == EXTDISCO_TURN ? "TURN" : "STUN",
			 v->host, v->port,
			 v->transport == EXTDISCO_TLS ? "tls" : v->transport == EXTDISCO_TCP ? "tcp" : "udp",
			 v->username[0] ? " user " : "", v->username, life);
	}
	if (skipped)
		log_info("xmpp: %u external service(s) skipped (not STUN/TURN, or malformed)", skipped);
}

static int on_services(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	struct extdisco_service sv[EXTDISCO_MAX];
	unsigned skipped = 0, n = 0;
	int64_t now = (int64_t)time(NULL);
	const char *type = xmpp_stanza_get_type(st);

	if (type && strcmp(type, "result") == 0) {
		n = xmpp_extdisco_parse(st, sv, EXTDISCO_MAX, &skipped);
		log_services(sv, n, skipped, now);
		if (s->ops.services)
			s->ops.services(s->ops.ctx, sv, n);
	} else {
		log_warn("xmpp: the server refused the external services query (XEP-0215)");
	}
	/* again before the credentials expire (or hourly, for new servers) */
	int64_t at = extdisco_refresh_at(sv, n, now);
	(void)conn;
	xmpp_ka_services_at(&s->ka, s->now_ms + (uint64_t)(at - now) * 1000u);
	explicit_bzero(sv, sizeof(sv));
	return 0;
}

static int on_disco_info(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp_sig *s = ud;
	const char *type = xmpp_stanza_get_type(st);
	(void)conn;
	if (type && strcmp(type, "result") == 0 && xmpp_extdisco_offered(st)) {
		log_info("xmpp: the server offers external services (XEP-0215); asking for STUN/TURN");
		send_get(s, "services", EXTDISCO_NS, on_services);
	} else {
		log_info("xmpp: the server offers no external services (XEP-0215); STUN/TURN from config.json only");
	}
	return 0;
}

/* Our overlay addresses and key in our presence (signal_presence.h). */
static void add_presence_info(struct xmpp_sig *s, xmpp_stanza_t *pres)
{
	char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], key[SIGNAL_KEY_B64_LEN + 1];

	if (!s->conf.presence)
		return;
	xmpp_stanza_t *e = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(e, "ipop");
	xmpp_stanza_set_ns(e, SIGNAL_PRESENCE_NS);
	signal_presence_format(s->conf.presence, ip4, ip6, key);
	if (ip4[0])
		xmpp_stanza_set_attribute(e, "ip4", ip4);
	if (ip6[0])
		xmpp_stanza_set_attribute(e, "ip6", ip6);
	if (key[0])
		xmpp_stanza_set_attribute(e, "key", key);
	xmpp_stanza_add_child(pres, e);
	xmpp_stanza_release(e);
}

static void send_initial(struct xmpp_sig *s)
{
	xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "get", "roster1");
	xmpp_stanza_t *q = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(q, "query");
	xmpp_stanza_set_ns(q, NS_ROSTER);
	xmpp_stanza_add_child(iq, q);
	xmpp_stanza_release(q);
	xmpp_send(s->conn, iq);
	xmpp_stanza_release(iq);
	xmpp_stanza_t *pres = xmpp_presence_new(s->ctx);
	add_presence_info(s, pres);
	xmpp_send(s->conn, pres);
	xmpp_stanza_release(pres);
	if (s->conf.ext_services)
		send_get(s, "query", NS_DISCO_INFO, on_disco_info);
}

/* RFC 6120 4.9.3, in libstrophe's xmpp_error_type_t order. */
static const char *const stream_errors[] = {
	"bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
	"host-unknown", "improper-addressing", "internal-server-error", "invalid-from", "invalid-id",
	"invalid-namespace", "invalid-xml", "not-authorized", "policy-violation", "remote-connection-failed",
	"resource-constraint", "restricted-xml", "see-other-host", "system-shutdown", "undefined-condition",
	"unsupported-encoding", "unsupported-stanza-type", "unsupported-version", "not-well-formed",
};

/* Why a connection ended, for the log: the socket's error, or the
 * server's stream error. */
static const char *end_reason(int err, bool tls, const xmpp_stream_error_t *se, char *buf, size_t cap)
{
	const unsigned nse = sizeof(stream_errors) / sizeof(stream_errors[0]);
	const char *sen = se && (unsigned)se->type < nse ? stream_errors[se->type] : "?";

	if (se && se->text)
		snprintf(buf, cap, "stream error %s: %.80s", sen, se->text);
	else if (se)
		snprintf(buf, cap, "stream error %s", sen);
	else if (err > 0 && tls) /* libstrophe gives SSL_get_error() codes then */
		snprintf(buf, cap, "connection lost, TLS error %d", err);
	else if (err > 0)
		snprintf(buf, cap, "%s", strerror(err));
	else if (err == 0)
		snprintf(buf, cap, "closed");
	else if (err == -1) /* xmpp_connect_client() failed at once */
		snprintf(buf, cap, "no address: the name did not resolve, or no route");
	else
		snprintf(buf, cap, "error %d", err);
	return buf;
}

/* The attempt at the current server is over: the next server of the
 * round at once, or the backoff when every one failed. */
static void conn_ended(struct xmpp_sig *s, int err, const xmpp_stream_error_t *se)
{
	const struct xmpp_server *srv = xmpp_servers_current(&s->servers);
	char where[XMPP_SERVER_HOST_MAX + 16], why[128];
	bool was_up = s->state == XMPP_SIG_ONLINE;
	const char *what = was_up ? "disconnected" : "connection failed";

	if (err == 0 && !se && !was_up && s->connect_errno)
		err = s->connect_errno;
	s->connect_errno = 0;

	snprintf(where, sizeof(where), "%s port %u", srv ? srv->host : "?", srv ? srv->port : 0);
	end_reason(err, was_up && s->secured, se, why, sizeof(why));
	uint64_t wait = xmpp_servers_down(&s->servers, was_up);
	if (wait == 0)
		log_warn("xmpp: %s: %s (%s); trying the next server", where, what, why);
	else
		log_warn("xmpp: %s: %s (%s); %s; next attempt in %llu ms", where, what, why,
			 was_up ? "other servers first" : "every server of this round failed",
			 (unsigned long long)wait);
	s->next_attempt_ms = s->now_ms + wait;
}

/* The _xmpp-client._tcp SRV records of domain (RFC 6120 3.2.1), asked
 * now through the system's resolver (blocking, as libstrophe's own name
 * lookups are). Returns how many, 0 (none or the lookup failed) or
 * DNS_SRV_NONE. */
static int lookup_srv(const char *domain, struct xmpp_server *out, unsigned max)
{
	uint8_t ans[8192];
	char name[XMPP_SERVER_HOST_MAX + 32];
	struct __res_state st;
	struct dns_srv r[DNS_SRV_MAX];

	snprintf(name, sizeof(name), "_xmpp-client._tcp.%s", domain);
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0) {
		log_warn("xmpp: cannot read the resolver configuration for the SRV lookup of %s", name);
		return 0;
	}
	int len = res_nquery(&st, name, ns_c_in, ns_t_srv, ans, sizeof(ans));
	int herr = st.res_h_errno;
	res_nclose(&st);
	if (len < 0) {
		log_info("xmpp: no SRV records for %s (%s)", name, hstrerror(herr));
		return 0;
	}
	int n = dns_srv_parse(ans, (size_t)len < sizeof(ans) ? (size_t)len : sizeof(ans), r,
			      max < DNS_SRV_MAX ? max : DNS_SRV_MAX);
	if (n < 0 && n != DNS_SRV_NONE)
		log_warn("xmpp: malformed answer to the SRV lookup of %s", name);
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].host, sizeof(out[i].host), "%s", r[i].target);
		out[i].port = r[i].port;
		out[i].priority = r[i].priority;
		out[i].weight = r[i].weight;
		log_info("xmpp: SRV %s: %s port %u (priority %u, weight %u)", name, r[i].target, r[i].port,
			 r[i].priority, r[i].weight);
	}
	return n < 0 && n != DNS_SRV_NONE ? 0 : n;
}

/* A new round: the configured servers, or the domain's SRV records, or
 * without any the domain itself (RFC 6120 3.2.2). */
static void start_round(struct xmpp_sig *s)
{
	struct xmpp_server list[XMPP_SERVERS_MAX];
	unsigned n = s->conf.n_servers;
	const char *at = strchr(s->conf.jid, '@');
	const char *domain = at ? at + 1 : s->conf.jid;

	if (n) {
		memcpy(list, s->conf.servers, n * sizeof(list[0]));
		for (unsigned i = 0; i < n; i++)
			if (!list[i].port)
				list[i].port = s->conf.port;
		xmpp_servers_start(&s->servers, list, n, false);
		return;
	}
	int k = lookup_srv(domain, list, XMPP_SERVERS_MAX);
	if (k == DNS_SRV_NONE) {
		log_warn("xmpp: %s says it offers no XMPP service (SRV target \".\")", domain);
		xmpp_servers_start(&s->servers, list, 0, true);
		return;
	}
	if (k > 0) {
		xmpp_servers_start(&s->servers, list, (unsigned)k, true);
		return;
	}
	memset(&list[0], 0, sizeof(list[0]));
	snprintf(list[0].host, sizeof(list[0].host), "%s", domain);
	list[0].port = s->conf.port;
	xmpp_servers_start(&s->servers, list, 1, false);
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err, xmpp_stream_error_t *se,
		    void *ud)
{
	struct xmpp_sig *s = ud;
	if (ev == XMPP_CONN_CONNECT) {
		const struct xmpp_server *srv = xmpp_servers_current(&s->servers);
		log_info("xmpp: logged in as %s on %s port %u (%s)", xmpp_conn_get_bound_jid(conn),
			 srv ? srv->host : "?", srv ? srv->port : 0, xmpp_conn_is_secured(conn) ? "TLS" : "no TLS");
		xmpp_servers_up(&s->servers);
		s->secured = xmpp_conn_is_secured(conn);
		s->disconnecting = false;
		xmpp_handler_add(conn, on_any, NULL, NULL, NULL, s);
		xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, s);
		xmpp_handler_add(conn, on_presence, NULL, "presence", NULL, s);
		xmpp_handler_add(conn, on_message, NULL, "message", NULL, s);
		xmpp_handler_add(conn, on_stream_error, XMPP_NS_STREAMS, "error", NULL, s);
		xmpp_ka_start(&s->ka, s->conf.ping_interval_s * 1000ull, s->now_ms);
		set_state(s, XMPP_SIG_ONLINE);
		send_initial(s);
		return;
	}
	conn_ended(s, err, se);
	xmpp_ka_stop(&s->ka);
	roster_clear_presence(&s->roster);
	s->release_conn = true;
	s->fd = -1;
	set_state(s, XMPP_SIG_OFFLINE);
}

static int accept_any_cert(const xmpp_tlscert_t *cert, const char *errormsg)
{
	(void)cert;
	log_debug("xmpp: accepting unverified certificate (%s)", errormsg);
	return 1;
}

static void sig_connect(struct xmpp_sig *s)
{
	const struct xmpp_server *srv = xmpp_servers_next(&s->servers);
	if (!srv) {
		start_round(s);
		srv = xmpp_servers_next(&s->servers);
	}
	if (!srv) {
		uint64_t wait = xmpp_servers_down(&s->servers, false);
		log_warn("xmpp: no server to connect to; next attempt in %llu ms", (unsigned long long)wait);
		s->next_attempt_ms = s->now_ms + wait;
		return;
	}
	log_info("xmpp: connecting to %s port %u (%s %u of %u)", srv->host, srv->port,
		 s->servers.srv ? "SRV record" : "server", s->servers.next, s->servers.n);
	s->conn = xmpp_conn_new(s->ctx);
	long flags = 0;
	if (s->conf.tls == XMPP_TLS_REQUIRED)
		flags |= XMPP_CONN_FLAG_MANDATORY_TLS;
	else if (s->conf.tls == XMPP_TLS_OFF)
		flags |= XMPP_CONN_FLAG_DISABLE_TLS;
	xmpp_conn_set_flags(s->conn, flags);
	xmpp_conn_set_jid(s->conn, s->full_jid);
	xmpp_conn_set_pass(s->conn, s->conf.password);
	if (s->conf.ca_file)
		xmpp_conn_set_cafile(s->conn, s->conf.ca_file);
	if (!s->conf.tls_verify)
		xmpp_conn_set_certfail_handler(s->conn, accept_any_cert);
	xmpp_conn_set_sockopt_callback(s->conn, on_sockopt);
	set_state(s, XMPP_SIG_CONNECTING);
	s->fd = -1;
	s->connect_errno = 0;
	connecting_sig = s;
	int rc = xmpp_connect_client(s->conn, srv->host, srv->port, on_conn, s);
	connecting_sig = NULL;
	if (rc != XMPP_EOK)
		on_conn(s->conn, XMPP_CONN_FAIL, -1, NULL, s);
}

void xmpp_sig_run(struct xmpp_sig *s, uint64_t now_ms, unsigned long timeout_ms)
{
	s->now_ms = now_ms;
	if (s->release_conn) {
		xmpp_conn_release(s->conn);
		s->conn = NULL;
		s->release_conn = false;
	}
	if (s->state == XMPP_SIG_OFFLINE && now_ms >= s->next_attempt_ms)
		sig_connect(s);
	run_timers(s);
	xmpp_run_once(s->ctx, timeout_ms);
}

int xmpp_sig_poll(const struct xmpp_sig *s, short *events, uint64_t *wake_ms)
{
	struct sockaddr_storage peer;
	socklen_t sl = sizeof(peer);

	*events = 0;
	/* Logged in, our own timers are all that runs. Logging in or logging
	 * out, libstrophe runs timers of its own that it does not tell us
	 * about: XMPP_SIG_POLL_MS then (also without a socket to sleep on).
	 * A stream error from the server counts as logging out: libstrophe
	 * only records it, on_stream_error closes our side and sets
	 * disconnecting, and the session ends when the server closes the
	 * connection or at the latest by libstrophe's cleanup timer (2 s),
	 * which this pace runs, also when the server keeps TCP open. */
	if (s->state == XMPP_SIG_OFFLINE)
		*wake_ms = s->next_attempt_ms;
	else if (s->state == XMPP_SIG_ONLINE && !s->disconnecting && s->conn && !s->release_conn && s->fd >= 0)
		*wake_ms = xmpp_ka_deadline(&s->ka);
	else
		*wake_ms = s->now_ms + XMPP_SIG_POLL_MS;
	if (s->state == XMPP_SIG_OFFLINE || s->fd < 0 || s->release_conn || !s->conn)
		return -1;
	*events = POLLIN;
	/* Writable: queued bytes, or the TCP connect still in progress (no
	 * peer yet); otherwise a writable socket would wake us forever. */
	if (xmpp_conn_send_queue_len(s->conn) > 0 ||
	    (s->state == XMPP_SIG_CONNECTING && getpeername(s->fd, (struct sockaddr *)&peer, &sl) < 0))
		*events |= POLLOUT;
	return s->fd;
}

int xmpp_sig_send(struct xmpp_sig *s, const char *full_jid, const char *body)
{
	if (s->state != XMPP_SIG_ONLINE || s->release_conn)
		return -ENOTCONN;
	if (!roster_peer_allowed(&s->roster, full_jid))
		return -EPERM;
	if (strlen(body) > XMPP_SIGNAL_MAX_BODY)
		return -EMSGSIZE;
	xmpp_stanza_t *msg = xmpp_message_new(s->ctx, "normal", full_jid, NULL);
	xmpp_stanza_t *el = xmpp_stanza_new(s->ctx);
	xmpp_stanza_t *text = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(el, "ipop");
	xmpp_stanza_set_ns(el, XMPP_SIGNAL_NS);
	xmpp_stanza_set_text(text, body);
	xmpp_stanza_add_child(el, text);
	xmpp_stanza_add_child(msg, el);
	xmpp_send(s->conn, msg);
	xmpp_stanza_release(text);
	xmpp_stanza_release(el);
	xmpp_stanza_release(msg);
	return 0;
}
