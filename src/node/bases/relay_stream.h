/* The TCP/TLS connection to a TURN server (relay.c's stream transports):
 * a non-blocking connect, an OpenSSL handshake that verifies the server
 * certificate (ca_file, else the system store; the host name or IP of the
 * configuration must match), and a byte queue both ways. The TURN framing
 * is the turn_client's; this file only moves bytes. */
#ifndef IPOP_RELAY_STREAM_H
#define IPOP_RELAY_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct bases;

int relay_stream_init(struct bases *b);
void relay_stream_free(struct bases *b);
/* Starts connecting to b->relay.server with b->relay.transport (TCP or
 * TLS). host: the name to verify the certificate against (NULL: the IP).
 * Returns 0 or -errno. */
int relay_stream_open(struct bases *b, const char *ca_file, const char *host);
void relay_stream_close(struct bases *b);
/* Queues bytes and sends what the socket takes. Returns 0, or -ENOBUFS
 * when the queue is full (nothing queued). */
int relay_stream_write(struct bases *b, const uint8_t *buf, size_t len);

/* relay.c's side: the connection is ready for TURN; it failed; bytes came. */
void relay_stream_ready(struct bases *b, uint64_t now_ms);
void relay_stream_failed(struct bases *b, uint64_t now_ms, const char *why);
void relay_feed(struct bases *b, const uint8_t *buf, size_t len, uint64_t now_ms);

#endif
