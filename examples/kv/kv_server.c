/* kv_server.c - serves kv.KeyValue (kv.proto): an in-memory key-value store.
 *   kv-server [ADDRESS [KEYFILE]]
 * ADDRESS defaults to unix:kv.sock, KEYFILE to pbrpc's default key file.
 * SIGINT or SIGTERM stops it after the calls in flight end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbrpc.h>

#include "kv.pbrpc.h"

/* Every handler runs on the server's loop thread, one at a time: the store
 * needs no lock. A list is plenty for an example. */
typedef struct entry {
	struct entry *next;
	char *key;
	char *value;
	uint64_t version;
} entry;

/* A Watch call in progress, and the key it follows ("" follows every key). */
typedef struct watcher {
	struct watcher *next;
	pbrpc_call *call;
	char key[];
} watcher;

typedef struct store {
	entry *entries;
	watcher *watchers;
	uint64_t version;
} store;

static entry *store_find(store *st, const char *key)
{
	for (entry *e = st->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void watcher_remove(store *st, pbrpc_call *call)
{
	for (watcher **w = &st->watchers; *w; w = &(*w)->next) {
		if ((*w)->call == call) {
			watcher *gone = *w;
			*w = gone->next;
			free(gone);
			return;
		}
	}
}

static void entry_to_message(const entry *e, Kv__Entry *msg)
{
	msg->key = e->key;
	msg->value = e->value;
	msg->version = e->version;
}

/* Tells every watcher of e's key about the new value. A watcher whose client
 * reads slower than we write is ended rather than buffered without limit. */
static void store_notify(store *st, const entry *e)
{
	Kv__Entry msg = KV__ENTRY__INIT;
	entry_to_message(e, &msg);
	for (watcher *w = st->watchers, *next; w; w = next) {
		next = w->next;
		if (w->key[0] && strcmp(w->key, e->key) != 0)
			continue;
		if (!pbrpc_call_writable(w->call)) {
			pbrpc_call *call = w->call;
			watcher_remove(st, call);
			pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "watcher too slow");
			continue;
		}
		pbrpc_call_send(w->call, &msg.base);
	}
}

/* Writes key = value. Returns the entry, or NULL if out of memory. */
static const entry *store_set(store *st, const char *key, const char *value)
{
	entry *e = store_find(st, key);
	char *copy = strdup(value);
	if (!copy)
		return NULL;
	if (!e) {
		e = calloc(1, sizeof *e);
		if (!e || !(e->key = strdup(key))) {
			free(e);
			free(copy);
			return NULL;
		}
		e->next = st->entries;
		st->entries = e;
	}
	free(e->value);
	e->value = copy;
	e->version = ++st->version;
	store_notify(st, e);
	return e;
}

static int store_delete(store *st, const char *key)
{
	for (entry **p = &st->entries; *p; p = &(*p)->next) {
		if (strcmp((*p)->key, key) == 0) {
			entry *gone = *p;
			*p = gone->next;
			free(gone->key);
			free(gone->value);
			free(gone);
			st->version++;
			return 1;
		}
	}
	return 0;
}

static void store_free(store *st)
{
	while (st->entries)
		store_delete(st, st->entries->key);
	while (st->watchers)
		watcher_remove(st, st->watchers->call);
}

/* ---- Handlers ------------------------------------------------------------ */

/* Unary: fill reply and return a status. reply may point into the store: it is
 * packed and sent before any other handler runs. */
static int kv_get(pbrpc_call *call, const Kv__Key *request, Kv__Entry *reply)
{
	store *st = pbrpc_call_service_data(call);
	const entry *e = store_find(st, request->key);
	if (!e) {
		pbrpc_call_set_message(call, "no key '%s'", request->key);
		return PBRPC_NOT_FOUND;
	}
	entry_to_message(e, reply);
	return PBRPC_OK;
}

static int kv_set(pbrpc_call *call, const Kv__Entry *request, Kv__SetReply *reply)
{
	store *st = pbrpc_call_service_data(call);
	if (!request->key[0]) {
		pbrpc_call_set_message(call, "empty key");
		return PBRPC_INVALID_ARGUMENT;
	}
	const entry *e = store_set(st, request->key, request->value);
	if (!e)
		return PBRPC_RESOURCE_EXHAUSTED;
	reply->count = 1;
	reply->version = e->version;
	return PBRPC_OK;
}

/* Server-streaming: the request comes with PBRPC_EV_START; the call stays open
 * until the client cancels (or its deadline passes, or the server stops). */
static void kv_watch(pbrpc_call *call, pbrpc_event event, const Kv__Key *request)
{
	store *st = pbrpc_call_service_data(call);
	if (event == PBRPC_EV_CANCEL) {
		watcher_remove(st, call); /* the call is freed when we return */
		return;
	}
	if (event != PBRPC_EV_START)
		return;
	size_t len = strlen(request->key);
	watcher *w = malloc(sizeof *w + len + 1);
	if (!w) {
		pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->call = call;
	memcpy(w->key, request->key, len + 1);
	w->next = st->watchers;
	st->watchers = w;
	const entry *e = store_find(st, request->key);
	if (e) {
		Kv__Entry msg = KV__ENTRY__INIT;
		entry_to_message(e, &msg);
		pbrpc_call_send(call, &msg.base);
	}
}

/* Client-streaming: one PBRPC_EV_MESSAGE per entry, then PBRPC_EV_HALF_CLOSE,
 * where the one reply goes out with pbrpc_call_reply(). */
static void kv_set_many(pbrpc_call *call, pbrpc_event event, const Kv__Entry *msg)
{
	store *st = pbrpc_call_service_data(call);
	Kv__SetReply reply = KV__SET_REPLY__INIT;
	/* Per-call state lives in call memory, freed with the call. */
	uint32_t *count = pbrpc_call_data(call);

	switch (event) {
	case PBRPC_EV_START:
		count = pbrpc_call_alloc(call, sizeof *count);
		if (!count) {
			pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		*count = 0;
		pbrpc_call_set_data(call, count);
		break;
	case PBRPC_EV_MESSAGE:
		if (!msg->key[0]) {
			pbrpc_call_finish(call, PBRPC_INVALID_ARGUMENT, "entry %u: empty key",
			                  *count);
			return;
		}
		if (!store_set(st, msg->key, msg->value)) {
			pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		(*count)++;
		break;
	case PBRPC_EV_HALF_CLOSE:
		reply.count = *count;
		reply.version = st->version;
		pbrpc_call_reply(call, &reply.base);
		break;
	case PBRPC_EV_WRITABLE:
	case PBRPC_EV_CANCEL:
		break;
	}
}

static void session_op(pbrpc_call *call, store *st, const Kv__Op *op)
{
	Kv__OpResult result = KV__OP_RESULT__INIT;
	Kv__Entry out = KV__ENTRY__INIT;
	const entry *e = NULL;

	out.key = op->key;
	result.entry = &out;
	switch (op->kind) {
	case KV__OP__KIND__SET:
		e = store_set(st, op->key, op->value);
		result.status = e ? PBRPC_OK : PBRPC_RESOURCE_EXHAUSTED;
		break;
	case KV__OP__KIND__DELETE:
		result.status = store_delete(st, op->key) ? PBRPC_OK : PBRPC_NOT_FOUND;
		break;
	default: /* GET, and kinds newer than this server */
		e = store_find(st, op->key);
		result.status = e ? PBRPC_OK : PBRPC_NOT_FOUND;
		break;
	}
	if (e)
		entry_to_message(e, &out);
	if (pbrpc_call_send(call, &result.base) != PBRPC_OK) {
		pbrpc_call_finish(call, PBRPC_UNAVAILABLE, "cannot send");
		return;
	}
	/* Back-pressure: a client that sends faster than it reads stops being read. */
	if (!pbrpc_call_writable(call))
		pbrpc_call_pause(call, 1);
}

/* Bidirectional: one OpResult per Op, in order; the call ends when the client
 * half-closes. */
static void kv_session(pbrpc_call *call, pbrpc_event event, const Kv__Op *op)
{
	switch (event) {
	case PBRPC_EV_MESSAGE:
		session_op(call, pbrpc_call_service_data(call), op);
		break;
	case PBRPC_EV_WRITABLE:
		pbrpc_call_pause(call, 0);
		break;
	case PBRPC_EV_HALF_CLOSE:
		pbrpc_call_finish(call, PBRPC_OK, NULL);
		break;
	case PBRPC_EV_START:
	case PBRPC_EV_CANCEL:
		break;
	}
}

static const kv_key_value_handlers kv_handlers = {
	.get = kv_get,
	.set = kv_set,
	.watch = kv_watch,
	.set_many = kv_set_many,
	.session = kv_session,
};

/* ---- Main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	const char *address = argc > 1 ? argv[1] : "unix:kv.sock";
	char default_key[4096];
	const char *key_file = argc > 2 ? argv[2] : pbrpc_key_default_path(default_key,
	                                                                    sizeof default_key);
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_error err = {0};
	store st = {0};

	if (!key_file || pbrpc_key_load(key_file, key, &err) != PBRPC_OK) {
		fprintf(stderr, "kv-server: %s\n", key_file ? err.message : "no key file");
		return 1;
	}
	pbrpc_server_options opts;
	pbrpc_server_options_init(&opts);
	opts.handle_signals = 1; /* pbrpc_server_run() returns after SIGINT/SIGTERM */
	opts.grace_ms = 1000;    /* Watch calls never end by themselves: do not wait long */
	pbrpc_server *server = pbrpc_server_new(key, &opts, &err);
	if (!server || kv_key_value_register(server, &kv_handlers, &st, &err) != PBRPC_OK ||
	    pbrpc_server_listen(server, address, &err) != PBRPC_OK) {
		fprintf(stderr, "kv-server: %s (%s)\n", err.message, pbrpc_status_name(err.code));
		pbrpc_server_free(server);
		return 1;
	}
	printf("kv-server: serving kv.KeyValue on %s\n", pbrpc_server_address(server, 0));
	fflush(stdout);
	int rc = pbrpc_server_run(server);
	pbrpc_server_free(server);
	store_free(&st);
	printf("kv-server: stopped\n");
	return rc == 0 ? 0 : 1;
}
