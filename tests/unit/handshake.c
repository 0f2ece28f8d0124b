/* Unit tests of the handshake: both state machines wired together in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "handshake.h"
#include "pbrpc/wire.pb-c.h"
#include "record.h"

#define MAXREC (1u << 20)

static uint8_t psk[PBRPC_KEY_BYTES], other_psk[PBRPC_KEY_BYTES];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(psk, sizeof psk);
	randombytes_buf(other_psk, sizeof other_psk);
	return 0;
}

/* The length of the whole record at p (header included). */
static size_t rec_len(const uint8_t *p)
{
	return PBRPC_RECORD_HEADER + pbrpc_get_be32(p);
}

/* The records of one handshake, as bytes on the wire. */
typedef struct wire {
	pbrpc_handshake c, s;
	pbrpc_buf c_out, s_out;
	uint8_t r1[1100], r2[1100], r3[1100], r4[1100];
	size_t n1, n2, n3, n4;
	int c_rc2, c_rc3, s_rc1, s_rc4; /* each side's result per record */
} wire;

static void take(pbrpc_buf *b, uint8_t *dst, size_t *n)
{
	assert_true(pbrpc_buf_len(b) >= PBRPC_RECORD_HEADER);
	*n = rec_len(pbrpc_buf_head(b));
	assert_true(*n <= pbrpc_buf_len(b) && *n <= 1100);
	memcpy(dst, pbrpc_buf_head(b), *n);
	pbrpc_buf_consume(b, *n);
}

typedef void (*tamper_fn)(int record, uint8_t *rec, size_t n, void *arg);

/* Runs the whole exchange; tamper (if set) may change each record in flight.
 * Stops at the first failure. Returns 1 if both sides finished. */
static int run(wire *w, const uint8_t *client_psk, const uint8_t *server_psk, tamper_fn tamper,
               void *arg)
{
	memset(w, 0, sizeof *w);
	pbrpc_handshake_init(&w->c, 0, client_psk, MAXREC);
	pbrpc_handshake_init(&w->s, 1, server_psk, MAXREC);
	pbrpc_buf_init(&w->c_out, 1 << 16);
	pbrpc_buf_init(&w->s_out, 1 << 16);
	w->c_rc2 = w->c_rc3 = w->s_rc1 = w->s_rc4 = 99;

	assert_int_equal(pbrpc_handshake_client_hello(&w->c, &w->c_out), 0);
	take(&w->c_out, w->r1, &w->n1);
	if (tamper)
		tamper(1, w->r1, w->n1, arg);
	w->s_rc1 = pbrpc_handshake_recv(&w->s, w->r1, w->n1, &w->s_out);
	if (w->s_rc1 != PBRPC_HS_CONTINUE)
		return 0;
	take(&w->s_out, w->r2, &w->n2);
	take(&w->s_out, w->r3, &w->n3);
	assert_int_equal(pbrpc_buf_len(&w->s_out), 0);
	if (tamper) {
		tamper(2, w->r2, w->n2, arg);
		tamper(3, w->r3, w->n3, arg);
	}
	w->c_rc2 = pbrpc_handshake_recv(&w->c, w->r2, w->n2, &w->c_out);
	if (w->c_rc2 != PBRPC_HS_CONTINUE)
		return 0;
	assert_int_equal(pbrpc_buf_len(&w->c_out), 0); /* nothing sent before the server's proof */
	w->c_rc3 = pbrpc_handshake_recv(&w->c, w->r3, w->n3, &w->c_out);
	if (w->c_rc3 != PBRPC_HS_DONE)
		return 0;
	take(&w->c_out, w->r4, &w->n4);
	if (tamper)
		tamper(4, w->r4, w->n4, arg);
	w->s_rc4 = pbrpc_handshake_recv(&w->s, w->r4, w->n4, &w->s_out);
	return w->s_rc4 == PBRPC_HS_DONE;
}

static void done(wire *w)
{
	pbrpc_buf_free(&w->c_out);
	pbrpc_buf_free(&w->s_out);
	pbrpc_handshake_wipe(&w->c);
	pbrpc_handshake_wipe(&w->s);
}

static void test_success_matching_channels(void **state)
{
	(void)state;
	wire w;
	assert_int_equal(run(&w, psk, psk, NULL, NULL), 1);
	assert_int_equal(w.c.suite, w.s.suite);
	assert_int_equal(w.c.peer_max_record, MAXREC);
	assert_int_equal(w.s.peer_max_record, MAXREC);
	assert_string_equal(w.c.peer_software, "pbrpc/" PBRPC_VERSION);
	assert_string_equal(w.s.peer_software, "pbrpc/" PBRPC_VERSION);
	pbrpc_channel cc, sc;
	pbrpc_handshake_channel(&w.c, &cc);
	pbrpc_handshake_channel(&w.s, &sc);
	assert_memory_equal(cc.tx.key, sc.rx.key, 32);
	assert_memory_equal(cc.rx.key, sc.tx.key, 32);
	assert_memory_not_equal(cc.tx.key, cc.rx.key, 32);

	uint8_t rec[4 + 5 + 16];
	size_t plain;
	memcpy(rec + 4, "hello", 5);
	pbrpc_channel_seal(&cc, rec, 5);
	assert_int_equal(pbrpc_channel_open(&sc, rec, 5 + 16, &plain), 0);
	assert_memory_equal(rec + 4, "hello", 5);
	memcpy(rec + 4, "world", 5);
	pbrpc_channel_seal(&sc, rec, 5);
	assert_int_equal(pbrpc_channel_open(&cc, rec, 5 + 16, &plain), 0);
	assert_memory_equal(rec + 4, "world", 5);
	/* Past the end, further records are refused. */
	assert_int_equal(pbrpc_handshake_recv(&w.s, w.r4, w.n4, &w.s_out), PBRPC_HS_FAILED);
	done(&w);

	/* A second connection gets different session keys (fresh ephemerals). */
	wire w2;
	pbrpc_channel cc2;
	assert_int_equal(run(&w2, psk, psk, NULL, NULL), 1);
	pbrpc_handshake_channel(&w2.c, &cc2);
	assert_memory_not_equal(cc.tx.key, cc2.tx.key, 32);
	done(&w2);
}

static void test_wrong_psk(void **state)
{
	(void)state;
	wire w;
	assert_int_equal(run(&w, other_psk, psk, NULL, NULL), 0);
	assert_int_equal(w.s_rc1, PBRPC_HS_CONTINUE);
	assert_int_equal(w.c_rc2, PBRPC_HS_CONTINUE);
	assert_int_equal(w.c_rc3, PBRPC_HS_FAILED);
	assert_int_equal(w.c.status, PBRPC_UNAUTHENTICATED);
	assert_non_null(strstr(w.c.error, "authentication failed"));
	/* The client sent no proof of its own: the server learns nothing. */
	assert_int_equal(pbrpc_buf_len(&w.c_out), 0);
	done(&w);
}

/* A client that knows the key but whose proof the server does not accept:
 * the server's record 3 reflected back as record 4. */
static void reflect(int record, uint8_t *rec, size_t n, void *arg)
{
	wire *w = arg;
	if (record == 4) {
		assert_int_equal(n, w->n3);
		memcpy(rec, w->r3, n);
	}
}

static void test_reflected_proof(void **state)
{
	(void)state;
	static wire w;
	assert_int_equal(run(&w, psk, psk, reflect, &w), 0);
	assert_int_equal(w.c_rc3, PBRPC_HS_DONE);
	assert_int_equal(w.s_rc4, PBRPC_HS_FAILED);
	assert_int_equal(w.s.status, PBRPC_UNAUTHENTICATED);
	done(&w);
}

typedef struct flip {
	int record;
	size_t byte;
	int hit;
} flip;

static void flip_byte(int record, uint8_t *rec, size_t n, void *arg)
{
	flip *f = arg;
	if (record == f->record && PBRPC_RECORD_HEADER + f->byte < n) {
		rec[PBRPC_RECORD_HEADER + f->byte] ^= 0x01;
		f->hit = 1;
	}
}

/* Any changed byte of record 1 or 2 (the transcript) makes the proofs fail:
 * the client never finishes, so it never sends its proof. */
static void test_tamper_records_1_and_2(void **state)
{
	(void)state;
	static wire w;
	for (int record = 1; record <= 2; record++) {
		for (size_t byte = 0;; byte++) {
			flip f = {record, byte, 0};
			int ok = run(&w, psk, psk, flip_byte, &f);
			if (!f.hit) {
				done(&w);
				break;
			}
			assert_int_equal(ok, 0);
			assert_int_not_equal(w.c_rc3, PBRPC_HS_DONE);
			assert_int_equal(w.s_rc4, 99); /* the server got no client proof */
			done(&w);
		}
	}
	/* Record 3 or 4 changed: the proof fails. */
	for (int record = 3; record <= 4; record++) {
		flip f = {record, 5, 0};
		assert_int_equal(run(&w, psk, psk, flip_byte, &f), 0);
		assert_true(f.hit);
		if (record == 3)
			assert_int_equal(w.c.status, PBRPC_UNAUTHENTICATED);
		else
			assert_int_equal(w.s.status, PBRPC_UNAUTHENTICATED);
		done(&w);
	}
}

/* Packs a ClientHello of our making as a record into rec. */
static size_t make_hello(uint8_t *rec, uint32_t version, const Pbrpc__Wire__Suite *suites,
                         size_t n_suites, size_t pk_len)
{
	Pbrpc__Wire__ClientHello h = PBRPC__WIRE__CLIENT_HELLO__INIT;
	uint8_t pk[64];
	randombytes_buf(pk, sizeof pk);
	h.version = version;
	h.suites = (Pbrpc__Wire__Suite *)suites;
	h.n_suites = n_suites;
	h.ephemeral_pk.data = pk;
	h.ephemeral_pk.len = pk_len;
	h.max_record = MAXREC;
	h.software = "test";
	size_t n = protobuf_c_message_pack(&h.base, rec + 4);
	pbrpc_put_be32(rec, (uint32_t)n);
	return n + 4;
}

/* The server's refusal reaches a real client state machine as a clear error. */
static void expect_refusal(pbrpc_handshake *s, pbrpc_buf *s_out, const char *why)
{
	assert_int_equal(s->status, PBRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(s->error, why));
	assert_true(pbrpc_buf_len(s_out) > 4);
	Pbrpc__Wire__ServerHello *sh = pbrpc__wire__server_hello__unpack(
	    NULL, pbrpc_buf_len(s_out) - 4, pbrpc_buf_head(s_out) + 4);
	assert_non_null(sh);
	assert_non_null(strstr(sh->error, why));
	assert_int_equal(sh->version, PBRPC_PROTOCOL_VERSION);
	pbrpc__wire__server_hello__free_unpacked(sh, NULL);

	pbrpc_handshake c;
	pbrpc_buf c_out;
	pbrpc_buf_init(&c_out, 1 << 16);
	pbrpc_handshake_init(&c, 0, psk, MAXREC);
	assert_int_equal(pbrpc_handshake_client_hello(&c, &c_out), 0);
	assert_int_equal(
	    pbrpc_handshake_recv(&c, pbrpc_buf_head(s_out), pbrpc_buf_len(s_out), &c_out),
	    PBRPC_HS_FAILED);
	assert_int_equal(c.status, PBRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(c.error, "server refused"));
	assert_non_null(strstr(c.error, why));
	pbrpc_buf_free(&c_out);
	pbrpc_handshake_wipe(&c);
}

static void test_version_mismatch(void **state)
{
	(void)state;
	static const Pbrpc__Wire__Suite suites[] = {PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305};
	uint32_t versions[] = {0, 3, 0xffffffffu};
	for (size_t i = 0; i < 3; i++) {
		uint8_t rec[256];
		size_t n = make_hello(rec, versions[i], suites, 1, 32);
		pbrpc_handshake s;
		pbrpc_buf out;
		pbrpc_buf_init(&out, 1 << 16);
		pbrpc_handshake_init(&s, 1, psk, MAXREC);
		assert_int_equal(pbrpc_handshake_recv(&s, rec, n, &out), PBRPC_HS_FAILED);
		expect_refusal(&s, &out, "version");
		pbrpc_buf_free(&out);
		pbrpc_handshake_wipe(&s);
	}
}

static void test_bad_ephemeral_key_length(void **state)
{
	(void)state;
	static const Pbrpc__Wire__Suite suites[] = {PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305};
	size_t lens[] = {0, 31, 33, 64};
	for (size_t i = 0; i < 4; i++) {
		uint8_t rec[256];
		size_t n = make_hello(rec, 1, suites, 1, lens[i]);
		pbrpc_handshake s;
		pbrpc_buf out;
		pbrpc_buf_init(&out, 1 << 16);
		pbrpc_handshake_init(&s, 1, psk, MAXREC);
		assert_int_equal(pbrpc_handshake_recv(&s, rec, n, &out), PBRPC_HS_FAILED);
		expect_refusal(&s, &out, "ephemeral_pk");
		pbrpc_buf_free(&out);
		pbrpc_handshake_wipe(&s);
	}
}

static void test_no_common_suite(void **state)
{
	(void)state;
	static const Pbrpc__Wire__Suite none[] = {PBRPC__WIRE__SUITE__SUITE_NONE,
	                                          (Pbrpc__Wire__Suite)77};
	for (size_t k = 0; k <= 2; k++) { /* no suites, NONE only, NONE + unknown */
		uint8_t rec[256];
		size_t n = make_hello(rec, 1, none, k, 32);
		pbrpc_handshake s;
		pbrpc_buf out;
		pbrpc_buf_init(&out, 1 << 16);
		pbrpc_handshake_init(&s, 1, psk, MAXREC);
		assert_int_equal(pbrpc_handshake_recv(&s, rec, n, &out), PBRPC_HS_FAILED);
		expect_refusal(&s, &out, "suite");
		pbrpc_buf_free(&out);
		pbrpc_handshake_wipe(&s);
	}
}

static void test_garbage_first_record(void **state)
{
	(void)state;
	uint8_t rec[4 + 64];
	memset(rec + 4, 0xff, 64); /* field numbers with wire type 7: not protobuf */
	pbrpc_put_be32(rec, 64);
	pbrpc_handshake s, c;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	pbrpc_handshake_init(&s, 1, psk, MAXREC);
	assert_int_equal(pbrpc_handshake_recv(&s, rec, sizeof rec, &out), PBRPC_HS_FAILED);
	assert_int_equal(s.status, PBRPC_INVALID_ARGUMENT);
	assert_int_equal(pbrpc_buf_len(&out), 0); /* garbage gets no answer */

	/* A client that gets garbage instead of a ServerHello says so. */
	pbrpc_handshake_init(&c, 0, psk, MAXREC);
	assert_int_equal(pbrpc_handshake_client_hello(&c, &out), 0);
	assert_int_equal(pbrpc_handshake_recv(&c, rec, sizeof rec, &out), PBRPC_HS_FAILED);
	assert_int_equal(c.status, PBRPC_UNAVAILABLE);
	assert_non_null(strstr(c.error, "not a pbrpc ServerHello"));

	/* Random first records: always a failure, never a crash. */
	for (int i = 0; i < 2000; i++) {
		size_t n = 1 + randombytes_uniform(200);
		randombytes_buf(rec + 4, n > 64 ? 64 : n);
		n = n > 64 ? 64 : n;
		pbrpc_put_be32(rec, (uint32_t)n);
		pbrpc_handshake_init(&s, 1, psk, MAXREC);
		assert_int_equal(pbrpc_handshake_recv(&s, rec, n + 4, &out), PBRPC_HS_FAILED);
		pbrpc_handshake_wipe(&s);
	}
	/* An empty record body: not even a hello with defaults is accepted. */
	pbrpc_put_be32(rec, 0);
	pbrpc_handshake_init(&s, 1, psk, MAXREC);
	assert_int_equal(pbrpc_handshake_recv(&s, rec, 4, &out), PBRPC_HS_FAILED);
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&s);
	pbrpc_handshake_wipe(&c);
}

/* The client offered only what it can run; a ServerHello choosing anything
 * else (or a bad key) is refused. */
static void test_server_chooses_bad_suite(void **state)
{
	(void)state;
	Pbrpc__Wire__ServerHello sh = PBRPC__WIRE__SERVER_HELLO__INIT;
	uint8_t pk[32], rec[256];
	randombytes_buf(pk, sizeof pk);
	sh.version = 1;
	sh.suite = PBRPC__WIRE__SUITE__SUITE_NONE;
	sh.ephemeral_pk.data = pk;
	sh.ephemeral_pk.len = 32;
	size_t n = protobuf_c_message_pack(&sh.base, rec + 4);
	pbrpc_put_be32(rec, (uint32_t)n);
	pbrpc_handshake c;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	pbrpc_handshake_init(&c, 0, psk, MAXREC);
	assert_int_equal(pbrpc_handshake_client_hello(&c, &out), 0);
	assert_int_equal(pbrpc_handshake_recv(&c, rec, n + 4, &out), PBRPC_HS_FAILED);
	assert_int_equal(c.status, PBRPC_UNAVAILABLE);
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&c);
}

/* max_record from a peer is clamped to the protocol's range. */
static void test_max_record_clamped(void **state)
{
	(void)state;
	static const Pbrpc__Wire__Suite suites[] = {PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305};
	Pbrpc__Wire__ClientHello h = PBRPC__WIRE__CLIENT_HELLO__INIT;
	uint8_t pk[32], rec[256];
	randombytes_buf(pk, sizeof pk);
	h.version = 1;
	h.suites = (Pbrpc__Wire__Suite *)suites;
	h.n_suites = 1;
	h.ephemeral_pk.data = pk;
	h.ephemeral_pk.len = 32;
	uint32_t asks[] = {0, 1, 0xffffffffu};
	/* 0 is a field left out: the default. */
	uint32_t want[] = {PBRPC_DEFAULT_MAX_RECORD, PBRPC_MIN_MAX_RECORD, PBRPC_MAX_MAX_RECORD};
	for (int i = 0; i < 3; i++) {
		h.max_record = asks[i];
		size_t n = protobuf_c_message_pack(&h.base, rec + 4);
		pbrpc_put_be32(rec, (uint32_t)n);
		pbrpc_handshake s;
		pbrpc_buf out;
		pbrpc_buf_init(&out, 1 << 16);
		pbrpc_handshake_init(&s, 1, psk, MAXREC);
		assert_int_equal(pbrpc_handshake_recv(&s, rec, n + 4, &out), PBRPC_HS_CONTINUE);
		assert_int_equal(s.peer_max_record, want[i]);
		pbrpc_buf_free(&out);
		pbrpc_handshake_wipe(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success_matching_channels),
	    cmocka_unit_test(test_wrong_psk),
	    cmocka_unit_test(test_reflected_proof),
	    cmocka_unit_test(test_tamper_records_1_and_2),
	    cmocka_unit_test(test_version_mismatch),
	    cmocka_unit_test(test_bad_ephemeral_key_length),
	    cmocka_unit_test(test_no_common_suite),
	    cmocka_unit_test(test_garbage_first_record),
	    cmocka_unit_test(test_server_chooses_bad_suite),
	    cmocka_unit_test(test_max_record_clamped),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
