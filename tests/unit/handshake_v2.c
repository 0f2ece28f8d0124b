/* Unit tests of protocol 2 (Noise XX with client and host keys): both state
 * machines wired together in memory, and the test vectors of
 * docs/protocol.md §10.4, which an independent Python implementation
 * (the `cryptography` package, no libsodium) reproduces byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "handshake.h"
#include "pbrpc/wire.pb-c.h"
#include "record.h"

#define MAXREC 4194304u

static uint8_t c_static[32], s_static[32];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(c_static, sizeof c_static);
	randombytes_buf(s_static, sizeof s_static);
	return 0;
}

static void unhex(const char *hex, uint8_t *out, size_t *n)
{
	assert_int_equal(sodium_hex2bin(out, 1024, hex, strlen(hex), NULL, n, NULL), 0);
}

static void fill(uint8_t k[32], uint8_t start)
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(start + i);
}

static void fixed_ephemeral(pbrpc_handshake *hs, uint8_t start)
{
	fill(hs->sk, start);
	crypto_scalarmult_base(hs->pk, hs->sk);
	hs->have_ephemeral = 1;
}

static size_t rec_len(const uint8_t *p)
{
	return PBRPC_RECORD_HEADER + pbrpc_get_be32(p);
}

typedef struct pair {
	pbrpc_handshake c, s;
	pbrpc_buf c_out, s_out;
} pair;

static void pair_init(pair *p, const uint8_t *client_static, const uint8_t *server_static,
                      const uint8_t *psk)
{
	memset(p, 0, sizeof *p);
	pbrpc_handshake_init(&p->c, 0, client_static ? NULL : psk, MAXREC);
	if (client_static)
		pbrpc_handshake_set_static(&p->c, client_static);
	pbrpc_handshake_init(&p->s, 1, psk, MAXREC);
	if (server_static)
		pbrpc_handshake_set_static(&p->s, server_static);
	pbrpc_buf_init(&p->c_out, 1 << 16);
	pbrpc_buf_init(&p->s_out, 1 << 16);
}

static void pair_free(pair *p)
{
	pbrpc_buf_free(&p->c_out);
	pbrpc_buf_free(&p->s_out);
	pbrpc_handshake_wipe(&p->c);
	pbrpc_handshake_wipe(&p->s);
}

/* Moves one record from out to the other side; returns its result. */
static int deliver(pbrpc_buf *from, pbrpc_handshake *to, pbrpc_buf *to_out, int flip)
{
	uint8_t rec[1100];
	assert_true(pbrpc_buf_len(from) >= PBRPC_RECORD_HEADER);
	size_t n = rec_len(pbrpc_buf_head(from));
	assert_true(n <= sizeof rec && n <= pbrpc_buf_len(from));
	memcpy(rec, pbrpc_buf_head(from), n);
	pbrpc_buf_consume(from, n);
	if (flip >= 0 && (size_t)flip < n)
		rec[flip] ^= 0x01;
	return pbrpc_handshake_recv(to, rec, n, to_out);
}

static void test_v2_success(void **state)
{
	(void)state;
	pair p;
	uint8_t c_pub[32], s_pub[32];
	pair_init(&p, c_static, s_static, NULL);
	pbrpc_public_key_of(c_static, c_pub);
	pbrpc_public_key_of(s_static, s_pub);
	assert_int_equal(p.s.have_ephemeral, 0); /* no key work before a hello */
	assert_int_equal(pbrpc_handshake_client_hello(&p.c, &p.c_out), 0);
	assert_int_equal(deliver(&p.c_out, &p.s, &p.s_out, -1), PBRPC_HS_CONTINUE);
	assert_int_equal(deliver(&p.s_out, &p.c, &p.c_out, -1), PBRPC_HS_DONE);
	assert_int_equal(pbrpc_buf_len(&p.s_out), 0);
	assert_int_equal(deliver(&p.c_out, &p.s, &p.s_out, -1), PBRPC_HS_DONE);
	assert_int_equal(p.c.version, PBRPC_PROTOCOL_V2);
	assert_memory_equal(p.c.peer_static, s_pub, 32);
	assert_memory_equal(p.s.peer_static, c_pub, 32);
	assert_int_equal(p.c.suite, p.s.suite);
	assert_int_equal(p.c.peer_max_record, MAXREC);
	assert_string_equal(p.s.peer_software, "pbrpc/" PBRPC_VERSION);
	pbrpc_channel cc, sc;
	pbrpc_handshake_channel(&p.c, &cc);
	pbrpc_handshake_channel(&p.s, &sc);
	assert_memory_equal(cc.tx.key, sc.rx.key, 32);
	assert_memory_equal(cc.rx.key, sc.tx.key, 32);
	assert_memory_not_equal(cc.tx.key, cc.rx.key, 32);
	pair_free(&p);
}

/* docs/protocol.md §10.4 */
static const char *const R1_CHACHA =
    "000000390802323579a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a12010120"
    "808080022a0b70627270632f302e312e30";
static const char *const R2_CHACHA =
    "0000007808023a74493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d21c1c2b4f6"
    "9d73b9e76f1e955ed922fb932477dc4fb492ab027583fe9297866ec5bbb936b80da3ce406f79b3a954f3b710c9"
    "cca7efd776163f36e76fccd05b637a495759a3329337bedce3dc99fc3bfdde932aee";
static const char *const R3_CHACHA =
    "00000042124097c22c1c716681a8fc936574da1ebd3f365d9714ca0ff4be4b798866e900f48bd5627aa5ff2219"
    "6bb20bee4966bdb586b133fe58116ae801a1f024735021650f";
static const char *const R1_AES =
    "0000003a0802323679a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a1202020120"
    "808080022a0b70627270632f302e312e30";
static const char *const R2_AES =
    "0000007808023a74493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d21c1c2b4f6"
    "9d73b9e76f1e955ed922fb932477dc4fb492ab027583fe9297866eb8c9f0686999d2f40ce385ad49cacfc210ca"
    "cca7efd776163f36e76fccd05b637a495759683ec8d27c8931e8d33a5f0051ab1c7d";
static const char *const R3_AES =
    "00000042124097c22c1c716681a8fc936574da1ebd3f365d9714ca0ff4be4b798866e900f48b48e22b8982371f"
    "cd8d2a9ce3399fb82a980e21720514793c01569cfd14f344b6";
static const char *const KEY_C2S =
    "fda6c69a11c3f420e5f822adec66dc5ab67a3629b178af202918f3f8a56d5269";
static const char *const KEY_S2C =
    "fdefbb7b96b987ffe0b7d79116fbb958081f9b1fdab55910a255a57f057c037c";
static const char *const C_STATIC_PK =
    "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
static const char *const S_STATIC_PK =
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";

static void check_keys(const pbrpc_handshake *hs)
{
	uint8_t want[1024];
	size_t n;
	unhex(KEY_C2S, want, &n);
	assert_memory_equal(hs->c2s, want, 32);
	unhex(KEY_S2C, want, &n);
	assert_memory_equal(hs->s2c, want, 32);
}

/* The server's side of the ChaCha20-Poly1305 vector runs on every machine. */
static void test_v2_vector_server(void **state)
{
	(void)state;
	uint8_t ss[32], r[1024], want[1024];
	size_t n, wn;
	pbrpc_handshake s;
	pbrpc_buf out;
	fill(ss, 0x60);
	pbrpc_handshake_init(&s, 1, NULL, MAXREC);
	pbrpc_handshake_set_static(&s, ss);
	fixed_ephemeral(&s, 0x80);
	pbrpc_buf_init(&out, 1 << 16);
	unhex(R1_CHACHA, r, &n);
	assert_int_equal(pbrpc_handshake_recv(&s, r, n, &out), PBRPC_HS_CONTINUE);
	unhex(R2_CHACHA, want, &wn);
	assert_int_equal(pbrpc_buf_len(&out), wn);
	assert_memory_equal(pbrpc_buf_head(&out), want, wn);
	unhex(R3_CHACHA, r, &n);
	assert_int_equal(pbrpc_handshake_recv(&s, r, n, &out), PBRPC_HS_DONE);
	check_keys(&s);
	unhex(C_STATIC_PK, want, &wn);
	assert_memory_equal(s.peer_static, want, 32);
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&s);
}

/* The client's side: its hello offers AES-256-GCM first where the CPU has
 * it, so the vector it must reproduce depends on the machine. */
static void test_v2_vector_client(void **state)
{
	(void)state;
	int aes = pbrpc_channel_aes_available();
	uint8_t cs[32], r[1024], want[1024];
	size_t n, wn;
	pbrpc_handshake c;
	pbrpc_buf out;
	fill(cs, 0x20);
	pbrpc_handshake_init(&c, 0, NULL, MAXREC);
	pbrpc_handshake_set_static(&c, cs);
	fixed_ephemeral(&c, 0x40);
	pbrpc_buf_init(&out, 1 << 16);
	assert_int_equal(pbrpc_handshake_client_hello(&c, &out), 0);
	unhex(aes ? R1_AES : R1_CHACHA, want, &wn);
	assert_int_equal(pbrpc_buf_len(&out), wn);
	assert_memory_equal(pbrpc_buf_head(&out), want, wn);
	pbrpc_buf_consume(&out, wn);
	unhex(aes ? R2_AES : R2_CHACHA, r, &n);
	assert_int_equal(pbrpc_handshake_recv(&c, r, n, &out), PBRPC_HS_DONE);
	unhex(aes ? R3_AES : R3_CHACHA, want, &wn);
	assert_int_equal(pbrpc_buf_len(&out), wn);
	assert_memory_equal(pbrpc_buf_head(&out), want, wn);
	check_keys(&c);
	unhex(S_STATIC_PK, want, &wn);
	assert_memory_equal(c.peer_static, want, 32);
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&c);
}

static int refuse_all(void *data, const uint8_t key[32], pbrpc_error *why)
{
	(void)key;
	++*(int *)data;
	why->code = PBRPC_UNAUTHENTICATED;
	snprintf(why->message, sizeof why->message, "server key changed");
	return -1;
}

/* A client that does not trust the server's key sends nothing more: the
 * server never learns who it is. */
static void test_v2_untrusted_server_gets_nothing(void **state)
{
	(void)state;
	pair p;
	int calls = 0;
	pair_init(&p, c_static, s_static, NULL);
	pbrpc_handshake_set_verify(&p.c, refuse_all, &calls);
	assert_int_equal(pbrpc_handshake_client_hello(&p.c, &p.c_out), 0);
	assert_int_equal(deliver(&p.c_out, &p.s, &p.s_out, -1), PBRPC_HS_CONTINUE);
	assert_int_equal(deliver(&p.s_out, &p.c, &p.c_out, -1), PBRPC_HS_FAILED);
	assert_int_equal(calls, 1);
	assert_int_equal(p.c.status, PBRPC_UNAUTHENTICATED);
	assert_string_equal(p.c.error, "server key changed");
	assert_int_equal(pbrpc_buf_len(&p.c_out), 0);
	pair_free(&p);
}

/* Any changed byte of any record body: the handshake never completes on
 * both sides (the tags cover the whole transcript). The 4-byte length
 * headers are framing only: change one and the stream is misframed. */
static void test_v2_tamper_every_byte(void **state)
{
	(void)state;
	for (int record = 1; record <= 3; record++) {
		for (int i = PBRPC_RECORD_HEADER;; i++) {
			pair p;
			pair_init(&p, c_static, s_static, NULL);
			assert_int_equal(pbrpc_handshake_client_hello(&p.c, &p.c_out), 0);
			size_t len = rec_len(pbrpc_buf_head(&p.c_out));
			int r1 = deliver(&p.c_out, &p.s, &p.s_out, record == 1 ? i : -1);
			int both = 0;
			if (record == 2 && r1 == PBRPC_HS_CONTINUE)
				len = rec_len(pbrpc_buf_head(&p.s_out));
			if (r1 == PBRPC_HS_CONTINUE &&
			    deliver(&p.s_out, &p.c, &p.c_out, record == 2 ? i : -1) ==
			        PBRPC_HS_DONE) {
				if (record == 3)
					len = rec_len(pbrpc_buf_head(&p.c_out));
				both = deliver(&p.c_out, &p.s, &p.s_out, record == 3 ? i : -1) ==
				       PBRPC_HS_DONE;
			}
			assert_false(both);
			pair_free(&p);
			if ((size_t)i + 1 >= len)
				break;
		}
	}
}

static void expect_refusal(pbrpc_buf *out, const char *why)
{
	assert_true(pbrpc_buf_len(out) > PBRPC_RECORD_HEADER);
	Pbrpc__Wire__ServerHello *sh =
	    pbrpc__wire__server_hello__unpack(NULL, pbrpc_buf_len(out) - PBRPC_RECORD_HEADER,
	                                      pbrpc_buf_head(out) + PBRPC_RECORD_HEADER);
	assert_non_null(sh);
	assert_non_null(strstr(sh->error, why));
	pbrpc__wire__server_hello__free_unpacked(sh, NULL);
}

/* Each server speaks only the protocols it has keys for, and says so. */
static void test_v2_protocol_off(void **state)
{
	(void)state;
	uint8_t psk[32];
	randombytes_buf(psk, sizeof psk);
	pair p;
	pair_init(&p, c_static, NULL, psk); /* a shared-key-only server */
	assert_int_equal(pbrpc_handshake_client_hello(&p.c, &p.c_out), 0);
	assert_int_equal(deliver(&p.c_out, &p.s, &p.s_out, -1), PBRPC_HS_FAILED);
	expect_refusal(&p.s_out, "does not accept client keys");
	pair_free(&p);
	pair_init(&p, NULL, s_static, NULL); /* a shared-key client, a keys-only server */
	pbrpc_handshake_init(&p.c, 0, psk, MAXREC);
	assert_int_equal(pbrpc_handshake_client_hello(&p.c, &p.c_out), 0);
	assert_int_equal(deliver(&p.c_out, &p.s, &p.s_out, -1), PBRPC_HS_FAILED);
	expect_refusal(&p.s_out, "does not accept the shared key");
	pair_free(&p);
}

/* An all-zero (low-order) ephemeral key is refused with a reason, in both
 * protocols, and not answered with a hello and then silence. */
static void test_low_order_ephemeral_refused(void **state)
{
	(void)state;
	uint8_t psk[32], rec[256];
	randombytes_buf(psk, sizeof psk);
	for (int version = 1; version <= 2; version++) {
		Pbrpc__Wire__ClientHello h = PBRPC__WIRE__CLIENT_HELLO__INIT;
		Pbrpc__Wire__Suite suites[1] = {PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305};
		uint8_t zero[32] = {0};
		h.version = (uint32_t)version;
		if (version == 1) {
			h.suites = suites;
			h.n_suites = 1;
			h.ephemeral_pk.data = zero;
			h.ephemeral_pk.len = 32;
		} else {
			h.noise.data = zero; /* e = 0, and an empty payload */
			h.noise.len = 32;
		}
		size_t n = protobuf_c_message_pack(&h.base, rec + 4);
		pbrpc_put_be32(rec, (uint32_t)n);
		pbrpc_handshake s;
		pbrpc_buf out;
		pbrpc_buf_init(&out, 1 << 16);
		pbrpc_handshake_init(&s, 1, psk, MAXREC);
		pbrpc_handshake_set_static(&s, s_static);
		int rc = pbrpc_handshake_recv(&s, rec, n + 4, &out);
		assert_int_equal(rc, PBRPC_HS_FAILED);
		expect_refusal(&out, version == 1 ? "bad ephemeral key" : "");
		pbrpc_buf_free(&out);
		pbrpc_handshake_wipe(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_success),
	    cmocka_unit_test(test_v2_vector_server),
	    cmocka_unit_test(test_v2_vector_client),
	    cmocka_unit_test(test_v2_untrusted_server_gets_nothing),
	    cmocka_unit_test(test_v2_tamper_every_byte),
	    cmocka_unit_test(test_v2_protocol_off),
	    cmocka_unit_test(test_low_order_ephemeral_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
