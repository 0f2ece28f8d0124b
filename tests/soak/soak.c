/* soak.c - many clients at once against a real rpcd for a while, every reply
 * checked: echo payloads compared (Say and Chat), time sane, exec output and
 * exit code compared, put/get contents compared by checksum and byte.
 *   soak ADDRESS KEYFILE [THREADS [SECONDS]]   (default 8 threads, 10 s)
 * Even-numbered threads share one client (calls interleave on one
 * connection); odd ones own a client and reconnect every RECONNECT_EVERY
 * operations, so connections come and go all the time. Prints one summary
 * line and PASS/FAIL lines; exits 1 on any failure. Uses only the public
 * API and the generated stubs. */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"
#include "pbrpc/exec.pbrpc.h"
#include "pbrpc/file.pbrpc.h"
#include "pbrpc/time.pbrpc.h"

#define MAX_THREADS     64
#define RECONNECT_EVERY 50
#define FILE_SLOTS      3          /* files per thread, overwritten in turn */
#define FILE_CHUNK      (1u << 20) /* what rpcc sends per message too */
#define BIG_FILE_MAX    (3u << 19) /* 1.5 MiB: more than one chunk */
#define SMALL_FILE_MAX  (64u << 10)
#define ECHO_BIG_MAX    (256u << 10)
#define CALL_TIMEOUT_MS 60000 /* a hang is a failure, not a slow pass */
#define TIME_SLACK_S    30    /* same machine: the clocks agree */
#define HASH_BYTES      32

enum op { OP_ECHO, OP_CHAT, OP_TIME, OP_EXEC, OP_FILE, N_OPS };
static const char *const op_names[N_OPS] = {"echo", "chat", "time", "exec", "put+get"};

static const char *g_address;
static pbrpc_client_options g_opts;
static const pbrpc_call_options g_call = {.timeout_ms = CALL_TIMEOUT_MS};

typedef struct worker {
	int id;
	pbrpc_client *client; /* the shared one, or this thread's own */
	int owns_client;
	double stop_at;
	uint64_t rng;
	long done[N_OPS];
	long failures;
	char what[512];      /* the first failure */
	uint8_t *buf, *back; /* file contents sent and received */
} worker;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_rand(worker *w)
{
	/* xorshift64: reproducible per thread, no locks */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static void fill_text(worker *w, char *p, size_t n)
{
	static const char chars[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
	for (size_t i = 0; i < n; i++)
		p[i] = chars[next_rand(w) % (sizeof chars - 1)];
}

static void fill_bytes(worker *w, uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t r = next_rand(w);
		memcpy(p + i, &r, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)next_rand(w);
}

static int failed(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int failed(worker *w, const char *fmt, ...)
{
	if (w->failures++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->what, sizeof w->what, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int call_failed(worker *w, const char *op, const pbrpc_error *err)
{
	return failed(w, "%s: %s (%s)", op, err->message, pbrpc_status_name(err->code));
}

/* The reply to an echo of sent (n bytes): itself, or ASCII upper-cased. */
static int echo_matches(const uint8_t *sent, size_t n, int upper, const ProtobufCBinaryData *got)
{
	if (got->len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = sent[i];
		if (upper && c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (got->data[i] != c)
			return 0;
	}
	return 1;
}

static size_t echo_size(worker *w)
{
	uint64_t r = next_rand(w);
	return r % 16 == 0 ? (size_t)(r >> 8) % ECHO_BIG_MAX : (size_t)(r >> 8) % 200;
}

static int do_echo(worker *w)
{
	size_t n = echo_size(w);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	pbrpc_error err = {0};
	req.upper = next_rand(w) & 1;
	if (req.upper)
		fill_text(w, (char *)w->buf, n);
	else
		fill_bytes(w, w->buf, n); /* binary-safe both ways */
	req.data.data = w->buf;
	req.data.len = n;
	if (pbrpc_echo_echo_say(w->client, &req, &reply, &g_call, &err) != PBRPC_OK)
		return call_failed(w, "echo", &err);
	int ok = echo_matches(w->buf, n, req.upper, &reply->data);
	pbrpc_message_free(&reply->base);
	return ok ? 0 : failed(w, "echo: the reply to %zu bytes differs", n);
}

static int do_chat(worker *w)
{
	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_echo_echo_chat_open(w->client, &g_call, &err);
	if (!s)
		return call_failed(w, "chat open", &err);
	int rc = 0;
	int rounds = 1 + (int)(next_rand(w) % 5);
	for (int k = 0; rc == 0 && k < rounds; k++) {
		Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
		Pbrpc__Echo__EchoReply *reply = NULL;
		size_t n = 1 + (size_t)(next_rand(w) % 100);
		fill_text(w, (char *)w->buf, n);
		req.data.data = w->buf;
		req.data.len = n;
		req.upper = k & 1;
		if (pbrpc_echo_echo_chat_send(s, &req, &err) != PBRPC_OK ||
		    pbrpc_echo_echo_chat_recv(s, &reply, &err) != PBRPC_OK)
			rc = call_failed(w, "chat", &err);
		else if (!reply)
			rc = failed(w, "chat: the stream ended early");
		else if (!echo_matches(w->buf, n, req.upper, &reply->data))
			rc = failed(w, "chat: reply %d differs", k);
		if (reply)
			pbrpc_message_free(&reply->base);
	}
	if (rc == 0) {
		Pbrpc__Echo__EchoReply *end = NULL;
		if (pbrpc_stream_close_send(s, &err) != PBRPC_OK ||
		    pbrpc_echo_echo_chat_recv(s, &end, &err) != PBRPC_OK)
			rc = call_failed(w, "chat end", &err);
		else if (end) {
			pbrpc_message_free(&end->base);
			rc = failed(w, "chat: a reply after the last request");
		}
	}
	pbrpc_stream_free(s);
	return rc;
}

static int do_time(worker *w)
{
	Pbrpc__Time__TimeRequest req = PBRPC__TIME__TIME_REQUEST__INIT;
	Pbrpc__Time__TimeReply *reply = NULL;
	pbrpc_error err = {0};
	req.format = "%s"; /* seconds since the epoch: must agree with .seconds */
	if (pbrpc_time_time_now(w->client, &req, &reply, &g_call, &err) != PBRPC_OK)
		return call_failed(w, "time", &err);
	char want[32];
	snprintf(want, sizeof want, "%" PRId64, reply->seconds);
	int64_t skew = reply->seconds - (int64_t)time(NULL);
	int rc = 0;
	if (skew > TIME_SLACK_S || skew < -TIME_SLACK_S)
		rc = failed(w, "time: %" PRId64 " s off the local clock", skew);
	else if (reply->nanos < 0 || reply->nanos >= 1000000000)
		rc = failed(w, "time: nanos %d out of range", reply->nanos);
	else if (!reply->formatted || strcmp(reply->formatted, want) != 0)
		rc = failed(w, "time: formatted '%s', seconds %s", reply->formatted, want);
	pbrpc_message_free(&reply->base);
	return rc;
}

/* sh prints its first argument on stdout, the second on stderr, and exits
 * with the third: the reply must carry exactly those. */
static int do_exec(worker *w)
{
	char out[101], err_text[101], code[4];
	size_t n_out = next_rand(w) % 100, n_err = next_rand(w) % 100;
	fill_text(w, out, n_out);
	fill_text(w, err_text, n_err);
	out[n_out] = err_text[n_err] = '\0';
	int want_code = (int)(next_rand(w) % 10);
	snprintf(code, sizeof code, "%d", want_code);
	const char *argv[] = {"sh", "-c", "printf %s \"$1\"; printf %s \"$2\" >&2; exit $3",
	                      "sh", out,  err_text,
	                      code};
	ProtobufCBinaryData args[7];
	for (int i = 0; i < 7; i++)
		args[i] = (ProtobufCBinaryData){.len = strlen(argv[i]), .data = (uint8_t *)argv[i]};
	Pbrpc__Exec__Start start = PBRPC__EXEC__START__INIT;
	Pbrpc__Exec__RunRequest req = PBRPC__EXEC__RUN_REQUEST__INIT;
	start.n_argv = 7;
	start.argv = args;
	req.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_START;
	req.start = &start;

	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_exec_exec_run_open(w->client, &g_call, &err);
	if (!s)
		return call_failed(w, "exec open", &err);
	int rc = 0, exited = 0, got_code = -1;
	char got[2][128];
	size_t got_len[2] = {0, 0};
	if (pbrpc_exec_exec_run_send(s, &req, &err) != PBRPC_OK ||
	    pbrpc_stream_close_send(s, &err) != PBRPC_OK)
		rc = call_failed(w, "exec start", &err);
	while (rc == 0) {
		Pbrpc__Exec__RunReply *r = NULL;
		if (pbrpc_exec_exec_run_recv(s, &r, &err) != PBRPC_OK) {
			rc = call_failed(w, "exec", &err);
			break;
		}
		if (!r)
			break;
		if (r->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_OUTPUT) {
			int which = r->output->stream == PBRPC__EXEC__OUTPUT__STREAM__STDERR;
			size_t n = r->output->data.len;
			if (got_len[which] + n > sizeof got[which])
				rc = failed(w, "exec: more output than the program wrote");
			else
				memcpy(got[which] + got_len[which], r->output->data.data, n);
			got_len[which] += n;
		} else if (r->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_EXIT) {
			exited = 1;
			got_code = r->exit->signal ? 128 + r->exit->signal : r->exit->code;
		}
		pbrpc_message_free(&r->base);
	}
	pbrpc_stream_free(s);
	if (rc != 0)
		return rc;
	if (!exited)
		return failed(w, "exec: no exit status");
	if (got_code != want_code)
		return failed(w, "exec: exit %d, want %d", got_code, want_code);
	if (got_len[0] != n_out || memcmp(got[0], out, n_out) != 0)
		return failed(w, "exec: stdout '%.*s', want '%s'", (int)got_len[0], got[0], out);
	if (got_len[1] != n_err || memcmp(got[1], err_text, n_err) != 0)
		return failed(w, "exec: stderr '%.*s', want '%s'", (int)got_len[1], got[1],
		              err_text);
	return 0;
}

static int put_file(worker *w, const char *path, size_t n, const uint8_t sum[HASH_BYTES])
{
	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_file_file_put_open(w->client, &g_call, &err);
	if (!s)
		return call_failed(w, "put open", &err);
	Pbrpc__File__PutHeader h = PBRPC__FILE__PUT_HEADER__INIT;
	Pbrpc__File__PutRequest req = PBRPC__FILE__PUT_REQUEST__INIT;
	h.path = (ProtobufCBinaryData){.len = strlen(path), .data = (uint8_t *)path};
	h.size = n;
	h.mode = 0644;
	h.mtime_seconds = time(NULL);
	req.part_case = PBRPC__FILE__PUT_REQUEST__PART_HEADER;
	req.header = &h;
	int rc = 0;
	if (pbrpc_file_file_put_send(s, &req, &err) != PBRPC_OK)
		rc = call_failed(w, "put header", &err);
	for (size_t off = 0; rc == 0 && off < n; off += FILE_CHUNK) {
		Pbrpc__File__PutRequest data = PBRPC__FILE__PUT_REQUEST__INIT;
		data.part_case = PBRPC__FILE__PUT_REQUEST__PART_DATA;
		data.data.data = w->buf + off;
		data.data.len = n - off < FILE_CHUNK ? n - off : FILE_CHUNK;
		if (pbrpc_file_file_put_send(s, &data, &err) != PBRPC_OK)
			rc = call_failed(w, "put data", &err);
	}
	if (rc == 0) {
		Pbrpc__File__PutRequest check = PBRPC__FILE__PUT_REQUEST__INIT;
		Pbrpc__File__PutReply *reply = NULL;
		check.part_case = PBRPC__FILE__PUT_REQUEST__PART_CHECKSUM;
		check.checksum = (ProtobufCBinaryData){.len = HASH_BYTES, .data = (uint8_t *)sum};
		if (pbrpc_file_file_put_send(s, &check, &err) != PBRPC_OK ||
		    pbrpc_file_file_put_finish(s, &reply, &err) != PBRPC_OK)
			rc = call_failed(w, "put", &err);
		else if (reply->size != n || reply->checksum.len != HASH_BYTES ||
		         memcmp(reply->checksum.data, sum, HASH_BYTES) != 0)
			rc =
			    failed(w, "put %s: the server stored %" PRIu64 " bytes, other checksum",
			           path, reply->size);
		if (reply)
			pbrpc_message_free(&reply->base);
	}
	pbrpc_stream_free(s);
	return rc;
}

static int get_file(worker *w, const char *path, size_t n, const uint8_t sum[HASH_BYTES])
{
	Pbrpc__File__GetRequest req = PBRPC__FILE__GET_REQUEST__INIT;
	pbrpc_error err = {0};
	req.path = (ProtobufCBinaryData){.len = strlen(path), .data = (uint8_t *)path};
	pbrpc_stream *s = pbrpc_file_file_get(w->client, &req, &g_call, &err);
	if (!s)
		return call_failed(w, "get open", &err);
	int rc = 0, have_info = 0, have_sum = 0;
	size_t got = 0;
	uint8_t mine[HASH_BYTES];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, HASH_BYTES);
	while (rc == 0) {
		Pbrpc__File__GetReply *r = NULL;
		if (pbrpc_file_file_get_recv(s, &r, &err) != PBRPC_OK) {
			rc = call_failed(w, "get", &err);
			break;
		}
		if (!r)
			break;
		if (r->part_case == PBRPC__FILE__GET_REPLY__PART_INFO) {
			have_info = 1;
			if (r->info->size != n)
				rc = failed(w, "get %s: size %" PRIu64 ", want %zu", path,
				            r->info->size, n);
		} else if (r->part_case == PBRPC__FILE__GET_REPLY__PART_DATA) {
			if (got + r->data.len > n)
				rc = failed(w, "get %s: more data than the size", path);
			else {
				memcpy(w->back + got, r->data.data, r->data.len);
				crypto_generichash_update(&st, r->data.data, r->data.len);
			}
			got += r->data.len;
		} else if (r->part_case == PBRPC__FILE__GET_REPLY__PART_CHECKSUM) {
			have_sum = 1;
			if (r->checksum.len != HASH_BYTES ||
			    memcmp(r->checksum.data, sum, HASH_BYTES) != 0)
				rc = failed(w, "get %s: the server's checksum differs", path);
		}
		pbrpc_message_free(&r->base);
	}
	pbrpc_stream_free(s);
	if (rc != 0)
		return rc;
	crypto_generichash_final(&st, mine, sizeof mine);
	if (!have_info || !have_sum)
		return failed(w, "get %s: no %s", path, have_info ? "checksum" : "info");
	if (got != n || memcmp(w->back, w->buf, n) != 0 || memcmp(mine, sum, HASH_BYTES) != 0)
		return failed(w, "get %s: %zu bytes back, not the %zu put", path, got, n);
	return 0;
}

static int do_file(worker *w, long i)
{
	char path[64];
	/* Our own names: another driver may soak the same server at once. */
	snprintf(path, sizeof path, "soak-%d-%d-%ld", (int)getpid(), w->id, i % FILE_SLOTS);
	uint64_t r = next_rand(w);
	size_t n = r % 8 == 0 ? (size_t)(r >> 8) % BIG_FILE_MAX : (size_t)(r >> 8) % SMALL_FILE_MAX;
	uint8_t sum[HASH_BYTES];
	fill_bytes(w, w->buf, n);
	crypto_generichash(sum, sizeof sum, w->buf, n, NULL, 0);
	if (put_file(w, path, n, sum) != 0)
		return -1;
	return get_file(w, path, n, sum);
}

static int reconnect(worker *w)
{
	pbrpc_error err = {0};
	pbrpc_client_close(w->client);
	w->client = pbrpc_client_connect(g_address, &g_opts, &err);
	return w->client ? 0 : call_failed(w, "connect", &err);
}

static void *run_worker(void *arg)
{
	worker *w = arg;
	for (long i = 0; now_s() < w->stop_at; i++) {
		if (w->owns_client && i > 0 && i % RECONNECT_EVERY == 0 && reconnect(w) != 0)
			break;
		uint64_t pick = next_rand(w) % 100;
		enum op op = pick < 40   ? OP_ECHO
		             : pick < 50 ? OP_CHAT
		             : pick < 65 ? OP_TIME
		             : pick < 80 ? OP_EXEC
		                         : OP_FILE;
		int rc;
		switch (op) {
		case OP_ECHO: rc = do_echo(w); break;
		case OP_CHAT: rc = do_chat(w); break;
		case OP_TIME: rc = do_time(w); break;
		case OP_EXEC: rc = do_exec(w); break;
		default: rc = do_file(w, i); break;
		}
		if (rc != 0)
			break; /* the first failure says it all; go on elsewhere */
		w->done[op]++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: soak ADDRESS KEYFILE [THREADS [SECONDS]]\n");
		return 2;
	}
	g_address = argv[1];
	int threads = argc > 3 ? atoi(argv[3]) : 8;
	double seconds = argc > 4 ? atof(argv[4]) : 10.0;
	if (threads < 1 || threads > MAX_THREADS || seconds <= 0) {
		fprintf(stderr, "soak: 1..%d threads and a positive duration\n", MAX_THREADS);
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	pbrpc_client_options_init(&g_opts);
	g_opts.key_file = argv[2];

	pbrpc_error err = {0};
	pbrpc_client *shared = pbrpc_client_connect(g_address, &g_opts, &err);
	if (!shared) {
		printf("FAIL soak: connect: %s (%s)\n", err.message, pbrpc_status_name(err.code));
		return 1;
	}
	static worker workers[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	double stop_at = now_s() + seconds;
	int started = 0, broken = 0;
	for (int t = 0; t < threads; t++) {
		worker *w = &workers[t];
		w->id = t;
		w->stop_at = stop_at;
		w->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1) ^ (uint64_t)time(NULL);
		w->buf = malloc(BIG_FILE_MAX + ECHO_BIG_MAX);
		w->back = malloc(BIG_FILE_MAX);
		w->owns_client = t & 1;
		w->client =
		    w->owns_client ? pbrpc_client_connect(g_address, &g_opts, &err) : shared;
		if (!w->buf || !w->back || !w->client) {
			printf("FAIL soak: thread %d could not start: %s\n", t, err.message);
			broken = 1;
			break;
		}
		if (pthread_create(&tids[t], NULL, run_worker, w) != 0) {
			printf("FAIL soak: pthread_create\n");
			broken = 1;
			break;
		}
		started++;
	}
	long total[N_OPS] = {0}, failures = 0;
	for (int t = 0; t < started; t++) {
		pthread_join(tids[t], NULL);
		for (int k = 0; k < N_OPS; k++)
			total[k] += workers[t].done[k];
		failures += workers[t].failures;
		if (workers[t].failures)
			printf("FAIL soak: thread %d: %s\n", t, workers[t].what);
	}
	for (int t = 0; t < threads; t++) {
		if (workers[t].owns_client)
			pbrpc_client_close(workers[t].client);
		free(workers[t].buf);
		free(workers[t].back);
	}
	pbrpc_client_close(shared);

	long calls = 0;
	printf("# soak: %d threads, %.0f s:", threads, seconds);
	for (int k = 0; k < N_OPS; k++) {
		printf(" %s %ld", op_names[k], total[k]);
		calls += total[k];
	}
	printf("\n");
	int every_kind = 1;
	for (int k = 0; k < N_OPS; k++)
		every_kind &= total[k] > 0;
	if (!broken && failures == 0 && every_kind)
		printf("PASS soak: %ld operations, every reply checked\n", calls);
	else if (!broken && failures == 0)
		printf("FAIL soak: some kind of call never ran\n");
	return broken || failures || !every_kind;
}
