/* Reading configuration files, see conf_file.h. */
#include "conf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
	if (S_ISFIFO(m))
		return "not a regular file (a FIFO)";
	if (S_ISDIR(m))
		return "not a regular file (a directory)";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "not a regular file (a device)";
	if (S_ISSOCK(m))
		return "not a regular file (a socket)";
	return "not a regular file";
}

static int read_all(int fd, char *buf, size_t max, size_t *len)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max)
			return -EFBIG;
	}
	*len = n;
	return 0;
}

int conf_file_read(const char *path, size_t max, struct conf_file *out, const char **why)
{
	struct stat st;
	int rc;

	*why = NULL;
	out->text = NULL;
	out->len = 0;
	/* O_NONBLOCK: opening a FIFO for reading must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = kind_of(st.st_mode);
		rc = -EINVAL;
		goto out;
	}
	out->mode = st.st_mode;
	out->uid = st.st_uid;
	out->text = malloc(max + 2);
	if (!out->text) {
		rc = -ENOMEM;
		goto out;
	}
	rc = read_all(fd, out->text, max, &out->len);
	if (rc == -EFBIG)
		*why = max >= (1u << 20) ? "larger than 1 MiB" : "too large";
	if (rc == 0)
		out->text[out->len] = '\0';
out:
	close(fd);
	if (rc < 0) {
		free(out->text);
		out->text = NULL;
	}
	return rc;
}
