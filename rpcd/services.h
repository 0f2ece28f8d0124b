/* services.h - the built-in services rpcd serves, one file each. */
#ifndef RPCD_SERVICES_H
#define RPCD_SERVICES_H

#include "pbrpc.h"

/* pbrpc.echo.Echo: Say returns its data (optionally upper-cased); Chat
 * echoes a stream. */
pbrpc_status rpcd_echo_register(pbrpc_server *s, pbrpc_error *err);

/* pbrpc.time.Time: Now returns the wall clock, optionally strftime-formatted. */
pbrpc_status rpcd_time_register(pbrpc_server *s, pbrpc_error *err);

#endif /* RPCD_SERVICES_H */
