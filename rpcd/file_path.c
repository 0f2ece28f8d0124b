/* file_path.c - client paths made safe: string checks first (cheap, clear
 * errors), then resolution by the kernel beneath the root with openat2, which
 * also holds against symlinks swapped in while we resolve. */
#include "file_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sodium.h>

/* openat2 may ask us to retry when a rename raced with the lookup. */
#define OPENAT2_RETRIES 8

pbrpc_status file_fail(pbrpc_error *err, pbrpc_status code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

pbrpc_status file_path_check(const uint8_t *path, size_t len, char out[PATH_MAX], pbrpc_error *err)
{
	if (len == 0)
		return file_fail(err, PBRPC_INVALID_ARGUMENT, "empty path");
	if (memchr(path, '\0', len))
		return file_fail(err, PBRPC_INVALID_ARGUMENT, "path holds a NUL byte");
	if (len >= PATH_MAX)
		return file_fail(err, PBRPC_INVALID_ARGUMENT, "path longer than %d bytes",
		                 PATH_MAX - 1);
	memcpy(out, path, len);
	out[len] = '\0';
	if (out[0] == '/')
		return file_fail(err, PBRPC_INVALID_ARGUMENT,
		                 "absolute path %s: paths are relative to the root", out);
	for (const char *p = out; *p;) {
		size_t n = strcspn(p, "/");
		if (n > NAME_MAX)
			return file_fail(err, PBRPC_INVALID_ARGUMENT,
			                 "a component of %s is longer than %d bytes", out,
			                 NAME_MAX);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return file_fail(err, PBRPC_PERMISSION_DENIED,
			                 "%s: '..' is not allowed in paths", out);
		/* Uploads' part files are the server's: never read, listed or
		 * written by name, wherever they are. */
		if (file_is_temp_name(p))
			return file_fail(
			    err, PBRPC_INVALID_ARGUMENT,
			    "%s: names starting with " FILE_TEMP_PREFIX " are reserved", out);
		p += n;
		p += strspn(p, "/");
	}
	return PBRPC_OK;
}

pbrpc_status file_path_split(const char *path, char parent[PATH_MAX], const char **name,
                             pbrpc_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *last = slash ? slash + 1 : path;
	if (*last == '\0' || strcmp(last, ".") == 0)
		return file_fail(err, PBRPC_INVALID_ARGUMENT, "%s does not name a file", path);
	if (file_is_temp_name(last))
		return file_fail(err, PBRPC_INVALID_ARGUMENT,
		                 "%s: names starting with " FILE_TEMP_PREFIX " are reserved", path);
	if (!slash) {
		strcpy(parent, ".");
	} else {
		size_t n = (size_t)(slash - path);
		memcpy(parent, path, n); /* path is shorter than PATH_MAX */
		parent[n] = '\0';
		if (n == 0) /* cannot happen for a checked path; be safe anyway */
			strcpy(parent, ".");
	}
	*name = last;
	return PBRPC_OK;
}

int file_open_beneath(int root_fd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	for (int i = 0; i < OPENAT2_RETRIES; i++) {
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return -1;
}

pbrpc_status file_errno_status(int error, const char *path, pbrpc_error *err)
{
	switch (error) {
	case ENOENT: return file_fail(err, PBRPC_NOT_FOUND, "%s: no such file or directory", path);
	case EISDIR: return file_fail(err, PBRPC_FAILED_PRECONDITION, "%s: is a directory", path);
	case ENOTDIR: return file_fail(err, PBRPC_FAILED_PRECONDITION, "%s: not a directory", path);
	case EACCES:
	case EPERM: return file_fail(err, PBRPC_PERMISSION_DENIED, "%s: permission denied", path);
	case EXDEV:
		return file_fail(err, PBRPC_PERMISSION_DENIED, "%s: leads outside the root", path);
	case ELOOP:
		return file_fail(err, PBRPC_PERMISSION_DENIED,
		                 "%s: a symbolic link that may not be followed", path);
	case EROFS:
		return file_fail(err, PBRPC_PERMISSION_DENIED, "%s: read-only file system", path);
	case ENOSPC:
	case EDQUOT:
		return file_fail(err, PBRPC_RESOURCE_EXHAUSTED, "%s: no space left on the server",
		                 path);
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return file_fail(err, PBRPC_RESOURCE_EXHAUSTED, "%s: %s", path, strerror(error));
	case ENAMETOOLONG: return file_fail(err, PBRPC_INVALID_ARGUMENT, "%s: name too long", path);
	case EEXIST:
	case ENOTEMPTY: return file_fail(err, PBRPC_ALREADY_EXISTS, "%s: already exists", path);
	case ENOSYS:
		return file_fail(err, PBRPC_UNIMPLEMENTED,
		                 "%s: this kernel has no openat2, which safe paths need", path);
	default: return file_fail(err, PBRPC_INTERNAL, "%s: %s", path, strerror(error));
	}
}

char *file_path_printable(const char *path, char *out, size_t size)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p && n + 5 < size; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", *p);
	}
	if (size > 0)
		out[n < size ? n : size - 1] = '\0';
	return out;
}

int file_is_temp_name(const char *name)
{
	return strncmp(name, FILE_TEMP_PREFIX, sizeof FILE_TEMP_PREFIX - 1) == 0;
}

void file_temp_name(const char *tag, const char *path, uint64_t size, int size_unknown,
                    int64_t mtime_seconds, uint32_t mtime_nanos, char out[FILE_TEMP_NAME_SIZE])
{
	uint8_t id[16];
	uint8_t meta[8 + 8 + 4 + 1];
	crypto_generichash_state st;

	for (int i = 0; i < 8; i++) { /* a fixed byte order: the name is stable */
		meta[i] = (uint8_t)(size >> (8 * i));
		meta[8 + i] = (uint8_t)((uint64_t)mtime_seconds >> (8 * i));
	}
	for (int i = 0; i < 4; i++)
		meta[16 + i] = (uint8_t)(mtime_nanos >> (8 * i));
	meta[20] = size_unknown ? 1 : 0;
	crypto_generichash_init(&st, NULL, 0, sizeof id);
	crypto_generichash_update(&st, (const uint8_t *)path, strlen(path) + 1);
	crypto_generichash_update(&st, meta, sizeof meta);
	crypto_generichash_final(&st, id, sizeof id);

	char hex[2 * sizeof id + 1];
	sodium_bin2hex(hex, sizeof hex, id, sizeof id);
	snprintf(out, FILE_TEMP_NAME_SIZE, "%s%.16s-%s%s", FILE_TEMP_PREFIX, tag, hex,
	         FILE_TEMP_SUFFIX);
}
