/* error.h - filling a caller's pbrpc_error. */
#ifndef PBRPC_ERROR_H
#define PBRPC_ERROR_H

#include "pbrpc.h"

/* Sets err (if not NULL) to status and a printf-style message; returns status. */
pbrpc_status pbrpc_error_set(pbrpc_error *err, pbrpc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
