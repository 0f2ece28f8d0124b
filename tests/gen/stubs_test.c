/* stubs_test.c - runs the stubs generated for allkinds.proto against fakes of
 * the libpbrpc functions they call, so it needs nothing but protobuf-c.
 * Prints "PASS stubs" or the failed checks; exits non-zero on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allkinds.pbrpc.h"

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* ---- fakes of libpbrpc ------------------------------------------------------ */

struct pbrpc_stream {
	const pbrpc_method_desc *method;
	int sent, closed, freed;
	pbrpc_status send_status;
	ProtobufCMessage *replies[3];
	size_t n_replies, next;
	pbrpc_status end; /* what recv returns after the replies */
};

static struct pbrpc_stream fake;
static const pbrpc_method_desc *last_method;
static const pbrpc_service_desc *added;
static const void *added_handlers;
static int freed_messages;

static ProtobufCMessage *new_reply(void)
{
	Pbrpc__Test__GetURLReply *r = malloc(sizeof *r);
	pbrpc__test__get_urlreply__init(r);
	return &r->base;
}

static ProtobufCMessage *new_header(void)
{
	ExtPkg__Shared__HTTPHeader *h = malloc(sizeof *h);
	ext_pkg__shared__httpheader__init(h);
	return &h->base;
}

pbrpc_status pbrpc_client_call(pbrpc_client *c, const pbrpc_method_desc *method,
                               const ProtobufCMessage *request, ProtobufCMessage **reply,
                               const pbrpc_call_options *opts, pbrpc_error *err)
{
	(void)c, (void)opts, (void)err;
	last_method = method;
	*reply = request->descriptor == method->input ? new_reply() : NULL;
	return *reply ? PBRPC_OK : PBRPC_INVALID_ARGUMENT;
}

pbrpc_stream *pbrpc_stream_open(pbrpc_client *c, const pbrpc_method_desc *method,
                                const pbrpc_call_options *opts, pbrpc_error *err)
{
	(void)c, (void)opts, (void)err;
	fake.method = method;
	return &fake;
}

pbrpc_status pbrpc_stream_send(pbrpc_stream *s, const ProtobufCMessage *msg, pbrpc_error *err)
{
	(void)err;
	if (msg->descriptor != s->method->input)
		return PBRPC_INVALID_ARGUMENT;
	s->sent++;
	return s->send_status;
}

pbrpc_status pbrpc_stream_close_send(pbrpc_stream *s, pbrpc_error *err)
{
	(void)err;
	s->closed++;
	return PBRPC_OK;
}

pbrpc_status pbrpc_stream_recv(pbrpc_stream *s, ProtobufCMessage **msg, pbrpc_error *err)
{
	(void)err;
	*msg = s->next < s->n_replies ? s->replies[s->next++] : NULL;
	return *msg ? PBRPC_OK : s->end;
}

void pbrpc_stream_free(pbrpc_stream *s)
{
	s->freed++;
}

void pbrpc_message_free(ProtobufCMessage *msg)
{
	if (msg) {
		freed_messages++;
		protobuf_c_message_free_unpacked(msg, NULL);
	}
}

pbrpc_status pbrpc_server_add_service(pbrpc_server *s, const pbrpc_service_desc *desc,
                                      const void *handlers, void *service_data, pbrpc_error *err)
{
	(void)s, (void)service_data, (void)err;
	added = desc;
	added_handlers = handlers;
	return PBRPC_OK;
}

/* ---- handlers ------------------------------------------------------------------ */

static int get_url_called, chat_events;

static int get_url(pbrpc_call *call, const Pbrpc__Test__GetURLRequest *request,
                   Pbrpc__Test__GetURLReply *reply)
{
	(void)call;
	get_url_called = strcmp(request->url, "u") == 0 &&
	                 reply->base.descriptor == &pbrpc__test__get_urlreply__descriptor;
	return PBRPC_NOT_FOUND;
}

static void chat(pbrpc_call *call, pbrpc_event event,
                 const Pbrpc__Test__GetURLRequest__InnerPart *msg)
{
	(void)call;
	if (event == PBRPC_EV_MESSAGE && msg->n == 7)
		chat_events++;
}

/* ---- tests ------------------------------------------------------------------------ */

static void reset(void)
{
	memset(&fake, 0, sizeof fake);
	freed_messages = 0;
}

static void test_tables(void)
{
	const pbrpc_service_desc *s = &pbrpc_test_file_server_service;
	CHECK(strcmp(s->name, "FileServer") == 0);
	CHECK(strcmp(s->full_name, "pbrpc.test.FileServer") == 0);
	CHECK(s->n_methods == 5 && s->methods == pbrpc_test_file_server_methods);
	static const pbrpc_kind kinds[] = {PBRPC_UNARY, PBRPC_SERVER_STREAMING,
	                                   PBRPC_CLIENT_STREAMING, PBRPC_BIDI_STREAMING,
	                                   PBRPC_UNARY};
	for (size_t i = 0; i < 5; i++) {
		const pbrpc_method_desc *m = &s->methods[i];
		CHECK(m->kind == kinds[i]);
		CHECK((m->unary != NULL) == (kinds[i] == PBRPC_UNARY));
		CHECK((m->stream != NULL) == (kinds[i] != PBRPC_UNARY));
	}
	const pbrpc_method_desc *up = PBRPC_TEST_FILE_SERVER_UPLOAD_HTTP_BODY_METHOD;
	CHECK(up == &s->methods[2]);
	CHECK(strcmp(up->name, "UploadHTTPBody") == 0);
	CHECK(strcmp(up->full_name, "pbrpc.test.FileServer.UploadHTTPBody") == 0);
	CHECK(up->input == &pbrpc__test__get_urlreply__descriptor);
	CHECK(up->output == &ext_pkg__shared__httpheader__descriptor);
	CHECK(PBRPC_TEST_FILE_SERVER_LIST_PARTS_METHOD->output ==
	      &pbrpc__test__get_urlrequest__inner_part__descriptor);
	CHECK(strcmp(PBRPC_TEST_HTTP_PROXY2_GO_SAY_HELLO_METHOD->full_name,
	             "pbrpc.test.HTTPProxy2Go.SayHello") == 0);
}

static void test_server(void)
{
	static const pbrpc_test_file_server_handlers handlers = {.get_url = get_url, .chat = chat};
	CHECK(pbrpc_test_file_server_register(NULL, &handlers, NULL, NULL) == PBRPC_OK);
	CHECK(added == &pbrpc_test_file_server_service && added_handlers == &handlers);

	Pbrpc__Test__GetURLRequest req = PBRPC__TEST__GET_URLREQUEST__INIT;
	Pbrpc__Test__GetURLReply reply = PBRPC__TEST__GET_URLREPLY__INIT;
	req.url = "u";
	const pbrpc_method_desc *m = PBRPC_TEST_FILE_SERVER_GET_URL_METHOD;
	CHECK(m->unary(&handlers, NULL, &req.base, &reply.base) == PBRPC_NOT_FOUND);
	CHECK(get_url_called);
	m = PBRPC_TEST_FILE_SERVER_PING_METHOD;
	CHECK(m->unary(&handlers, NULL, &req.base, &reply.base) == PBRPC_NO_HANDLER);

	Pbrpc__Test__GetURLRequest__InnerPart part = PBRPC__TEST__GET_URLREQUEST__INNER_PART__INIT;
	part.n = 7;
	m = PBRPC_TEST_FILE_SERVER_CHAT_METHOD;
	CHECK(m->stream(&handlers, NULL, PBRPC_EV_MESSAGE, &part.base) == 0);
	CHECK(chat_events == 1);
	m = PBRPC_TEST_FILE_SERVER_LIST_PARTS_METHOD;
	CHECK(m->stream(&handlers, NULL, PBRPC_EV_START, &req.base) == PBRPC_NO_HANDLER);
}

static void test_client(void)
{
	Pbrpc__Test__GetURLRequest req = PBRPC__TEST__GET_URLREQUEST__INIT;
	Pbrpc__Test__GetURLReply *reply = NULL;
	CHECK(pbrpc_test_file_server_get_url(NULL, &req, &reply, NULL, NULL) == PBRPC_OK);
	CHECK(last_method == PBRPC_TEST_FILE_SERVER_GET_URL_METHOD && reply);
	pbrpc_message_free(&reply->base);

	/* server-streaming: the request is sent and the sending side closed */
	reset();
	pbrpc_stream *s = pbrpc_test_file_server_list_parts(NULL, &req, NULL, NULL);
	CHECK(s == &fake && fake.sent == 1 && fake.closed == 1 && fake.freed == 0);
	reset();
	fake.send_status = PBRPC_UNAVAILABLE;
	CHECK(pbrpc_test_file_server_list_parts(NULL, &req, NULL, NULL) == NULL);
	CHECK(fake.freed == 1);

	/* client-streaming: one reply, then the end */
	reset();
	ExtPkg__Shared__HTTPHeader *h = NULL;
	pbrpc_error err = {PBRPC_OK, ""};
	s = pbrpc_test_file_server_upload_http_body_open(NULL, NULL, NULL);
	Pbrpc__Test__GetURLReply body = PBRPC__TEST__GET_URLREPLY__INIT;
	CHECK(pbrpc_test_file_server_upload_http_body_send(s, &body, NULL) == PBRPC_OK);
	fake.replies[fake.n_replies++] = new_header();
	CHECK(pbrpc_test_file_server_upload_http_body_finish(s, &h, &err) == PBRPC_OK);
	CHECK(h && fake.closed == 1 && fake.next == 1);
	pbrpc_message_free(&h->base);

	/* ... the server ends with an error and no message */
	reset();
	fake.end = PBRPC_PERMISSION_DENIED;
	CHECK(pbrpc_test_file_server_upload_http_body_finish(&fake, &h, &err) ==
	      PBRPC_PERMISSION_DENIED);
	CHECK(h == NULL);

	/* ... OK with no reply */
	reset();
	CHECK(pbrpc_test_file_server_upload_http_body_finish(&fake, &h, &err) == PBRPC_INTERNAL);
	CHECK(h == NULL && err.code == PBRPC_INTERNAL);
	CHECK(strcmp(err.message, "pbrpc.test.FileServer.UploadHTTPBody: no reply") == 0);

	/* ... two replies: both freed */
	reset();
	fake.replies[fake.n_replies++] = new_header();
	fake.replies[fake.n_replies++] = new_header();
	CHECK(pbrpc_test_file_server_upload_http_body_finish(&fake, &h, NULL) == PBRPC_INTERNAL);
	CHECK(h == NULL && freed_messages == 2);

	/* bidi */
	reset();
	s = pbrpc_test_file_server_chat_open(NULL, NULL, NULL);
	Pbrpc__Test__GetURLRequest__InnerPart part = PBRPC__TEST__GET_URLREQUEST__INNER_PART__INIT;
	CHECK(s && fake.method == PBRPC_TEST_FILE_SERVER_CHAT_METHOD);
	CHECK(pbrpc_test_file_server_chat_send(s, &part, NULL) == PBRPC_OK && fake.sent == 1);
	fake.replies[fake.n_replies++] = new_reply();
	Pbrpc__Test__GetURLReply *r = NULL;
	CHECK(pbrpc_test_file_server_chat_recv(s, &r, NULL) == PBRPC_OK && r);
	pbrpc_message_free(&r->base);
	CHECK(pbrpc_test_file_server_chat_recv(s, &r, NULL) == PBRPC_OK && r == NULL);
}

int main(void)
{
	test_tables();
	test_server();
	test_client();
	printf("%s stubs\n", failures ? "FAIL" : "PASS");
	return failures != 0;
}
