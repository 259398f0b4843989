/* Files the relay reads (turn.conf, the account file, the TLS key and
 * certificate): only regular files, since a FIFO would block the reader
 * forever and a directory or a device is a mistake; and a warning when a
 * file that holds secrets may be read by other users. */
#ifndef IPOP_TURN_FILE_H
#define IPOP_TURN_FILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Opens path read-only (close-on-exec) without ever blocking on it. Returns
 * the descriptor, or -errno: -EISDIR for a directory, -EINVAL for anything
 * else that is not a regular file. */
int turn_file_open(const char *path, struct stat *st);
/* Why turn_file_open failed, in words. */
const char *turn_file_strerror(int err);
/* NULL when only the owner and the groups in ok (the groups the server
 * runs as: its own, and unpriv_user's after dropping privileges) may read
 * a file of mode st; otherwise who else may, e.g. "readable by every user
 * (mode 0644)", written into buf. */
const char *turn_file_exposed(const struct stat *st, const gid_t *ok, size_t nok, char *buf,
			      size_t cap);

#endif
