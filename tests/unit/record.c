/* Unit tests of the record envelope and the hostile-length checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"

static void test_short_header(void **state)
{
	(void)state;
	uint8_t p[3] = {0, 0, 0};
	uint32_t len = 0;
	for (size_t n = 0; n < 4; n++)
		assert_int_equal(pbrpc_record_check(p, n < 3 ? n : 3, 100, &len),
		                 PBRPC_RECORD_SHORT);
}

static void test_zero_and_over_cap(void **state)
{
	(void)state;
	uint8_t zero[4] = {0, 0, 0, 0}, big[4];
	uint32_t len;
	assert_int_equal(pbrpc_record_check(zero, 4, 100, &len), PBRPC_RECORD_BAD);
	pbrpc_put_be32(big, 101);
	assert_int_equal(pbrpc_record_check(big, 4, 100, &len), PBRPC_RECORD_BAD);
	assert_int_equal(len, 101);
	pbrpc_put_be32(big, 0xffffffffu);
	assert_int_equal(pbrpc_record_check(big, 4, 100, &len), PBRPC_RECORD_BAD);
}

/* Every split of a two-record stream gives the same records. */
static void test_any_split(void **state)
{
	(void)state;
	uint8_t stream[4 + 5 + 4 + 3];
	pbrpc_put_be32(stream, 5);
	memcpy(stream + 4, "hello", 5);
	pbrpc_put_be32(stream + 9, 3);
	memcpy(stream + 13, "abc", 3);
	for (size_t cut = 0; cut <= sizeof stream; cut++) {
		uint32_t len;
		int rc = pbrpc_record_check(stream, cut, 100, &len);
		if (cut < 9)
			assert_int_equal(rc, PBRPC_RECORD_SHORT);
		else
			assert_int_equal(rc, PBRPC_RECORD_READY);
		if (cut >= 9) {
			rc = pbrpc_record_check(stream + 9, cut - 9, 100, &len);
			assert_int_equal(rc, cut == sizeof stream ? PBRPC_RECORD_READY
			                                          : PBRPC_RECORD_SHORT);
		}
	}
}

static void test_big_endian(void **state)
{
	(void)state;
	uint8_t p[4];
	pbrpc_put_be32(p, 0x01020304u);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[3], 4);
	assert_int_equal(pbrpc_get_be32(p), 0x01020304u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_header),
	    cmocka_unit_test(test_zero_and_over_cap),
	    cmocka_unit_test(test_any_split),
	    cmocka_unit_test(test_big_endian),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
