/* client_async.c - many unary calls in flight from one thread:
 * pbrpc_client_call_async, pbrpc_client_flush, pbrpc_stream_ready,
 * pbrpc_client_poll and pbrpc_client_call_wait against a server running in
 * this process (on its own thread). Its Echo.Say answers at once, or, for a
 * payload "slow:MS", MS milliseconds later (an asynchronous handler), so
 * replies can come back out of order and calls can pass their deadlines. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"

typedef struct fixture {
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_server *server;
	pthread_t thread;
	char address[128];
} fixture;

typedef struct delayed_reply {
	uv_timer_t timer;
	pbrpc_call *call;
	const Pbrpc__Echo__EchoRequest *request;
	Pbrpc__Echo__EchoReply *reply;
} delayed_reply;

static void quiet(void *data, int level, const char *line)
{
	(void)data;
	(void)level;
	(void)line;
}

static void free_timer(uv_handle_t *h)
{
	free(h->data);
}

static void on_delay(uv_timer_t *t)
{
	delayed_reply *d = t->data;
	d->reply->data = d->request->data;
	pbrpc_call_reply(d->call, &d->reply->base);
	uv_close((uv_handle_t *)t, free_timer);
}

static int say(pbrpc_call *call, const Pbrpc__Echo__EchoRequest *request,
               Pbrpc__Echo__EchoReply *reply)
{
	if (request->data.len > 5 && memcmp(request->data.data, "slow:", 5) == 0) {
		delayed_reply *d = malloc(sizeof *d);
		if (!d)
			return PBRPC_RESOURCE_EXHAUSTED;
		d->call = call;
		d->request = request; /* kept by the library for an asynchronous call */
		d->reply = reply;
		char ms[16] = ""; /* the bytes are not NUL-terminated */
		memcpy(ms, request->data.data + 5,
		       request->data.len - 5 < sizeof ms - 1 ? request->data.len - 5
		                                             : sizeof ms - 1);
		d->timer.data = d;
		uv_timer_init(pbrpc_call_loop(call), &d->timer);
		uv_timer_start(&d->timer, on_delay, strtoul(ms, NULL, 10), 0);
		return PBRPC_ASYNC;
	}
	reply->data = request->data;
	return PBRPC_OK;
}

static const pbrpc_echo_echo_handlers handlers = {.say = say};

static void *serve(void *arg)
{
	pbrpc_server_run(arg);
	return NULL;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	pbrpc_server_options o;
	pbrpc_error err;
	if (!f || sodium_init() < 0)
		return -1;
	randombytes_buf(f->key, sizeof f->key);
	pbrpc_server_options_init(&o);
	o.log = quiet;
	o.grace_ms = 100;
	if (!(f->server = pbrpc_server_new(f->key, &o, &err)) ||
	    pbrpc_echo_echo_register(f->server, &handlers, NULL, &err) != PBRPC_OK ||
	    pbrpc_server_listen(f->server, "127.0.0.1:0", &err) != PBRPC_OK) {
		fprintf(stderr, "server: %s\n", err.message);
		return -1;
	}
	snprintf(f->address, sizeof f->address, "%s", pbrpc_server_address(f->server, 0));
	if (pthread_create(&f->thread, NULL, serve, f->server) != 0)
		return -1;
	*state = f;
	return 0;
}

static void stop_server(fixture *f)
{
	if (!f->server)
		return;
	pbrpc_server_stop(f->server);
	pthread_join(f->thread, NULL);
	pbrpc_server_free(f->server);
	f->server = NULL;
}

static int teardown(void **state)
{
	fixture *f = *state;
	stop_server(f);
	free(f);
	return 0;
}

static pbrpc_client *dial(const fixture *f)
{
	pbrpc_client_options o;
	pbrpc_error err;
	pbrpc_client_options_init(&o);
	o.key = f->key;
	pbrpc_client *c = pbrpc_client_connect(f->address, &o, &err);
	if (!c)
		fail_msg("connect %s: %s", f->address, err.message);
	return c;
}

static pbrpc_stream *start(pbrpc_client *c, const char *text, int64_t timeout_ms)
{
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	pbrpc_call_options opts = {.timeout_ms = timeout_ms};
	pbrpc_error err;
	req.data.data = (uint8_t *)text;
	req.data.len = strlen(text);
	pbrpc_stream *s =
	    pbrpc_client_call_async(c, PBRPC_ECHO_ECHO_SAY_METHOD, &req.base, &opts, &err);
	if (!s)
		fail_msg("call_async: %s", err.message);
	return s;
}

/* Waits for s and checks that its reply is text. */
static void expect_reply(pbrpc_stream *s, const char *text)
{
	ProtobufCMessage *msg = NULL;
	pbrpc_error err;
	pbrpc_status st = pbrpc_client_call_wait(s, &msg, &err);
	if (st != PBRPC_OK)
		fail_msg("wait for '%s': %s", text, err.message);
	Pbrpc__Echo__EchoReply *r = (Pbrpc__Echo__EchoReply *)msg;
	assert_int_equal(r->data.len, strlen(text));
	assert_memory_equal(r->data.data, text, strlen(text));
	pbrpc_message_free(msg);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A window of 16 calls kept full, as a pipelining client does; every
 * reply is the answer to its own call. */
static void test_window(void **state)
{
	enum { WINDOW = 16, CALLS = 2000 };
	pbrpc_client *c = dial(*state);
	pbrpc_stream *win[WINDOW];
	char text[WINDOW][32];
	pbrpc_error err;
	long started = 0, done = 0;
	for (int i = 0; i < WINDOW; i++, started++) {
		snprintf(text[i], sizeof text[i], "call %ld", started);
		win[i] = start(c, text[i], 0);
	}
	assert_int_equal(pbrpc_client_flush(c, &err), PBRPC_OK);
	for (int h = 0; done < CALLS; h = (h + 1) % WINDOW) {
		expect_reply(win[h], text[h]);
		done++;
		snprintf(text[h], sizeof text[h], "call %ld", started++);
		win[h] = start(c, text[h], 0);
		if (h % 4 == 3) /* flush now and then: the rest go out with the next wait */
			assert_int_equal(pbrpc_client_flush(c, &err), PBRPC_OK);
	}
	for (int i = 0; i < WINDOW; i++)
		pbrpc_stream_free(win[i]); /* abandoned: the client stays usable */
	pbrpc_stream *s = start(c, "after abandoning", 0);
	expect_reply(s, "after abandoning");
	pbrpc_client_close(c);
}

/* Out of order: a slow call started first is not ready while later fast ones
 * are; poll hands replies over without anyone waiting for a particular call. */
static void test_ready_and_poll(void **state)
{
	pbrpc_client *c = dial(*state);
	pbrpc_error err;
	assert_int_equal(pbrpc_client_poll(c, 0, &err), 0); /* nothing in flight: no wait */
	pbrpc_stream *slow = start(c, "slow:300", 0);
	pbrpc_stream *fast[4];
	const char *texts[4] = {"a", "bb", "ccc", "dddd"};
	for (int i = 0; i < 4; i++)
		fast[i] = start(c, texts[i], 0);
	assert_false(pbrpc_stream_ready(fast[0])); /* not even written yet */
	double t0 = now_s();
	int ready = 0;
	while (ready < 4 && now_s() - t0 < 10) {
		int n = pbrpc_client_poll(c, 1000, &err);
		assert_true(n >= 0);
		ready = 0;
		for (int i = 0; i < 4; i++)
			ready += pbrpc_stream_ready(fast[i]);
	}
	assert_int_equal(ready, 4);
	assert_false(pbrpc_stream_ready(slow));
	for (int i = 0; i < 4; i++)
		expect_reply(fast[i], texts[i]);
	while (!pbrpc_stream_ready(slow) && now_s() - t0 < 10)
		assert_true(pbrpc_client_poll(c, -1, &err) >= 0);
	assert_true(now_s() - t0 >= 0.25);
	expect_reply(slow, "slow:300");
	pbrpc_client_close(c);
}

/* A call past its deadline is ready at once and ends DEADLINE_EXCEEDED; its
 * late reply disturbs nothing. */
static void test_deadline(void **state)
{
	pbrpc_client *c = dial(*state);
	pbrpc_error err;
	ProtobufCMessage *msg = NULL;
	pbrpc_stream *s = start(c, "slow:400", 50);
	assert_int_equal(pbrpc_client_flush(c, &err), PBRPC_OK);
	assert_false(pbrpc_stream_ready(s));
	double t0 = now_s();
	while (!pbrpc_stream_ready(s) && now_s() - t0 < 5)
		assert_true(pbrpc_client_poll(c, 10, &err) >= 0);
	assert_true(pbrpc_stream_ready(s));
	assert_int_equal(pbrpc_client_call_wait(s, &msg, &err), PBRPC_DEADLINE_EXCEEDED);
	assert_null(msg);
	assert_int_equal(err.code, PBRPC_DEADLINE_EXCEEDED);
	s = start(c, "still fine", 0);
	expect_reply(s, "still fine");
	pbrpc_client_close(c);
}

/* Only unary methods: a stream would need more than one wait. */
static void test_not_unary(void **state)
{
	pbrpc_client *c = dial(*state);
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	pbrpc_error err;
	pbrpc_stream *s =
	    pbrpc_client_call_async(c, PBRPC_ECHO_ECHO_CHAT_METHOD, &req.base, NULL, &err);
	assert_null(s);
	assert_int_equal(err.code, PBRPC_INVALID_ARGUMENT);
	pbrpc_client_close(c);
}

typedef struct worker {
	pbrpc_client *client;
	int id, use_poll;
	long done;
	char what[sizeof(pbrpc_error) + 128];
} worker;

static void *run_worker(void *arg)
{
	enum { WINDOW = 8, ROUNDS = 300 };
	worker *w = arg;
	char text[WINDOW][48];
	pbrpc_stream *win[WINDOW];
	pbrpc_error err;
	for (int r = 0; r < ROUNDS && !w->what[0]; r++) {
		for (int i = 0; i < WINDOW; i++) {
			Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
			snprintf(text[i], sizeof text[i], "worker %d round %d call %d", w->id, r,
			         i);
			req.data.data = (uint8_t *)text[i];
			req.data.len = strlen(text[i]);
			win[i] = pbrpc_client_call_async(w->client, PBRPC_ECHO_ECHO_SAY_METHOD,
			                                 &req.base, NULL, &err);
			if (!win[i]) {
				snprintf(w->what, sizeof w->what, "call_async: %s", err.message);
				while (i-- > 0)
					pbrpc_stream_free(win[i]);
				return NULL;
			}
		}
		if (w->use_poll) { /* poll until all are ready, with other threads reading too */
			for (int ready = 0; ready < WINDOW;) {
				if (pbrpc_client_poll(w->client, 100, &err) < 0) {
					snprintf(w->what, sizeof w->what, "poll: %s", err.message);
					break;
				}
				ready = 0;
				for (int i = 0; i < WINDOW; i++)
					ready += pbrpc_stream_ready(win[i]);
			}
		}
		for (int i = 0; i < WINDOW; i++) {
			ProtobufCMessage *msg = NULL;
			if (pbrpc_client_call_wait(win[i], &msg, &err) != PBRPC_OK) {
				snprintf(w->what, sizeof w->what, "wait: %s", err.message);
				continue;
			}
			Pbrpc__Echo__EchoReply *rep = (Pbrpc__Echo__EchoReply *)msg;
			if (rep->data.len != strlen(text[i]) ||
			    memcmp(rep->data.data, text[i], rep->data.len) != 0)
				snprintf(w->what, sizeof w->what, "'%s' got '%.*s'", text[i],
				         (int)rep->data.len, (const char *)rep->data.data);
			else
				w->done++;
			pbrpc_message_free(msg);
		}
	}
	return NULL;
}

/* One client, four threads each keeping a window in flight; two of them
 * poll. Every reply reaches its own call. */
static void test_threads(void **state)
{
	enum { THREADS = 4 };
	pbrpc_client *c = dial(*state);
	pthread_t tid[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker){.client = c, .id = i, .use_poll = i & 1};
		assert_int_equal(pthread_create(&tid[i], NULL, run_worker, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		if (w[i].what[0])
			fail_msg("worker %d: %s", i, w[i].what);
		assert_int_equal(w[i].done, 300 * 8);
	}
	pbrpc_client_close(c);
}

/* The server goes away with calls in flight: each ends UNAVAILABLE, and
 * poll says the connection is lost. Runs last: it stops the server. */
static void test_server_gone(void **state)
{
	fixture *f = *state;
	pbrpc_client *c = dial(f);
	pbrpc_error err;
	ProtobufCMessage *msg = NULL;
	expect_reply(start(c, "hello", 0), "hello");
	pbrpc_stream *s = start(c, "slow:5000", 0);
	assert_int_equal(pbrpc_client_flush(c, &err), PBRPC_OK);
	stop_server(f); /* closes the connection after the grace period */
	int n = 0;
	double t0 = now_s();
	while ((n = pbrpc_client_poll(c, 1000, &err)) >= 0 && now_s() - t0 < 10)
		;
	assert_int_equal(n, -1);
	assert_int_equal(err.code, PBRPC_UNAVAILABLE);
	assert_true(pbrpc_stream_ready(s));
	assert_int_equal(pbrpc_client_call_wait(s, &msg, &err), PBRPC_UNAVAILABLE);
	assert_null(msg);
	pbrpc_client_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window),   cmocka_unit_test(test_ready_and_poll),
	    cmocka_unit_test(test_deadline), cmocka_unit_test(test_not_unary),
	    cmocka_unit_test(test_threads),  cmocka_unit_test(test_server_gone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
