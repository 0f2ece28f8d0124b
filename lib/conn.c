/* conn.c - one server connection: bytes in and out, the record envelope,
 * the handshake, then sealed frames handed to the call layer. Output is
 * batched: everything a read produces goes out in one write. */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "record.h"
#include "runtime.h"

#define READ_CHUNK (64u << 10)

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static uint32_t record_cap(const pbrpc_conn *c)
{
	return c->hs ? PBRPC_HANDSHAKE_MAX_RECORD : c->server->opt.max_record;
}

static void on_timer(uv_timer_t *t)
{
	pbrpc_conn *c = t->data;
	if (c->hs)
		pbrpc_conn_close(c, "handshake not finished in time");
	else if (c->n_calls == 0)
		pbrpc_conn_close(c, "idle timeout");
	else
		uv_timer_again(t);
}

void pbrpc_conn_accept(pbrpc_server *s, uv_stream_t *listener)
{
	pbrpc_conn *c = calloc(1, sizeof *c);
	int rc = UV_ENOMEM;
	if (!c)
		goto fail;
	c->server = s;
	if (listener->type == UV_TCP)
		rc = uv_tcp_init(s->loop, &c->h.tcp);
	else
		rc = uv_pipe_init(s->loop, &c->h.pipe, 0);
	if (rc != 0)
		goto fail;
	c->h.handle.data = c;
	c->handles_open = 1;
	uv_timer_init(s->loop, &c->timer);
	c->timer.data = c;
	c->handles_open++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	snprintf(c->name, sizeof c->name, "c%llu", (unsigned long long)++s->conn_serial);
	snprintf(c->peer, sizeof c->peer, "unix");
	c->client.address = c->peer;
	if ((rc = uv_accept(listener, &c->h.stream)) != 0) {
		pbrpc_server_log(s, PBRPC_LOG_WARN, "accept: %s", uv_strerror(rc));
		pbrpc_conn_close(c, NULL);
		return;
	}
	if (listener->type == UV_TCP) {
		int len = sizeof c->addr;
		uv_tcp_nodelay(&c->h.tcp, 1);
		if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&c->addr, &len) == 0) {
			pbrpc_address_format((struct sockaddr *)&c->addr, (socklen_t)len, c->peer,
			                     sizeof c->peer);
			c->client.sockaddr = (struct sockaddr *)&c->addr;
		}
	}

	if (s->n_conns > s->opt.max_connections || s->stopping) {
		const char *why = s->stopping ? "stopping" : "too many connections";
		pbrpc_server_log_limited(s, PBRPC_LOG_WARN, why, "%s %s refused: %s", c->name,
		                         c->peer, why);
		pbrpc_conn_close(c, NULL);
		return;
	}
	c->hs = malloc(sizeof *c->hs);
	if (!c->hs) {
		pbrpc_conn_close(c, "out of memory");
		return;
	}
	/* No key work yet: that waits for a well-formed hello. */
	pbrpc_handshake_init(c->hs, 1, s->has_key ? s->key : NULL, s->opt.max_record);
	if (s->has_host_key)
		pbrpc_handshake_set_static(c->hs, s->host_key);
	pbrpc_buf_init(&c->in, (size_t)s->opt.max_record + PBRPC_RECORD_HEADER + READ_CHUNK);
	/* Room for the high-water mark plus the largest record a handler may add. */
	pbrpc_buf_init(&c->out, s->opt.max_output + 2 * ((size_t)s->opt.max_record + 64));
	pbrpc_buf_init(&c->sending, 0);
	/* Per address and in all, before any byte is read or key made: a
	 * refusal the client can read, then the connection closes. */
	const char *why = pbrpc_sources_admit(s, c->client.sockaddr);
	if (why) {
		pbrpc_server_log_limited(s, PBRPC_LOG_WARN, why, "%s %s refused: %s", c->name,
		                         c->peer, why);
		pbrpc_handshake_refusal(&c->out, why);
		pbrpc_conn_close_after_output(c, NULL);
		return;
	}
	c->admitted = 1;
	uv_timer_start(&c->timer, on_timer, s->opt.handshake_timeout_ms, 0);
	pbrpc_server_log(s, PBRPC_LOG_DEBUG, "%s %s connected", c->name, c->peer);
	pbrpc_conn_update_reading(c);
	return;
fail:
	pbrpc_server_log(s, PBRPC_LOG_ERROR, "accept: %s", uv_strerror(rc));
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	pbrpc_conn *c = h->data;
	if (--c->handles_open > 0)
		return;
	pbrpc_server *s = c->server;
	pbrpc_buf_free(&c->in);
	pbrpc_buf_free(&c->out);
	pbrpc_buf_free(&c->sending);
	pbrpc_channel_wipe(&c->ch);
	free(c);
	pbrpc_server_conn_gone(s);
}

/* Tears down a connection nobody is inside of any more. */
static void conn_teardown(pbrpc_conn *c)
{
	pbrpc_server *s = c->server;
	if (c->torn_down) /* e.g. a write cancelled by the close calls back */
		return;
	c->torn_down = 1;
	pbrpc_call_abort_all(c);
	pbrpc_conn_release_client(c);
	if (c->admitted) { /* gone before it authenticated: a failed handshake */
		c->admitted = 0;
		pbrpc_sources_done(s, c->client.sockaddr, 0);
	}
	if (c->hs) {
		pbrpc_handshake_wipe(c->hs);
		free(c->hs);
		c->hs = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else if (s->conns == c)
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->n_conns--;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close(&c->h.handle, on_handle_closed);
}

void pbrpc_conn_close(pbrpc_conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (why && c->hs) /* before authentication: one line per attempt floods */
		pbrpc_server_log_limited(c->server, PBRPC_LOG_INFO, why, "%s %s closed: %s",
		                         c->name, c->peer, why);
	else if (why)
		pbrpc_server_log(c->server, PBRPC_LOG_INFO, "%s %s closed: %s", c->name, c->peer,
		                 why);
	if (c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = 0;
	}
	if (c->busy == 0) {
		/* We may be inside a handler's call into the API (a send that
		 * failed): tear down from the loop, where no handler is running. */
		c->teardown_pending = 1;
		uv_idle_start(&c->server->drain_idle, pbrpc_conn_on_drain);
	}
}

void pbrpc_conn_close_now(pbrpc_conn *c, const char *why)
{
	pbrpc_conn_close(c, why);
	if (c->busy == 0)
		conn_teardown(c);
}

/* Leaves a callback into c; finishes a close that happened inside it. */
static void conn_leave(pbrpc_conn *c)
{
	if (--c->busy == 0 && c->closing)
		conn_teardown(c);
}

static size_t output_pending(const pbrpc_conn *c)
{
	return pbrpc_buf_len(&c->out) + pbrpc_buf_len(&c->sending);
}

static int may_read(const pbrpc_conn *c)
{
	return !c->closing && !c->draining && c->paused_calls == 0 && !c->output_blocked;
}

/* Whether c->in holds a whole record (one a pause held back). */
static int holds_record(const pbrpc_conn *c)
{
	size_t len = pbrpc_buf_len(&c->in);
	return len >= PBRPC_RECORD_HEADER &&
	       len - PBRPC_RECORD_HEADER >= pbrpc_get_be32(pbrpc_buf_head(&c->in));
}

void pbrpc_conn_update_reading(pbrpc_conn *c)
{
	int want = may_read(c);
	/* Records a pause held back are handled before anything new is read:
	 * reading first could need more room than the input buffer has left. */
	if (want && holds_record(c)) {
		want = 0;
		if (!c->drain_pending) {
			c->drain_pending = 1;
			uv_idle_start(&c->server->drain_idle, pbrpc_conn_on_drain);
		}
	}
	if (want && !c->reading) {
		if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
			c->reading = 1;
	} else if (!want && c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = 0;
	}
}

static void start_write(pbrpc_conn *c);

static void on_write(uv_write_t *req, int status)
{
	pbrpc_conn *c = req->data;
	c->writing = 0;
	c->busy++;
	if (status < 0) {
		pbrpc_conn_close(c, status == UV_ECANCELED ? NULL : uv_strerror(status));
	} else {
		pbrpc_buf_consume(&c->sending, pbrpc_buf_len(&c->sending));
		pbrpc_buf_shrink(&c->sending, 0);
		start_write(c);
	}
	conn_leave(c);
}

/* Writes as much as the socket takes now; the rest goes in an async write. */
static void start_write(pbrpc_conn *c)
{
	if (c->closing)
		return;
	/* With a write in flight only queue, but still apply back-pressure below:
	 * a peer that never reads keeps that write in flight for ever. */
	if (!c->writing && pbrpc_buf_len(&c->out) > 0) {
		uv_buf_t b =
		    uv_buf_init((char *)pbrpc_buf_head(&c->out), (unsigned)pbrpc_buf_len(&c->out));
		int n = uv_try_write(&c->h.stream, &b, 1);
		if (n > 0)
			pbrpc_buf_consume(&c->out, (size_t)n);
		else if (n != UV_EAGAIN && n != UV_ENOSYS) {
			pbrpc_conn_close(c, uv_strerror(n));
			return;
		}
		if (pbrpc_buf_len(&c->out) > 0) {
			pbrpc_buf tmp =
			    c->sending; /* the unsent rest becomes the write in flight */
			c->sending = c->out;
			c->out = tmp;
			c->out.max = c->sending.max;
			c->sending.max = 0;
			b = uv_buf_init((char *)pbrpc_buf_head(&c->sending),
			                (unsigned)pbrpc_buf_len(&c->sending));
			c->write_req.data = c;
			int rc = uv_write(&c->write_req, &c->h.stream, &b, 1, on_write);
			if (rc != 0) {
				pbrpc_conn_close(c, uv_strerror(rc));
				return;
			}
			c->writing = 1;
		} else {
			pbrpc_buf_shrink(&c->out, 0);
		}
	}
	size_t pending = output_pending(c);
	if (c->draining && pending == 0) {
		pbrpc_conn_close(c, c->drain_reason);
		return;
	}
	/* Back-pressure: a client that does not read its replies stops being read. */
	size_t high = c->server->opt.max_output;
	if (!c->output_blocked && pending > high) {
		c->output_blocked = 1;
		pbrpc_conn_update_reading(c);
	} else if (c->output_blocked && pending <= high / 2) {
		c->output_blocked = 0;
		pbrpc_conn_update_reading(c);
		pbrpc_call_notify_writable(c);
	} else if (!c->output_blocked && pending <= high / 2) {
		pbrpc_call_notify_writable(c);
	}
}

void pbrpc_conn_flush(pbrpc_conn *c)
{
	if (!c->batching)
		start_write(c);
}

pbrpc_status pbrpc_conn_send(pbrpc_conn *c, const pbrpc_frame *f, const ProtobufCMessage *msg)
{
	if (c->closing || c->hs)
		return PBRPC_UNAVAILABLE;
	int rc = pbrpc_frame_append_sealed(&c->out, &c->ch, f, msg, c->peer_max_record);
	if (rc == -1)
		return PBRPC_RESOURCE_EXHAUSTED; /* larger than the client accepts */
	if (rc == -2) {
		pbrpc_conn_close(c, "output buffer full");
		return PBRPC_RESOURCE_EXHAUSTED;
	}
	pbrpc_conn_flush(c);
	return c->closing ? PBRPC_UNAVAILABLE : PBRPC_OK;
}

void pbrpc_conn_close_after_output(pbrpc_conn *c, const char *why)
{
	if (c->closing || c->draining)
		return;
	c->draining = 1;
	c->drain_reason = why;
	pbrpc_conn_update_reading(c);
	pbrpc_conn_flush(c);
}

void pbrpc_conn_call_done(pbrpc_conn *c)
{
	if (c->server->stopping && c->n_calls == 0)
		pbrpc_conn_close_after_output(c, "server stopping");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	pbrpc_conn *c = h->data;
	pbrpc_server *s = c->server;
	(void)suggested;

	if (pbrpc_buf_len(&c->in) == 0) {
		/* Nothing carried over: read into the shared scratch, copy nothing. */
		/* No bigger than c->in can hold, should a pause leave it all unread. */
		size_t size = s->scratch_size < c->in.max ? s->scratch_size : c->in.max;
		*buf = uv_buf_init((char *)s->scratch, (unsigned)size);
		return;
	}
	/* Finish the partial record in place: its length was checked already. */
	size_t want = READ_CHUNK;
	if (pbrpc_buf_len(&c->in) >= PBRPC_RECORD_HEADER) {
		size_t need = PBRPC_RECORD_HEADER + pbrpc_get_be32(pbrpc_buf_head(&c->in)) -
		              pbrpc_buf_len(&c->in);
		if (need > want)
			want = need;
	}
	if (pbrpc_buf_reserve(&c->in, want) != 0) {
		*buf = uv_buf_init(NULL, 0); /* on_read sees UV_ENOBUFS and closes */
		return;
	}
	*buf = uv_buf_init((char *)pbrpc_buf_tail(&c->in), (unsigned)pbrpc_buf_room(&c->in));
}

void pbrpc_conn_release_client(pbrpc_conn *c)
{
	pbrpc_server *s = c->server;
	if (c->authorized && s->opt.release)
		s->opt.release(s->opt.auth_data, c->client.policy);
	c->authorized = 0;
	c->client.policy = NULL;
}

pbrpc_status pbrpc_conn_authorize(pbrpc_conn *c, pbrpc_error *why)
{
	pbrpc_server *s = c->server;
	pbrpc_peer next = c->client;
	next.policy = NULL;
	next.max_calls = 0;
	if (!next.has_key)
		snprintf(next.name, sizeof next.name, "shared-key");
	if (s->opt.authorize) {
		pbrpc_status st = s->opt.authorize(s->opt.auth_data, &next, why);
		if (st != PBRPC_OK)
			return st;
	}
	pbrpc_conn_release_client(c);
	c->client = next;
	c->authorized = 1;
	/* Every later line about this connection or its calls names the client. */
	const char *serial = c->name;
	char label[sizeof c->name];
	size_t n = strcspn(serial, " ");
	snprintf(label, sizeof label, "%.*s %s%s%s", (int)n, serial, c->client.name,
	         c->client.has_key ? " " : "", c->client.fingerprint);
	memcpy(c->name, label, sizeof c->name);
	return PBRPC_OK;
}

/* Protocol 2: the server's verdict on the client's key is its first sealed
 * record, a Frame{call_id 0, STATUS} (docs/protocol.md §3.2). */
static void send_verdict(pbrpc_conn *c, pbrpc_status status, const char *message)
{
	pbrpc_frame f = {0};
	f.kind = PBRPC_FRAME_STATUS;
	f.status = (uint32_t)status;
	f.message = message;
	f.message_len = message ? strlen(message) : 0;
	pbrpc_conn_send(c, &f, NULL);
}

static int handle_handshake_record(pbrpc_conn *c, uint8_t *rec, size_t len)
{
	pbrpc_server *s = c->server;
	int rc = pbrpc_handshake_recv(c->hs, rec, len, &c->out);
	if (rc == PBRPC_HS_CONTINUE)
		return 0;
	if (rc == PBRPC_HS_FAILED) {
		pbrpc_server_log_limited(s, PBRPC_LOG_WARN, c->hs->error,
		                         "%s %s handshake failed: %s", c->name, c->peer,
		                         c->hs->error);
		pbrpc_conn_close_after_output(c, NULL); /* a refusal, if any, goes out first */
		return -1;
	}
	pbrpc_handshake_channel(c->hs, &c->ch);
	c->peer_max_record = c->hs->peer_max_record;
	int version = c->hs->version, suite = c->hs->suite;
	char software[sizeof c->hs->peer_software];
	memcpy(software, c->hs->peer_software, sizeof software);
	if (version == PBRPC_PROTOCOL_V2) {
		c->client.has_key = 1;
		memcpy(c->client.key, c->hs->peer_static, 32);
		pbrpc_key_fingerprint(c->client.key, c->client.fingerprint);
	}
	pbrpc_handshake_wipe(c->hs);
	free(c->hs);
	c->hs = NULL;

	pbrpc_error why = {0};
	pbrpc_status st = pbrpc_conn_authorize(c, &why);
	c->admitted = 0;
	pbrpc_sources_done(s, c->client.sockaddr, st == PBRPC_OK);
	if (st != PBRPC_OK) {
		pbrpc_server_log_limited(s, PBRPC_LOG_WARN, why.message, "%s %s refused %s%s: %s",
		                         c->name, c->peer,
		                         c->client.has_key ? "key " : "the shared-key client",
		                         c->client.fingerprint, why.message);
		if (version == PBRPC_PROTOCOL_V2)
			send_verdict(c, st, why.message);
		pbrpc_conn_close_after_output(c, NULL);
		return -1;
	}
	if (version == PBRPC_PROTOCOL_V2)
		send_verdict(c, PBRPC_OK, NULL);
	pbrpc_server_log(s, PBRPC_LOG_INFO, "%s %s authenticated (protocol %d, %s, %s)", c->name,
	                 c->peer, version, pbrpc_suite_name(suite), software);
	if (s->opt.idle_timeout_ms)
		uv_timer_start(&c->timer, on_timer, s->opt.idle_timeout_ms, s->opt.idle_timeout_ms);
	else
		uv_timer_stop(&c->timer);
	return 0;
}

/* One whole record at rec (header included). Returns -1 once c is closing. */
static int handle_record(pbrpc_conn *c, uint8_t *rec, size_t body_len)
{
	size_t plain_len;
	pbrpc_frame f;

	if (c->hs)
		return handle_handshake_record(c, rec, PBRPC_RECORD_HEADER + body_len);
	if (pbrpc_channel_open(&c->ch, rec, body_len, &plain_len) != 0) {
		pbrpc_conn_close(c, "record failed authentication (forged, replayed or reordered)");
		return -1;
	}
	if (pbrpc_frame_decode(rec + PBRPC_RECORD_HEADER, plain_len, &f) != 0) {
		pbrpc_conn_close(c, "malformed frame");
		return -1;
	}
	pbrpc_call_dispatch(c, &f);
	return c->closing ? -1 : 0;
}

/* Handles every whole record in p[0, n); returns the bytes used, or -1. */
static ssize_t handle_records(pbrpc_conn *c, uint8_t *p, size_t n)
{
	size_t used = 0;
	while (may_read(c)) { /* a pause or back-pressure stops the batch */
		uint32_t body_len;
		int rc = pbrpc_record_check(p + used, n - used, record_cap(c), &body_len);
		if (rc == PBRPC_RECORD_SHORT)
			break;
		if (rc == PBRPC_RECORD_BAD) {
			char why[96];
			snprintf(why, sizeof why, "bad record length %u (limit %u)", body_len,
			         record_cap(c));
			pbrpc_conn_close(c, why);
			return -1;
		}
		if (handle_record(c, p + used, body_len) != 0)
			return -1;
		used += PBRPC_RECORD_HEADER + body_len;
	}
	return (ssize_t)used;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	pbrpc_conn *c = stream->data;
	pbrpc_server *s = c->server;

	if (nread == 0)
		return;
	c->busy++;
	c->batching = 1;
	if (nread < 0) {
		if (nread == UV_EOF && pbrpc_buf_len(&c->in) > 0)
			pbrpc_conn_close(c, "connection ended inside a record");
		else if (nread == UV_EOF && c->hs)
			pbrpc_conn_close(c, "disconnected during handshake");
		else if (nread == UV_EOF) /* a half-close: replies already made still go out */
			pbrpc_conn_close_after_output(c, "disconnected");
		else
			pbrpc_conn_close(c, nread == UV_ENOBUFS ? "out of memory"
			                                        : uv_strerror((int)nread));
	} else if (buf->base == (char *)s->scratch) {
		ssize_t used = handle_records(c, s->scratch, (size_t)nread);
		/* Keep what is left (a partial record, or records held back by
		 * back-pressure) in the connection's own buffer. */
		if (used >= 0 && (size_t)used < (size_t)nread &&
		    pbrpc_buf_append(&c->in, s->scratch + used, (size_t)nread - (size_t)used) != 0)
			pbrpc_conn_close(c, "input buffer full");
	} else {
		pbrpc_buf_commit(&c->in, (size_t)nread);
		ssize_t used = handle_records(c, pbrpc_buf_head(&c->in), pbrpc_buf_len(&c->in));
		if (used > 0)
			pbrpc_buf_consume(&c->in, (size_t)used);
		pbrpc_buf_shrink(&c->in, 0);
	}
	c->batching = 0;
	if (!c->closing) {
		start_write(c);
		/* A pause and resume during a record still in c->in stopped reading
		 * until that record was handled; it has been now. */
		pbrpc_conn_update_reading(c);
	}
	conn_leave(c);
}

/* Records held in c->in while reading was paused are handled on resume, from
 * the loop (never from inside the handler that resumed reading). */
static void drain_input(pbrpc_conn *c)
{
	if (!may_read(c))
		return;
	if (pbrpc_buf_len(&c->in) == 0) { /* handled meanwhile: just read again */
		pbrpc_conn_update_reading(c);
		return;
	}
	c->busy++;
	c->batching = 1;
	ssize_t used = handle_records(c, pbrpc_buf_head(&c->in), pbrpc_buf_len(&c->in));
	if (used > 0)
		pbrpc_buf_consume(&c->in, (size_t)used);
	c->batching = 0;
	if (!c->closing) {
		start_write(c);
		pbrpc_conn_update_reading(c); /* reads again once only a partial record is left */
	}
	conn_leave(c);
}

void pbrpc_conn_on_drain(uv_idle_t *idle)
{
	pbrpc_server *s = idle->data;
	uv_idle_stop(idle);
	for (pbrpc_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->teardown_pending) {
			if (c->busy == 0)
				conn_teardown(c);
			continue;
		}
		if (c->drain_pending) {
			c->drain_pending = 0;
			drain_input(c);
		}
	}
}
