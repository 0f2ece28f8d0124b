/* reflection.h - the built-in pbrpc.reflection.Reflection service (internal).
 *
 * Every server registers it from pbrpc_server_new, so any pbrpc server can
 * say what it offers: its services, their methods, and the fields of the
 * methods' request and response messages. */
#ifndef PBRPC_REFLECTION_H
#define PBRPC_REFLECTION_H

#include "pbrpc.h"

/* Routes pbrpc.reflection.Reflection.List on s. The reply is built from the
 * services registered at the time of each call. Not exported. */
__attribute__((visibility("hidden"))) pbrpc_status pbrpc_reflection_register(pbrpc_server *s,
                                                                             pbrpc_error *err);

#endif /* PBRPC_REFLECTION_H */
