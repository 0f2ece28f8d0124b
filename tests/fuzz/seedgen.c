/* seedgen.c - writes the seeds of the record, handshake and frame fuzzers
 * from real records: a whole handshake between the real client and server
 * code with the fixed secrets of fuzz_keys.h, frames made by frame.c and
 * sealed by channel.c. Run by "make fuzz-seeds"; the output is committed.
 *
 *   seedgen CORPUS_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "frame.h"
#include "fuzz_keys.h"
#include "handshake.h"
#include "pbrpc/echo.pbrpc.h"
#include "pbrpc/exec.pbrpc.h"
#include "pbrpc/file.pbrpc.h"
#include "pbrpc/reflection.pbrpc.h"
#include "pbrpc/time.pbrpc.h"
#include "pbrpc/wire.pb-c.h"
#include "record.h"

static const char *corpus;

static void die(const char *what)
{
	fprintf(stderr, "seedgen: %s\n", what);
	exit(1);
}

/* Writes CORPUS/target/name: the byte prefix, then n bytes of p. */
static void write_seed(const char *target, const char *name, int prefix, const void *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s/%s", corpus, target, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		die(path);
	if (prefix >= 0)
		fputc(prefix, f);
	if (fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

/* Takes the whole record at the head of b into rec; returns its length. */
static size_t take_record(pbrpc_buf *b, uint8_t *rec, size_t cap)
{
	if (pbrpc_buf_len(b) < PBRPC_RECORD_HEADER)
		die("no record");
	size_t n = PBRPC_RECORD_HEADER + pbrpc_get_be32(pbrpc_buf_head(b));
	if (n > pbrpc_buf_len(b) || n > cap)
		die("short record");
	memcpy(rec, pbrpc_buf_head(b), n);
	pbrpc_buf_consume(b, n);
	return n;
}

typedef struct bytes {
	uint8_t p[4096];
	size_t n;
} bytes;

static void add(bytes *b, const void *p, size_t n)
{
	if (b->n + n > sizeof b->p)
		die("seed too big");
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void handshake_seeds(void)
{
	pbrpc_handshake c, s;
	pbrpc_buf c_out, s_out;
	uint8_t r1[1100], r2[1100], r3[1100], r4[1100];
	size_t n1, n2, n3, n4;
	bytes seed = {.n = 0};

	/* This machine's session: the client offers what its CPU runs. */
	pbrpc_handshake_init(&c, 0, fuzz_psk, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_handshake_init(&s, 1, fuzz_psk, PBRPC_DEFAULT_MAX_RECORD);
	fuzz_fixed_ephemeral(&c, fuzz_client_sk);
	fuzz_fixed_ephemeral(&s, fuzz_server_sk);
	pbrpc_buf_init(&c_out, 1 << 16);
	pbrpc_buf_init(&s_out, 1 << 16);
	if (pbrpc_handshake_client_hello(&c, &c_out) != 0)
		die("client hello");
	n1 = take_record(&c_out, r1, sizeof r1);
	if (pbrpc_handshake_recv(&s, r1, n1, &s_out) != PBRPC_HS_CONTINUE)
		die("server refused record 1");
	n2 = take_record(&s_out, r2, sizeof r2);
	n3 = take_record(&s_out, r3, sizeof r3);
	if (pbrpc_handshake_recv(&c, r2, n2, &c_out) != PBRPC_HS_CONTINUE ||
	    pbrpc_handshake_recv(&c, r3, n3, &c_out) != PBRPC_HS_DONE)
		die("client refused records 2 and 3");
	n4 = take_record(&c_out, r4, sizeof r4);
	if (pbrpc_handshake_recv(&s, r4, n4, &s_out) != PBRPC_HS_DONE)
		die("server refused record 4");
	const char *suite = pbrpc_suite_name(s.suite);
	char name[64];

	add(&seed, r1, n1);
	add(&seed, r4, n4);
	snprintf(name, sizeof name, "session-%s", suite);
	write_seed("handshake_server", name, 0, seed.p, seed.n);
	write_seed("handshake_server", "hello-honest-proof", 1, r1, n1);
	seed.n = 0;
	add(&seed, r2, n2);
	add(&seed, r3, n3);
	write_seed("handshake_client", name, 0, seed.p, seed.n);
	write_seed("handshake_client", "hello-honest-proof", 1, r2, n2);
	pbrpc_handshake_wipe(&c);
	pbrpc_handshake_wipe(&s);

	/* A ChaCha20-only client hello (protocol.md 10.2), and the server's
	 * answer to it; then a refusal of an unknown version. */
	Pbrpc__Wire__ClientHello hello = PBRPC__WIRE__CLIENT_HELLO__INIT;
	Pbrpc__Wire__Suite chacha = PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305;
	uint8_t c_pk[32];
	crypto_scalarmult_base(c_pk, fuzz_client_sk);
	hello.version = PBRPC_PROTOCOL_VERSION;
	hello.n_suites = 1;
	hello.suites = &chacha;
	hello.ephemeral_pk.data = c_pk;
	hello.ephemeral_pk.len = 32;
	hello.max_record = PBRPC_DEFAULT_MAX_RECORD;
	hello.software = "pbrpc/" PBRPC_VERSION;
	for (int version = PBRPC_PROTOCOL_VERSION; version <= PBRPC_PROTOCOL_VERSION + 1;
	     version++) {
		hello.version = (uint32_t)version;
		n1 = PBRPC_RECORD_HEADER + protobuf_c_message_get_packed_size(&hello.base);
		pbrpc_put_be32(r1, (uint32_t)(n1 - PBRPC_RECORD_HEADER));
		protobuf_c_message_pack(&hello.base, r1 + PBRPC_RECORD_HEADER);
		pbrpc_handshake_init(&s, 1, fuzz_psk, PBRPC_DEFAULT_MAX_RECORD);
		fuzz_fixed_ephemeral(&s, fuzz_server_sk);
		int rc = pbrpc_handshake_recv(&s, r1, n1, &s_out);
		n2 = take_record(&s_out, r2, sizeof r2);
		if (rc == PBRPC_HS_CONTINUE) {
			n3 = take_record(&s_out, r3, sizeof r3);
			n4 = fuzz_auth_record(s.th, s.client_proof_key, r4);
			seed.n = 0;
			add(&seed, r1, n1);
			add(&seed, r4, n4);
			write_seed("handshake_server", "session-chacha20-poly1305-only", 0, seed.p,
			           seed.n);
			write_seed("handshake_client", "server-hello-chacha20-poly1305", 1, r2, n2);
			seed.n = 0;
			add(&seed, r2, n2);
			add(&seed, r3, n3);
			write_seed("handshake_client", "session-other-transcript", 0, seed.p,
			           seed.n);
		} else {
			write_seed("handshake_server", "hello-version-2", 0, r1, n1);
			write_seed("handshake_client", "refusal", 0, r2, n2);
		}
		pbrpc_handshake_wipe(&s);
	}
	pbrpc_buf_free(&c_out);
	pbrpc_buf_free(&s_out);
}

static size_t encode(const pbrpc_frame *f, const ProtobufCMessage *msg, uint8_t *out)
{
	size_t len = msg ? protobuf_c_message_get_packed_size(msg) : f->payload_len;
	if (pbrpc_frame_size(f, len) > 2048)
		die("frame too big");
	return pbrpc_frame_encode(f, msg, len, out);
}

/* Appends f as an opened record: BE32 length, then the Frame. */
static void add_frame(bytes *b, const pbrpc_frame *f, const ProtobufCMessage *msg)
{
	uint8_t buf[2048];
	size_t n = encode(f, msg, buf + PBRPC_RECORD_HEADER);
	pbrpc_put_be32(buf, (uint32_t)n);
	add(b, buf, PBRPC_RECORD_HEADER + n);
}

static void call_seeds(const pbrpc_frame *say_req, const ProtobufCMessage *say)
{
	bytes seed = {.n = 0};
	add_frame(&seed, say_req, say);
	write_seed("frame", "calls-echo-say", 3, seed.p, seed.n);

	/* A chat: open, two messages, half-close; a second call cancelled. */
	seed.n = 0;
	pbrpc_frame open = {.call_id = 5,
	                    .kind = PBRPC_FRAME_REQUEST,
	                    .method = "pbrpc.echo.Echo.Chat",
	                    .method_len = strlen("pbrpc.echo.Echo.Chat"),
	                    .timeout_ms = 60000};
	pbrpc_frame msg = {.call_id = 5, .kind = PBRPC_FRAME_MESSAGE, .flags = 1};
	pbrpc_frame half = {.call_id = 5, .kind = PBRPC_FRAME_HALF_CLOSE};
	pbrpc_frame other = open;
	other.call_id = 6;
	pbrpc_frame cancel = {.call_id = 6, .kind = PBRPC_FRAME_CANCEL};
	add_frame(&seed, &open, NULL);
	add_frame(&seed, &other, NULL);
	add_frame(&seed, &msg, say);
	add_frame(&seed, &msg, say);
	add_frame(&seed, &cancel, NULL);
	add_frame(&seed, &half, NULL);
	write_seed("frame", "calls-echo-chat", 3, seed.p, seed.n);

	/* Time with a client's strftime format, reflection, an unknown method. */
	seed.n = 0;
	Pbrpc__Time__TimeRequest now = PBRPC__TIME__TIME_REQUEST__INIT;
	now.format = "%Y-%m-%d %H:%M:%S %z %%";
	pbrpc_frame time_req = {.call_id = 1,
	                        .kind = PBRPC_FRAME_REQUEST,
	                        .flags = PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE,
	                        .method = "pbrpc.time.Time.Now",
	                        .method_len = strlen("pbrpc.time.Time.Now")};
	add_frame(&seed, &time_req, &now.base);
	pbrpc_frame list = {.call_id = 2,
	                    .kind = PBRPC_FRAME_REQUEST,
	                    .flags = PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE,
	                    .method = "pbrpc.reflection.Reflection.List",
	                    .method_len = strlen("pbrpc.reflection.Reflection.List")};
	add_frame(&seed, &list, NULL);
	pbrpc_frame unknown = list;
	unknown.call_id = 3;
	unknown.method = "pbrpc.nope.Nope.Nothing";
	unknown.method_len = strlen(unknown.method);
	add_frame(&seed, &unknown, NULL);
	pbrpc_frame get = list;
	get.call_id = 4;
	get.method = "pbrpc.file.File.Get";
	get.method_len = strlen(get.method);
	add_frame(&seed, &get, NULL);
	write_seed("frame", "calls-time-reflection-unknown", 3, seed.p, seed.n);
}

static void frame_seeds(void)
{
	static const pbrpc_service_desc *const services[] = {
	    &pbrpc_echo_echo_service,
	    &pbrpc_time_time_service,
	    &pbrpc_exec_exec_service,
	    &pbrpc_file_file_service,
	    &pbrpc_reflection_reflection_service,
	};
	uint8_t buf[2048];
	char name[128];
	size_t n;

	/* protocol.md 10.1: the echo request and its reply. */
	Pbrpc__Echo__EchoRequest say = PBRPC__ECHO__ECHO_REQUEST__INIT;
	say.data.data = (uint8_t *)"hi";
	say.data.len = 2;
	pbrpc_frame req = {.call_id = 1,
	                   .kind = PBRPC_FRAME_REQUEST,
	                   .flags = PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE,
	                   .method = "pbrpc.echo.Echo.Say",
	                   .method_len = strlen("pbrpc.echo.Echo.Say")};
	n = encode(&req, &say.base, buf);
	write_seed("frame", "echo-say-request", 0, buf, n);
	write_seed("frame", "echo-say-request-sealed", 1, buf, n);
	pbrpc_frame reply = {.call_id = 1, .kind = PBRPC_FRAME_STATUS, .flags = 1};
	n = encode(&reply, &say.base, buf);
	write_seed("frame", "echo-say-reply", 0, buf, n);
	pbrpc_frame failure = {.call_id = 7,
	                       .kind = PBRPC_FRAME_STATUS,
	                       .status = PBRPC_NOT_FOUND,
	                       .message = "no such file",
	                       .message_len = 12};
	n = encode(&failure, NULL, buf);
	write_seed("frame", "status-not-found", 0, buf, n);
	pbrpc_frame cancel = {.call_id = 3, .kind = PBRPC_FRAME_CANCEL};
	n = encode(&cancel, NULL, buf);
	write_seed("frame", "cancel", 0, buf, n);

	/* A REQUEST with an empty message for every method, and a MESSAGE. */
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
		for (size_t j = 0; j < services[i]->n_methods; j++) {
			const pbrpc_method_desc *m = &services[i]->methods[j];
			pbrpc_frame f = {.call_id = 1 + j,
			                 .kind = PBRPC_FRAME_REQUEST,
			                 .flags = PBRPC_FLAG_HAS_MESSAGE,
			                 .method = m->full_name,
			                 .method_len = strlen(m->full_name),
			                 .timeout_ms = 5000};
			n = encode(&f, NULL, buf);
			snprintf(name, sizeof name, "request-%s", m->full_name);
			write_seed("frame", name, 0, buf, n);
		}
	}
	pbrpc_frame chat = {.call_id = 2, .kind = PBRPC_FRAME_MESSAGE, .flags = 1};
	n = encode(&chat, &say.base, buf);
	write_seed("frame", "message", 0, buf, n);

	/* Mode 3: whole conversations for the call layer, as opened records. */
	call_seeds(&req, &say.base);

	/* The client's sealed stream: request, message, half-close, per suite. */
	for (int suite = PBRPC_SUITE_CHACHA20_POLY1305; suite <= PBRPC_SUITE_AES256_GCM; suite++) {
		if (suite == PBRPC_SUITE_AES256_GCM && !pbrpc_channel_aes_available())
			continue;
		pbrpc_channel ch;
		pbrpc_buf out;
		pbrpc_channel_init(&ch, suite, fuzz_key_c2s, fuzz_key_s2c);
		pbrpc_buf_init(&out, 1 << 16);
		pbrpc_frame open = req;
		open.flags = PBRPC_FLAG_HAS_MESSAGE;
		open.method = "pbrpc.echo.Echo.Chat";
		open.method_len = strlen(open.method);
		pbrpc_frame half = {.call_id = 1, .kind = PBRPC_FRAME_HALF_CLOSE};
		chat.call_id = 1;
		if (pbrpc_frame_append_sealed(&out, &ch, &open, &say.base, 1 << 16) != 0 ||
		    pbrpc_frame_append_sealed(&out, &ch, &chat, &say.base, 1 << 16) != 0 ||
		    pbrpc_frame_append_sealed(&out, &ch, &half, NULL, 1 << 16) != 0)
			die("sealing");
		snprintf(name, sizeof name, "sealed-chat-%s", pbrpc_suite_name(suite));
		write_seed("frame", name, suite == PBRPC_SUITE_AES256_GCM ? 6 : 2,
		           pbrpc_buf_head(&out), pbrpc_buf_len(&out));
		pbrpc_buf_free(&out);
	}
}

static void record_seeds(void)
{
	static const uint8_t three[] = {0,   0,   0, 1, 'a', 0, 0,   0,   2,
	                                'b', 'c', 0, 0, 0,   3, 'd', 'e', 'f'};
	static const uint8_t partial[] = {0, 0, 0, 1, 'a', 0, 0, 0, 9, 'b', 'c'};
	static const uint8_t zero[] = {0, 0, 0, 1, 'a', 0, 0, 0, 0, 'x'};
	static const uint8_t over_cap[] = {0, 0, 0, 1, 'a', 0, 0, 4, 1, 'x'}; /* 1025 */
	uint8_t big[4 + 1024];
	memset(big, 'z', sizeof big);
	pbrpc_put_be32(big, 1024);
	/* Byte 0: cap 1024, reads of 1, 7, 64 or 4096 bytes; byte 1: the split. */
	for (int reads = 0; reads < 4; reads++) {
		char name[64];
		uint8_t head[2] = {(uint8_t)(reads << 2), (uint8_t)(17 * reads)};
		bytes seed = {.n = 0};
		add(&seed, head, 2);
		add(&seed, three, sizeof three);
		snprintf(name, sizeof name, "three-records-reads-%d", reads);
		write_seed("record", name, -1, seed.p, seed.n);
	}
	write_seed("record", "partial", 0x04, partial, sizeof partial);
	write_seed("record", "zero-length", 0x08, zero, sizeof zero);
	write_seed("record", "over-cap", 0x0c, over_cap, sizeof over_cap);
	write_seed("record", "at-cap", 0x08, big, sizeof big);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: seedgen CORPUS_DIR");
	corpus = argv[1];
	if (sodium_init() < 0)
		die("sodium_init");
	handshake_seeds();
	frame_seeds();
	record_seeds();
	return 0;
}
