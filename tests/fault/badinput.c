/* fault_badinput: hostile bytes against a real rpcd, over real sockets.
 *
 *   fault_badinput ADDR KEYFILE LOGFILE MAXCALLS
 *
 * tests/integration/fault.sh starts rpcd (-v --handshake-timeout 500
 * --max-calls MAXCALLS) and runs this. Each case prints PASS or FAIL: the bad
 * input gets a clear status or a closed connection, rpcd's log (LOGFILE)
 * shows a line for it, and a normal echo call through the library still
 * works afterwards. Below the handshake the test speaks the protocol at byte
 * level with the library's internals over a plain blocking socket (the
 * byte-level client in peer/raw_peer.c, shared with hostile.c); every wait is
 * bounded by poll(). */
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
#include "buf.h"
#include "channel.h"
#include "frame.h"
#include "handshake.h"
#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"
#include "pbrpc/file.pbrpc.h"
#include "record.h"

#include "peer/raw_peer.h"

static const char *g_log;
static uint8_t g_key[PBRPC_KEY_BYTES];
static unsigned g_max_calls;
static int g_failed;

/* ---- reporting ------------------------------------------------------------ */

static char g_why[512]; /* why the current case failed (the first reason wins) */

/* Waits (bounded by wait_ms) for text in the log past offset `from`. */
static int log_has_within(off_t from, const char *text, int wait_ms)
{
	int64_t until = now_ms() + wait_ms;
	for (;;) {
		FILE *f = fopen(g_log, "r");
		if (f) {
			char line[1024];
			int found = 0;
			fseeko(f, from, SEEK_SET);
			while (!found && fgets(line, sizeof line, f))
				found = strstr(line, text) != NULL;
			fclose(f);
			if (found)
				return 1;
		}
		if (now_ms() > until)
			return 0;
		usleep(20000);
	}
}

/* ---- the cases ------------------------------------------------------------------ */

/* Sends bytes on a fresh connection (no handshake) and expects a close. */
static int bytes_then_closed(const void *p, size_t n, int shut_write)
{
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	raw_send(&r, p, n);
	if (shut_write)
		shutdown(r.fd, SHUT_WR);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open after %d ms", WAIT_MS) : 0;
}

static int case_over_cap_handshake(void)
{
	uint8_t h[4];
	pbrpc_put_be32(h, PBRPC_HANDSHAKE_MAX_RECORD + 1);
	return bytes_then_closed(h, 4, 0);
}

static int case_over_cap_sealed(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	uint8_t h[4 + 16] = {0};
	pbrpc_put_be32(h, 0xfffffff0u);
	raw_send(&r, h, sizeof h);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_zero_length(void)
{
	uint8_t h[8] = {0};
	return bytes_then_closed(h, sizeof h, 0);
}

static int case_truncated_then_eof(void)
{
	uint8_t h[4 + 10];
	pbrpc_put_be32(h, 100);
	memset(h + 4, 'x', 10);
	return bytes_then_closed(h, sizeof h, 1);
}

static int case_truncated_sealed_then_eof(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("cut short");
	uint8_t *rec;
	size_t n = seal_frame(&r, &f, &req.base, &rec);
	raw_send(&r, rec, n - 5);
	free(rec);
	shutdown(r.fd, SHUT_WR);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_garbage(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	if (bytes_then_closed(http, sizeof http - 1, 0) != 0)
		return -1;
	uint8_t junk[4096];
	srand(42);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)rand();
	return bytes_then_closed(junk, sizeof junk, 0);
}

static int case_invalid_protobuf_first(void)
{
	uint8_t rec[4 + 32];
	pbrpc_put_be32(rec, 32);
	memset(rec + 4, 0xff, 32);
	return bytes_then_closed(rec, sizeof rec, 0);
}

static int case_invalid_protobuf_sealed(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	uint8_t rec[4 + 24 + 16];
	memset(rec + 4, 0xff, 24); /* wire type 7: not a Frame */
	size_t n = pbrpc_channel_seal(&r.ch, rec, 24);
	raw_send(&r, rec, n);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_wrong_key(void)
{
	uint8_t other[PBRPC_KEY_BYTES];
	randombytes_buf(other, sizeof other);
	pbrpc_error err = {0};
	pbrpc_client *c = library_connect(other, &err);
	if (c) {
		pbrpc_client_close(c);
		return bad("connected with the wrong key");
	}
	if (err.code != PBRPC_UNAUTHENTICATED)
		return bad("status %s, want UNAUTHENTICATED (%s)", pbrpc_status_name(err.code),
		           err.message);
	if (!strstr(err.message, "authentication failed"))
		return bad("message '%s' does not say authentication failed", err.message);
	return 0;
}

/* A wrong key at byte level too: a proof that does not verify. */
static int case_bad_client_proof(void)
{
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	raw_send_hello(&r, g_key, 0);
	uint32_t len;
	if (raw_record(&r, &len) != 1 || raw_record(&r, &len) != 1) {
		raw_close(&r);
		return bad("no ServerHello and proof");
	}
	/* Reflect the server's own proof (record 3) back at it. */
	raw_send(&r, r.rec, PBRPC_RECORD_HEADER + len);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_flipped_bit(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("flip");
	uint8_t *rec;
	size_t n = seal_frame(&r, &f, &req.base, &rec);
	rec[n / 2] ^= 0x10;
	raw_send(&r, rec, n);
	free(rec);
	pbrpc_frame reply;
	int got = recv_frame(&r, &reply);
	if (got > 0) {
		raw_close(&r);
		return bad("a forged record got an answer");
	}
	g_why[0] = '\0';
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_replay(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("once");
	uint8_t *rec;
	size_t n = seal_frame(&r, &f, &req.base, &rec);
	pbrpc_frame st;
	if (raw_send(&r, rec, n) != 0 || recv_status(&r, 1, &st) != 0 || st.status != PBRPC_OK) {
		free(rec);
		raw_close(&r);
		return bad("the genuine record was not answered OK");
	}
	raw_send(&r, rec, n); /* the very same bytes again */
	free(rec);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open after a replay") : 0;
}

static int case_unknown_method(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	static const char name[] = "pbrpc.nope.Nope.Nothing";
	pbrpc_frame f = {.call_id = 7,
	                 .kind = PBRPC_FRAME_REQUEST,
	                 .method = name,
	                 .method_len = strlen(name),
	                 .flags = PBRPC_FLAG_HAS_MESSAGE};
	pbrpc_frame st;
	int rc = send_frame(&r, &f, NULL);
	if (rc == 0)
		rc = recv_status(&r, 7, &st);
	if (rc == 0 && st.status != PBRPC_UNIMPLEMENTED)
		rc = bad("status %s, want UNIMPLEMENTED", pbrpc_status_name((int)st.status));
	if (rc == 0 && !memmem(st.message, st.message_len, name, strlen(name)))
		rc =
		    bad("message '%.*s' does not name the method", (int)st.message_len, st.message);
	/* The connection stays usable: it was the call that failed. */
	if (rc == 0) {
		pbrpc_frame ok = request(8, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
		Pbrpc__Echo__EchoRequest req = echo_req("after");
		if (send_frame(&r, &ok, &req.base) != 0 || recv_status(&r, 8, &st) != 0 ||
		    st.status != PBRPC_OK)
			rc = bad("the connection did not serve the next call");
	}
	/* A name with control bytes and a very long name. */
	if (rc == 0) {
		char evil[2000];
		memset(evil, 'A', sizeof evil);
		memcpy(evil, "x\n\x1b[31m\0y", 9);
		pbrpc_frame e = {.call_id = 9,
		                 .kind = PBRPC_FRAME_REQUEST,
		                 .method = evil,
		                 .method_len = sizeof evil};
		if (send_frame(&r, &e, NULL) != 0 || recv_status(&r, 9, &st) != 0 ||
		    st.status != PBRPC_UNIMPLEMENTED)
			rc = bad("a long hostile method name was not UNIMPLEMENTED");
		for (size_t i = 0; rc == 0 && i < st.message_len; i++)
			if ((unsigned char)st.message[i] < 0x20)
				rc = bad("the status message echoes control bytes");
	}
	raw_close(&r);
	return rc;
}

static int case_silent_socket(void)
{
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	if (t < 0)
		return bad("a silent socket was still open after %d ms", WAIT_MS);
	if (t < 300 || t > 2500)
		return bad("closed after %lld ms, want about 500", (long long)t);
	printf("  silent socket closed after %lld ms\n", (long long)t);
	return 0;
}

/* A handshake that stops half way is closed at the limit too. */
static int case_stalled_handshake(void)
{
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	raw_send_hello(&r, g_key, 1); /* all but one byte */
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	if (t < 0)
		return bad("still open after %d ms", WAIT_MS);
	return t > 2500 ? bad("closed after %lld ms, want about 500", (long long)t) : 0;
}

static int case_vanish_mid_call(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = request(3, PBRPC_ECHO_ECHO_CHAT_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("are you there");
	pbrpc_frame got;
	if (send_frame(&r, &f, &req.base) != 0 || recv_frame(&r, &got) != 1 ||
	    got.kind != PBRPC_FRAME_MESSAGE || got.call_id != 3) {
		raw_close(&r);
		return bad("the chat did not answer its first message");
	}
	pbrpc_frame more = {
	    .call_id = 3, .kind = PBRPC_FRAME_MESSAGE, .flags = PBRPC_FLAG_HAS_MESSAGE};
	send_frame(&r, &more, &req.base);
	raw_abort(&r); /* RST with a reply possibly in flight */

	/* And a FIN mid-call, with a half-sent record. */
	if (raw_open(&r) != 0)
		return -1;
	send_frame(&r, &f, &req.base);
	uint8_t *rec;
	size_t n = seal_frame(&r, &more, &req.base, &rec);
	raw_send(&r, rec, n / 2);
	free(rec);
	raw_close(&r);
	return 0;
}

static int case_bad_request_payload(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = request(5, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	f.payload = junk;
	f.payload_len = sizeof junk;
	pbrpc_frame st;
	int rc = send_frame(&r, &f, NULL);
	if (rc == 0)
		rc = recv_status(&r, 5, &st);
	if (rc == 0 && st.status != PBRPC_INVALID_ARGUMENT)
		rc = bad("status %s, want INVALID_ARGUMENT", pbrpc_status_name((int)st.status));
	/* The same inside a streaming call's MESSAGE. */
	if (rc == 0) {
		pbrpc_frame c = request(6, PBRPC_ECHO_ECHO_CHAT_METHOD, 0);
		pbrpc_frame m = {.call_id = 6,
		                 .kind = PBRPC_FRAME_MESSAGE,
		                 .flags = PBRPC_FLAG_HAS_MESSAGE,
		                 .payload = junk,
		                 .payload_len = sizeof junk};
		if (send_frame(&r, &c, NULL) != 0 || send_frame(&r, &m, NULL) != 0 ||
		    recv_status(&r, 6, &st) != 0)
			rc = -1;
		else if (st.status != PBRPC_INVALID_ARGUMENT)
			rc = bad("chat: status %s, want INVALID_ARGUMENT",
			         pbrpc_status_name((int)st.status));
	}
	raw_close(&r);
	return rc;
}

static int case_call_id_zero(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = request(0, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("zero");
	send_frame(&r, &f, &req.base);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_too_many_calls(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	int rc = 0;
	uint64_t id;
	for (id = 1; id <= g_max_calls && rc == 0; id++) {
		pbrpc_frame f = request(id, PBRPC_ECHO_ECHO_CHAT_METHOD, 0); /* stays open */
		rc = send_frame(&r, &f, NULL);
	}
	pbrpc_frame over = request(id, PBRPC_ECHO_ECHO_CHAT_METHOD, 0), st;
	if (rc == 0)
		rc = send_frame(&r, &over, NULL);
	if (rc == 0)
		rc = recv_status(&r, id, &st);
	if (rc == 0 && st.status != PBRPC_RESOURCE_EXHAUSTED)
		rc = bad("status %s, want RESOURCE_EXHAUSTED", pbrpc_status_name((int)st.status));
	/* Ending one call makes room for another. */
	if (rc == 0) {
		pbrpc_frame hc = {.call_id = 1, .kind = PBRPC_FRAME_HALF_CLOSE};
		if (send_frame(&r, &hc, NULL) != 0 || recv_status(&r, 1, &st) != 0 ||
		    st.status != PBRPC_OK)
			rc = bad("half-closing call 1 did not end it");
	}
	if (rc == 0) {
		pbrpc_frame f =
		    request(1000000, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
		Pbrpc__Echo__EchoRequest req = echo_req("room again");
		if (send_frame(&r, &f, &req.base) != 0 || recv_status(&r, 1000000, &st) != 0 ||
		    st.status != PBRPC_OK)
			rc = bad("no room for a new call after one ended");
	}
	raw_close(&r);
	return rc;
}

static int case_status_from_client(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = {.call_id = 1, .kind = PBRPC_FRAME_STATUS, .status = 0};
	send_frame(&r, &f, NULL);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

static int case_unknown_kind(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f = {.call_id = 1, .kind = 99};
	send_frame(&r, &f, NULL);
	int64_t t = raw_wait_closed(&r, WAIT_MS);
	raw_close(&r);
	return t < 0 ? bad("connection still open") : 0;
}

/* Frames for calls that do not exist are ignored; the connection goes on. */
static int case_frames_for_unknown_calls(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame m = {
	    .call_id = 42, .kind = PBRPC_FRAME_MESSAGE, .flags = PBRPC_FLAG_HAS_MESSAGE};
	pbrpc_frame h = {.call_id = 43, .kind = PBRPC_FRAME_HALF_CLOSE};
	pbrpc_frame c = {.call_id = 44, .kind = PBRPC_FRAME_CANCEL};
	pbrpc_frame f = request(45, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE), st;
	Pbrpc__Echo__EchoRequest req = echo_req("fine");
	int rc = send_frame(&r, &m, &req.base);
	if (rc == 0)
		rc = send_frame(&r, &h, NULL);
	if (rc == 0)
		rc = send_frame(&r, &c, NULL);
	if (rc == 0)
		rc = send_frame(&r, &f, &req.base);
	if (rc == 0 && (recv_status(&r, 45, &st) != 0 || st.status != PBRPC_OK))
		rc = bad("the next call failed");
	raw_close(&r);
	return rc;
}

/* The record codec takes bytes in any split: a whole handshake and a call
 * sent one byte per write. */
static int case_byte_at_a_time(void)
{
	raw r;
	int rc = raw_connect(&r);
	r.dribble = 1;
	if (rc == 0)
		rc = raw_handshake(&r, g_key, NULL, NULL, NULL);
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE), st;
	Pbrpc__Echo__EchoRequest req = echo_req("slowly");
	if (rc == 0)
		rc = send_frame(&r, &f, &req.base);
	r.dribble = 0;
	if (rc == 0 && (recv_status(&r, 1, &st) != 0 || st.status != PBRPC_OK))
		rc = bad("a call sent byte by byte was not answered OK");
	raw_close(&r);
	return rc;
}

/* Many records in one write: every call is answered. */
static int case_pipelined(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	enum { N = 300 };
	pbrpc_buf b;
	pbrpc_buf_init(&b, 1 << 20);
	Pbrpc__Echo__EchoRequest req = echo_req("pipelined");
	for (uint64_t id = 1; id <= N; id++) {
		pbrpc_frame f = request(id, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
		pbrpc_frame_append_sealed(&b, &r.ch, &f, &req.base, r.peer_max);
	}
	int rc = raw_send(&r, pbrpc_buf_head(&b), pbrpc_buf_len(&b));
	pbrpc_buf_free(&b);
	int ok = 0;
	while (rc == 0 && ok < N) {
		pbrpc_frame st;
		int got = recv_frame(&r, &st);
		if (got != 1)
			rc = bad("%d of %d pipelined calls answered", ok, N);
		else if (st.kind == PBRPC_FRAME_STATUS && st.status == PBRPC_OK)
			ok++;
		else if (st.kind == PBRPC_FRAME_STATUS)
			rc = bad("call %llu: %s", (unsigned long long)st.call_id,
			         pbrpc_status_name((int)st.status));
	}
	raw_close(&r);
	return rc;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

/* A record of exactly the server's limit is taken; one byte more is not. */
static int case_record_at_the_limit(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	const uint32_t max = PBRPC_DEFAULT_MAX_RECORD; /* rpcd's default */
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE), st;
	size_t dl = max, plen = 0;
	for (; dl > max - 64; dl--) {
		plen = 1 + varint_len(dl) + dl; /* EchoRequest{data = dl bytes} */
		if (pbrpc_frame_size(&f, plen) + PBRPC_SEAL_OVERHEAD == max)
			break;
	}
	uint8_t *payload = malloc(plen);
	if (!payload) {
		raw_close(&r);
		return bad("out of memory");
	}
	payload[0] = 0x0a;
	size_t at = 1;
	uint64_t v = dl;
	for (; v >= 0x80; v >>= 7)
		payload[at++] = (uint8_t)(v | 0x80);
	payload[at++] = (uint8_t)v;
	memset(payload + at, 'm', dl);
	f.payload = payload;
	f.payload_len = plen;
	int rc = send_frame(&r, &f, NULL);
	free(payload);
	if (rc == 0)
		rc = recv_status(&r, 1, &st);
	/* The echo of it cannot fit our own limit: a clear status, not a close. */
	if (rc == 0 && st.status != PBRPC_OK && st.status != PBRPC_RESOURCE_EXHAUSTED)
		rc = bad("status %s for a record of exactly the limit",
		         pbrpc_status_name((int)st.status));
	if (rc == 0) {
		uint8_t h[4 + 64] = {0};
		pbrpc_put_be32(h, max + 1);
		raw_send(&r, h, sizeof h);
		if (raw_wait_closed(&r, WAIT_MS) < 0)
			rc = bad("a record one byte over the limit left the connection open");
	}
	raw_close(&r);
	return rc;
}

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
/* A MESSAGE after the one request of a unary (answered asynchronously) or
 * server-streaming call: refused, while its handler may still be at work. */
static int case_second_message_single_request(void)
{
	const pbrpc_method_desc *methods[] = {PBRPC_FILE_FILE_STAT_METHOD,
	                                      PBRPC_FILE_FILE_GET_METHOD};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < 2; i++) {
		raw r;
		if (raw_open(&r) != 0)
			return -1;
		uint64_t id = 40 + i;
		pbrpc_frame f =
		    request(id, methods[i], PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE);
		pbrpc_frame more = {
		    .call_id = id, .kind = PBRPC_FRAME_MESSAGE, .flags = PBRPC_FLAG_HAS_MESSAGE};
		Pbrpc__File__StatRequest stat = PBRPC__FILE__STAT_REQUEST__INIT;
		Pbrpc__File__GetRequest get = PBRPC__FILE__GET_REQUEST__INIT;
		stat.path.data = get.path.data = (uint8_t *)"no-such-file";
		stat.path.len = get.path.len = strlen("no-such-file");
		const ProtobufCMessage *msg = i == 0 ? &stat.base : &get.base;
		uint8_t *a, *b;
		size_t na = seal_frame(&r, &f, msg, &a), nb = seal_frame(&r, &more, msg, &b);
		uint8_t *both = malloc(na + nb);
		memcpy(both, a, na);
		memcpy(both + na, b, nb);
		pbrpc_frame st;
		rc =
		    raw_send(&r, both, na + nb); /* one write: the second lands before the answer */
		free(a);
		free(b);
		free(both);
		if (rc == 0)
			rc = recv_status(&r, id, &st);
		if (rc == 0 && st.status != PBRPC_INVALID_ARGUMENT)
			rc = bad("%s: status %s, want INVALID_ARGUMENT", methods[i]->full_name,
			         pbrpc_status_name((int)st.status));
		usleep(200000); /* let the orphaned work finish inside rpcd */
		raw_close(&r);
	}
	return rc;
}

/* A method name with a NUL inside matches no method (and reads nothing past one). */
static int case_method_name_with_nul(void)
{
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	static const char name[] = "pbrpc.echo.Echo.Say\0trailing junk";
	pbrpc_frame f = {.call_id = 5,
	                 .kind = PBRPC_FRAME_REQUEST,
	                 .method = name,
	                 .method_len = sizeof name - 1,
	                 .flags = PBRPC_FLAG_HAS_MESSAGE};
	Pbrpc__Echo__EchoRequest req = echo_req("x");
	pbrpc_frame st;
	int rc = send_frame(&r, &f, &req.base);
	if (rc == 0)
		rc = recv_status(&r, 5, &st);
	if (rc == 0 && st.status != PBRPC_UNIMPLEMENTED)
		rc = bad("status %s, want UNIMPLEMENTED", pbrpc_status_name((int)st.status));
	raw_close(&r);
	return rc;
}

/* A client that sends its calls and half-closes still gets every reply.
 * The replies (8 x 100 KiB) stay under rpcd's 1 MiB output high-water mark:
 * past it rpcd stops reading, and a client that writes everything before it
 * reads anything would then wait forever on its own send. */
static int case_half_close_after_calls(void)
{
	enum { CALLS = 8, SIZE = 100 * 1024 };
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	char *text = malloc(SIZE + 1);
	memset(text, 'h', SIZE);
	text[SIZE] = '\0';
	Pbrpc__Echo__EchoRequest req = echo_req(text);
	int rc = 0;
	for (int i = 0; rc == 0 && i < CALLS; i++) {
		pbrpc_frame f = request(100 + (uint64_t)i, PBRPC_ECHO_ECHO_SAY_METHOD,
		                        PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE);
		rc = send_frame(&r, &f, &req.base);
	}
	free(text);
	shutdown(r.fd, SHUT_WR);
	int replies = 0;
	pbrpc_frame st;
	while (rc == 0 && replies < CALLS && recv_frame(&r, &st) == 1)
		replies += st.kind == PBRPC_FRAME_STATUS && st.status == PBRPC_OK;
	if (rc == 0 && replies != CALLS)
		rc = bad("%d of %d replies before the close", replies, CALLS);
	raw_close(&r);
	return rc;
}

static uint32_t rnd(void)
{
	return raw_rnd(&g_rng);
}

/* Properly sealed frames with random fields: every kind, small call ids that
 * collide, real and unknown method names, random or real payloads, flags and
 * deadlines, then an abrupt close. Only echo, time and reflection methods:
 * nothing that runs programs or writes files. */
static int case_random_sealed_frames(void)
{
	static const char *const methods[] = {
	    "pbrpc.echo.Echo.Say",  "pbrpc.echo.Echo.Chat",
	    "pbrpc.time.Time.Now",  "pbrpc.reflection.Reflection.List",
	    "pbrpc.echo.Echo.Nope", "",
	    "pbrpc.echo.Echo.Sa",
	};
	/* FAULT_SEED and FAULT_CONNS widen the search by hand. */
	const char *seed = getenv("FAULT_SEED"), *conns = getenv("FAULT_CONNS");
	if (seed)
		g_rng = strtoull(seed, NULL, 0) | 1;
	int n_conns = conns ? atoi(conns) : 150;
	for (int conn = 0; conn < n_conns; conn++) {
		raw r;
		if (raw_open(&r) != 0)
			return -1;
		pbrpc_buf b;
		pbrpc_buf_init(&b, 8u << 20);
		int frames = 1 + (int)(rnd() % 60);
		for (int i = 0; i < frames; i++) {
			uint8_t junk[64];
			Pbrpc__Echo__EchoRequest req = echo_req("random");
			req.upper = rnd() & 1;
			pbrpc_frame f = {
			    .call_id = rnd() % 6, .kind = rnd() % 7, .flags = rnd() % 4};
			if (rnd() % 3 == 0) {
				const char *m =
				    methods[rnd() % (sizeof methods / sizeof methods[0])];
				f.method = m;
				f.method_len = strlen(m);
			}
			if (rnd() % 4 == 0)
				f.timeout_ms = rnd() % 50;
			const ProtobufCMessage *msg = NULL;
			switch (rnd() % 3) {
			case 0: msg = &req.base; break;
			case 1:
				for (size_t k = 0; k < sizeof junk; k++)
					junk[k] = (uint8_t)rnd();
				f.payload = junk;
				f.payload_len = rnd() % sizeof junk;
				break;
			default: break;
			}
			pbrpc_frame_append_sealed(&b, &r.ch, &f, msg, r.peer_max);
		}
		raw_send(&r, pbrpc_buf_head(&b), pbrpc_buf_len(&b));
		pbrpc_buf_free(&b);
		if (rnd() % 2) { /* sometimes read what comes back first */
			pbrpc_frame st;
			for (int k = 0; k < 5 && recv_frame_within(&r, &st, 20) == 1; k++)
				;
			g_why[0] = '\0';
		}
		if (rnd() % 2)
			raw_abort(&r);
		else
			raw_close(&r);
	}
	return 0;
}

typedef struct fault_case {
	const char *name;
	int (*run)(void);
	const char *log; /* a line that must appear in rpcd's log; alternatives split by | */
} fault_case;

static const fault_case cases[] = {
    {"length over the cap (handshake)", case_over_cap_handshake, "bad record length 1025"},
    {"length over the cap (sealed)", case_over_cap_sealed, "bad record length 4294967280"},
    {"zero length", case_zero_length, "bad record length 0"},
    {"truncated record then EOF", case_truncated_then_eof, "connection ended inside a record"},
    {"truncated sealed record then EOF", case_truncated_sealed_then_eof,
     "connection ended inside a record"},
    {"garbage bytes", case_garbage, "bad record length"},
    {"invalid protobuf as first handshake record", case_invalid_protobuf_first,
     "first record is not a ClientHello"},
    {"invalid protobuf in a sealed record", case_invalid_protobuf_sealed, "malformed frame"},
    {"wrong key", case_wrong_key, "disconnected during handshake"},
    {"reflected server proof", case_bad_client_proof, "client did not prove the key"},
    {"flipped bit in a sealed record", case_flipped_bit, "record failed authentication"},
    {"replayed record", case_replay, "record failed authentication"},
    {"unknown method", case_unknown_method, "unknown method 'pbrpc.nope.Nope.Nothing'"},
    {"silent socket closed at the handshake limit", case_silent_socket,
     "handshake not finished in time"},
    {"handshake stalled half way", case_stalled_handshake, "handshake not finished in time"},
    {"client vanishes mid-call", case_vanish_mid_call,
     "connection reset by peer|broken pipe|disconnected|connection ended inside a record"},
    {"request payload not a valid message", case_bad_request_payload,
     "not a valid pbrpc.echo.EchoRequest"},
    {"call id 0", case_call_id_zero, "call id 0"},
    {"too many calls at once", case_too_many_calls, "too many calls"},
    {"STATUS frame from the client", case_status_from_client, "unexpected frame kind"},
    {"unknown frame kind", case_unknown_kind, "unexpected frame kind"},
    {"frames for calls that do not exist", case_frames_for_unknown_calls, NULL},
    {"handshake and call one byte at a time", case_byte_at_a_time, NULL},
    {"300 calls pipelined in one write", case_pipelined, NULL},
    {"150 connections of random sealed frames", case_random_sealed_frames, NULL},
    {"a second message on a single-request call", case_second_message_single_request,
     "takes a single request message"},
    {"a method name with a NUL inside", case_method_name_with_nul, "unknown method"},
    {"half-close after pipelined calls", case_half_close_after_calls, NULL},
    {"record of exactly the limit, then one byte over", case_record_at_the_limit,
     "bad record length 4194305 (limit 4194304)"},
};

/* Waits (bounded: WAIT_MS, a safety net) for any of the alternatives, all
 * looked for on each turn: one that never comes does not hold up the rest. */
static int log_has_any(off_t from, const char *alternatives)
{
	int64_t until = now_ms() + WAIT_MS;
	do {
		char buf[256];
		snprintf(buf, sizeof buf, "%s", alternatives);
		for (char *save = NULL, *alt = strtok_r(buf, "|", &save); alt;
		     alt = strtok_r(NULL, "|", &save))
			if (log_has_within(from, alt, 0))
				return 1;
		usleep(20000);
	} while (now_ms() <= until);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		/* tests/run.sh runs every fault_* program bare: nothing to do alone. */
		printf("fault_badinput runs from tests/integration/fault.sh "
		       "(usage: fault_badinput ADDR KEYFILE LOGFILE MAXCALLS)\n");
		return argc == 1 ? 0 : 2;
	}
	g_log = argv[3];
	g_max_calls = (unsigned)atoi(argv[4]);
	raw_peer_ctx peer = {
	    .addr = argv[1], .log = g_log, .key = g_key, .why = g_why, .why_size = sizeof g_why};
	if (raw_peer_setup(&peer, argv[2], g_key) != 0)
		return 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const fault_case *c = &cases[i];
		off_t from = log_size();
		g_why[0] = '\0';
		int64_t t0 = now_ms();
		int rc = c->run();
		if (rc == 0 && c->log && !log_has_any(from, c->log))
			rc = bad("rpcd logged no line with '%s'", c->log);
		if (rc == 0)
			rc = echo_ok();
		if (rc == 0) {
			printf("PASS %s (%lld ms)\n", c->name, (long long)(now_ms() - t0));
		} else {
			printf("FAIL %s: %s\n", c->name, g_why[0] ? g_why : "failed");
			g_failed = 1;
		}
		fflush(stdout);
	}
	sodium_memzero(g_key, sizeof g_key);
	return g_failed;
}
