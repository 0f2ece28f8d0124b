/* key.c - the pre-shared key file: 64 hex digits, private to its owner. */
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

pbrpc_status pbrpc_key_generate(const char *path, pbrpc_error *err)
{
	uint8_t key[PBRPC_KEY_BYTES];
	char hex[PBRPC_KEY_BYTES * 2 + 2];

	if (sodium_init() < 0)
		return pbrpc_error_set(err, PBRPC_INTERNAL, "libsodium failed to initialise");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return pbrpc_error_set(err, PBRPC_ALREADY_EXISTS,
			                       "%s already exists; not overwriting a key", path);
		return pbrpc_error_set(err,
		                       errno == ENOENT ? PBRPC_NOT_FOUND : PBRPC_PERMISSION_DENIED,
		                       "cannot create %s: %s", path, strerror(errno));
	}
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(hex, sizeof hex, key, sizeof key);
	size_t len = strlen(hex);
	hex[len++] = '\n';
	ssize_t n = write(fd, hex, len);
	int saved = errno;
	sodium_memzero(key, sizeof key);
	sodium_memzero(hex, sizeof hex);
	if (n != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return pbrpc_error_set(err, PBRPC_INTERNAL, "cannot write %s: %s", path,
		                       strerror(n < 0 ? saved : EIO));
	}
	close(fd);
	return PBRPC_OK;
}

pbrpc_status pbrpc_key_load(const char *path, uint8_t key[PBRPC_KEY_BYTES], pbrpc_error *err)
{
	char text[PBRPC_KEY_BYTES * 2 + 8];
	struct stat st;

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		fd = open(path,
		          O_RDONLY | O_CLOEXEC); /* a symlinked key is fine; check the target */
	if (fd < 0)
		return pbrpc_error_set(err,
		                       errno == ENOENT ? PBRPC_NOT_FOUND : PBRPC_PERMISSION_DENIED,
		                       "cannot open key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
		                       "key file %s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return pbrpc_error_set(err, PBRPC_PERMISSION_DENIED,
		                       "key file %s is accessible by group or others (mode %03o); "
		                       "run: chmod 600 %s",
		                       path, (unsigned)(st.st_mode & 0777), path);
	}
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0)
		return pbrpc_error_set(err, PBRPC_PERMISSION_DENIED, "cannot read key file %s: %s",
		                       path, strerror(errno));
	text[n] = '\0';
	size_t len = (size_t)n;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	size_t bin_len = 0;
	const char *end = NULL;
	if (len != PBRPC_KEY_BYTES * 2 ||
	    sodium_hex2bin(key, PBRPC_KEY_BYTES, text, len, NULL, &bin_len, &end) != 0 ||
	    bin_len != PBRPC_KEY_BYTES) {
		sodium_memzero(text, sizeof text);
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
		                       "key file %s must hold 64 hexadecimal digits", path);
	}
	sodium_memzero(text, sizeof text);
	return PBRPC_OK;
}

char *pbrpc_key_default_path(char *buf, size_t size)
{
	const char *env = getenv("PBRPC_KEY");
	int n;

	if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if ((env = getenv("XDG_CONFIG_HOME")) && *env == '/')
		n = snprintf(buf, size, "%s/pbrpc/key", env);
	else if ((env = getenv("HOME")) && *env)
		n = snprintf(buf, size, "%s/.config/pbrpc/key", env);
	else
		return NULL;
	return n >= 0 && (size_t)n < size ? buf : NULL;
}
