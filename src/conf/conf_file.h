/* Reading a configuration file that may hold secrets: only a regular file
 * is read (a FIFO or a device would block or never end), up to a size
 * limit, and the caller learns its mode and owner so it can warn when
 * others may read it. */
#ifndef IPOP_CONF_FILE_H
#define IPOP_CONF_FILE_H

#include <stddef.h>
#include <sys/types.h>

struct conf_file {
	char *text;  /* malloc'd, len bytes plus a NUL */
	size_t len;
	mode_t mode; /* st_mode of the file read */
	uid_t uid;
};

/* Returns 0, or -errno with *why (static) set for refusals that errno does
 * not name well: "not a regular file (a FIFO)", "larger than ...". */
int conf_file_read(const char *path, size_t max, struct conf_file *out, const char **why);

#endif
