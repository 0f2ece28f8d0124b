/* client_api.c - the public client API against a real rpcd: unary calls,
 * one client shared by threads, bidi streams, deadlines, cancel, limits.
 *   fault_client_api ADDRESS KEYFILE     prints PASS/FAIL per case */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"
#include "pbrpc/reflection.pbrpc.h"

#define THREADS          8
#define CALLS_PER_THREAD 2000

static int failures;

static void report(int ok, const char *name, const pbrpc_error *err)
{
	printf("%s %s", ok ? "PASS" : "FAIL", name);
	if (!ok && err && err->code)
		printf(" (%s: %s)", pbrpc_status_name(err->code), err->message);
	printf("\n");
	fflush(stdout);
	failures += !ok;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static pbrpc_status say(pbrpc_client *c, const void *data, size_t len, int upper,
                        Pbrpc__Echo__EchoReply **reply, pbrpc_error *err)
{
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	req.data.data = (uint8_t *)data;
	req.data.len = len;
	req.upper = upper;
	return pbrpc_echo_echo_say(c, &req, reply, NULL, err);
}

typedef struct worker {
	pbrpc_client *client;
	int id;
	int bad;
	pbrpc_error err;
} worker;

static void *run_worker(void *arg)
{
	worker *w = arg;
	char msg[64];
	for (int i = 0; i < CALLS_PER_THREAD && !w->bad; i++) {
		Pbrpc__Echo__EchoReply *reply = NULL;
		int n = snprintf(msg, sizeof msg, "thread %d call %d", w->id, i);
		if (say(w->client, msg, (size_t)n, 0, &reply, &w->err) != PBRPC_OK ||
		    reply->data.len != (size_t)n || memcmp(reply->data.data, msg, (size_t)n) != 0)
			w->bad = 1;
		pbrpc_message_free(&reply->base);
	}
	return NULL;
}

static void test_threads(pbrpc_client *c)
{
	pthread_t t[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].client = c;
		w[i].id = i;
		pthread_create(&t[i], NULL, run_worker, &w[i]);
	}
	int bad = 0;
	pbrpc_error *first = NULL;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].bad && !first)
			first = &w[i].err;
		bad |= w[i].bad;
	}
	report(!bad, "8 threads x 2000 calls on one client, every reply matched", first);
}

static void test_chat(pbrpc_client *c)
{
	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_echo_echo_chat_open(c, NULL, &err);
	int ok = s != NULL;
	char msg[32];
	for (int i = 0; ok && i < 100; i++) {
		Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
		int n = snprintf(msg, sizeof msg, "m%d", i);
		req.data.data = (uint8_t *)msg;
		req.data.len = (size_t)n;
		req.upper = 1;
		ok = pbrpc_echo_echo_chat_send(s, &req, &err) == PBRPC_OK;
	}
	for (int i = 0; ok && i < 100; i++) {
		Pbrpc__Echo__EchoReply *reply = NULL;
		int n = snprintf(msg, sizeof msg, "M%d", i);
		ok = pbrpc_echo_echo_chat_recv(s, &reply, &err) == PBRPC_OK && reply &&
		     reply->data.len == (size_t)n && memcmp(reply->data.data, msg, (size_t)n) == 0;
		pbrpc_message_free(reply ? &reply->base : NULL);
	}
	if (ok)
		ok = pbrpc_stream_close_send(s, &err) == PBRPC_OK;
	if (ok) {
		Pbrpc__Echo__EchoReply *reply = NULL;
		ok = pbrpc_echo_echo_chat_recv(s, &reply, &err) == PBRPC_OK && reply == NULL;
	}
	pbrpc_stream_free(s);
	report(ok, "bidi chat: 100 messages in order, then a clean end", &err);
}

static void test_two_streams(pbrpc_client *c)
{
	pbrpc_error err = {0};
	pbrpc_stream *a = pbrpc_echo_echo_chat_open(c, NULL, &err);
	pbrpc_stream *b = pbrpc_echo_echo_chat_open(c, NULL, &err);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *ra = NULL, *rb = NULL;
	req.data.data = (uint8_t *)"a";
	req.data.len = 1;
	int ok = a && b && pbrpc_echo_echo_chat_send(a, &req, &err) == PBRPC_OK;
	req.data.data = (uint8_t *)"b";
	ok = ok && pbrpc_echo_echo_chat_send(b, &req, &err) == PBRPC_OK;
	/* Read b first: a's reply, which arrives first, waits in a's queue. */
	ok = ok && pbrpc_echo_echo_chat_recv(b, &rb, &err) == PBRPC_OK && rb &&
	     rb->data.data[0] == 'b';
	ok = ok && pbrpc_echo_echo_chat_recv(a, &ra, &err) == PBRPC_OK && ra &&
	     ra->data.data[0] == 'a';
	pbrpc_message_free(ra ? &ra->base : NULL);
	pbrpc_message_free(rb ? &rb->base : NULL);
	pbrpc_stream_free(a);
	pbrpc_stream_free(b);
	report(ok, "two streams on one client, replies read out of order", &err);
}

static void test_deadline(pbrpc_client *c)
{
	pbrpc_error err = {0};
	pbrpc_call_options opts = {.timeout_ms = 200};
	pbrpc_stream *s = pbrpc_echo_echo_chat_open(c, &opts, &err);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	double start = now_ms();
	int ok = s && pbrpc_echo_echo_chat_send(s, &req, &err) == PBRPC_OK;
	/* The reply to the message usually comes first; on a busy machine the
	 * deadline may come before it. Either way the stream then ends with
	 * DEADLINE_EXCEEDED, not before the deadline; the upper bound is a
	 * safety net, no speed is asserted. */
	pbrpc_status st = ok ? pbrpc_echo_echo_chat_recv(s, &reply, &err) : PBRPC_INTERNAL;
	if (st == PBRPC_OK && reply) {
		pbrpc_message_free(&reply->base);
		reply = NULL;
		st = pbrpc_echo_echo_chat_recv(s, &reply, &err);
	}
	double took = now_ms() - start;
	pbrpc_stream_free(s);
	ok = ok && st == PBRPC_DEADLINE_EXCEEDED && took >= 150 && took < 60000;
	report(ok, "a stream past its deadline ends with DEADLINE_EXCEEDED", ok ? NULL : &err);
	memset(&err, 0, sizeof err);
	ok = say(c, "after", 5, 0, &reply, &err) == PBRPC_OK;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "the client still works after a deadline", &err);
}

static void test_cancel(pbrpc_client *c)
{
	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_echo_echo_chat_open(c, NULL, &err);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	int ok = s && pbrpc_echo_echo_chat_send(s, &req, &err) == PBRPC_OK;
	pbrpc_stream_cancel(s);
	ok = ok && pbrpc_echo_echo_chat_recv(s, &reply, &err) == PBRPC_CANCELLED;
	pbrpc_stream_free(s);
	report(ok, "a cancelled stream reports CANCELLED", &err);
	ok = say(c, "x", 1, 0, &reply, &err) == PBRPC_OK;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "the client still works after a cancel", &err);
}

static void *cancel_later(void *arg)
{
	struct timespec pause = {0, 100 * 1000 * 1000};
	nanosleep(&pause, NULL);
	pbrpc_stream_cancel(arg);
	return NULL;
}

/* A thread blocked reading its stream wakes when another thread cancels it. */
static void test_cancel_from_other_thread(pbrpc_client *c)
{
	pbrpc_error err = {0};
	pbrpc_stream *s = pbrpc_echo_echo_chat_open(c, NULL, &err);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	pthread_t t;
	int ok = s && pbrpc_echo_echo_chat_send(s, &req, &err) == PBRPC_OK &&
	         pbrpc_echo_echo_chat_recv(s, &reply, &err) == PBRPC_OK && reply;
	pbrpc_message_free(reply ? &reply->base : NULL);
	reply = NULL;
	double start = now_ms();
	if (ok && pthread_create(&t, NULL, cancel_later, s) == 0) {
		ok = pbrpc_echo_echo_chat_recv(s, &reply, &err) == PBRPC_CANCELLED;
		pthread_join(t, NULL);
	}
	ok = ok && now_ms() - start < 60000; /* a safety net: the chat never ends by itself */
	pbrpc_stream_free(s);
	report(ok, "a reader blocked on its stream wakes when another thread cancels it", &err);
	ok = say(c, "z", 1, 0, &reply, &err) == PBRPC_OK;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "the client still works after a cross-thread cancel", &err);
}

static void test_sizes(pbrpc_client *c)
{
	pbrpc_error err = {0};
	size_t big = 1u << 20;
	uint8_t *data = malloc(5u << 20);
	Pbrpc__Echo__EchoReply *reply = NULL;
	for (size_t i = 0; i < (5u << 20); i++)
		data[i] = (uint8_t)(i * 7);
	int ok = say(c, data, big, 0, &reply, &err) == PBRPC_OK && reply->data.len == big &&
	         memcmp(reply->data.data, data, big) == 0;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "a 1 MiB echo round trips", &err);
	reply = NULL;
	pbrpc_status st = say(c, data, 5u << 20, 0, &reply, &err);
	report(st == PBRPC_RESOURCE_EXHAUSTED, "a message over the record limit is refused locally",
	       &err);
	ok = say(c, "y", 1, 0, &reply, &err) == PBRPC_OK;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "the client still works after an oversized message", &err);
	free(data);
}

static void test_reflection(pbrpc_client *c)
{
	pbrpc_error err = {0};
	Pbrpc__Reflection__ListRequest req = PBRPC__REFLECTION__LIST_REQUEST__INIT;
	Pbrpc__Reflection__ListReply *reply = NULL;
	req.service = "pbrpc.echo.Echo";
	int ok = pbrpc_reflection_reflection_list(c, &req, &reply, NULL, &err) == PBRPC_OK &&
	         reply->n_services == 1 && reply->services[0]->n_methods == 2 &&
	         reply->services[0]->methods[1]->kind ==
	             PBRPC__REFLECTION__STREAMING_KIND__BIDI_STREAMING;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "reflection describes echo with its streaming kinds", &err);
	reply = NULL;
	req.service = "no.such.Service";
	report(pbrpc_reflection_reflection_list(c, &req, &reply, NULL, &err) == PBRPC_NOT_FOUND,
	       "reflection of an unknown service is NOT_FOUND", &err);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s ADDRESS KEYFILE\n", argv[0]);
		return 2;
	}
	pbrpc_client_options o;
	pbrpc_error err = {0};
	pbrpc_client_options_init(&o);
	o.key_file = argv[2];
	pbrpc_client *c = pbrpc_client_connect(argv[1], &o, &err);
	report(c != NULL, "connect", &err);
	if (!c)
		return 1;
	Pbrpc__Echo__EchoReply *reply = NULL;
	int ok = say(c, "hello", 5, 1, &reply, &err) == PBRPC_OK && reply->data.len == 5 &&
	         memcmp(reply->data.data, "HELLO", 5) == 0;
	pbrpc_message_free(reply ? &reply->base : NULL);
	report(ok, "unary echo with upper", &err);
	test_threads(c);
	test_chat(c);
	test_two_streams(c);
	test_deadline(c);
	test_cancel(c);
	test_cancel_from_other_thread(c);
	test_sizes(c);
	test_reflection(c);
	pbrpc_client_close(c);
	return failures ? 1 : 0;
}
