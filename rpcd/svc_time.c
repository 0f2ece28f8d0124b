/* svc_time.c - pbrpc.time.Time: the server's wall clock, optionally strftime-formatted. */
#include <string.h>
#include <time.h>

#include "pbrpc/time.pbrpc.h"
#include "services.h"

/* Bounds on client-given formats: a format is short, and its output must fit
 * a fixed buffer so that "%c%c%c..." cannot ask for unbounded memory. */
#define TIME_MAX_FORMAT     256
#define TIME_FORMATTED_SIZE 1024

static char *call_strdup(pbrpc_call *call, const char *s)
{
	size_t len = strlen(s);
	char *copy = pbrpc_call_alloc(call, len + 1);
	if (copy)
		memcpy(copy, s, len + 1);
	return copy;
}

static int time_now(pbrpc_call *call, const Pbrpc__Time__TimeRequest *request,
                    Pbrpc__Time__TimeReply *reply)
{
	const char *format = request->format ? request->format : "";
	size_t format_len = strnlen(format, TIME_MAX_FORMAT + 1);
	if (format_len > TIME_MAX_FORMAT) {
		pbrpc_call_set_message(call, "format longer than %d bytes", TIME_MAX_FORMAT);
		return PBRPC_INVALID_ARGUMENT;
	}

	struct timespec now;
	struct tm local;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
		pbrpc_call_set_message(call, "cannot read the clock");
		return PBRPC_INTERNAL;
	}
	time_t seconds = now.tv_sec;
	if (!localtime_r(&seconds, &local)) {
		pbrpc_call_set_message(call, "cannot convert the time to local time");
		return PBRPC_INTERNAL;
	}
	reply->seconds = (int64_t)now.tv_sec;
	reply->nanos = (int32_t)now.tv_nsec;
	reply->utc_offset = (int32_t)local.tm_gmtoff;
	/* tm_zone points into libc's zone data; copy it so the reply owns what it sends. */
	reply->timezone = call_strdup(call, local.tm_zone ? local.tm_zone : "");
	if (!reply->timezone)
		goto out_of_memory;

	if (format_len == 0)
		return PBRPC_OK;
	char *formatted = pbrpc_call_alloc(call, TIME_FORMATTED_SIZE);
	if (!formatted)
		goto out_of_memory;
	if (strftime(formatted, TIME_FORMATTED_SIZE, format, &local) == 0) {
		pbrpc_call_set_message(call, "format produces no output or too long");
		return PBRPC_INVALID_ARGUMENT;
	}
	reply->formatted = formatted;
	return PBRPC_OK;

out_of_memory:
	pbrpc_call_set_message(call, "out of memory");
	return PBRPC_RESOURCE_EXHAUSTED;
}

static const pbrpc_time_time_handlers time_handlers = {
    .now = time_now,
};

pbrpc_status rpcd_time_register(pbrpc_server *s, pbrpc_error *err)
{
	tzset(); /* localtime_r need not read TZ itself; read it once before the first call */
	return pbrpc_time_time_register(s, &time_handlers, NULL, err);
}
