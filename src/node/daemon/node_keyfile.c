/* Key file load/create, see node_keyfile.h. */
#include "node_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "log.h"

enum { KEYFILE_MAX = 128 }; /* a valid file is 45 bytes; anything big is wrong */

void node_key_encode(const uint8_t key[NOISE_KEY_LEN], char out[NODE_KEY_B64_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, key, NOISE_KEY_LEN);
	out[NODE_KEY_B64_LEN] = '\0';
}

int node_key_decode(const char *s, size_t len, uint8_t key[NOISE_KEY_LEN])
{
	unsigned char raw[NOISE_KEY_LEN + 3];
	char again[NODE_KEY_B64_LEN + 1];
	int rc = -EINVAL;

	if (len != NODE_KEY_B64_LEN)
		return -EINVAL;
	/* DecodeBlock skips blanks and keeps padding bytes, so accept only
	 * what re-encodes to the same text: one spelling per key. */
	if (EVP_DecodeBlock(raw, (const unsigned char *)s, (int)len) != NOISE_KEY_LEN + 1)
		goto out;
	node_key_encode(raw, again);
	if (memcmp(again, s, NODE_KEY_B64_LEN) != 0)
		goto out;
	memcpy(key, raw, NOISE_KEY_LEN);
	rc = 0;
out:
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(again, sizeof(again));
	return rc;
}

static int check_file_safe(const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		log_error("key file %s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		log_error("key file %s: mode %04o lets group/others access the private key; run: chmod 600 %s",
			  path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		log_error("key file %s: owned by uid %u, not by us (uid %u)", path, (unsigned)st.st_uid,
			  (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

static int read_small(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap)
			return -EFBIG;
	}
	*len = n;
	return 0;
}

static int parse_keyfile(const char *path, char *buf, size_t len, struct noise_keypair *kp)
{
	uint8_t priv[NOISE_KEY_LEN];

	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (node_key_decode(buf, len, priv) != 0) {
		log_error("key file %s: expected one line of %d base64 characters", path, NODE_KEY_B64_LEN);
		return -EINVAL;
	}
	int rc = noise_keypair_from_private(kp, priv);
	sodium_memzero(priv, sizeof(priv));
	if (rc != 0)
		log_error("key file %s: not a usable X25519 private key", path);
	return rc;
}

int node_keyfile_load(const char *path, struct noise_keypair *kp)
{
	char buf[KEYFILE_MAX];
	size_t len = 0;
	int rc;

	if (noise_init() != 0)
		return -EIO;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			log_error("key file %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = check_file_safe(path, fd);
	if (rc == 0) {
		rc = read_small(fd, buf, sizeof(buf), &len);
		if (rc != 0)
			log_error("key file %s: %s", path, rc == -EFBIG ? "too large to be a key" : strerror(-rc));
	}
	close(fd);
	if (rc == 0)
		rc = parse_keyfile(path, buf, len, kp);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int node_keyfile_create(const char *path, struct noise_keypair *kp)
{
	char line[NODE_KEY_B64_LEN + 2], pub[NODE_KEY_B64_LEN + 1];
	int rc;

	if (noise_init() != 0 || noise_keypair_generate(kp) != 0)
		return -EIO;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		if (rc != -EEXIST)
			log_error("key file %s: cannot create: %s", path, strerror(-rc));
		sodium_memzero(kp, sizeof(*kp));
		return rc;
	}
	node_key_encode(kp->priv, line);
	line[NODE_KEY_B64_LEN] = '\n';
	rc = fchmod(fd, 0600) != 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, line, NODE_KEY_B64_LEN + 1);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	sodium_memzero(line, sizeof(line));
	if (rc != 0) {
		log_error("key file %s: cannot write: %s", path, strerror(-rc));
		unlink(path);
		sodium_memzero(kp, sizeof(*kp));
		return rc;
	}
	node_key_encode(kp->pub, pub);
	log_info("key file %s: generated a new key, public key %s", path, pub);
	return 0;
}

int node_keyfile_load_or_create(const char *path, struct noise_keypair *kp, bool *created)
{
	*created = false;
	int rc = node_keyfile_load(path, kp);
	if (rc != -ENOENT)
		return rc;
	rc = node_keyfile_create(path, kp);
	if (rc == -EEXIST) /* someone else created it just now */
		return node_keyfile_load(path, kp);
	if (rc == 0)
		*created = true;
	return rc;
}
