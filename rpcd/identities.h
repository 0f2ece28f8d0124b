/* identities.h - rpcd's key files on first start: the host key, and the
 * default authorized keys file that lets the user's own rpcc in. */
#ifndef RPCD_IDENTITIES_H
#define RPCD_IDENTITIES_H

#include <stddef.h>
#include <stdint.h>

#include "pbrpc.h"

/* Loads the host key's secret from path, first creating it (and path.pub,
 * and the directory, 0700) if it does not exist. *created says so. Returns
 * 0, or -1 after printing why. */
int rpcd_host_key_load(const char *path, uint8_t secret[32], int *created);

/* The same for the shared key of protocol 1 (rpcd --key). */
int rpcd_shared_key_load(const char *path, uint8_t key[PBRPC_KEY_BYTES], int *created);

/* Creates the authorized keys file at path listing the user's default
 * identity (pbrpc_config_path("id_x25519"), made if missing) under the
 * user's login name. note gets a line for the log. Returns 0, or -1 after
 * printing why. */
int rpcd_authorized_keys_bootstrap(const char *path, char *note, size_t size);

#endif /* RPCD_IDENTITIES_H */
