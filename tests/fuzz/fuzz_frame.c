/* fuzz_frame.c - what follows the handshake: sealed records opened with the
 * fixed session keys of protocol.md 10.2 (channel.c), the Frame inside
 * decoded (frame.c), and its payload unpacked with the descriptor of the
 * method it names, as call.c (server) and client.c (client) do.
 *
 * Input: byte 0 picks the mode (bits 0-1) and the suite (bit 2):
 *   0  the rest is one Frame's bytes, decoded directly;
 *   1  the rest is one Frame's bytes, sealed by the client and opened by the
 *      server first (and a copy with one bit flipped must not open);
 *   2  the rest is the client's byte stream of sealed records, as on the wire;
 *   3  the rest is a sequence of opened records (BE32 length, Frame), handed
 *      in order to the real call layer (call.c) of one connection, whose
 *      replies must all open and decode (fuzz_conn.c).
 * Each decoded frame of modes 0-2 must also survive encode + seal + open +
 * decode unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "frame.h"
#include "fuzz_conn.h"
#include "fuzz_keys.h"
#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"
#include "pbrpc/exec.pbrpc.h"
#include "pbrpc/file.pbrpc.h"
#include "pbrpc/reflection.pbrpc.h"
#include "pbrpc/time.pbrpc.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_METHOD_NAME 256 /* as call.c */
#define MAX_BODY        (1u << 16)

static const pbrpc_service_desc *const services[] = {
    &pbrpc_echo_echo_service,
    &pbrpc_time_time_service,
    &pbrpc_exec_exec_service,
    &pbrpc_file_file_service,
    &pbrpc_reflection_reflection_service,
};
#define N_SERVICES (sizeof services / sizeof services[0])

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	check(sodium_init() >= 0);
	fuzz_server();
	return 0;
}

static const pbrpc_method_desc *method_named(const char *name, size_t len)
{
	if (len > MAX_METHOD_NAME)
		return NULL;
	for (size_t i = 0; i < N_SERVICES; i++)
		for (size_t j = 0; j < services[i]->n_methods; j++) {
			const char *full = services[i]->methods[j].full_name;
			if (strlen(full) == len && memcmp(full, name, len) == 0)
				return &services[i]->methods[j];
		}
	return NULL;
}

/* Frames without a method name belong to a call opened earlier: any method. */
static const pbrpc_method_desc *method_of_call(uint64_t call_id)
{
	size_t total = 0;
	for (size_t i = 0; i < N_SERVICES; i++)
		total += services[i]->n_methods;
	size_t k = (size_t)(call_id % total);
	for (size_t i = 0;; i++) {
		if (k < services[i]->n_methods)
			return &services[i]->methods[k];
		k -= services[i]->n_methods;
	}
}

static void unpack_payload(const ProtobufCMessageDescriptor *d, const pbrpc_frame *f)
{
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, f->payload_len, f->payload);
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* The server's view of a request, the client's of a reply. */
static void handle_payload(const pbrpc_frame *f)
{
	const pbrpc_method_desc *m = NULL;
	if (f->kind == PBRPC_FRAME_REQUEST)
		m = method_named(f->method, f->method_len);
	else if (f->kind == PBRPC_FRAME_MESSAGE || f->kind == PBRPC_FRAME_STATUS)
		m = method_of_call(f->call_id);
	if (!m)
		return;
	if (f->kind != PBRPC_FRAME_STATUS)
		unpack_payload(m->input, f);
	if (f->kind != PBRPC_FRAME_REQUEST)
		unpack_payload(m->output, f);
}

static int same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void check_same_frame(const pbrpc_frame *a, const pbrpc_frame *b)
{
	check(a->call_id == b->call_id && a->kind == b->kind && a->flags == b->flags &&
	      a->timeout_ms == b->timeout_ms && a->status == b->status);
	check(same_bytes(a->method, a->method_len, b->method, b->method_len));
	check(same_bytes(a->payload, a->payload_len, b->payload, b->payload_len));
	check(same_bytes(a->message, a->message_len, b->message, b->message_len));
}

/* Encodes f the way the server sends, seals it, opens it and decodes it again. */
static void check_round_trip(const pbrpc_frame *f, int suite)
{
	pbrpc_channel tx, rx;
	pbrpc_buf out;
	pbrpc_channel_init(&tx, suite, fuzz_key_s2c, fuzz_key_c2s);
	pbrpc_channel_init(&rx, suite, fuzz_key_c2s, fuzz_key_s2c);
	pbrpc_buf_init(&out, 2 * (size_t)MAX_BODY);
	size_t plain = pbrpc_frame_size(f, f->payload_len);
	int rc = pbrpc_frame_append_sealed(&out, &tx, f, NULL, MAX_BODY);
	check(rc == (plain + PBRPC_SEAL_OVERHEAD > MAX_BODY ? -1 : 0));
	if (rc == 0) {
		uint32_t body_len;
		size_t plain_len;
		pbrpc_frame g;
		check(pbrpc_record_check(pbrpc_buf_head(&out), pbrpc_buf_len(&out), MAX_BODY,
		                         &body_len) == PBRPC_RECORD_READY);
		check(PBRPC_RECORD_HEADER + body_len == pbrpc_buf_len(&out));
		check(pbrpc_channel_open(&rx, pbrpc_buf_head(&out), body_len, &plain_len) == 0);
		check(plain_len == plain);
		check(pbrpc_frame_decode(pbrpc_buf_head(&out) + PBRPC_RECORD_HEADER, plain_len,
		                         &g) == 0);
		check_same_frame(f, &g);
	}
	pbrpc_buf_free(&out);
	pbrpc_channel_wipe(&tx);
	pbrpc_channel_wipe(&rx);
}

static void handle_plaintext(const uint8_t *p, size_t n, int suite)
{
	pbrpc_frame f;
	if (pbrpc_frame_decode(p, n, &f) != 0)
		return;
	check(f.method_len <= n && f.payload_len <= n && f.message_len <= n);
	handle_payload(&f);
	check_round_trip(&f, suite);
}

/* Mode 1: a record sealed with the client's key opens on the server; one
 * flipped bit anywhere makes it fail. */
static void seal_then_open(const uint8_t *p, size_t n, int suite, uint32_t flip)
{
	if (n + PBRPC_SEAL_OVERHEAD > MAX_BODY)
		return;
	pbrpc_channel client, server, other;
	pbrpc_channel_init(&client, suite, fuzz_key_c2s, fuzz_key_s2c);
	pbrpc_channel_init(&server, suite, fuzz_key_s2c, fuzz_key_c2s);
	pbrpc_channel_init(&other, suite, fuzz_key_s2c, fuzz_key_c2s);
	size_t rec_len = PBRPC_RECORD_HEADER + n + PBRPC_SEAL_OVERHEAD;
	size_t body_len = rec_len - PBRPC_RECORD_HEADER, plain_len;
	uint8_t *rec = malloc(rec_len), *forged = malloc(rec_len), *replay = malloc(rec_len);
	check(rec && forged && replay);
	memcpy(rec + PBRPC_RECORD_HEADER, p, n);
	check(pbrpc_channel_seal(&client, rec, n) == rec_len);
	memcpy(forged, rec, rec_len);
	memcpy(replay, rec, rec_len);
	forged[(flip >> 3) % rec_len] ^= (uint8_t)(1u << (flip & 7));
	check(pbrpc_channel_open(&other, forged, body_len, &plain_len) != 0);
	check(pbrpc_channel_open(&server, rec, body_len, &plain_len) == 0);
	check(plain_len == n && memcmp(rec + PBRPC_RECORD_HEADER, p, n) == 0);
	check(pbrpc_channel_open(&server, replay, body_len, &plain_len) != 0);
	plain_len = n;
	handle_plaintext(rec + PBRPC_RECORD_HEADER, plain_len, suite);
	free(rec);
	free(forged);
	free(replay);
	pbrpc_channel_wipe(&client);
	pbrpc_channel_wipe(&server);
	pbrpc_channel_wipe(&other);
}

/* Mode 2: conn.c's handle_records on a stream of sealed records. */
static void open_stream(const uint8_t *p, size_t n, int suite)
{
	pbrpc_channel server;
	pbrpc_channel_init(&server, suite, fuzz_key_s2c, fuzz_key_c2s);
	uint8_t *copy = malloc(n ? n : 1); /* opened in place */
	check(copy != NULL);
	memcpy(copy, p, n);
	size_t used = 0;
	for (;;) {
		uint32_t body_len;
		size_t plain_len;
		if (pbrpc_record_check(copy + used, n - used, MAX_BODY, &body_len) !=
		    PBRPC_RECORD_READY)
			break;
		if (pbrpc_channel_open(&server, copy + used, body_len, &plain_len) != 0)
			break; /* conn.c closes the connection */
		check(plain_len + PBRPC_SEAL_OVERHEAD == body_len);
		handle_plaintext(copy + used + PBRPC_RECORD_HEADER, plain_len, suite);
		used += PBRPC_RECORD_HEADER + body_len;
	}
	free(copy);
	pbrpc_channel_wipe(&server);
}

/* Mode 3: frames of one connection through pbrpc_call_dispatch(). */
static void dispatch_frames(const uint8_t *p, size_t n, int suite)
{
	pbrpc_conn *c = fuzz_conn_new(suite);
	size_t used = 0;
	while (!c->closing) {
		uint32_t len;
		pbrpc_frame f;
		if (pbrpc_record_check(p + used, n - used, MAX_BODY, &len) != PBRPC_RECORD_READY)
			break;
		/* Its own allocation, freed at once: the call layer must copy what it keeps. */
		uint8_t *plain = malloc(len);
		check(plain != NULL);
		memcpy(plain, p + used + PBRPC_RECORD_HEADER, len);
		int ok = pbrpc_frame_decode(plain, len, &f) == 0;
		if (ok)
			pbrpc_call_dispatch(c, &f);
		free(plain);
		if (!ok)
			break; /* conn.c closes on a malformed frame */
		used += PBRPC_RECORD_HEADER + len;
	}
	fuzz_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] & 3;
	int suite = (data[0] & 4) && pbrpc_channel_aes_available() ? PBRPC_SUITE_AES256_GCM
	                                                           : PBRPC_SUITE_CHACHA20_POLY1305;
	/* A heap copy of exactly the frame's bytes, so ASan sees any read past them. */
	size_t n = size - 1;
	uint8_t *body = malloc(n ? n : 1);
	check(body != NULL);
	memcpy(body, data + 1, n);
	switch (mode) {
	case 0: handle_plaintext(body, n, suite); break;
	case 1: seal_then_open(body, n, suite, (uint32_t)size * 2654435761u); break;
	case 2: open_stream(body, n, suite); break;
	default: dispatch_frames(body, n, suite); break;
	}
	free(body);
	return 0;
}
