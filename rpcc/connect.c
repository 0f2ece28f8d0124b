/* connect.c - turns rpcc's global options into a connected pbrpc_client.
 *
 * rpcc loads the key itself, rather than leaving it to the library, so that
 * a missing or unsafe key file and a key the server refuses get different
 * messages, each naming the file. */
#include "connect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The library's own connect + handshake limit (pbrpc_client_options). */
#define LIBRARY_CONNECT_TIMEOUT_MS 10000

static const char *server_address(const rpcc_context *ctx)
{
	const char *env = getenv("PBRPC_SERVER");

	if (ctx->server != NULL)
		return ctx->server;
	if (env != NULL && env[0] != '\0')
		return env;
	return PBRPC_DEFAULT_ADDRESS;
}

/* Returns the key file's path (maybe in buf), or NULL if none can be found. */
static const char *key_path(const rpcc_context *ctx, char *buf, size_t size)
{
	const char *env = getenv("PBRPC_KEY");

	if (ctx->key_file != NULL)
		return ctx->key_file;
	if (env != NULL && env[0] != '\0')
		return env;
	return pbrpc_key_default_path(buf, size);
}

/* rpcc_report() with a formatted context; falls back to none if out of memory. */
static void report_in(const char *command, const pbrpc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_in(const char *command, const pbrpc_error *err, const char *fmt, ...)
{
	char *context = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&context, fmt, ap) < 0)
		context = NULL;
	va_end(ap);
	rpcc_report(command, context, err);
	free(context);
}

pbrpc_call_options rpcc_call_options(const rpcc_context *ctx)
{
	pbrpc_call_options opts = {.timeout_ms = ctx->timeout_ms};

	return opts;
}

pbrpc_client *rpcc_connect(const rpcc_context *ctx)
{
	const char *command = ctx->command->name;
	const char *address = server_address(ctx);
	char default_path[4096];
	const char *path = key_path(ctx, default_path, sizeof(default_path));
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_client_options opts;
	pbrpc_client *client;
	pbrpc_error err = {0};

	if (path == NULL) {
		rpcc_reportf(command, PBRPC_FAILED_PRECONDITION,
		             "no key file: give --key FILE or set PBRPC_KEY (or HOME)");
		return NULL;
	}
	if (pbrpc_key_load(path, key, &err) != PBRPC_OK) {
		/* Name the file unless the library's message already does. */
		if (strstr(err.message, path) != NULL)
			rpcc_report(command, NULL, &err);
		else
			report_in(command, &err, "key %s", path);
		if (err.code == PBRPC_NOT_FOUND)
			fprintf(stderr,
			        "rpcc: create one with 'rpcc keygen %s' "
			        "(the server needs the same key)\n",
			        path);
		return NULL;
	}

	pbrpc_client_options_init(&opts);
	opts.key = key;
	/* --timeout bounds the whole command, so connecting too. */
	if (ctx->timeout_ms > 0 && ctx->timeout_ms < LIBRARY_CONNECT_TIMEOUT_MS)
		opts.connect_timeout_ms = (int)ctx->timeout_ms;
	client = pbrpc_client_connect(address, &opts, &err);
	explicit_bzero(key, sizeof(key));
	if (client != NULL)
		return client;

	/* Say "authentication failed" plainly: the usual cause is a wrong key. */
	if (err.code == PBRPC_UNAUTHENTICATED) {
		if (strstr(err.message, "authentication failed") != NULL)
			report_in(command, &err, "%s with key %s", address, path);
		else
			report_in(command, &err, "authentication failed with %s using key %s",
			          address, path);
	} else if (err.code == PBRPC_RESOURCE_EXHAUSTED) {
		/* Up but at its connection limit: "busy" says more than "cannot connect". */
		report_in(command, &err, "%s is busy", address);
	} else if (strstr(err.message, address) != NULL) {
		rpcc_report(command, NULL, &err);
	} else {
		report_in(command, &err, "cannot connect to %s", address);
	}
	return NULL;
}
