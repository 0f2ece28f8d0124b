/* call.c - calls on the server: frames routed to handlers through the
 * generated dispatch tables, and the API a handler uses to answer. A small
 * unary call is answered right here on the loop thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define MAX_METHOD_NAME    256
#define MAX_STATUS_MESSAGE 1024

typedef struct arena_block {
	struct arena_block *next;
	max_align_t data[];
} arena_block;

/* Sends the final STATUS of call id (with an optional last message). */
static void send_status(pbrpc_conn *c, uint64_t id, int status, const char *message,
                        const ProtobufCMessage *reply)
{
	pbrpc_frame f = {.call_id = id, .kind = PBRPC_FRAME_STATUS, .status = (uint32_t)status};
	if (message) {
		f.message = message;
		f.message_len = strnlen(message, MAX_STATUS_MESSAGE);
	}
	if (reply)
		f.flags = PBRPC_FLAG_HAS_MESSAGE;
	if (pbrpc_conn_send(c, &f, reply) == PBRPC_RESOURCE_EXHAUSTED && reply) {
		f.flags = 0;
		f.status = PBRPC_RESOURCE_EXHAUSTED;
		f.message = "reply larger than the client's record limit";
		f.message_len = strlen(f.message);
		pbrpc_conn_send(c, &f, NULL);
	}
}

static void free_call(pbrpc_call *call)
{
	if (call->request)
		protobuf_c_message_free_unpacked(call->request, NULL);
	for (arena_block *b = call->arena, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(call->message);
	if (call->deadline)
		uv_close((uv_handle_t *)call->deadline, (uv_close_cb)free);
	free(call);
}

static void unlist(pbrpc_call *call)
{
	pbrpc_conn *c = call->conn;
	if (!call->listed || !c)
		return;
	for (pbrpc_call **pp = &c->calls; *pp; pp = &(*pp)->next) {
		if (*pp == call) {
			*pp = call->next;
			break;
		}
	}
	call->listed = 0;
	c->n_calls--;
	if (call->paused) {
		call->paused = 0;
		c->paused_calls--;
		pbrpc_conn_update_reading(c);
	}
}

/* The call is over for the handler; frees it unless an event is running. */
static void end_call(pbrpc_call *call)
{
	pbrpc_conn *c = call->conn;
	call->finished = 1;
	unlist(call);
	if (call->in_event == 0)
		free_call(call);
	if (c)
		pbrpc_conn_call_done(c);
}

static void deliver(pbrpc_call *call, pbrpc_event ev, const ProtobufCMessage *msg)
{
	call->in_event++;
	int rc = call->method->stream(call->service->handlers, call, ev, msg);
	call->in_event--;
	if (rc == PBRPC_NO_HANDLER && !call->finished) {
		pbrpc_call_finish(call, PBRPC_UNIMPLEMENTED, "%s is not implemented by this server",
		                  call->method->full_name);
		return;
	}
	if (call->finished && call->in_event == 0)
		free_call(call);
}

/* An open call of c by id; none once c is closing. */
static pbrpc_call *find_call(pbrpc_conn *c, uint64_t id)
{
	if (c->closing)
		return NULL;
	for (pbrpc_call *call = c->calls; call; call = call->next)
		if (call->id == id)
			return call;
	return NULL;
}

static void on_deadline(uv_timer_t *t)
{
	pbrpc_call *call = t->data;
	pbrpc_conn *c = call->conn;
	if (!c) /* orphaned asynchronous unary call: just wait for its handler */
		return;
	send_status(c, call->id, PBRPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL);
	pbrpc_server_log(call->server, PBRPC_LOG_DEBUG, "%s call %llu %s: deadline exceeded",
	                 c->name, (unsigned long long)call->id, call->method->full_name);
	if (call->method->kind == PBRPC_UNARY) {
		/* The handler still owns it and will answer; its answer goes nowhere. */
		unlist(call);
		call->conn = NULL;
		pbrpc_conn_call_done(c);
		return;
	}
	unlist(call);
	call->finished = 1;
	deliver(call, PBRPC_EV_CANCEL, NULL);
	pbrpc_conn_call_done(c);
}

static ProtobufCMessage *unpack(pbrpc_conn *c, uint64_t id, const ProtobufCMessageDescriptor *d,
                                const pbrpc_frame *f)
{
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, f->payload_len, f->payload);
	if (!msg) {
		char why[200];
		snprintf(why, sizeof why, "payload is not a valid %s", d->name);
		send_status(c, id, PBRPC_INVALID_ARGUMENT, why, NULL);
		pbrpc_server_log(c->server, PBRPC_LOG_INFO, "%s call %llu: %s", c->name,
		                 (unsigned long long)id, why);
	}
	return msg;
}

static void run_unary(pbrpc_conn *c, pbrpc_call *call, ProtobufCMessage *req)
{
	const pbrpc_method_desc *m = call->method;
	/* The reply lives in the call's arena so an asynchronous handler keeps it. */
	ProtobufCMessage *reply = pbrpc_call_alloc(call, m->output->sizeof_message);
	if (!reply) {
		send_status(c, call->id, PBRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
		protobuf_c_message_free_unpacked(req, NULL);
		free_call(call);
		return;
	}
	protobuf_c_message_init(m->output, reply);
	call->request = req;
	call->in_event++;
	int rc = m->unary(call->service->handlers, call, req, reply);
	call->in_event--;
	if (rc == PBRPC_ASYNC || call->finished) {
		if (call->finished)
			free_call(call); /* answered before returning */
		return;
	}
	if (rc == PBRPC_NO_HANDLER) {
		rc = PBRPC_UNIMPLEMENTED;
		pbrpc_call_set_message(call, "%s is not implemented by this server", m->full_name);
	} else if (rc < 0 || rc > PBRPC_STATUS_MAX) {
		rc = PBRPC_INTERNAL;
	}
	if (call->conn)
		send_status(c, call->id, rc, call->message, rc == PBRPC_OK ? reply : NULL);
	unlist(call);
	free_call(call);
	pbrpc_conn_call_done(c);
}

static void open_call(pbrpc_conn *c, const pbrpc_frame *f)
{
	pbrpc_server *s = c->server;
	char name[MAX_METHOD_NAME + 1];

	if (c->closing)
		return;
	if (f->call_id == 0 || find_call(c, f->call_id)) {
		pbrpc_conn_close(c, f->call_id ? "call id reused while open" : "call id 0");
		return;
	}
	const pbrpc_route *route = f->method_len <= MAX_METHOD_NAME
	                               ? pbrpc_server_route(s, f->method, f->method_len)
	                               : NULL;
	if (!route) {
		size_t n = f->method_len < 80 ? f->method_len : 80;
		for (size_t i = 0; i < n; i++) /* the name is hostile: print it safely */
			name[i] = f->method[i] >= 0x20 && f->method[i] < 0x7f ? f->method[i] : '?';
		name[n] = '\0';
		char why[sizeof name + 32];
		snprintf(why, sizeof why, "unknown method '%s%s'", name,
		         f->method_len > 80 ? "..." : "");
		send_status(c, f->call_id, PBRPC_UNIMPLEMENTED, why, NULL);
		pbrpc_server_log(s, PBRPC_LOG_INFO, "%s call %llu: %s", c->name,
		                 (unsigned long long)f->call_id, why);
		return;
	}
	unsigned max_calls = c->client.max_calls && c->client.max_calls < s->opt.max_calls
	                         ? c->client.max_calls
	                         : s->opt.max_calls;
	if (c->n_calls >= max_calls) {
		send_status(c, f->call_id, PBRPC_RESOURCE_EXHAUSTED,
		            "too many calls on this connection", NULL);
		pbrpc_server_log(s, PBRPC_LOG_INFO, "%s call %llu: too many calls (limit %u)",
		                 c->name, (unsigned long long)f->call_id, max_calls);
		return;
	}
	const pbrpc_method_desc *m = route->method;
	if (s->opt.check_call) { /* the client's policy, before any handler sees the call */
		pbrpc_error why = {0};
		pbrpc_status st = s->opt.check_call(s->opt.auth_data, &c->client, m, &why);
		if (st != PBRPC_OK) {
			send_status(c, f->call_id, st, why.message, NULL);
			pbrpc_server_log(s, PBRPC_LOG_INFO, "%s call %llu: %s refused: %s", c->name,
			                 (unsigned long long)f->call_id, m->full_name, why.message);
			return;
		}
	}
	int has_msg = (f->flags & PBRPC_FLAG_HAS_MESSAGE) != 0;
	int single_request = m->kind == PBRPC_UNARY || m->kind == PBRPC_SERVER_STREAMING;
	if (single_request && !has_msg) {
		send_status(c, f->call_id, PBRPC_INVALID_ARGUMENT,
		            "the request must travel in the REQUEST frame", NULL);
		pbrpc_server_log(s, PBRPC_LOG_INFO, "%s call %llu: REQUEST without its message",
		                 c->name, (unsigned long long)f->call_id);
		return;
	}
	ProtobufCMessage *req = NULL;
	if (has_msg && !(req = unpack(c, f->call_id, m->input, f)))
		return;
	pbrpc_call *call = calloc(1, sizeof *call);
	if (!call) {
		protobuf_c_message_free_unpacked(req, NULL);
		send_status(c, f->call_id, PBRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	call->server = s;
	call->conn = c;
	call->id = f->call_id;
	call->method = m;
	call->service = route->service;
	call->data = NULL;
	call->next = c->calls;
	c->calls = call;
	call->listed = 1;
	c->n_calls++;
	if (f->timeout_ms) {
		uint64_t ms = f->timeout_ms > UINT32_MAX ? UINT32_MAX : f->timeout_ms;
		call->deadline_at = uv_now(s->loop) + ms;
		call->deadline = malloc(sizeof *call->deadline);
		if (call->deadline) {
			uv_timer_init(s->loop, call->deadline);
			call->deadline->data = call;
			uv_timer_start(call->deadline, on_deadline, ms, 0);
		}
	}
	if (m->kind == PBRPC_UNARY) {
		run_unary(c, call, req);
		return;
	}
	uint64_t id = f->call_id;
	/* After each event the call may be over (and freed): look it up again. */
	deliver(call, PBRPC_EV_START, m->kind == PBRPC_SERVER_STREAMING ? req : NULL);
	if (m->kind != PBRPC_SERVER_STREAMING && req && find_call(c, id))
		deliver(call, PBRPC_EV_MESSAGE, req);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	if ((f->flags & PBRPC_FLAG_HALF_CLOSE) && m->kind != PBRPC_SERVER_STREAMING &&
	    find_call(c, id))
		deliver(call, PBRPC_EV_HALF_CLOSE, NULL);
}

/* The client is done with the call: a streaming handler hears CANCEL (and
 * the call is freed); an asynchronous unary handler still owns its call and
 * answers into the void. */
static void abandon(pbrpc_conn *c, pbrpc_call *call)
{
	unlist(call);
	if (call->method->kind == PBRPC_UNARY) {
		call->conn = NULL;
	} else {
		call->finished = 1;
		deliver(call, PBRPC_EV_CANCEL, NULL);
	}
	pbrpc_conn_call_done(c);
}

void pbrpc_call_dispatch(pbrpc_conn *c, const pbrpc_frame *f)
{
	if (f->kind == PBRPC_FRAME_REQUEST) {
		open_call(c, f);
		return;
	}
	if (f->kind != PBRPC_FRAME_MESSAGE && f->kind != PBRPC_FRAME_HALF_CLOSE &&
	    f->kind != PBRPC_FRAME_CANCEL) {
		pbrpc_conn_close(c, "unexpected frame kind from client");
		return;
	}
	pbrpc_call *call = find_call(c, f->call_id);
	if (!call)
		return; /* a call that just ended: the client had not seen its STATUS yet */
	if (f->kind == PBRPC_FRAME_CANCEL) {
		abandon(c, call);
		return;
	}
	if (f->kind == PBRPC_FRAME_MESSAGE) {
		if (call->method->kind == PBRPC_UNARY ||
		    call->method->kind == PBRPC_SERVER_STREAMING) {
			char why[320];
			snprintf(why, sizeof why, "%s takes a single request message",
			         call->method->full_name);
			send_status(c, call->id, PBRPC_INVALID_ARGUMENT, why, NULL);
			pbrpc_server_log(c->server, PBRPC_LOG_INFO, "%s call %llu: %s", c->name,
			                 (unsigned long long)call->id, why);
			abandon(c, call); /* its handler may still be working on it */
			return;
		}
		ProtobufCMessage *msg = unpack(c, call->id, call->method->input, f);
		if (!msg) {
			abandon(c, call); /* unpack told the client */
			return;
		}
		uint64_t id = call->id;
		deliver(call, PBRPC_EV_MESSAGE, msg);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (!(f->flags & PBRPC_FLAG_HALF_CLOSE) || !find_call(c, id))
			return;
	}
	if (call->method->kind != PBRPC_UNARY && call->method->kind != PBRPC_SERVER_STREAMING)
		deliver(call, PBRPC_EV_HALF_CLOSE, NULL);
}

void pbrpc_call_abort_all(pbrpc_conn *c)
{
	while (c->calls) {
		pbrpc_call *call = c->calls;
		unlist(call);
		if (call->method->kind == PBRPC_UNARY) {
			call->conn = NULL;
			continue;
		}
		call->conn = NULL;
		call->finished = 1;
		deliver(call, PBRPC_EV_CANCEL, NULL);
	}
	c->paused_calls = 0;
}

void pbrpc_call_notify_writable(pbrpc_conn *c)
{
	int again = 1;
	/* A handler may end calls while we walk, so restart after each delivery.
	 * Stop once the output is full again: a handler that refilled it and
	 * asked again (pbrpc_call_writable() == 0) must wait for the next drain,
	 * or we would hand it WRITABLE forever without writing a byte. */
	while (again && !c->closing) {
		again = 0;
		if (pbrpc_buf_len(&c->out) + pbrpc_buf_len(&c->sending) >=
		    c->server->opt.max_output)
			break;
		for (pbrpc_call *call = c->calls; call; call = call->next) {
			if (call->want_writable && call->method->kind != PBRPC_UNARY) {
				call->want_writable = 0;
				deliver(call, PBRPC_EV_WRITABLE, NULL);
				again = 1;
				break;
			}
		}
	}
}

/* ---- the handler's API -------------------------------------------------- */

void *pbrpc_call_service_data(const pbrpc_call *call)
{
	return call->service->data;
}
void *pbrpc_call_data(const pbrpc_call *call)
{
	return call->data;
}
void pbrpc_call_set_data(pbrpc_call *call, void *data)
{
	call->data = data;
}
const pbrpc_method_desc *pbrpc_call_method(const pbrpc_call *call)
{
	return call->method;
}
pbrpc_server *pbrpc_call_server(const pbrpc_call *call)
{
	return call->server;
}
struct uv_loop_s *pbrpc_call_loop(const pbrpc_call *call)
{
	return call->server->loop;
}

const char *pbrpc_call_peer(const pbrpc_call *call)
{
	return call->conn ? call->conn->peer : "gone";
}

const char *pbrpc_call_conn_name(const pbrpc_call *call)
{
	return call->conn ? call->conn->name : "gone";
}

const pbrpc_peer *pbrpc_call_client(const pbrpc_call *call)
{
	static const pbrpc_peer gone = {.address = "gone", .name = "gone"};
	return call->conn ? &call->conn->client : &gone;
}

int64_t pbrpc_call_remaining_ms(const pbrpc_call *call)
{
	if (!call->deadline_at)
		return -1;
	uint64_t now = uv_now(call->server->loop);
	return now >= call->deadline_at ? 0 : (int64_t)(call->deadline_at - now);
}

uint32_t pbrpc_call_peer_max_record(const pbrpc_call *call)
{
	/* After the connection is gone sends fail anyway; any valid size will do. */
	return call->conn ? call->conn->peer_max_record : PBRPC_MIN_MAX_RECORD;
}

void *pbrpc_call_alloc(pbrpc_call *call, size_t size)
{
	if (size > SIZE_MAX - sizeof(arena_block))
		return NULL;
	arena_block *b = calloc(1, sizeof *b + size);
	if (!b)
		return NULL;
	b->next = call->arena;
	call->arena = b;
	return b->data;
}

void pbrpc_call_set_message(pbrpc_call *call, const char *fmt, ...)
{
	char buf[MAX_STATUS_MESSAGE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(call->message);
	call->message = strdup(buf);
}

pbrpc_status pbrpc_call_send(pbrpc_call *call, const ProtobufCMessage *msg)
{
	if (call->finished || !call->conn)
		return PBRPC_CANCELLED;
	pbrpc_frame f = {
	    .call_id = call->id, .kind = PBRPC_FRAME_MESSAGE, .flags = PBRPC_FLAG_HAS_MESSAGE};
	return pbrpc_conn_send(call->conn, &f, msg);
}

int pbrpc_call_writable(const pbrpc_call *call)
{
	pbrpc_call *mut = (pbrpc_call *)call;
	if (!call->conn || call->finished)
		return 1; /* sends will fail at once; nobody would wake a waiter */
	const pbrpc_conn *c = call->conn;
	if (pbrpc_buf_len(&c->out) + pbrpc_buf_len(&c->sending) < c->server->opt.max_output)
		return 1;
	mut->want_writable = 1;
	return 0;
}

void pbrpc_call_pause(pbrpc_call *call, int paused)
{
	pbrpc_conn *c = call->conn;
	if (!c || call->finished || !call->paused == !paused)
		return;
	call->paused = paused ? 1 : 0;
	if (paused)
		c->paused_calls++;
	else
		c->paused_calls--;
	pbrpc_conn_update_reading(c);
}

void pbrpc_call_finish(pbrpc_call *call, pbrpc_status status, const char *fmt, ...)
{
	char buf[MAX_STATUS_MESSAGE];
	const char *message = call->message;
	if (call->finished)
		return;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof buf, fmt, ap);
		va_end(ap);
		message = buf;
	}
	if (call->conn)
		send_status(call->conn, call->id, status, message, NULL);
	end_call(call);
}

void pbrpc_call_send_finish(pbrpc_call *call, const ProtobufCMessage *msg, pbrpc_status status,
                            const char *fmt, ...)
{
	char buf[MAX_STATUS_MESSAGE];
	pbrpc_conn *c = call->conn;
	if (call->finished)
		return;
	int was_batching = c ? c->batching : 1;
	if (c)
		c->batching = 1; /* both frames go into the output; one write below */
	pbrpc_status sent = pbrpc_call_send(call, msg);
	if (sent != PBRPC_OK) {
		pbrpc_call_finish(call, sent, "cannot send the last message: %s",
		                  pbrpc_status_name(sent));
	} else if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof buf, fmt, ap);
		va_end(ap);
		pbrpc_call_finish(call, status, "%s", buf);
	} else {
		pbrpc_call_finish(call, status, NULL);
	}
	if (c) { /* end_call never frees the connection */
		c->batching = was_batching;
		pbrpc_conn_flush(c);
	}
}

void pbrpc_call_reply(pbrpc_call *call, const ProtobufCMessage *reply)
{
	if (call->finished)
		return;
	if (call->conn)
		send_status(call->conn, call->id, PBRPC_OK, call->message, reply);
	end_call(call);
}
