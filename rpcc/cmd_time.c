/* cmd_time.c - 'rpcc time [--format FMT]': the server's clock, and how far
 * it is from ours, measured the way NTP does: offset = ts - (t1 + t4) / 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <pbrpc.h>

#include "pbrpc/time.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "report.h"

#define NS_PER_S 1000000000LL
/* Year 9999: beyond it the date no longer fits the format. */
#define MAX_SECONDS 253402300799LL
/* Real zones lie within -12h..+14h; allow a margin, refuse nonsense. */
#define MAX_UTC_OFFSET (26 * 3600)

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* "2026-11-24 11:30:00.123456789 UTC (+0000)": the server's wall clock in
 * its own zone. Returns 0, or -1 if the reply holds an impossible time. */
static int print_server_time(const Pbrpc__Time__TimeReply *reply)
{
	time_t local_seconds = (time_t)(reply->seconds + reply->utc_offset);
	int offset_minutes = abs(reply->utc_offset) / 60;
	char date[64];
	struct tm tm;

	if (gmtime_r(&local_seconds, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return -1;
	printf("server time: %s.%09d ", date, (int)reply->nanos);
	if (reply->timezone != NULL && reply->timezone[0] != '\0') {
		rpcc_put_safe(stdout, reply->timezone);
		putchar(' ');
	}
	printf("(%c%02d%02d)\n", reply->utc_offset < 0 ? '-' : '+', offset_minutes / 60,
	       offset_minutes % 60);
	return 0;
}

static int run_time(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"format", required_argument, NULL, 'f'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	const char *name = ctx->command->name;
	Pbrpc__Time__TimeRequest request = PBRPC__TIME__TIME_REQUEST__INIT;
	Pbrpc__Time__TimeReply *reply = NULL;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	pbrpc_client *client;
	struct timespec t1;
	int64_t t1_mono, t4_mono, rtt_ns, offset_ns;
	double offset;
	int status = RPCC_EXIT_OK, opt;
	const char *format = NULL;

	while ((opt = getopt_long(argc, argv, "f:h", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (optarg[0] == '\0')
				return rpcc_usage_error(name, "--format needs a strftime format");
			format = optarg;
			break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(name, NULL);
		}
	}
	if (optind != argc)
		return rpcc_usage_error(name, "unexpected argument '%s'", argv[optind]);
	if (format != NULL)
		request.format = (char *)format;

	client = rpcc_connect(ctx);
	if (client == NULL)
		return RPCC_EXIT_CONNECT;

	/* t1 on the wall clock; the round trip on the monotonic one, immune to steps. */
	clock_gettime(CLOCK_REALTIME, &t1);
	t1_mono = monotonic_ns();
	if (pbrpc_time_time_now(client, &request, &reply, &call_opts, &err) != PBRPC_OK) {
		rpcc_report(name, NULL, &err);
		pbrpc_client_close(client);
		return RPCC_EXIT_FAILED;
	}
	t4_mono = monotonic_ns();

	if (format != NULL) {
		/* Exactly what was asked for: the user chose the format. */
		fputs(reply->formatted != NULL ? reply->formatted : "", stdout);
		putchar('\n');
	} else if (reply->seconds < -MAX_SECONDS || reply->seconds > MAX_SECONDS ||
	           reply->nanos < 0 || reply->nanos >= NS_PER_S ||
	           reply->utc_offset < -MAX_UTC_OFFSET || reply->utc_offset > MAX_UTC_OFFSET ||
	           print_server_time(reply) != 0) {
		rpcc_reportf(name, PBRPC_OUT_OF_RANGE,
		             "the server sent an impossible time (%lld s, %d ns, UTC offset %d s)",
		             (long long)reply->seconds, (int)reply->nanos, (int)reply->utc_offset);
		status = RPCC_EXIT_FAILED;
	} else {
		/* Seconds and nanoseconds apart, so no server value can overflow. */
		rtt_ns = t4_mono - t1_mono;
		offset_ns = reply->nanos - t1.tv_nsec - rtt_ns / 2;
		offset = (double)(reply->seconds - t1.tv_sec) + (double)offset_ns / NS_PER_S;
		printf("offset: %+.6f s  round trip: %.6f s\n", offset, (double)rtt_ns / NS_PER_S);
	}
	pbrpc_message_free(&reply->base);
	pbrpc_client_close(client);
	return status;
}

const rpcc_command rpcc_cmd_time = {
    .name = "time",
    .args = "[--format FMT]",
    .summary = "Show the server's clock, its offset from ours and the round trip",
    .details = "offset = server time - (t1 + t4) / 2, where t1 and t4 are our clock before\n"
               "and after the call, as NTP measures it.",
    .options = "  -f, --format FMT   print only the server's time formatted with strftime FMT\n",
    .run = run_time,
};
