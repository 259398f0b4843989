/* TCP and TLS connections per source IP (an IPv6 source counts by its
 * /64), across all workers: one client with many connections must not
 * take every slot of the server-wide cap and lock everyone else out.
 *
 * Counts are exact: the table stores each source with at least one open
 * connection (so it never holds more entries than there are connections)
 * in a pool allocated once, behind a mutex taken once per accept and once
 * per close. Buckets are picked by a keyed hash, so chains cannot be
 * lengthened on purpose. */
#ifndef IPOP_TURN_CONNLIMIT_H
#define IPOP_TURN_CONNLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct turn_connlimit;

/* capacity: the most connections there can be (the server-wide cap);
 * per_ip: the most per source, 0 = no limit (nothing is tracked). NULL on
 * allocation failure. */
struct turn_connlimit *turn_connlimit_new(unsigned capacity, unsigned per_ip);
void turn_connlimit_free(struct turn_connlimit *cl);
/* Counts one more connection from src; false (nothing counted) when src
 * is at its limit. */
bool turn_connlimit_take(struct turn_connlimit *cl, const struct sockaddr *src);
/* Gives back what a successful take counted. */
void turn_connlimit_release(struct turn_connlimit *cl, const struct sockaddr *src);
/* Open connections counted for src (for tests and logs). */
unsigned turn_connlimit_count(struct turn_connlimit *cl, const struct sockaddr *src);

#endif
