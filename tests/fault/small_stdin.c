/* small_stdin.c - streams a program's stdin in many small messages to a
 * program that reads it slowly, so that rpcd pauses and resumes the
 * connection over and over with records held back in its input buffer. A
 * resume once read more before handling what was held, until the buffer had
 * no room and the connection was closed ("out of memory").
 *   fault_small_stdin ADDRESS KEYFILE MIB
 * Sends MIB MiB in 16 KiB messages; the program counts what it read. Prints
 * one PASS or FAIL line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbrpc.h"
#include "pbrpc/exec.pbrpc.h"

#define MESSAGE (16u << 10)

/* Reads stdin 64 KiB at a time, a process or two per read: slow enough that
 * rpcd's stdin queue fills and drains many times. */
static const char consumer[] =
    "n=0; while c=$(head -c 65536 | wc -c) && [ \"$c\" -gt 0 ]; do n=$((n + c)); done; echo $n";

static int fail(const char *what, const pbrpc_error *err)
{
	printf("FAIL small stdin messages: %s: %s (%s)\n", what, err->message,
	       pbrpc_status_name(err->code));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	size_t total = (size_t)strtoul(argv[3], NULL, 10) << 20;
	pbrpc_client_options o;
	pbrpc_error err = {0};
	pbrpc_client_options_init(&o);
	o.key_file = argv[2];
	pbrpc_client *c = pbrpc_client_connect(argv[1], &o, &err);
	if (!c)
		return fail("connect", &err);
	pbrpc_stream *s = pbrpc_exec_exec_run_open(c, NULL, &err);
	if (!s)
		return fail("open", &err);

	ProtobufCBinaryData args[] = {
	    {2, (uint8_t *)"sh"}, {2, (uint8_t *)"-c"}, {sizeof consumer - 1, (uint8_t *)consumer}};
	Pbrpc__Exec__Start start = PBRPC__EXEC__START__INIT;
	start.n_argv = 3;
	start.argv = args;
	start.with_stdin = 1;
	Pbrpc__Exec__RunRequest m = PBRPC__EXEC__RUN_REQUEST__INIT;
	m.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_START;
	m.start = &start;
	if (pbrpc_exec_exec_run_send(s, &m, &err) != PBRPC_OK)
		return fail("start", &err);
	static uint8_t chunk[MESSAGE];
	memset(chunk, 'x', sizeof chunk);
	for (size_t sent = 0; sent < total; sent += MESSAGE) {
		m = (Pbrpc__Exec__RunRequest)PBRPC__EXEC__RUN_REQUEST__INIT;
		m.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_STDIN_DATA;
		m.stdin_data.data = chunk;
		m.stdin_data.len = MESSAGE;
		if (pbrpc_exec_exec_run_send(s, &m, &err) != PBRPC_OK)
			return fail("stdin", &err);
	}
	if (pbrpc_stream_close_send(s, &err) != PBRPC_OK)
		return fail("half-close", &err);

	char out[64] = "";
	size_t out_len = 0;
	int code = -1;
	for (;;) {
		Pbrpc__Exec__RunReply *r = NULL;
		if (pbrpc_exec_exec_run_recv(s, &r, &err) != PBRPC_OK)
			return fail("reply", &err);
		if (!r)
			break;
		if (r->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_OUTPUT && r->output->data.len) {
			size_t n = r->output->data.len;
			if (n > sizeof out - 1 - out_len)
				n = sizeof out - 1 - out_len;
			memcpy(out + out_len, r->output->data.data, n);
			out[out_len += n] = '\0';
		} else if (r->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_EXIT) {
			code = r->exit->code;
		}
		pbrpc_message_free(&r->base);
	}
	pbrpc_stream_free(s);
	pbrpc_client_close(c);
	if (code != 0 || strtoull(out, NULL, 10) != total) {
		printf("FAIL small stdin messages: exit %d, the program read %s bytes of %zu\n",
		       code, out, total);
		return 1;
	}
	printf("PASS small stdin messages: %zu MiB in %u KiB messages, all read\n", total >> 20,
	       MESSAGE >> 10);
	return 0;
}
