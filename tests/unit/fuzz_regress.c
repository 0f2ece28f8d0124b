/* Regression tests for what the fuzzers of tests/fuzz found: each case
 * replays the input kept in tests/fuzz/corpus/TARGET/regress-* (the fuzzers
 * keep running it too) and checks the fixed behaviour, so that a gcc build
 * checks it without clang or libFuzzer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "handshake.h"
#include "record.h"

/* fuzz_handshake_server, regress-empty-output-buf: a ClientHello that does not
 * decode (protobuf-c refuses it) makes the server fail without writing
 * anything, and its output buffer never gets memory. pbrpc_buf_head() then
 * computed NULL + 0, which is undefined (UBSan: "applying zero offset to null
 * pointer"). An empty buffer's head and tail are now NULL by definition. */
static const uint8_t bad_client_hello[] = {
    0x00, 0x00, 0x00, 0x00, 0x39, 0x08, 0x02, 0x12, 0x01, 0x01, 0x1a, 0x20, 0x35, 0x80,
    0x72, 0xd6, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xdf, 0x91, 0x21, 0x38,
    0x38, 0x51, 0x01, 0x12, 0x02, 0x02, 0x01, 0x1a, 0x20, 0x35, 0x80, 0x72, 0xd6, 0x36,
    0x58, 0x80, 0xd1, 0xae, 0xea, 0x32, 0x9a, 0xdf, 0xed, 0x21, 0xa2, 0x8e, 0x3b, 0x75,
    0xe9, 0x65, 0xd0, 0xd2, 0xcd, 0x16, 0x62, 0x54, 0x20, 0x80, 0x80, 0x80, 0x02, 0x2a,
    0x0b, 0x70, 0x62, 0x72, 0x70, 0x63, 0x2f, 0x30, 0x2e, 0x31, 0x2e, 0x30,
};

static void test_handshake_bad_hello_leaves_output_empty(void **state)
{
	(void)state;
	uint8_t psk[PBRPC_KEY_BYTES] = {0};
	const uint8_t *rec = bad_client_hello + 1; /* byte 0: the fuzzer's flags */
	size_t n = sizeof bad_client_hello - 1;
	uint32_t body_len;
	assert_int_equal(pbrpc_record_check(rec, n, PBRPC_HANDSHAKE_MAX_RECORD, &body_len),
	                 PBRPC_RECORD_READY);

	pbrpc_handshake hs;
	pbrpc_buf out;
	pbrpc_handshake_init(&hs, 1, psk, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_buf_init(&out, 1 << 16);
	assert_int_equal(pbrpc_handshake_recv(&hs, rec, PBRPC_RECORD_HEADER + body_len, &out),
	                 PBRPC_HS_FAILED);
	assert_int_equal(hs.status, PBRPC_INVALID_ARGUMENT);
	assert_int_equal(pbrpc_buf_len(&out), 0);
	assert_null(pbrpc_buf_head(&out));
	assert_null(pbrpc_buf_tail(&out));
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&hs);
}

/* The same for every accessor of a buffer that never allocated. */
static void test_buf_empty_accessors(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 64);
	assert_null(pbrpc_buf_head(&b));
	assert_null(pbrpc_buf_tail(&b));
	assert_int_equal(pbrpc_buf_append(&b, NULL, 0), 0); /* nothing to copy, nothing allocated */
	assert_null(b.data);
	assert_int_equal(pbrpc_buf_append(&b, "ab", 2), 0);
	assert_memory_equal(pbrpc_buf_head(&b), "ab", 2);
	assert_ptr_equal(pbrpc_buf_tail(&b), pbrpc_buf_head(&b) + 2);
	pbrpc_buf_free(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_bad_hello_leaves_output_empty),
	    cmocka_unit_test(test_buf_empty_accessors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
