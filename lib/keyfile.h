/* keyfile.h - reading and writing the files that hold secrets: the shared
 * key (key.c) and identities (identity.c) share the rules (a regular file,
 * no access for group or others, written 0600 and never overwritten). */
#ifndef PBRPC_KEYFILE_H
#define PBRPC_KEYFILE_H

#include <stddef.h>

#include "pbrpc.h"

/* Reads the whole private file path (at most size - 1 bytes) into text,
 * NUL-terminated, trailing newlines removed. Refuses non-regular files and
 * any file group or others may access ("run: chmod 600 FILE"). Returns the
 * length, or -1 with err set. The caller wipes text. */
long pbrpc_private_file_read(const char *path, char *text, size_t size, pbrpc_error *err);

/* Creates path (O_EXCL) with mode and writes text to it, synced. On failure
 * nothing is left behind. */
pbrpc_status pbrpc_private_file_write(const char *path, const char *text, int mode,
                                      pbrpc_error *err);

/* Credentials a client may be given in one file: a shared key (64 hex
 * digits) or an identity (see identity.c). */
typedef enum pbrpc_credential_kind {
	PBRPC_CREDENTIAL_SHARED_KEY = 1,
	PBRPC_CREDENTIAL_IDENTITY = 2,
} pbrpc_credential_kind;

/* Parses the text of an identity file into secret; where names it in errors. */
pbrpc_status pbrpc_identity_parse(const char *text, uint8_t secret[32], const char *where,
                                  pbrpc_error *err);

/* Loads either kind into secret; *kind says which. */
pbrpc_status pbrpc_credential_load(const char *path, uint8_t secret[32],
                                   pbrpc_credential_kind *kind, pbrpc_error *err);

#endif
