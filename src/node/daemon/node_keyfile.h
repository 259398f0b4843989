/* ipopd's static X25519 key on disk.
 *
 * Format: one line holding the 32-byte private key in standard base64 (44
 * characters, "=" padded) and a newline, the same shape as a WireGuard
 * private key. The public key is derived on load, never stored.
 * The file is created on first run with O_CREAT|O_EXCL and mode 0600 (the
 * umask can only remove bits, and fchmod pins it), and a key file that is
 * not a regular file, not ours, or that group/others may access is refused.
 * The private key is never logged; the public key may be (it is what the
 * node announces over XMPP). */
#ifndef IPOP_NODE_KEYFILE_H
#define IPOP_NODE_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise.h"

enum { NODE_KEY_B64_LEN = 44 };

/* base64 of a 32-byte key; out gets NODE_KEY_B64_LEN chars and a NUL. */
void node_key_encode(const uint8_t key[NOISE_KEY_LEN], char out[NODE_KEY_B64_LEN + 1]);
/* Strict: exactly NODE_KEY_B64_LEN canonical base64 characters. 0 or -EINVAL. */
int node_key_decode(const char *s, size_t len, uint8_t key[NOISE_KEY_LEN]);

/* 0, or -errno: -ENOENT missing, -EPERM unsafe mode/owner, -EINVAL bad
 * contents. Each failure is logged with the path and what to do. */
int node_keyfile_load(const char *path, struct noise_keypair *kp);
/* Generates a key into a new file; -EEXIST if the file exists. */
int node_keyfile_create(const char *path, struct noise_keypair *kp);
/* Loads path, or creates it when missing (*created tells which). */
int node_keyfile_load_or_create(const char *path, struct noise_keypair *kp, bool *created);

#endif
