/* cmd_ping.c - 'rpcc ping [-c COUNT] [-s BYTES] [-v]': sequential Echo.Say
 * calls, each reply checked, then latency statistics like ping(8). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pbrpc.h>

#include "pbrpc/echo.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "parse.h"
#include "report.h"

#define DEFAULT_COUNT 10
#define MAX_COUNT     10000000
#define DEFAULT_BYTES 64

/* Set by SIGINT: stop after the call in flight and still print the summary. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile p (1..100) of n sorted samples. */
static int64_t percentile(const int64_t *sorted, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;

	return sorted[rank > 0 ? rank - 1 : 0];
}

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static void print_summary(int64_t calls, int64_t bytes, int64_t errors, int64_t *samples, size_t n)
{
	int64_t sum = 0;

	printf("%lld calls, %lld bytes, %lld errors", (long long)calls, (long long)bytes,
	       (long long)errors);
	if (n == 0) {
		printf(": no replies\n");
		return;
	}
	qsort(samples, n, sizeof(samples[0]), compare_int64);
	for (size_t i = 0; i < n; i++)
		sum += samples[i];
	printf(": min/avg/p50/p99/max = %.3f/%.3f/%.3f/%.3f/%.3f ms\n", ms(samples[0]),
	       ms(sum / (int64_t)n), ms(percentile(samples, n, 50)), ms(percentile(samples, n, 99)),
	       ms(samples[n - 1]));
}

/* Stamps seq into the payload so a stale or misrouted reply cannot match. */
static void stamp(uint8_t *payload, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len && i < sizeof(seq); i++)
		payload[i] = (uint8_t)(seq >> (8 * i));
}

static int run_ping(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"count", required_argument, NULL, 'c'},
	    {"size", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	const char *name = ctx->command->name;
	int64_t count = DEFAULT_COUNT, bytes = DEFAULT_BYTES, calls = 0, errors = 0;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	Pbrpc__Echo__EchoRequest request = PBRPC__ECHO__ECHO_REQUEST__INIT;
	struct sigaction sa = {.sa_handler = on_interrupt, .sa_flags = SA_RESTART};
	int verbose = 0, opt;
	pbrpc_client *client;
	uint8_t *payload;
	int64_t *samples;
	size_t n_samples = 0;

	while ((opt = getopt_long(argc, argv, "c:s:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (rpcc_parse_int64(optarg, 1, MAX_COUNT, &count) != 0)
				return rpcc_usage_error(name, "-c: COUNT must be 1..%d, not '%s'",
				                        MAX_COUNT, optarg);
			break;
		case 's':
			if (rpcc_parse_int64(optarg, 0, RPCC_MAX_PAYLOAD, &bytes) != 0)
				return rpcc_usage_error(name, "-s: BYTES must be 0..%u, not '%s'",
				                        RPCC_MAX_PAYLOAD, optarg);
			break;
		case 'v': verbose = 1; break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(name, NULL);
		}
	}
	if (optind != argc)
		return rpcc_usage_error(name, "unexpected argument '%s'", argv[optind]);

	/* + 1: malloc(0) may return NULL. */
	payload = malloc((size_t)bytes + 1);
	samples = malloc((size_t)count * sizeof(*samples));
	if (payload == NULL || samples == NULL) {
		rpcc_reportf(name, PBRPC_RESOURCE_EXHAUSTED, "out of memory for %lld calls",
		             (long long)count);
		free(payload);
		free(samples);
		return RPCC_EXIT_FAILED;
	}
	for (int64_t i = 0; i < bytes; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	request.data.data = payload;
	request.data.len = (size_t)bytes;

	client = rpcc_connect(ctx);
	if (client == NULL) {
		free(payload);
		free(samples);
		return RPCC_EXIT_CONNECT;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);

	for (int64_t seq = 1; seq <= count && !interrupted; seq++) {
		Pbrpc__Echo__EchoReply *reply = NULL;
		pbrpc_error err = {0};
		pbrpc_status rc;
		int64_t start, elapsed;

		stamp(payload, (size_t)bytes, (uint64_t)seq);
		start = monotonic_ns();
		rc = pbrpc_echo_echo_say(client, &request, &reply, &call_opts, &err);
		elapsed = monotonic_ns() - start;
		calls++;
		if (rc != PBRPC_OK) {
			char context[32];

			snprintf(context, sizeof(context), "seq=%lld", (long long)seq);
			rpcc_report(name, context, &err);
			errors++;
			/* The connection is gone: every further call would fail the same way. */
			if (rc == PBRPC_UNAVAILABLE)
				break;
			continue;
		}
		if (reply->data.len != (size_t)bytes ||
		    (bytes > 0 && memcmp(reply->data.data, payload, (size_t)bytes) != 0)) {
			rpcc_reportf(name, PBRPC_DATA_LOSS,
			             "seq=%lld: the reply (%zu bytes) differs from the request",
			             (long long)seq, reply->data.len);
			errors++;
		} else {
			samples[n_samples++] = elapsed;
			if (verbose)
				printf("seq=%lld time=%.3f ms\n", (long long)seq, ms(elapsed));
		}
		pbrpc_message_free(&reply->base);
	}

	signal(SIGINT, SIG_DFL);
	print_summary(calls, bytes, errors, samples, n_samples);
	pbrpc_client_close(client);
	free(payload);
	free(samples);
	return errors == 0 ? RPCC_EXIT_OK : RPCC_EXIT_FAILED;
}

const rpcc_command rpcc_cmd_ping = {
    .name = "ping",
    .args = "[-c COUNT] [-s BYTES] [-v]",
    .summary = "Time COUNT sequential Echo.Say calls, checking every reply",
    .details = "Prints one summary line: min/avg/p50/p99/max latency in milliseconds.\n"
               "Exits 1 if any call failed or returned other bytes than it sent.",
    .options = "  -c, --count COUNT  number of calls, 1..10000000 (default 10)\n"
               "  -s, --size BYTES   payload size, 0..1048576 (default 64)\n"
               "  -v, --verbose      print each call's latency as it completes\n",
    .run = run_ping,
};
