/* fuzz_conn.h - a server connection without a socket, for feeding frames to
 * the real call layer (call.c) in process: an authenticated pbrpc_conn of a
 * real pbrpc_server (echo and time services of rpcd, exec and file without
 * handlers), whose sealed output collects in c->out. */
#ifndef PBRPC_FUZZ_CONN_H
#define PBRPC_FUZZ_CONN_H

#include "runtime.h"

/* The server, made on first use and kept for the process. */
pbrpc_server *fuzz_server(void);
/* A new connection, as if in the middle of handling a read. */
pbrpc_conn *fuzz_conn_new(int suite);
/* Tears c down the way conn.c does, runs the loop for pending closes, and
 * checks that everything c sent is whole sealed frames. */
void fuzz_conn_free(pbrpc_conn *c);

#endif
