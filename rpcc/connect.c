/* connect.c - turns rpcc's global options into a connected pbrpc_client.
 *
 * rpcc finds the key file itself, rather than leaving it to the library, so
 * that a missing key file, a server key that is unknown or changed, and a
 * key the server refuses get different messages, each naming the file. */
#include "connect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

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

/* The credential file rpcc will use (maybe in buf): --key, $PBRPC_KEY, the
 * default identity, else the default shared key (the library's order), or
 * NULL if no home is known. */
static const char *key_path(const rpcc_context *ctx, char *buf, size_t size)
{
	if (ctx->key_file != NULL)
		return ctx->key_file;
	return pbrpc_credential_default_path(buf, size);
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
	uint8_t server_key[32];
	pbrpc_client_options opts;
	pbrpc_client *client;
	pbrpc_error err = {0};

	if (path == NULL) {
		rpcc_reportf(command, PBRPC_FAILED_PRECONDITION,
		             "no identity: give --key FILE or set PBRPC_KEY (or HOME)");
		return NULL;
	}
	if (access(path, F_OK) != 0) {
		rpcc_reportf(command, PBRPC_NOT_FOUND, "key %s: %s", path, strerror(errno));
		fprintf(stderr,
		        "rpcc: create one with 'rpcc keygen %s' and add %s.pub to the "
		        "server's authorized_keys\n",
		        path, path);
		return NULL;
	}
	pbrpc_client_options_init(&opts);
	opts.key_file = path;
	opts.known_servers = ctx->known_servers;
	opts.accept_new = ctx->accept_new;
	if (ctx->server_key_file) {
		if (pbrpc_public_key_load(ctx->server_key_file, server_key, &err) != PBRPC_OK) {
			rpcc_report(command, NULL, &err);
			return NULL;
		}
		opts.server_key = server_key;
	}
	/* --timeout bounds the whole command, so connecting too. */
	if (ctx->timeout_ms > 0 && ctx->timeout_ms < LIBRARY_CONNECT_TIMEOUT_MS)
		opts.connect_timeout_ms = (int)ctx->timeout_ms;
	client = pbrpc_client_connect(address, &opts, &err);
	if (client != NULL) {
		if (pbrpc_client_server_key_added(client) &&
		    pbrpc_client_server_key(client, server_key) == 0) {
			char fp[PBRPC_FINGERPRINT_SIZE];
			pbrpc_key_fingerprint(server_key, fp);
			fprintf(stderr, "rpcc: added %s (%s) to the known servers\n", address, fp);
		}
		return client;
	}

	if (err.code == PBRPC_UNAUTHENTICATED &&
	    (strstr(err.message, "server key changed") || strstr(err.message, "unknown server"))) {
		rpcc_report(command, NULL, &err);
	} else if (err.code == PBRPC_UNAUTHENTICATED || err.code == PBRPC_PERMISSION_DENIED) {
		/* Say "authentication failed" plainly: the usual cause is a wrong key. */
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
