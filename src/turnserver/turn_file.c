#include "turn_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int turn_file_open(const char *path, struct stat *st)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (fstat(fd, st) < 0)
		err = -errno;
	else if (S_ISDIR(st->st_mode))
		err = -EISDIR;
	else if (!S_ISREG(st->st_mode))
		err = -EINVAL;
	else if (fcntl(fd, F_SETFL, 0) < 0) /* regular files never block anyway */
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

const char *turn_file_strerror(int err)
{
	if (err == -EISDIR)
		return "is a directory, not a file";
	if (err == -EINVAL)
		return "is not a regular file";
	return strerror(-err);
}

const char *turn_file_exposed(const struct stat *st, const gid_t *ok, size_t nok, char *buf,
			      size_t cap)
{
	const char *who = NULL;
	bool group_ok = false;
	for (size_t i = 0; i < nok; i++)
		group_ok |= st->st_gid == ok[i];
	if (st->st_mode & S_IROTH)
		who = "readable by every user";
	else if ((st->st_mode & S_IRGRP) && !group_ok)
		who = "readable by its group";
	else if (st->st_mode & (S_IWOTH | S_IWGRP))
		who = "writable by other users";
	if (!who)
		return NULL;
	snprintf(buf, cap, "%s (mode %04o)", who, (unsigned)(st->st_mode & 07777));
	return buf;
}
