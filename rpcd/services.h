/* services.h - the built-in services rpcd serves, one file each. */
#ifndef RPCD_SERVICES_H
#define RPCD_SERVICES_H

#include "options.h"
#include "pbrpc.h"

/* pbrpc.echo.Echo: Say returns its data (optionally upper-cased); Chat
 * echoes a stream. */
pbrpc_status rpcd_echo_register(pbrpc_server *s, pbrpc_error *err);

/* pbrpc.time.Time: Now returns the wall clock, optionally strftime-formatted. */
pbrpc_status rpcd_time_register(pbrpc_server *s, pbrpc_error *err);

/* pbrpc.exec.Exec: Run executes a program under o's exec policy (--no-exec,
 * --exec-allow, --max-exec), in o->root by default; see docs/exec.md. Call
 * rpcd_exec_free() after pbrpc_server_free(). */
pbrpc_status rpcd_exec_register(pbrpc_server *s, const rpcd_options *o, pbrpc_error *err);
void rpcd_exec_free(void);

/* pbrpc.file.File: Get, Put, PutOffset, List and Stat beneath root, which
 * must be an existing directory (opened now and kept for the process). */
pbrpc_status rpcd_file_register(pbrpc_server *s, const char *root, pbrpc_error *err);

#endif /* RPCD_SERVICES_H */
