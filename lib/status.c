/* status.c - names and descriptions of the canonical status codes. */
#include "pbrpc.h"

static const char *const status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

static const char *const status_texts[] = {
    "ok",
    "cancelled",
    "unknown error",
    "invalid argument",
    "deadline exceeded",
    "not found",
    "already exists",
    "permission denied",
    "resource exhausted",
    "failed precondition",
    "aborted",
    "out of range",
    "unimplemented",
    "internal error",
    "unavailable",
    "data loss",
    "unauthenticated",
};

const char *pbrpc_status_name(int status)
{
	if (status < 0 || status > PBRPC_STATUS_MAX)
		return "UNKNOWN";
	return status_names[status];
}

const char *pbrpc_strerror(int status)
{
	if (status < 0 || status > PBRPC_STATUS_MAX)
		return "unknown error";
	return status_texts[status];
}

const char *pbrpc_kind_name(pbrpc_kind kind)
{
	switch (kind) {
	case PBRPC_UNARY: return "unary";
	case PBRPC_SERVER_STREAMING: return "server-streaming";
	case PBRPC_CLIENT_STREAMING: return "client-streaming";
	case PBRPC_BIDI_STREAMING: return "bidi-streaming";
	}
	return "unknown";
}
