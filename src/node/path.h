/* Path diagnostics for ipopctl: why a link is not direct. */
#ifndef IPOP_PATH_H
#define IPOP_PATH_H

#include <stddef.h>

struct peer;

/* "" when the path is direct; else a short reason, e.g. "no
 * server-reflexive candidate", "checks to srflx pairs timed out", "UDP
 * blocked". */
void path_why_not_direct(const struct peer *p, char *buf, size_t cap);

#endif
