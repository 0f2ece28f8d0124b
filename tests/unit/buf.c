/* Unit tests of pbrpc_buf: a byte buffer with a hard maximum size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_init_empty(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 100);
	assert_int_equal(pbrpc_buf_len(&b), 0);
	assert_int_equal(pbrpc_buf_room(&b), 0);
	assert_null(b.data);
	pbrpc_buf_free(&b);
	pbrpc_buf_free(&b); /* twice is harmless */
}

static void test_append_consume(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 1 << 20);
	assert_int_equal(pbrpc_buf_append(&b, "hello ", 6), 0);
	assert_int_equal(pbrpc_buf_append(&b, "world", 5), 0);
	assert_int_equal(pbrpc_buf_len(&b), 11);
	assert_memory_equal(pbrpc_buf_head(&b), "hello world", 11);
	pbrpc_buf_consume(&b, 6);
	assert_int_equal(pbrpc_buf_len(&b), 5);
	assert_memory_equal(pbrpc_buf_head(&b), "world", 5);
	pbrpc_buf_consume(&b, 5);
	assert_int_equal(pbrpc_buf_len(&b), 0);
	/* Emptying resets to the start, so no space is lost. */
	assert_int_equal(b.start, 0);
	assert_int_equal(b.end, 0);
	assert_int_equal(pbrpc_buf_append(&b, "", 0), 0);
	pbrpc_buf_free(&b);
}

static void test_reserve_commit(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 10000);
	assert_int_equal(pbrpc_buf_reserve(&b, 5000), 0);
	assert_true(pbrpc_buf_room(&b) >= 5000);
	assert_true(b.size <= b.max);
	memset(pbrpc_buf_tail(&b), 'x', 5000);
	pbrpc_buf_commit(&b, 5000);
	assert_int_equal(pbrpc_buf_len(&b), 5000);
	assert_int_equal(pbrpc_buf_reserve(&b, 5000), 0); /* exactly to max */
	assert_int_equal(b.size, 10000);
	assert_int_equal(pbrpc_buf_reserve(&b, 5001), -1);
	assert_int_equal(pbrpc_buf_len(&b), 5000); /* a refused reserve changes nothing */
	pbrpc_buf_free(&b);
}

/* Room freed at the head is reused before the buffer grows. */
static void test_compact(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 4096);
	uint8_t data[4096];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	assert_int_equal(pbrpc_buf_append(&b, data, 4000), 0);
	pbrpc_buf_consume(&b, 3000);
	uint8_t *before = b.data;
	/* 1000 live + 3000 more fits in 4096 only if the live bytes slide down. */
	assert_int_equal(pbrpc_buf_append(&b, data, 3000), 0);
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.start, 0);
	assert_int_equal(pbrpc_buf_len(&b), 4000);
	assert_memory_equal(pbrpc_buf_head(&b), data + 3000, 1000);
	assert_memory_equal(pbrpc_buf_head(&b) + 1000, data, 3000);
	pbrpc_buf_free(&b);
}

static void test_max_enforced(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 100);
	uint8_t data[101] = {0};
	assert_int_equal(pbrpc_buf_append(&b, data, 101), -1);
	assert_int_equal(pbrpc_buf_len(&b), 0);
	assert_int_equal(pbrpc_buf_append(&b, data, 100), 0);
	assert_int_equal(b.size, 100); /* growth is clamped to max */
	assert_int_equal(pbrpc_buf_append(&b, data, 1), -1);
	pbrpc_buf_consume(&b, 1);
	assert_int_equal(pbrpc_buf_append(&b, data, 1), 0);
	assert_int_equal(pbrpc_buf_append(&b, data, 1), -1);
	/* Sizes that would overflow size_t are refused, not wrapped. */
	assert_int_equal(pbrpc_buf_reserve(&b, SIZE_MAX), -1);
	assert_int_equal(pbrpc_buf_reserve(&b, SIZE_MAX - 50), -1);
	pbrpc_buf_free(&b);

	pbrpc_buf z;
	pbrpc_buf_init(&z, 0); /* max 0: nothing fits */
	assert_int_equal(pbrpc_buf_append(&z, data, 1), -1);
	assert_int_equal(pbrpc_buf_reserve(&z, 0), 0);
	pbrpc_buf_free(&z);
}

static void test_growth_keeps_bytes(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 1 << 20);
	for (int i = 0; i < 100000; i++) {
		uint8_t v = (uint8_t)i;
		assert_int_equal(pbrpc_buf_append(&b, &v, 1), 0);
		if (i % 3 == 0)
			pbrpc_buf_consume(&b, 1);
	}
	size_t n = pbrpc_buf_len(&b);
	assert_true(n > 0 && b.size <= b.max);
	/* the bytes left are the last n appended, in order */
	for (size_t k = 0; k + 1 < n; k++)
		assert_int_equal((uint8_t)(pbrpc_buf_head(&b)[k] + 1), pbrpc_buf_head(&b)[k + 1]);
	pbrpc_buf_free(&b);
}

static void test_shrink(void **state)
{
	(void)state;
	pbrpc_buf b;
	pbrpc_buf_init(&b, 1 << 20);
	uint8_t data[8192] = {0};
	assert_int_equal(pbrpc_buf_append(&b, data, sizeof data), 0);
	pbrpc_buf_shrink(&b, 0); /* not empty: kept */
	assert_non_null(b.data);
	pbrpc_buf_consume(&b, sizeof data);
	pbrpc_buf_shrink(&b, 1 << 16); /* small enough: kept */
	assert_non_null(b.data);
	pbrpc_buf_shrink(&b, 0);
	assert_null(b.data);
	assert_int_equal(b.size, 0);
	assert_int_equal(b.max, 1 << 20); /* the limit survives */
	assert_int_equal(pbrpc_buf_append(&b, "a", 1), 0);
	pbrpc_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_empty),     cmocka_unit_test(test_append_consume),
	    cmocka_unit_test(test_reserve_commit), cmocka_unit_test(test_compact),
	    cmocka_unit_test(test_max_enforced),   cmocka_unit_test(test_growth_keeps_bytes),
	    cmocka_unit_test(test_shrink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
