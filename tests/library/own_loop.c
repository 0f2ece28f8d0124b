/* own_loop.c - a pbrpc server on the program's own libuv loop, next to its
 * other handles, with a client thread calling it; built with
 * pkg-config --cflags --libs pbrpc libuv.
 *   own_loop UNIX_SOCKET_PATH KEYFILE     prints PASS/FAIL lines */
#define _POSIX_C_SOURCE 200809L /* uv.h needs the POSIX types even under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include <pbrpc.h>
#include <pbrpc/echo.pbrpc.h>

#define CALLS 100

typedef struct test_state {
	pbrpc_server *server;
	char address[300];
	const char *key_file;
	int calls_ok;
	atomic_int client_done;
	int ticks; /* the program's own timer, running beside the server */
} test_state;

static int say(pbrpc_call *call, const Pbrpc__Echo__EchoRequest *request,
               Pbrpc__Echo__EchoReply *reply)
{
	int *served = pbrpc_call_service_data(call);
	(*served)++;
	reply->data = request->data; /* the request lives until the reply is sent */
	return PBRPC_OK;
}

static const pbrpc_echo_echo_handlers handlers = {.say = say};

static void *client_thread(void *arg)
{
	test_state *t = arg;
	pbrpc_client_options copts;
	pbrpc_error err;
	pbrpc_client_options_init(&copts);
	copts.key_file = t->key_file;
	pbrpc_client *c = pbrpc_client_connect(t->address, &copts, &err);
	for (int i = 0; c && i < CALLS; i++) {
		Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
		Pbrpc__Echo__EchoReply *reply = NULL;
		req.data.data = (uint8_t *)"ping";
		req.data.len = 4;
		if (pbrpc_echo_echo_say(c, &req, &reply, NULL, &err) == PBRPC_OK &&
		    reply->data.len == 4 && memcmp(reply->data.data, "ping", 4) == 0)
			t->calls_ok++;
		pbrpc_message_free(reply ? &reply->base : NULL);
	}
	pbrpc_client_close(c);
	atomic_store(&t->client_done, 1);
	return NULL;
}

static void on_tick(uv_timer_t *timer)
{
	test_state *t = timer->data;
	t->ticks++;
	if (atomic_load(&t->client_done)) {
		pbrpc_server_stop(t->server); /* graceful; uv_run returns once it is done */
		uv_close((uv_handle_t *)timer, NULL);
	}
}

static void report(int ok, const char *what)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", what);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: own_loop UNIX_SOCKET_PATH KEYFILE\n");
		return 2;
	}
	test_state t = {.key_file = argv[2]};
	snprintf(t.address, sizeof t.address, "unix:%s", argv[1]);
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_error err;
	int served = 0;
	if (pbrpc_key_load(argv[2], key, &err) != PBRPC_OK) {
		printf("FAIL load key: %s\n", err.message);
		return 1;
	}

	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_timer_t tick;
	uv_timer_init(&loop, &tick);
	tick.data = &t;
	uv_timer_start(&tick, on_tick, 10, 10);

	pbrpc_server_options opts;
	pbrpc_server_options_init(&opts);
	opts.loop = &loop;
	t.server = pbrpc_server_new(key, &opts, &err);
	if (!t.server || pbrpc_echo_echo_register(t.server, &handlers, &served, &err) != PBRPC_OK ||
	    pbrpc_server_listen(t.server, t.address, &err) != PBRPC_OK) {
		printf("FAIL start the server on our loop: %s\n", err.message);
		return 1;
	}
	pthread_t tid;
	pthread_create(&tid, NULL, client_thread, &t);
	uv_run(&loop, UV_RUN_DEFAULT); /* ours to run: returns once the server has stopped */
	pthread_join(tid, NULL);

	report(t.calls_ok == CALLS && served == CALLS, "100 calls served on the caller's loop");
	report(t.ticks > 0, "the caller's own timer ran on the same loop and stopped the server");
	pbrpc_server_free(t.server); /* runs the loop until the server's handles are closed */
	int closed = uv_loop_close(&loop) == 0;
	report(closed, "after pbrpc_server_free the loop closes cleanly");
	return t.calls_ok == CALLS && closed ? 0 : 1;
}
