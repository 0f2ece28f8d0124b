/* threads.c - one pbrpc_client shared by many threads against a real rpcd:
 * every reply must be the answer to its own call, never a neighbour's.
 *   fault_threads ADDRESS KEYFILE [THREADS [CALLS [SERVER_KEY.pub]]]   (default 8 x 10000)
 * An identity KEYFILE needs the server's key: SERVER_KEY.pub pins it.
 * Each call carries a payload unique to (thread, call); every 100th call is a
 * short Chat stream instead, so streams and unary calls interleave on the
 * connection. Prints PASS/FAIL lines; exits 1 on any failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"

#define MAX_THREADS 128
/* A hang or a crawl is a failure, not a slow pass; a safety net only (the
 * shell test gives the program 300 s): a busy machine stretches every call. */
#define TIME_LIMIT_S 240.0

typedef struct worker {
	pbrpc_client *client;
	int id;
	long calls;
	long done;
	char what[sizeof(pbrpc_error) + 128]; /* the first mismatch or error, if any */
} worker;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* upper = 1 on odd calls: the reply must then be the upper-cased payload. */
static int expect(const char *sent, int n, int upper, const ProtobufCBinaryData *got)
{
	if (got->len != (size_t)n)
		return 0;
	for (int i = 0; i < n; i++) {
		char c = sent[i];
		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (got->data[i] != (uint8_t)c)
			return 0;
	}
	return 1;
}

static int unary_call(worker *w, long i)
{
	char msg[64];
	int n = snprintf(msg, sizeof msg, "thread %d call %ld", w->id, i);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	pbrpc_error err;
	req.data.data = (uint8_t *)msg;
	req.data.len = (size_t)n;
	req.upper = i & 1;
	if (pbrpc_echo_echo_say(w->client, &req, &reply, NULL, &err) != PBRPC_OK) {
		snprintf(w->what, sizeof w->what, "call %ld: %s (%s)", i, err.message,
		         pbrpc_status_name(err.code));
		return 0;
	}
	int ok = expect(msg, n, req.upper, &reply->data);
	if (!ok)
		snprintf(w->what, sizeof w->what, "call %ld: got '%.*s' for '%s'", i,
		         (int)reply->data.len, (const char *)reply->data.data, msg);
	pbrpc_message_free(&reply->base);
	return ok;
}

static int stream_call(worker *w, long i)
{
	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_echo_echo_chat_open(w->client, NULL, &err);
	int ok = s != NULL;
	char msg[64];
	for (int k = 0; ok && k < 3; k++) {
		Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
		Pbrpc__Echo__EchoReply *reply = NULL;
		int n = snprintf(msg, sizeof msg, "thread %d stream %ld part %d", w->id, i, k);
		req.data.data = (uint8_t *)msg;
		req.data.len = (size_t)n;
		ok = pbrpc_echo_echo_chat_send(s, &req, &err) == PBRPC_OK &&
		     pbrpc_echo_echo_chat_recv(s, &reply, &err) == PBRPC_OK && reply &&
		     expect(msg, n, 0, &reply->data);
		pbrpc_message_free(reply ? &reply->base : NULL);
	}
	if (ok) {
		Pbrpc__Echo__EchoReply *end = NULL;
		ok = pbrpc_stream_close_send(s, &err) == PBRPC_OK &&
		     pbrpc_echo_echo_chat_recv(s, &end, &err) == PBRPC_OK && !end;
		pbrpc_message_free(end ? &end->base : NULL);
	}
	pbrpc_stream_free(s);
	if (!ok)
		snprintf(w->what, sizeof w->what, "stream %ld: %s (%s)", i,
		         err.code ? err.message : "wrong reply", pbrpc_status_name(err.code));
	return ok;
}

static void *run_worker(void *arg)
{
	worker *w = arg;
	for (long i = 0; i < w->calls; i++) {
		int ok = (i % 100 == 99) ? stream_call(w, i) : unary_call(w, i);
		if (!ok)
			break;
		w->done++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(
		    stderr,
		    "usage: fault_threads ADDRESS KEYFILE [THREADS [CALLS [SERVER_KEY.pub]]]\n");
		return 2;
	}
	int threads = argc > 3 ? atoi(argv[3]) : 8;
	long calls = argc > 4 ? atol(argv[4]) : 10000;
	if (threads < 1 || threads > MAX_THREADS || calls < 1) {
		fprintf(stderr, "fault_threads: 1..%d threads, at least 1 call\n", MAX_THREADS);
		return 2;
	}
	pbrpc_client_options copts;
	pbrpc_error err;
	pbrpc_client_options_init(&copts);
	copts.key_file = argv[2];
	uint8_t server_key[32];
	if (argc > 5) {
		if (pbrpc_public_key_load(argv[5], server_key, &err) != PBRPC_OK) {
			printf("FAIL server key: %s\n", err.message);
			return 1;
		}
		copts.server_key = server_key;
	}
	pbrpc_client *client = pbrpc_client_connect(argv[1], &copts, &err);
	if (!client) {
		printf("FAIL connect to %s: %s (%s)\n", argv[1], err.message,
		       pbrpc_status_name(err.code));
		return 1;
	}

	pthread_t tid[MAX_THREADS];
	static worker w[MAX_THREADS];
	double start = now_s();
	for (int i = 0; i < threads; i++) {
		w[i] = (worker){.client = client, .id = i, .calls = calls};
		if (pthread_create(&tid[i], NULL, run_worker, &w[i]) != 0) {
			printf("FAIL pthread_create\n");
			return 1;
		}
	}
	long done = 0;
	const worker *first_bad = NULL;
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		done += w[i].done;
		if (w[i].what[0] && !first_bad)
			first_bad = &w[i];
	}
	double took = now_s() - start;
	pbrpc_client_close(client);

	long want = (long)threads * calls;
	int ok = done == want && !first_bad;
	printf("%s %d threads x %ld calls on one client, every reply matched to its call\n",
	       ok ? "PASS" : "FAIL", threads, calls);
	if (!ok)
		printf("  | %ld of %ld calls done; first error: thread %d %s\n", done, want,
		       first_bad ? first_bad->id : -1, first_bad ? first_bad->what : "");
	int in_time = took < TIME_LIMIT_S;
	printf("%s all calls done within %.0f s (took %.2f s, %.0f calls/s)\n",
	       in_time ? "PASS" : "FAIL", TIME_LIMIT_S, took, (double)done / took);
	return ok && in_time ? 0 : 1;
}
