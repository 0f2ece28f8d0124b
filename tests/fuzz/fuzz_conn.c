/* fuzz_conn.c - see fuzz_conn.h. The connection's stream handle is never
 * opened: with c->batching set, conn.c queues output instead of writing, and
 * libuv refuses to start reading a stream that is not open. */
#include "fuzz_conn.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"
#include "pbrpc/exec.pbrpc.h"
#include "pbrpc/file.pbrpc.h"
#include "record.h"
#include "services.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static void quiet(void *data, int level, const char *line)
{
	(void)data;
	(void)level;
	(void)line;
}

pbrpc_server *fuzz_server(void)
{
	static pbrpc_server *s;
	static const pbrpc_exec_exec_handlers no_exec;
	static const pbrpc_file_file_handlers no_file;
	if (s)
		return s;
	pbrpc_server_options o;
	pbrpc_error err;
	pbrpc_server_options_init(&o);
	o.log = quiet;
	o.max_calls = 8; /* reach the limit quickly */
	s = pbrpc_server_new(fuzz_psk, &o, &err);
	check(s != NULL);
	check(rpcd_echo_register(s, &err) == PBRPC_OK);
	check(rpcd_time_register(s, &err) == PBRPC_OK);
	check(pbrpc_exec_exec_register(s, &no_exec, NULL, &err) == PBRPC_OK);
	check(pbrpc_file_file_register(s, &no_file, NULL, &err) == PBRPC_OK);
	return s;
}

pbrpc_conn *fuzz_conn_new(int suite)
{
	pbrpc_server *s = fuzz_server();
	pbrpc_conn *c = calloc(1, sizeof *c);
	check(c != NULL);
	c->server = s;
	c->busy = 1;     /* inside a read callback: closing only marks c */
	c->batching = 1; /* output waits in c->out */
	snprintf(c->name, sizeof c->name, "fuzz");
	snprintf(c->peer, sizeof c->peer, "fuzz");
	pbrpc_channel_init(&c->ch, suite, fuzz_key_s2c, fuzz_key_c2s);
	c->peer_max_record = s->opt.max_record;
	pbrpc_buf_init(&c->in, 0);
	pbrpc_buf_init(&c->out, s->opt.max_output + 2 * ((size_t)s->opt.max_record + 64));
	pbrpc_buf_init(&c->sending, 0);
	return c;
}

/* Opens every record the server queued, as the client would. */
static void check_output(pbrpc_conn *c)
{
	pbrpc_channel client;
	pbrpc_channel_init(&client, c->ch.suite, fuzz_key_c2s, fuzz_key_s2c);
	uint8_t *p = pbrpc_buf_head(&c->out);
	size_t n = pbrpc_buf_len(&c->out);
	while (n > 0) {
		uint32_t body_len;
		size_t plain_len;
		pbrpc_frame f;
		check(pbrpc_record_check(p, n, c->peer_max_record, &body_len) ==
		      PBRPC_RECORD_READY);
		check(pbrpc_channel_open(&client, p, body_len, &plain_len) == 0);
		check(pbrpc_frame_decode(p + PBRPC_RECORD_HEADER, plain_len, &f) == 0);
		check(f.kind == PBRPC_FRAME_MESSAGE || f.kind == PBRPC_FRAME_STATUS);
		check(f.call_id != 0 && f.status <= PBRPC_STATUS_MAX);
		p += PBRPC_RECORD_HEADER + body_len;
		n -= PBRPC_RECORD_HEADER + body_len;
	}
	pbrpc_channel_wipe(&client);
}

void fuzz_conn_free(pbrpc_conn *c)
{
	check_output(c);
	pbrpc_call_abort_all(c); /* what conn_teardown does first */
	check(c->calls == NULL && c->n_calls == 0);
	uv_run(c->server->loop, UV_RUN_NOWAIT); /* closes deadline timers, stops the idle */
	pbrpc_buf_free(&c->in);
	pbrpc_buf_free(&c->out);
	pbrpc_buf_free(&c->sending);
	pbrpc_channel_wipe(&c->ch);
	free(c);
}
