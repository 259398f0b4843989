/* Host names for XMPP friends (SocialVPN "bob.ipop"): the user part of the
 * bare JID, lower-cased, when it is a usable DNS label (letters, digits,
 * '-', 1-63 bytes, no '-' at either end); when two friends share a user
 * part, "user.domain" for each of them. Shared by ipopd's DNS responder
 * and `ipopctl hosts`, so both give the same names. */
#ifndef IPOP_JID_HOSTNAME_H
#define IPOP_JID_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define JID_HOSTNAME_SUFFIX "ipop"
enum { JID_HOSTNAME_MAX = 256 };

/* The name of `bare` among `all` (every friend that gets a name, bare
 * itself included), without the ".ipop" suffix. false: no usable name. */
bool jid_hostname(const char *bare, const char *const *all, size_t n, char *out, size_t cap);

#endif
