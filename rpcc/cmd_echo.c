/* cmd_echo.c - 'rpcc echo [--upper] [TEXT...]': calls Echo.Say. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbrpc.h>

#include "pbrpc/echo.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "report.h"

/* Joins args with single spaces into a new string (freed by the caller), or
 * NULL when out of memory. */
static char *join_args(int argc, char **argv, size_t *len)
{
	size_t total = 0;
	char *text, *p;

	for (int i = 0; i < argc; i++)
		total += strlen(argv[i]) + 1; /* + a space, or the final NUL */
	text = malloc(total);
	if (text == NULL)
		return NULL;
	p = text;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (i > 0)
			*p++ = ' ';
		memcpy(p, argv[i], n);
		p += n;
	}
	*p = '\0';
	*len = (size_t)(p - text);
	return text;
}

static void report_too_large(const char *name)
{
	rpcc_reportf(name, PBRPC_RESOURCE_EXHAUSTED, "standard input is larger than %u bytes",
	             RPCC_MAX_PAYLOAD);
}

/* Reads stdin to EOF into a new buffer of at most RPCC_MAX_PAYLOAD bytes
 * (freed by the caller). Returns 0, or -1 after reporting why. */
static int read_stdin(const char *name, uint8_t **data, size_t *len)
{
	size_t cap = 4096, used = 0;
	uint8_t *buf = malloc(cap);

	if (buf == NULL)
		goto no_memory;
	for (;;) {
		size_t want, got;

		if (used == cap) {
			uint8_t *bigger;

			if (cap > RPCC_MAX_PAYLOAD) {
				report_too_large(name);
				free(buf);
				return -1;
			}
			/* One byte past the cap tells "exactly the cap" from "more". */
			cap = cap * 2 > RPCC_MAX_PAYLOAD ? RPCC_MAX_PAYLOAD + 1 : cap * 2;
			bigger = realloc(buf, cap);
			if (bigger == NULL)
				goto no_memory;
			buf = bigger;
		}
		want = cap - used;
		got = fread(buf + used, 1, want, stdin);
		used += got;
		if (got < want) {
			if (ferror(stdin)) {
				rpcc_reportf(name, PBRPC_OK, "reading standard input: %s",
				             strerror(errno));
				free(buf);
				return -1;
			}
			break; /* end of input */
		}
	}
	*data = buf;
	*len = used;
	return 0;

no_memory:
	free(buf);
	rpcc_reportf(name, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	return -1;
}

static int run_echo(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"upper", no_argument, NULL, 'u'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	const char *name = ctx->command->name;
	Pbrpc__Echo__EchoRequest request = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	pbrpc_client *client;
	int from_stdin, status, opt;
	uint8_t *payload = NULL;
	size_t len = 0;

	/* '+': TEXT is data, so "rpcc echo a -u" echoes "a -u". */
	while ((opt = getopt_long(argc, argv, "+uh", options, NULL)) != -1) {
		switch (opt) {
		case 'u': request.upper = 1; break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(name, NULL);
		}
	}

	from_stdin = optind == argc;
	if (from_stdin) {
		if (read_stdin(name, &payload, &len) != 0)
			return RPCC_EXIT_FAILED;
	} else {
		payload = (uint8_t *)join_args(argc - optind, argv + optind, &len);
		if (payload == NULL) {
			rpcc_reportf(name, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
			return RPCC_EXIT_FAILED;
		}
	}
	request.data.data = payload;
	request.data.len = len;

	client = rpcc_connect(ctx);
	if (client == NULL) {
		free(payload);
		return RPCC_EXIT_CONNECT;
	}
	if (pbrpc_echo_echo_say(client, &request, &reply, &call_opts, &err) != PBRPC_OK) {
		rpcc_report(name, NULL, &err);
		status = RPCC_EXIT_FAILED;
	} else {
		/* Words get a newline like echo(1); stdin comes back byte for byte. */
		fwrite(reply->data.data, 1, reply->data.len, stdout);
		if (!from_stdin)
			putchar('\n');
		status = RPCC_EXIT_OK; /* main checks that stdout took it all */
	}
	pbrpc_message_free(reply ? &reply->base : NULL);
	pbrpc_client_close(client);
	free(payload);
	return status;
}

const rpcc_command rpcc_cmd_echo = {
    .name = "echo",
    .args = "[--upper] [TEXT...]",
    .summary = "Send TEXT (or stdin) to Echo.Say and print the reply",
    .details = "TEXT words are joined by single spaces and the reply printed with a newline.\n"
               "Without TEXT, standard input (up to 1 MiB) is sent and the reply written\n"
               "back byte for byte.",
    .options = "  -u, --upper        ask the server to upper-case the reply\n",
    .run = run_echo,
};
