/* error.c - filling a caller's pbrpc_error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

pbrpc_status pbrpc_error_set(pbrpc_error *err, pbrpc_status status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = status;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return status;
}
