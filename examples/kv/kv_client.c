/* kv_client.c - calls kv.KeyValue (kv.proto) on a kv-server.
 *   kv-client [-s ADDRESS] [-k KEYFILE] [-t SECONDS] COMMAND ARGS...
 * Exits 0 on success, 1 when a call fails, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbrpc.h>

#include "kv.pbrpc.h"

static const char usage[] =
	"usage: kv-client [-s ADDRESS] [-k KEYFILE] [-t SECONDS] COMMAND ARGS...\n"
	"  get KEY               print KEY's value\n"
	"  set KEY VALUE         write KEY\n"
	"  set-many KEY=VALUE... write several keys in one client-streaming call\n"
	"  watch KEY COUNT       print KEY's value and its next changes, COUNT in all\n"
	"                        (KEY \"\" watches every key)\n"
	"  session               read 'get KEY', 'set KEY VALUE', 'del KEY' lines from\n"
	"                        stdin and print one result per line\n"
	"ADDRESS defaults to unix:kv.sock; -t sets a deadline on each call.\n";

static int fail(const char *what, const pbrpc_error *err)
{
	fprintf(stderr, "kv-client: %s: %s (%s)\n", what, err->message,
	        pbrpc_status_name(err->code));
	return 1;
}

static int cmd_get(pbrpc_client *c, const pbrpc_call_options *opts, char **argv)
{
	Kv__Key request = KV__KEY__INIT;
	Kv__Entry *reply = NULL;
	pbrpc_error err;

	request.key = argv[0];
	if (kv_key_value_get(c, &request, &reply, opts, &err) != PBRPC_OK)
		return fail("get", &err); /* err.code is PBRPC_NOT_FOUND for a missing key */
	printf("%s\n", reply->value);
	pbrpc_message_free(&reply->base); /* replies belong to the caller */
	return 0;
}

static int cmd_set(pbrpc_client *c, const pbrpc_call_options *opts, char **argv)
{
	Kv__Entry request = KV__ENTRY__INIT;
	Kv__SetReply *reply = NULL;
	pbrpc_error err;

	request.key = argv[0];
	request.value = argv[1];
	if (kv_key_value_set(c, &request, &reply, opts, &err) != PBRPC_OK)
		return fail("set", &err);
	printf("ok, version %llu\n", (unsigned long long)reply->version);
	pbrpc_message_free(&reply->base);
	return 0;
}

/* Client-streaming: send any number of messages, then finish() half-closes
 * and waits for the single reply. */
static int cmd_set_many(pbrpc_client *c, const pbrpc_call_options *opts, int argc, char **argv)
{
	pbrpc_error err;
	pbrpc_stream *s = kv_key_value_set_many_open(c, opts, &err);
	if (!s)
		return fail("set-many", &err);
	for (int i = 0; i < argc; i++) {
		Kv__Entry entry = KV__ENTRY__INIT;
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			fprintf(stderr, "kv-client: set-many: '%s' is not KEY=VALUE\n", argv[i]);
			pbrpc_stream_free(s); /* cancels the call: nothing after this is written */
			return 2;
		}
		*eq = '\0';
		entry.key = argv[i];
		entry.value = eq + 1;
		if (kv_key_value_set_many_send(s, &entry, &err) != PBRPC_OK) {
			pbrpc_stream_free(s);
			return fail("set-many", &err);
		}
	}
	Kv__SetReply *reply = NULL;
	pbrpc_status status = kv_key_value_set_many_finish(s, &reply, &err);
	pbrpc_stream_free(s);
	if (status != PBRPC_OK)
		return fail("set-many", &err);
	printf("ok, %u written, version %llu\n", reply->count, (unsigned long long)reply->version);
	pbrpc_message_free(&reply->base);
	return 0;
}

/* Server-streaming: one request, then receive until the count is reached. The
 * server would go on forever, so we end the call with a cancel. */
static int cmd_watch(pbrpc_client *c, const pbrpc_call_options *opts, char **argv)
{
	Kv__Key request = KV__KEY__INIT;
	pbrpc_error err;
	long count = strtol(argv[1], NULL, 10);

	request.key = argv[0];
	pbrpc_stream *s = kv_key_value_watch(c, &request, opts, &err);
	if (!s)
		return fail("watch", &err);
	for (long i = 0; i < count; i++) {
		Kv__Entry *entry = NULL;
		if (kv_key_value_watch_recv(s, &entry, &err) != PBRPC_OK) {
			pbrpc_stream_free(s);
			return fail("watch", &err);
		}
		if (!entry) /* the server ended the call with OK */
			break;
		printf("%s = %s (version %llu)\n", entry->key, entry->value,
		       (unsigned long long)entry->version);
		fflush(stdout);
		pbrpc_message_free(&entry->base);
	}
	pbrpc_stream_cancel(s);
	pbrpc_stream_free(s);
	return 0;
}

/* Parses "get KEY", "set KEY VALUE" or "del KEY" into op. Returns 0 if it is none. */
static int parse_op(char *line, Kv__Op *op)
{
	char *verb = strtok(line, " \t\n");
	char *key = strtok(NULL, " \t\n");
	char *value = strtok(NULL, "\n");

	if (!verb || !key)
		return 0;
	op->key = key;
	op->value = value ? value : "";
	if (strcmp(verb, "get") == 0 && !value)
		op->kind = KV__OP__KIND__GET;
	else if (strcmp(verb, "set") == 0 && value)
		op->kind = KV__OP__KIND__SET;
	else if (strcmp(verb, "del") == 0 && !value)
		op->kind = KV__OP__KIND__DELETE;
	else
		return 0;
	return 1;
}

/* Bidirectional: here in lock-step (send one, receive one), though both sides
 * may run ahead of each other. */
static int cmd_session(pbrpc_client *c, const pbrpc_call_options *opts)
{
	pbrpc_error err;
	char line[1024];
	pbrpc_stream *s = kv_key_value_session_open(c, opts, &err);
	if (!s)
		return fail("session", &err);
	while (fgets(line, sizeof line, stdin)) {
		Kv__Op op = KV__OP__INIT;
		Kv__OpResult *result = NULL;
		if (!parse_op(line, &op)) {
			fprintf(stderr, "kv-client: session: want 'get KEY', "
			                "'set KEY VALUE' or 'del KEY'\n");
			continue;
		}
		if (kv_key_value_session_send(s, &op, &err) != PBRPC_OK ||
		    kv_key_value_session_recv(s, &result, &err) != PBRPC_OK || !result) {
			pbrpc_stream_free(s);
			return fail("session", &err);
		}
		if (result->status != PBRPC_OK)
			printf("%s %s\n", pbrpc_status_name(result->status), op.key);
		else if (op.kind == KV__OP__KIND__DELETE)
			printf("deleted %s\n", op.key);
		else
			printf("%s = %s (version %llu)\n", result->entry->key, result->entry->value,
			       (unsigned long long)result->entry->version);
		pbrpc_message_free(&result->base);
	}
	/* Half-close, then the final status: NULL message and PBRPC_OK. */
	Kv__OpResult *end = NULL;
	pbrpc_status status = pbrpc_stream_close_send(s, &err);
	if (status == PBRPC_OK)
		status = kv_key_value_session_recv(s, &end, &err);
	pbrpc_message_free(end ? &end->base : NULL);
	pbrpc_stream_free(s);
	return status == PBRPC_OK ? 0 : fail("session", &err);
}

static int run(pbrpc_client *c, const pbrpc_call_options *opts, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "get") == 0 && argc == 2)
		return cmd_get(c, opts, argv + 1);
	if (strcmp(cmd, "set") == 0 && argc == 3)
		return cmd_set(c, opts, argv + 1);
	if (strcmp(cmd, "set-many") == 0)
		return cmd_set_many(c, opts, argc - 1, argv + 1);
	if (strcmp(cmd, "watch") == 0 && argc == 3)
		return cmd_watch(c, opts, argv + 1);
	if (strcmp(cmd, "session") == 0 && argc == 1)
		return cmd_session(c, opts);
	fputs(usage, stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *address = "unix:kv.sock";
	pbrpc_client_options copts;
	pbrpc_call_options opts = {0};
	pbrpc_error err;
	int opt;

	pbrpc_client_options_init(&copts); /* key_file NULL: the default key file */
	while ((opt = getopt(argc, argv, "+s:k:t:h")) != -1) {
		switch (opt) {
		case 's':
			address = optarg;
			break;
		case 'k':
			copts.key_file = optarg;
			break;
		case 't':
			opts.timeout_ms = (int64_t)(atof(optarg) * 1000);
			break;
		default:
			fputs(usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	pbrpc_client *c = pbrpc_client_connect(address, &copts, &err);
	if (!c)
		return fail(address, &err);
	int rc = run(c, &opts, argc - optind, argv + optind);
	pbrpc_client_close(c);
	return rc;
}
