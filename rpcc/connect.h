/* connect.h - turns rpcc's global options into a connected pbrpc_client. */
#ifndef RPCC_CONNECT_H
#define RPCC_CONNECT_H

#include <pbrpc.h>

#include "commands.h"

/* Connects to --server, else $PBRPC_SERVER, else PBRPC_DEFAULT_ADDRESS, with
 * the key in --key, else pbrpc_credential_default_path(). On
 * failure prints why (naming the address or the key file) and returns NULL;
 * the command then exits with RPCC_EXIT_CONNECT. Close with
 * pbrpc_client_close(). */
pbrpc_client *rpcc_connect(const rpcc_context *ctx);

/* The per-call options the global options ask for (--timeout). */
pbrpc_call_options rpcc_call_options(const rpcc_context *ctx);

#endif /* RPCC_CONNECT_H */
