/* Unit tests of the sealed channel: AEAD per direction, counter nonces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "record.h"

typedef struct pair {
	pbrpc_channel a, b; /* a's tx is b's rx and the other way round */
} pair;

static int setup(void **state, int suite)
{
	static pair p;
	uint8_t k1[32], k2[32];
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(k1, sizeof k1);
	randombytes_buf(k2, sizeof k2);
	memset(&p, 0, sizeof p);
	p.a.suite = p.b.suite = suite;
	if (suite == PBRPC_SUITE_AES256_GCM && !pbrpc_channel_aes_available()) {
		*state = &p; /* each test skips */
		return 0;
	}
	pbrpc_channel_init(&p.a, suite, k1, k2);
	pbrpc_channel_init(&p.b, suite, k2, k1);
	*state = &p;
	return 0;
}
static int setup_chacha(void **state)
{
	return setup(state, PBRPC_SUITE_CHACHA20_POLY1305);
}
static int setup_aes(void **state)
{
	return setup(state, PBRPC_SUITE_AES256_GCM);
}

static int is_aes(const pair *p)
{
	return p->a.suite == PBRPC_SUITE_AES256_GCM;
}
#define SKIP_IF_NO_AES(p)                                                                          \
	do {                                                                                       \
		if (is_aes(p) && !pbrpc_channel_aes_available())                                   \
			skip();                                                                    \
	} while (0)

/* Seals text into rec (which must hold 4 + len + 16); returns the record length. */
static size_t seal(pbrpc_channel *ch, uint8_t *rec, const char *text, size_t len)
{
	memcpy(rec + PBRPC_RECORD_HEADER, text, len);
	size_t n = pbrpc_channel_seal(ch, rec, len);
	assert_int_equal(n, PBRPC_RECORD_HEADER + len + PBRPC_SEAL_OVERHEAD);
	assert_int_equal(pbrpc_get_be32(rec), len + PBRPC_SEAL_OVERHEAD);
	return n;
}

static int open_rec(pbrpc_channel *ch, uint8_t *rec, size_t rec_len, size_t *plain)
{
	return pbrpc_channel_open(ch, rec, rec_len - PBRPC_RECORD_HEADER, plain);
}

static void test_round_trip(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t rec[4 + 1000 + 16];
	char text[1000];
	for (size_t len = 0; len <= sizeof text; len += len < 40 ? 1 : 97) {
		for (size_t i = 0; i < len; i++)
			text[i] = (char)('a' + (i + len) % 26);
		size_t n = seal(&p->a, rec, text, len);
		if (len >= 16) /* it is encrypted */
			assert_memory_not_equal(rec + 4, text, len);
		size_t plain = 99999;
		assert_int_equal(open_rec(&p->b, rec, n, &plain), 0);
		assert_int_equal(plain, len);
		assert_memory_equal(rec + 4, text, len);
		/* and the other direction */
		n = seal(&p->b, rec, text, len);
		assert_int_equal(open_rec(&p->a, rec, n, &plain), 0);
		assert_memory_equal(rec + 4, text, len);
	}
	assert_string_equal(pbrpc_suite_name(p->a.suite),
	                    is_aes(p) ? "aes256-gcm" : "chacha20-poly1305");
}

/* Any single flipped bit, in the header, the ciphertext or the tag, fails;
 * failures do not move the counter, so the genuine record still opens. */
static void test_flipped_bits(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t rec[4 + 32 + 16], orig[sizeof rec], tmp[sizeof rec];
	size_t n = seal(&p->a, rec, "a secret message, thirty-two b.", 32);
	memcpy(orig, rec, n);
	for (size_t byte = 0; byte < n; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(tmp, orig, n);
			tmp[byte] ^= (uint8_t)(1u << bit);
			size_t plain;
			/* The body length stays what was sent: a changed header is caught by
			 * the associated data, not by a length mismatch. */
			assert_int_equal(pbrpc_channel_open(&p->b, tmp, n - 4, &plain), -1);
		}
	}
	size_t plain;
	assert_int_equal(open_rec(&p->b, orig, n, &plain), 0);
	assert_memory_equal(orig + 4, "a secret message, thirty-two b.", 32);
}

static void test_replay(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t rec[64], copy[64];
	size_t n = seal(&p->a, rec, "once", 4), plain;
	memcpy(copy, rec, n);
	assert_int_equal(open_rec(&p->b, rec, n, &plain), 0);
	assert_int_equal(open_rec(&p->b, copy, n, &plain), -1);
	/* The stream goes on after the rejected replay. */
	n = seal(&p->a, rec, "twice", 5);
	assert_int_equal(open_rec(&p->b, rec, n, &plain), 0);
	assert_memory_equal(rec + 4, "twice", 5);
}

static void test_reorder(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t r1[64], r2[64], r2copy[64];
	size_t n1 = seal(&p->a, r1, "first", 5), plain;
	size_t n2 = seal(&p->a, r2, "second", 6);
	memcpy(r2copy, r2, n2);
	assert_int_equal(open_rec(&p->b, r2, n2, &plain), -1);
	assert_int_equal(open_rec(&p->b, r1, n1, &plain), 0);
	assert_memory_equal(r1 + 4, "first", 5);
	assert_int_equal(open_rec(&p->b, r2copy, n2, &plain), 0);
	assert_memory_equal(r2copy + 4, "second", 6);
}

/* A dropped record: the next one does not open either. */
static void test_dropped(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t r1[64], r2[64];
	seal(&p->a, r1, "lost", 4);
	size_t n2 = seal(&p->a, r2, "after", 5), plain;
	assert_int_equal(open_rec(&p->b, r2, n2, &plain), -1);
}

static void test_truncated(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t rec[64], tmp[64];
	size_t n = seal(&p->a, rec, "truncate me", 11), plain;
	for (size_t body = 0; body < n - 4; body++) {
		memcpy(tmp, rec, n);
		pbrpc_put_be32(tmp, (uint32_t)body); /* a consistent header does not help */
		assert_int_equal(pbrpc_channel_open(&p->b, tmp, body, &plain), -1);
		memcpy(tmp, rec, n);
		assert_int_equal(pbrpc_channel_open(&p->b, tmp, body, &plain), -1);
	}
	assert_int_equal(open_rec(&p->b, rec, n, &plain), 0);
}

/* Records of one key do not open with the other direction's key. */
static void test_wrong_direction(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t rec[64];
	size_t n = seal(&p->a, rec, "to b", 4), plain;
	pbrpc_channel self = p->a; /* a's own rx key is the other key */
	assert_int_equal(open_rec(&self, rec, n, &plain), -1);
}

static void test_counters_per_direction(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	uint8_t rec[64];
	size_t plain;
	for (int i = 0; i < 3; i++) {
		size_t n = seal(&p->a, rec, "x", 1);
		assert_int_equal(open_rec(&p->b, rec, n, &plain), 0);
	}
	assert_true(p->a.tx.counter == 3 && p->a.rx.counter == 0);
	assert_true(p->b.rx.counter == 3 && p->b.tx.counter == 0);
	size_t n = seal(&p->b, rec, "y", 1);
	assert_int_equal(open_rec(&p->a, rec, n, &plain), 0);
	assert_true(p->a.rx.counter == 1 && p->b.tx.counter == 1);
	assert_true(p->a.tx.counter == 3 && p->b.rx.counter == 3);
	/* A failed open leaves the counter where it was. */
	n = seal(&p->a, rec, "z", 1);
	rec[5] ^= 1;
	assert_int_equal(open_rec(&p->b, rec, n, &plain), -1);
	assert_true(p->b.rx.counter == 3);
}

static void test_wipe(void **state)
{
	pair *p = *state;
	SKIP_IF_NO_AES(p);
	pbrpc_channel c = p->a;
	pbrpc_channel_wipe(&c);
	static const uint8_t zero[32];
	assert_memory_equal(c.tx.key, zero, 32);
	assert_memory_equal(c.rx.key, zero, 32);
}

#define BOTH(t) cmocka_unit_test_setup(t, setup_chacha), cmocka_unit_test_setup(t, setup_aes)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_round_trip),
	    BOTH(test_flipped_bits),
	    BOTH(test_replay),
	    BOTH(test_reorder),
	    BOTH(test_dropped),
	    BOTH(test_truncated),
	    BOTH(test_wrong_direction),
	    BOTH(test_counters_per_direction),
	    BOTH(test_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
