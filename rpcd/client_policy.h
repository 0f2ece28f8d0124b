/* client_policy.h - rpcd's answer to "may this client connect, and make
 * this call?": the authorized keys in force (reloaded on SIGHUP) behind the
 * library's authorize / check_call / release callbacks. */
#ifndef RPCD_CLIENT_POLICY_H
#define RPCD_CLIENT_POLICY_H

#include "authorized_keys.h"
#include "pbrpc.h"

/* Loads path as the keys in force. -1 with err ("FILE:LINE: why"). */
int rpcd_policy_load(const char *path, pbrpc_error *err);
/* Reads the file again. On success the new keys are in force and every
 * connection is checked against them (pbrpc_server_reauthorize); on failure
 * the old ones stay and err says why. Returns the number of keys, or -1. */
long rpcd_policy_reload(pbrpc_server *s, pbrpc_error *err);
/* Sets the callbacks in o. */
void rpcd_policy_attach(pbrpc_server_options *o);
/* The authorized key of a call's client, or NULL (a shared-key client:
 * the server-wide policy alone applies). */
const rpcd_client_key *rpcd_policy_of(const pbrpc_call *call);
void rpcd_policy_free(void);

#endif /* RPCD_CLIENT_POLICY_H */
