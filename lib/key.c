/* key.c - the pre-shared key file (64 hex digits) and the rules every file
 * holding a secret follows. */
#include "error.h"
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

pbrpc_status pbrpc_private_file_write(const char *path, const char *text, int mode,
                                      pbrpc_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return pbrpc_error_set(err, PBRPC_ALREADY_EXISTS,
			                       "%s already exists; not overwriting a key", path);
		return pbrpc_error_set(err,
		                       errno == ENOENT ? PBRPC_NOT_FOUND : PBRPC_PERMISSION_DENIED,
		                       "cannot create %s: %s", path, strerror(errno));
	}
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int saved = errno;
	if (n != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return pbrpc_error_set(err, PBRPC_INTERNAL, "cannot write %s: %s", path,
		                       strerror(n < 0 ? saved : EIO));
	}
	close(fd);
	return PBRPC_OK;
}

long pbrpc_private_file_read(const char *path, char *text, size_t size, pbrpc_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		fd = open(path,
		          O_RDONLY | O_CLOEXEC); /* a symlinked key is fine; check the target */
	if (fd < 0) {
		pbrpc_error_set(err, errno == ENOENT ? PBRPC_NOT_FOUND : PBRPC_PERMISSION_DENIED,
		                "cannot open key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "key file %s is not a regular file",
		                path);
		return -1;
	}
	if (st.st_mode & 077) {
		close(fd);
		pbrpc_error_set(err, PBRPC_PERMISSION_DENIED,
		                "key file %s is accessible by group or others (mode %03o); "
		                "run: chmod 600 %s",
		                path, (unsigned)(st.st_mode & 0777), path);
		return -1;
	}
	ssize_t n = read(fd, text, size - 1);
	close(fd);
	if (n < 0) {
		pbrpc_error_set(err, PBRPC_PERMISSION_DENIED, "cannot read key file %s: %s", path,
		                strerror(errno));
		return -1;
	}
	size_t len = (size_t)n;
	text[len] = '\0';
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	return (long)len;
}

pbrpc_status pbrpc_key_generate(const char *path, pbrpc_error *err)
{
	uint8_t key[PBRPC_KEY_BYTES];
	char hex[PBRPC_KEY_BYTES * 2 + 2];

	if (sodium_init() < 0)
		return pbrpc_error_set(err, PBRPC_INTERNAL, "libsodium failed to initialise");
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(hex, sizeof hex, key, sizeof key);
	strcat(hex, "\n");
	pbrpc_status st = pbrpc_private_file_write(path, hex, 0600, err);
	sodium_memzero(key, sizeof key);
	sodium_memzero(hex, sizeof hex);
	return st;
}

/* text holds 64 hex digits: the shared key. */
static int parse_shared_key(const char *text, size_t len, uint8_t key[PBRPC_KEY_BYTES])
{
	size_t bin_len = 0;
	const char *end = NULL;
	return len == PBRPC_KEY_BYTES * 2 &&
	               sodium_hex2bin(key, PBRPC_KEY_BYTES, text, len, NULL, &bin_len, &end) == 0 &&
	               bin_len == PBRPC_KEY_BYTES
	           ? 0
	           : -1;
}

pbrpc_status pbrpc_key_load(const char *path, uint8_t key[PBRPC_KEY_BYTES], pbrpc_error *err)
{
	char text[PBRPC_KEY_BYTES * 2 + 8];
	long len = pbrpc_private_file_read(path, text, sizeof text, err);
	if (len < 0)
		return err ? err->code : PBRPC_INVALID_ARGUMENT;
	int bad = parse_shared_key(text, (size_t)len, key);
	sodium_memzero(text, sizeof text);
	if (bad)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
		                       "key file %s must hold 64 hexadecimal digits", path);
	return PBRPC_OK;
}

pbrpc_status pbrpc_credential_load(const char *path, uint8_t secret[32],
                                   pbrpc_credential_kind *kind, pbrpc_error *err)
{
	char text[512];
	long len = pbrpc_private_file_read(path, text, sizeof text, err);
	if (len < 0)
		return err ? err->code : PBRPC_INVALID_ARGUMENT;
	pbrpc_status st = PBRPC_OK;
	if (parse_shared_key(text, (size_t)len, secret) == 0)
		*kind = PBRPC_CREDENTIAL_SHARED_KEY;
	else if (pbrpc_identity_parse(text, secret, path, err) == PBRPC_OK)
		*kind = PBRPC_CREDENTIAL_IDENTITY;
	else
		st = err ? err->code : PBRPC_INVALID_ARGUMENT;
	sodium_memzero(text, sizeof text);
	return st;
}

/* $XDG_CONFIG_HOME/pbrpc/NAME, else $HOME/.config/pbrpc/NAME. */
char *pbrpc_config_path(const char *name, char *buf, size_t size)
{
	const char *env;
	int n;
	if ((env = getenv("XDG_CONFIG_HOME")) && *env == '/')
		n = snprintf(buf, size, "%s/pbrpc/%s", env, name);
	else if ((env = getenv("HOME")) && *env)
		n = snprintf(buf, size, "%s/.config/pbrpc/%s", env, name);
	else
		return NULL;
	return n >= 0 && (size_t)n < size ? buf : NULL;
}

char *pbrpc_credential_default_path(char *buf, size_t size)
{
	const char *env = getenv("PBRPC_KEY");
	char legacy[4096];
	if (env && *env) {
		int n = snprintf(buf, size, "%s", env);
		return n >= 0 && (size_t)n < size ? buf : NULL;
	}
	/* A user who never made an identity but has a shared key keeps it. */
	if (pbrpc_config_path("id_x25519", buf, size) && access(buf, F_OK) != 0 &&
	    pbrpc_config_path("key", legacy, sizeof legacy) && access(legacy, F_OK) == 0)
		return pbrpc_config_path("key", buf, size);
	return pbrpc_config_path("id_x25519", buf, size);
}

char *pbrpc_key_default_path(char *buf, size_t size)
{
	const char *env = getenv("PBRPC_KEY");
	if (env && *env) {
		int n = snprintf(buf, size, "%s", env);
		return n >= 0 && (size_t)n < size ? buf : NULL;
	}
	return pbrpc_config_path("key", buf, size);
}
