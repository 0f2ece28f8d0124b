/* hello_client.c - calls the built-in echo and time services of rpcd.
 *   hello-client [ADDRESS [KEYFILE]]     defaults: 127.0.0.1:7420, the default key file
 * Build: cc hello_client.c $(pkg-config --cflags --libs pbrpc) -o hello-client */
#include <stdio.h>
#include <string.h>

#include <pbrpc.h>
#include <pbrpc/echo.pbrpc.h>
#include <pbrpc/time.pbrpc.h>

int main(int argc, char **argv)
{
	const char *address = argc > 1 ? argv[1] : PBRPC_DEFAULT_ADDRESS;
	pbrpc_client_options copts;
	pbrpc_error err;

	pbrpc_client_options_init(&copts);
	copts.key_file = argc > 2 ? argv[2] : NULL; /* NULL: the default key file */
	pbrpc_client *client = pbrpc_client_connect(address, &copts, &err);
	if (!client) {
		fprintf(stderr, "hello: %s (%s)\n", err.message, pbrpc_status_name(err.code));
		return 1;
	}

	/* Echo.Say: the reply is ours to free. */
	Pbrpc__Echo__EchoRequest say = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *echoed = NULL;
	say.data.data = (uint8_t *)"hello, world";
	say.data.len = strlen("hello, world");
	say.upper = 1;
	pbrpc_call_options opts = {.timeout_ms = 5000}; /* each call's deadline */
	if (pbrpc_echo_echo_say(client, &say, &echoed, &opts, &err) != PBRPC_OK) {
		fprintf(stderr, "hello: echo: %s (%s)\n", err.message, pbrpc_status_name(err.code));
		pbrpc_client_close(client);
		return 1;
	}
	printf("echo: %.*s\n", (int)echoed->data.len, (const char *)echoed->data.data);
	pbrpc_message_free(&echoed->base);

	/* Time.Now, formatted by the server. */
	Pbrpc__Time__TimeRequest now = PBRPC__TIME__TIME_REQUEST__INIT;
	Pbrpc__Time__TimeReply *server_time = NULL;
	now.format = "%Y-%m-%d";
	if (pbrpc_time_time_now(client, &now, &server_time, &opts, &err) != PBRPC_OK) {
		fprintf(stderr, "hello: time: %s (%s)\n", err.message, pbrpc_status_name(err.code));
		pbrpc_client_close(client);
		return 1;
	}
	printf("time: %lld seconds since the epoch (%s), %s\n", (long long)server_time->seconds,
	       server_time->timezone, server_time->formatted);
	pbrpc_message_free(&server_time->base);

	pbrpc_client_close(client);
	return 0;
}
