/* caller.h - the client of a call as rpcd's policies see it: who it is (for
 * log lines) and a short tag that ties what it leaves behind (an upload's
 * part file) to it and to no other client. */
#ifndef RPCD_CALLER_H
#define RPCD_CALLER_H

#include "pbrpc.h"

#define RPCD_CALLER_TAG_LEN 16

/* The client's name for log lines: "NAME SHA256:..." for a client key,
 * "shared-key" for a client of the shared-key handshake. Owned by the
 * connection; valid while the call is. */
const char *rpcd_caller_name(const pbrpc_call *call);

/* RPCD_CALLER_TAG_LEN lower-case hex digits and a NUL, derived from the
 * client's public key: the same for every connection of one key, different
 * between keys. Every shared-key client has the same tag. */
void rpcd_caller_tag(const pbrpc_call *call, char tag[RPCD_CALLER_TAG_LEN + 1]);

#endif /* RPCD_CALLER_H */
