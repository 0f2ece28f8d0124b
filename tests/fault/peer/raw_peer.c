/* raw_peer: the byte-level client of the fault programs; see raw_peer.h. */
#include "raw_peer.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "handshake.h"
#include "record.h"

static raw_peer_ctx g_ctx;

void raw_peer_init(const raw_peer_ctx *ctx)
{
	g_ctx = *ctx;
}

int raw_peer_setup(const raw_peer_ctx *ctx, const char *keyfile, uint8_t key[PBRPC_KEY_BYTES])
{
	raw_peer_init(ctx);
	pbrpc_error err = {0};
	if (sodium_init() < 0 || pbrpc_key_load(keyfile, key, &err) != PBRPC_OK) {
		printf("FAIL setup: %s\n", err.message);
		return -1;
	}
	if (echo_ok() != 0) {
		printf("FAIL setup: %s\n", g_ctx.why);
		return -1;
	}
	return 0;
}

int bad(const char *fmt, ...)
{
	if (!g_ctx.why || g_ctx.why[0])
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g_ctx.why, g_ctx.why_size, fmt, ap);
	va_end(ap);
	return -1;
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

off_t log_size(void)
{
	struct stat st;
	return stat(g_ctx.log, &st) == 0 ? st.st_size : 0;
}

uint32_t raw_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)(*state >> 16);
}

/* ---- a byte-level client ---------------------------------------------------- */

int raw_connect(raw *r)
{
	pbrpc_address a[PBRPC_ADDRESS_MAX];
	pbrpc_error err = {0};
	memset(r, 0, sizeof *r);
	r->fd = -1;
	pbrpc_buf_init(&r->in, 80u << 20);
	if (pbrpc_address_resolve(g_ctx.addr, a, &err) < 1)
		return bad("resolve %s: %s", g_ctx.addr, err.message);
	r->fd = socket(((struct sockaddr *)&a[0].sa)->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&a[0].sa, a[0].len) != 0)
		return bad("connect %s: %s", g_ctx.addr, strerror(errno));
	if (((struct sockaddr *)&a[0].sa)->sa_family != AF_UNIX) {
		int one = 1;
		setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return 0;
}

void raw_close(raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	pbrpc_buf_free(&r->in);
	free(r->rec);
	r->rec = NULL;
	pbrpc_channel_wipe(&r->ch);
}

void raw_abort(raw *r)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	raw_close(r);
}

int raw_send(raw *r, const void *p, size_t n)
{
	const uint8_t *b = p;
	if (r->dribble) {
		for (size_t i = 0; i < n; i++) {
			if (send(r->fd, b + i, 1, MSG_NOSIGNAL) != 1)
				return -1;
			usleep(200);
		}
		return 0;
	}
	while (n > 0) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLOUT};
		if (poll(&pfd, 1, WAIT_MS) != 1)
			return bad("send: timed out");
		ssize_t w = send(r->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return -1; /* the server may already have closed: callers decide */
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more bytes into r->in. 1: got some, 0: EOF or reset, -1: timeout. */
int raw_fill(raw *r, int64_t until)
{
	for (;;) {
		int left = (int)(until - now_ms());
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		if (pbrpc_buf_reserve(&r->in, 64 << 10) != 0)
			return 0;
		ssize_t n =
		    recv(r->fd, pbrpc_buf_tail(&r->in), pbrpc_buf_room(&r->in), MSG_DONTWAIT);
		if (n > 0) {
			pbrpc_buf_commit(&r->in, (size_t)n);
			return 1;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return 0; /* EOF, ECONNRESET */
	}
}

/* Reads one whole record into r->rec. 1: got it; 0: closed; -1: timeout. */
int raw_record_within(raw *r, uint32_t *body_len, int wait_ms)
{
	int64_t until = now_ms() + wait_ms;
	for (;;) {
		int rc = pbrpc_record_check(pbrpc_buf_head(&r->in), pbrpc_buf_len(&r->in),
		                            PBRPC_MAX_MAX_RECORD, body_len);
		if (rc == PBRPC_RECORD_BAD)
			return bad("server sent a record of bad length %u", *body_len);
		if (rc == PBRPC_RECORD_READY) {
			size_t n = PBRPC_RECORD_HEADER + *body_len;
			free(r->rec);
			r->rec = malloc(n);
			if (!r->rec)
				return bad("out of memory");
			memcpy(r->rec, pbrpc_buf_head(&r->in), n);
			pbrpc_buf_consume(&r->in, n);
			return 1;
		}
		int f = raw_fill(r, until);
		if (f <= 0)
			return f;
	}
}

int raw_record(raw *r, uint32_t *body_len)
{
	return raw_record_within(r, body_len, WAIT_MS);
}

/* Waits until the server closes. Returns its delay in ms, or -1 on timeout. */
int64_t raw_wait_closed(raw *r, int timeout_ms)
{
	int64_t start = now_ms(), until = start + timeout_ms;
	for (;;) {
		pbrpc_buf_consume(&r->in, pbrpc_buf_len(&r->in)); /* discard whatever came */
		int f = raw_fill(r, until);
		if (f == 0)
			return now_ms() - start;
		if (f < 0)
			return -1;
	}
}

int raw_handshake(raw *r, const uint8_t key[PBRPC_KEY_BYTES], uint8_t *rec1, size_t *rec1_len,
                  uint8_t rec4[38])
{
	pbrpc_handshake hs;
	pbrpc_buf out;
	int rc = -1;
	pbrpc_buf_init(&out, 1 << 16);
	pbrpc_handshake_init(&hs, 0, key, PBRPC_DEFAULT_MAX_RECORD);
	if (pbrpc_handshake_client_hello(&hs, &out) != 0) {
		bad("client hello");
		goto out;
	}
	if (rec1) {
		*rec1_len = pbrpc_buf_len(&out);
		memcpy(rec1, pbrpc_buf_head(&out), *rec1_len);
	}
	if (raw_send(r, pbrpc_buf_head(&out), pbrpc_buf_len(&out)) != 0)
		goto out;
	pbrpc_buf_consume(&out, pbrpc_buf_len(&out));
	for (int i = 0; i < 2; i++) {
		uint32_t len;
		if (raw_record(r, &len) != 1) {
			bad("handshake: no record %d", i + 2);
			goto out;
		}
		if (pbrpc_handshake_recv(&hs, r->rec, PBRPC_RECORD_HEADER + len, &out) ==
		    PBRPC_HS_FAILED) {
			bad("handshake: %s", hs.error);
			goto out;
		}
	}
	if (rec4 && pbrpc_buf_len(&out) == 38)
		memcpy(rec4, pbrpc_buf_head(&out), 38);
	if (raw_send(r, pbrpc_buf_head(&out), pbrpc_buf_len(&out)) != 0)
		goto out;
	pbrpc_handshake_channel(&hs, &r->ch);
	r->peer_max = hs.peer_max_record;
	rc = 0;
out:
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&hs);
	return rc;
}

int raw_send_hello(raw *r, const uint8_t key[PBRPC_KEY_BYTES], size_t short_by)
{
	pbrpc_handshake hs;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	pbrpc_handshake_init(&hs, 0, key, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_handshake_client_hello(&hs, &out);
	int rc = raw_send(r, pbrpc_buf_head(&out), pbrpc_buf_len(&out) - short_by);
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&hs);
	return rc;
}

int raw_open(raw *r)
{
	if (raw_connect(r) != 0 || raw_handshake(r, g_ctx.key, NULL, NULL, NULL) != 0) {
		raw_close(r);
		return -1;
	}
	return 0;
}

/* Seals a frame: a malloc'd record in *out, its length returned (0: failed). */
size_t seal_frame(raw *r, const pbrpc_frame *f, const ProtobufCMessage *msg, uint8_t **out)
{
	pbrpc_buf b;
	pbrpc_buf_init(&b, (size_t)PBRPC_MAX_MAX_RECORD + 64);
	if (pbrpc_frame_append_sealed(&b, &r->ch, f, msg, r->peer_max) != 0) {
		pbrpc_buf_free(&b);
		*out = NULL;
		return 0;
	}
	*out = b.data; /* start is 0: nothing was consumed */
	return pbrpc_buf_len(&b);
}

int send_frame(raw *r, const pbrpc_frame *f, const ProtobufCMessage *msg)
{
	uint8_t *rec;
	size_t n = seal_frame(r, f, msg, &rec);
	if (!n)
		return bad("cannot seal a frame");
	int rc = raw_send(r, rec, n);
	free(rec);
	return rc;
}

/* Opens one received record (header + len) and decodes its frame. */
int open_frame(raw *r, uint8_t *rec, uint32_t len, pbrpc_frame *f)
{
	size_t plain;
	if (pbrpc_channel_open(&r->ch, rec, len, &plain) != 0)
		return bad("a record from the server failed to open");
	if (pbrpc_frame_decode(rec + PBRPC_RECORD_HEADER, plain, f) != 0)
		return bad("a malformed frame from the server");
	return 0;
}

/* Receives the next frame. 1: got it; 0: closed; -1: timeout or forged. */
int recv_frame_within(raw *r, pbrpc_frame *f, int wait_ms)
{
	uint32_t len;
	int got = raw_record_within(r, &len, wait_ms);
	if (got <= 0)
		return got;
	return open_frame(r, r->rec, len, f) == 0 ? 1 : -1;
}

int recv_frame(raw *r, pbrpc_frame *f)
{
	return recv_frame_within(r, f, WAIT_MS);
}

int recv_status(raw *r, uint64_t id, pbrpc_frame *f)
{
	for (int i = 0; i < 1000; i++) {
		int got = recv_frame(r, f);
		if (got <= 0)
			return bad("no STATUS for call %llu (%s)", (unsigned long long)id,
			           got ? "timed out" : "connection closed");
		if (f->call_id == id && f->kind == PBRPC_FRAME_STATUS)
			return 0;
	}
	return bad("no STATUS for call %llu", (unsigned long long)id);
}

pbrpc_frame request(uint64_t id, const pbrpc_method_desc *m, uint32_t flags)
{
	pbrpc_frame f = {.call_id = id,
	                 .kind = PBRPC_FRAME_REQUEST,
	                 .flags = flags,
	                 .method = m->full_name,
	                 .method_len = strlen(m->full_name)};
	return f;
}

Pbrpc__Echo__EchoRequest echo_req(const char *text)
{
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	req.data.data = (uint8_t *)text;
	req.data.len = strlen(text);
	return req;
}

/* ---- the library client: is rpcd still serving? ------------------------------ */

pbrpc_client *library_connect(const uint8_t *key, pbrpc_error *err)
{
	pbrpc_client_options o;
	pbrpc_client_options_init(&o);
	o.key = key;
	o.connect_timeout_ms = WAIT_MS;
	return pbrpc_client_connect(g_ctx.addr, &o, err);
}

int echo_ok(void)
{
	pbrpc_error err = {0};
	pbrpc_client *c = library_connect(g_ctx.key, &err);
	if (!c)
		return bad("rpcd no longer serving: connect: %s", err.message);
	Pbrpc__Echo__EchoRequest req = echo_req("still there?");
	Pbrpc__Echo__EchoReply *reply = NULL;
	pbrpc_call_options co = {.timeout_ms = WAIT_MS};
	pbrpc_status st = pbrpc_echo_echo_say(c, &req, &reply, &co, &err);
	int ok = st == PBRPC_OK && reply && reply->data.len == req.data.len &&
	         memcmp(reply->data.data, req.data.data, req.data.len) == 0;
	if (!ok)
		bad("rpcd no longer serving: echo: %s (%s)", err.message, pbrpc_status_name(st));
	pbrpc_message_free(&reply->base);
	pbrpc_client_close(c);
	return ok ? 0 : -1;
}
