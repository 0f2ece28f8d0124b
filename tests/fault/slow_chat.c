/* slow_chat.c - holds one Echo.Chat call open across a pause, to show a
 * stopping server lets an in-flight call finish.
 *   fault_slow_chat ADDRESS KEYFILE
 * Sends "one", prints "open" once the reply came, waits for a line on stdin,
 * then sends "two", half-closes and prints "done" if the call ends OK. */
#include <stdio.h>
#include <string.h>

#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"

static int exchange(pbrpc_stream *s, const char *text, pbrpc_error *err)
{
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	req.data.data = (uint8_t *)text;
	req.data.len = strlen(text);
	if (pbrpc_echo_echo_chat_send(s, &req, err) != PBRPC_OK ||
	    pbrpc_echo_echo_chat_recv(s, &reply, err) != PBRPC_OK || !reply)
		return -1;
	int ok =
	    reply->data.len == req.data.len && memcmp(reply->data.data, text, req.data.len) == 0;
	pbrpc_message_free(&reply->base);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	pbrpc_client_options o;
	pbrpc_error err = {0};
	char line[16];
	if (argc != 3)
		return 2;
	pbrpc_client_options_init(&o);
	o.key_file = argv[2];
	pbrpc_client *c = pbrpc_client_connect(argv[1], &o, &err);
	pbrpc_stream *s = c ? pbrpc_echo_echo_chat_open(c, NULL, &err) : NULL;
	if (!s || exchange(s, "one", &err) != 0)
		goto fail;
	printf("open\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin) || exchange(s, "two", &err) != 0 ||
	    pbrpc_stream_close_send(s, &err) != PBRPC_OK)
		goto fail;
	Pbrpc__Echo__EchoReply *end = NULL;
	if (pbrpc_echo_echo_chat_recv(s, &end, &err) != PBRPC_OK || end)
		goto fail;
	printf("done\n");
	pbrpc_stream_free(s);
	pbrpc_client_close(c);
	return 0;
fail:
	printf("error: %s (%s)\n", err.message, pbrpc_status_name(err.code));
	pbrpc_stream_free(s);
	pbrpc_client_close(c);
	return 1;
}
