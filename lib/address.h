/* address.h - "host:port", "[v6addr]:port" and "unix:/path". */
#ifndef PBRPC_ADDRESS_H
#define PBRPC_ADDRESS_H

#include <sys/socket.h>
#include <sys/un.h>

#include "pbrpc.h"

#define PBRPC_ADDRESS_MAX 8 /* results kept from one name lookup */

typedef struct pbrpc_address {
	struct sockaddr_storage sa;
	socklen_t len;
} pbrpc_address;

/* Resolves text into up to PBRPC_ADDRESS_MAX socket addresses (a host name
 * may have several). Returns how many, or 0 with err set. Blocking lookup. */
int pbrpc_address_resolve(const char *text, pbrpc_address *out, pbrpc_error *err);
/* "127.0.0.1:7420", "[::1]:7420" or "unix:/path" into buf. */
void pbrpc_address_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

#endif
