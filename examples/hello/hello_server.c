/* hello_server.c - a minimal pbrpc server: the built-in pbrpc.echo.Echo service
 * (its stubs ship with libpbrpc) with our own Say, which answers in reverse.
 *   hello-server ADDRESS KEYFILE
 * Build: cc hello_server.c $(pkg-config --cflags --libs pbrpc) -o hello-server */
#include <stdio.h>

#include <pbrpc.h>
#include <pbrpc/echo.pbrpc.h>

/* A unary handler fills reply and returns a status. Memory for the reply
 * comes from the call and is freed with it. */
static int say(pbrpc_call *call, const Pbrpc__Echo__EchoRequest *request,
               Pbrpc__Echo__EchoReply *reply)
{
	size_t len = request->data.len;
	uint8_t *reversed = pbrpc_call_alloc(call, len + 1);
	if (!reversed)
		return PBRPC_RESOURCE_EXHAUSTED;
	for (size_t i = 0; i < len; i++)
		reversed[i] = request->data.data[len - 1 - i];
	reply->data.data = reversed;
	reply->data.len = len;
	pbrpc_server_log(pbrpc_call_server(call), PBRPC_LOG_INFO,
	                 "Say from %s: %zu bytes, %lld ms left", pbrpc_call_peer(call), len,
	                 (long long)pbrpc_call_remaining_ms(call));
	return PBRPC_OK;
}

/* Chat stays NULL: calls to it get UNIMPLEMENTED. */
static const pbrpc_echo_echo_handlers handlers = {.say = say};

int main(int argc, char **argv)
{
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_server_options opts;
	pbrpc_error err;

	if (argc != 3) {
		fprintf(stderr, "usage: hello-server ADDRESS KEYFILE\n");
		return 2;
	}
	if (pbrpc_key_load(argv[2], key, &err) != PBRPC_OK) {
		fprintf(stderr, "hello-server: %s\n", err.message);
		return 1;
	}
	pbrpc_server_options_init(&opts);
	opts.handle_signals = 1; /* SIGINT/SIGTERM: stop accepting, finish calls, return */
	pbrpc_server *server = pbrpc_server_new(key, &opts, &err);
	if (!server || pbrpc_echo_echo_register(server, &handlers, NULL, &err) != PBRPC_OK ||
	    pbrpc_server_listen(server, argv[1], &err) != PBRPC_OK) {
		fprintf(stderr, "hello-server: %s (%s)\n", err.message,
		        pbrpc_status_name(err.code));
		pbrpc_server_free(server);
		return 1;
	}
	int rc = pbrpc_server_run(server); /* blocks until stopped */
	pbrpc_server_free(server);
	return rc == 0 ? 0 : 1;
}
