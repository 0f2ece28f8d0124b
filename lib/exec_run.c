/* exec_run.c - pbrpc_exec(): one call that runs a program through the
 * exec service and collects its output and exit status (pbrpc/exec.h).
 *
 * Stdin goes out from a second thread while this one takes the output: a
 * program that writes before it has read all its input would otherwise
 * fill both directions and stall. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pbrpc/exec.h"
#include "pbrpc/exec.pbrpc.h"

/* Small enough for any server's record limit that a sane operator sets. */
#define STDIN_CHUNK     (64u << 10)
#define MIN_STDIN_SPLIT 256

typedef struct output_buf {
	char *data;
	size_t len, cap, max;
	int truncated;
} output_buf;

typedef struct stdin_feed {
	pbrpc_stream *stream;
	const uint8_t *data;
	size_t len;
	pbrpc_status status; /* of the last send */
} stdin_feed;

/* Keeps up to b->max bytes, always NUL-terminated; -1 when out of memory. */
static int keep_output(output_buf *b, const uint8_t *p, size_t n)
{
	if (n > b->max - b->len) {
		b->truncated = 1;
		n = b->max - b->len;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return -1;
		b->data = grown;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Sends len bytes of stdin; to a server whose record limit is below our
 * chunk size (RESOURCE_EXHAUSTED: too large for it), in halves. */
pbrpc_status pbrpc_exec_send_stdin(pbrpc_stream *stream, const uint8_t *data, size_t len)
{
	Pbrpc__Exec__RunRequest req = PBRPC__EXEC__RUN_REQUEST__INIT;
	req.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_STDIN_DATA;
	req.stdin_data.data = (uint8_t *)data;
	req.stdin_data.len = len;
	pbrpc_status st = pbrpc_exec_exec_run_send(stream, &req, NULL);
	if (st != PBRPC_RESOURCE_EXHAUSTED || len < MIN_STDIN_SPLIT)
		return st;
	st = pbrpc_exec_send_stdin(stream, data, len / 2);
	if (st == PBRPC_OK)
		st = pbrpc_exec_send_stdin(stream, data + len / 2, len - len / 2);
	return st;
}

static void *feed_stdin(void *arg)
{
	stdin_feed *f = arg;
	for (size_t off = 0; off < f->len;) {
		size_t n = f->len - off < STDIN_CHUNK ? f->len - off : STDIN_CHUNK;
		f->status = pbrpc_exec_send_stdin(f->stream, f->data + off, n);
		if (f->status == PBRPC_RESOURCE_EXHAUSTED)
			break; /* not even a small piece fits: end the input, report it */
		if (f->status != PBRPC_OK)
			return NULL; /* the call ended: the receiving side reports how */
		off += n;
	}
	pbrpc_stream_close_send(f->stream, NULL);
	return NULL;
}

static ProtobufCBinaryData bytes_of(const char *s)
{
	ProtobufCBinaryData b = {.len = strlen(s), .data = (uint8_t *)s};
	return b;
}

/* Makes a list of bytes from a NULL-terminated list of strings (NULL ok). */
static ProtobufCBinaryData *bytes_list(const char *const *list, size_t *n)
{
	*n = 0;
	while (list && list[*n])
		(*n)++;
	ProtobufCBinaryData *v = calloc(*n ? *n : 1, sizeof *v);
	for (size_t i = 0; v && i < *n; i++)
		v[i] = bytes_of(list[i]);
	return v;
}

/* Takes replies until the call ends; fills r from them. */
static pbrpc_status collect(pbrpc_stream *stream, output_buf *out, output_buf *errb,
                            pbrpc_exec_result *r, pbrpc_error *err)
{
	int have_exit = 0, out_of_memory = 0;
	/* Reads to the very end even after a local failure: stopping early could
	 * leave the stdin feeder stuck in a send the server will never take. */
	for (;;) {
		Pbrpc__Exec__RunReply *reply;
		pbrpc_status st = pbrpc_exec_exec_run_recv(stream, &reply, err);
		if (st != PBRPC_OK)
			return st;
		if (!reply)
			break;
		if (reply->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_OUTPUT && reply->output) {
			output_buf *b = reply->output->stream == PBRPC__EXEC__OUTPUT__STREAM__STDERR
			                    ? errb
			                    : out;
			const ProtobufCBinaryData *data = &reply->output->data;
			if (!out_of_memory && keep_output(b, data->data, data->len) != 0)
				out_of_memory = 1;
		} else if (reply->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_EXIT && reply->exit) {
			r->exit_code = reply->exit->code;
			r->signal = reply->exit->signal;
			r->timed_out = reply->exit->timed_out != 0;
			r->duration_ms = reply->exit->duration_ms;
			have_exit = 1;
		}
		pbrpc_message_free(&reply->base);
	}
	if (out_of_memory)
		return pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED,
		                       "out of memory for the program's output");
	if (!have_exit)
		return pbrpc_error_set(err, PBRPC_INTERNAL,
		                       "the server did not say how the program ended");
	return PBRPC_OK;
}

void pbrpc_exec_options_init(pbrpc_exec_options *o)
{
	memset(o, 0, sizeof *o);
}

pbrpc_status pbrpc_exec(pbrpc_client *c, const char *const argv[], const pbrpc_exec_options *opts,
                        pbrpc_exec_result *r, pbrpc_error *err)
{
	pbrpc_exec_options defaults;
	Pbrpc__Exec__Start start = PBRPC__EXEC__START__INIT;
	Pbrpc__Exec__RunRequest req = PBRPC__EXEC__RUN_REQUEST__INIT;
	size_t max;
	pbrpc_status st;

	memset(r, 0, sizeof *r);
	if (!opts) {
		pbrpc_exec_options_init(&defaults);
		opts = &defaults;
	}
	if (!c || !argv || !argv[0])
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "no program given");
	max = opts->max_output ? opts->max_output : PBRPC_EXEC_DEFAULT_MAX_OUTPUT;
	output_buf out = {.max = max}, errb = {.max = max};
	ProtobufCBinaryData *args = bytes_list(argv, &start.n_argv);
	ProtobufCBinaryData *env = bytes_list(opts->env, &start.n_env);
	if (!args || !env || keep_output(&out, NULL, 0) != 0 || keep_output(&errb, NULL, 0) != 0) {
		st = pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	start.argv = args;
	start.env = env;
	if (opts->cwd)
		start.cwd = bytes_of(opts->cwd);
	start.timeout_ms = opts->timeout_ms;
	start.shell = opts->shell != 0;
	start.with_stdin = opts->stdin_data != NULL;
	req.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_START;
	req.start = &start;

	pbrpc_call_options call_opts = {.timeout_ms = opts->call_timeout_ms};
	pbrpc_stream *stream = pbrpc_exec_exec_run_open(c, &call_opts, err);
	if (!stream) {
		st = err ? err->code : PBRPC_RESOURCE_EXHAUSTED;
		goto out;
	}
	st = pbrpc_exec_exec_run_send(stream, &req, err);
	stdin_feed feed = {.stream = stream, .data = opts->stdin_data, .len = opts->stdin_len};
	pthread_t feeder;
	int feeding = 0;
	if (st == PBRPC_OK && start.with_stdin && feed.len > 0) {
		if (pthread_create(&feeder, NULL, feed_stdin, &feed) == 0)
			feeding = 1;
		else
			st = pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "no thread for stdin");
	} else if (st == PBRPC_OK) {
		st = pbrpc_stream_close_send(stream, err);
	}
	if (st == PBRPC_OK)
		st = collect(stream, &out, &errb, r, err);
	else
		pbrpc_stream_cancel(stream);
	if (feeding) {
		/* If the call failed first, the feeder's next send fails and it ends. */
		pthread_join(feeder, NULL);
		if (st == PBRPC_OK && feed.status == PBRPC_RESOURCE_EXHAUSTED)
			st = pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED,
			                     "stdin: the server's record limit is too small");
	}
	pbrpc_stream_free(stream);
out:
	free(args);
	free(env);
	if (st != PBRPC_OK) {
		free(out.data);
		free(errb.data);
		memset(r, 0, sizeof *r);
		return st;
	}
	r->out = out.data;
	r->out_len = out.len;
	r->out_truncated = out.truncated;
	r->err = errb.data;
	r->err_len = errb.len;
	r->err_truncated = errb.truncated;
	return PBRPC_OK;
}

void pbrpc_exec_result_free(pbrpc_exec_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}
