/* file_path.h - client paths made safe: checked as strings, then resolved by
 * the kernel beneath the root (openat2 RESOLVE_BENEATH), never joined onto
 * a directory name. */
#ifndef RPCD_FILE_PATH_H
#define RPCD_FILE_PATH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pbrpc.h"

/* Temporary files of uploads start with this; no client may name a path with
 * a component that does, in any method. */
#define FILE_TEMP_PREFIX ".pbrpc-put."
#define FILE_TEMP_SUFFIX ".part"
/* prefix + 16 hex digits of the caller's tag + '-' + 32 hex digits + suffix
 * + NUL */
#define FILE_TEMP_NAME_SIZE 72

/* Checks a path from the network and copies it, NUL-terminated, into out:
 * INVALID_ARGUMENT if empty, absolute, holding a NUL byte, too long (the
 * whole or a component), or with a component reserved for temporary files
 * (FILE_TEMP_PREFIX); PERMISSION_DENIED for a ".." component. */
pbrpc_status file_path_check(const uint8_t *path, size_t len, char out[PATH_MAX], pbrpc_error *err);

/* Splits a checked path into its directory (written to parent, "." if none)
 * and its last component (*name points into path). INVALID_ARGUMENT if the
 * last component is not a plain name or is reserved for temporary files. */
pbrpc_status file_path_split(const char *path, char parent[PATH_MAX], const char **name,
                             pbrpc_error *err);

/* openat2(root_fd, path, flags | O_CLOEXEC, mode) with RESOLVE_BENEATH and
 * RESOLVE_NO_MAGICLINKS: nothing outside root_fd is reachable, whatever the
 * symlinks say or how they change meanwhile. Returns an fd, or -1 with errno
 * (EXDEV for an escape). */
int file_open_beneath(int root_fd, const char *path, int flags, mode_t mode);

/* Turns errno from an operation on path into a status and a message that
 * names the path (ENOENT -> NOT_FOUND, EISDIR -> FAILED_PRECONDITION, EACCES
 * and escapes -> PERMISSION_DENIED, ENOSPC -> RESOURCE_EXHAUSTED, ...). */
pbrpc_status file_errno_status(int error, const char *path, pbrpc_error *err);

/* Fills err with code and a printf-style message; returns code. */
pbrpc_status file_fail(pbrpc_error *err, pbrpc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies path into out (size bytes) with control and non-ASCII bytes
 * escaped as \xNN, for log lines. Returns out. */
char *file_path_printable(const char *path, char *out, size_t size);

/* 1 if name is an upload's temporary file. */
int file_is_temp_name(const char *name);

/* The temporary name of an upload of path with this size and mtime by the
 * client with this tag (rpcd_caller_tag): FILE_TEMP_PREFIX + tag + '-' + 32
 * hex digits of a BLAKE2b of path, size and mtime + FILE_TEMP_SUFFIX. The
 * same upload by the same client always gets the same name, so an
 * interrupted one can resume; another client's never meets it. */
void file_temp_name(const char *tag, const char *path, uint64_t size, int size_unknown,
                    int64_t mtime_seconds, uint32_t mtime_nanos, char out[FILE_TEMP_NAME_SIZE]);

#endif /* RPCD_FILE_PATH_H */
