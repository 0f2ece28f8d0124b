/* Unit tests of the Frame codec (lib/frame.c): round trips, hostile bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "pbrpc/echo.pb-c.h"
#include "pbrpc/wire.pb-c.h"

/* Decodes n bytes from a heap copy of exactly n bytes, so ASan sees any
 * overread. The copy is freed: f's pointers are for bounds checks only. */
static int decode_exact(const uint8_t *p, size_t n, pbrpc_frame *f)
{
	uint8_t *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	if (n)
		memcpy(copy, p, n);
	int rc = pbrpc_frame_decode(copy, n, f);
	if (rc == 0) { /* every pointer stays inside the input */
		if (f->method_len)
			assert_true((const uint8_t *)f->method >= copy &&
			            (const uint8_t *)f->method + f->method_len <= copy + n);
		if (f->payload_len)
			assert_true(f->payload >= copy && f->payload + f->payload_len <= copy + n);
		if (f->message_len)
			assert_true((const uint8_t *)f->message >= copy &&
			            (const uint8_t *)f->message + f->message_len <= copy + n);
	}
	free(copy);
	return rc;
}

static size_t encode(const pbrpc_frame *f, uint8_t *out, size_t cap)
{
	size_t n = pbrpc_frame_size(f, f->payload_len);
	assert_true(n <= cap);
	size_t w = pbrpc_frame_encode(f, NULL, f->payload_len, out);
	assert_int_equal(w, n);
	return w;
}

static void test_round_trip_every_field(void **state)
{
	(void)state;
	uint8_t payload[300];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	pbrpc_frame in = {
	    .call_id = 0x123456789abcdefull,
	    .kind = PBRPC_FRAME_STATUS,
	    .flags = PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE,
	    .method = "pbrpc.echo.Echo.Say",
	    .method_len = strlen("pbrpc.echo.Echo.Say"),
	    .timeout_ms = UINT64_MAX,
	    .payload = payload,
	    .payload_len = sizeof payload,
	    .status = 16,
	    .message = "authentication failed",
	    .message_len = strlen("authentication failed"),
	};
	uint8_t buf[1024], copy[1024];
	size_t n = encode(&in, buf, sizeof buf);
	pbrpc_frame out;
	memcpy(copy, buf, n);
	assert_int_equal(decode_exact(copy, n, &out), 0);
	assert_int_equal(pbrpc_frame_decode(buf, n, &out), 0);
	assert_true(out.call_id == in.call_id);
	assert_int_equal(out.kind, in.kind);
	assert_int_equal(out.flags, in.flags);
	assert_int_equal(out.method_len, in.method_len);
	assert_memory_equal(out.method, in.method, in.method_len);
	assert_true(out.timeout_ms == in.timeout_ms);
	assert_int_equal(out.payload_len, in.payload_len);
	assert_memory_equal(out.payload, payload, sizeof payload);
	assert_int_equal(out.status, in.status);
	assert_int_equal(out.message_len, in.message_len);
	assert_memory_equal(out.message, in.message, in.message_len);

	/* The bytes are standard protobuf: protobuf-c's Frame reads the same values. */
	Pbrpc__Wire__Frame *pf = pbrpc__wire__frame__unpack(NULL, n, buf);
	assert_non_null(pf);
	assert_true(pf->call_id == in.call_id);
	assert_int_equal(pf->kind, PBRPC__WIRE__KIND__KIND_STATUS);
	assert_string_equal(pf->method, "pbrpc.echo.Echo.Say");
	assert_int_equal(pf->payload.len, sizeof payload);
	assert_string_equal(pf->message, "authentication failed");
	pbrpc__wire__frame__free_unpacked(pf, NULL);
}

static void test_empty_frame_and_zero_fields(void **state)
{
	(void)state;
	pbrpc_frame in = {0}, out;
	assert_int_equal(pbrpc_frame_size(&in, 0), 0);
	assert_int_equal(pbrpc_frame_decode((const uint8_t *)"", 0, &out), 0);
	assert_true(out.call_id == 0 && out.kind == 0 && out.payload_len == 0);
	in.call_id = 1;
	uint8_t buf[16];
	size_t n = encode(&in, buf, sizeof buf);
	assert_int_equal(n, 2);
	assert_int_equal(decode_exact(buf, n, &out), 0);
	assert_true(out.call_id == 1);
}

/* Each field alone, at boundary values of its varint. */
static void test_round_trip_varint_boundaries(void **state)
{
	(void)state;
	static const uint64_t vals[] = {
	    1, 127, 128, 16383, 16384, 0xffffffffull, 0x100000000ull, UINT64_MAX};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		pbrpc_frame in = {.call_id = vals[i], .timeout_ms = vals[i]}, out;
		in.kind = (uint32_t)(vals[i] > UINT32_MAX ? UINT32_MAX : vals[i]);
		in.status = in.kind;
		in.flags = in.kind;
		uint8_t buf[64];
		size_t n = encode(&in, buf, sizeof buf);
		assert_int_equal(decode_exact(buf, n, &out), 0);
		assert_true(out.call_id == vals[i]);
		assert_true(out.timeout_ms == vals[i]);
		assert_int_equal(out.kind, in.kind);
		assert_int_equal(out.flags, in.flags);
		assert_int_equal(out.status, in.status);
	}
}

/* A message packed in place by frame_encode equals protobuf-c's packing. */
static void test_encode_packs_message(void **state)
{
	(void)state;
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	req.data.data = (uint8_t *)"hello";
	req.data.len = 5;
	req.upper = 1;
	size_t plen = protobuf_c_message_get_packed_size(&req.base);
	pbrpc_frame in = {.call_id = 9,
	                  .kind = PBRPC_FRAME_REQUEST,
	                  .flags = PBRPC_FLAG_HAS_MESSAGE,
	                  .method = "m",
	                  .method_len = 1};
	uint8_t buf[128], out_msg[64];
	size_t n = pbrpc_frame_size(&in, plen);
	assert_int_equal(pbrpc_frame_encode(&in, &req.base, plen, buf), n);
	pbrpc_frame out;
	assert_int_equal(decode_exact(buf, n, &out), 0);
	assert_int_equal(pbrpc_frame_decode(buf, n, &out), 0);
	assert_int_equal(out.payload_len, plen);
	protobuf_c_message_pack(&req.base, out_msg);
	assert_memory_equal(out.payload, out_msg, plen);
}

static void test_truncated(void **state)
{
	(void)state;
	pbrpc_frame in = {.call_id = 300,
	                  .kind = 1,
	                  .method = "a.b.C.D",
	                  .method_len = 7,
	                  .payload = (const uint8_t *)"xyz",
	                  .payload_len = 3};
	uint8_t buf[64];
	size_t n = encode(&in, buf, sizeof buf);
	/* Cutting inside a field (varint, length or value) fails; at a field
	 * boundary the prefix is a valid shorter frame. Boundaries: after
	 * call_id (3), kind (5), method (14). */
	for (size_t cut = 0; cut < n; cut++) {
		pbrpc_frame out;
		int rc = decode_exact(buf, cut, &out);
		int boundary = cut == 0 || cut == 3 || cut == 5 || cut == 14;
		assert_int_equal(rc, boundary ? 0 : -1);
	}
	/* Explicit: a varint whose continuation bit runs off the end. */
	uint8_t v[] = {0x08, 0x80, 0x80};
	pbrpc_frame out;
	assert_int_equal(decode_exact(v, sizeof v, &out), -1);
	uint8_t key_only[] = {0x08};
	assert_int_equal(decode_exact(key_only, 1, &out), -1);
	uint8_t fixed64_short[] = {(1 << 3) | 1, 1, 2, 3};
	assert_int_equal(decode_exact(fixed64_short, sizeof fixed64_short, &out), -1);
	uint8_t fixed32_short[] = {(1 << 3) | 5, 1, 2, 3};
	assert_int_equal(decode_exact(fixed32_short, sizeof fixed32_short, &out), -1);
}

static void test_overlong_varint(void **state)
{
	(void)state;
	pbrpc_frame out;
	/* 11-byte varint value: more than 64 bits. */
	uint8_t v[12] = {0x08};
	memset(v + 1, 0x80, 10);
	v[11] = 0x01;
	assert_int_equal(decode_exact(v, sizeof v, &out), -1);
	/* An overlong key. */
	uint8_t k[12];
	memset(k, 0x80, 11);
	k[11] = 0x00;
	assert_int_equal(decode_exact(k, sizeof k, &out), -1);
	/* A 10-byte varint is the longest legal one. */
	uint8_t ok[11] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(decode_exact(ok, sizeof ok, &out), 0);
	assert_true(out.call_id == UINT64_MAX);
	/* A field number above 2^32-1 and field number 0. */
	uint8_t big_field[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00};
	assert_int_equal(decode_exact(big_field, sizeof big_field, &out), -1);
	uint8_t field0[] = {0x00, 0x01};
	assert_int_equal(decode_exact(field0, sizeof field0, &out), -1);
}

static void test_length_past_end(void **state)
{
	(void)state;
	pbrpc_frame out;
	uint8_t a[] = {(6 << 3) | 2, 5, 'a', 'b', 'c', 'd'}; /* 5 claimed, 4 present */
	assert_int_equal(decode_exact(a, sizeof a, &out), -1);
	uint8_t b[] = {(4 << 3) | 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'};
	assert_int_equal(decode_exact(b, sizeof b, &out), -1);
	/* A length of 2^64-1 must not wrap the pointer. */
	uint8_t c[] = {(8 << 3) | 2, 0xff, 0xff, 0xff, 0xff, 0xff,
	               0xff,         0xff, 0xff, 0xff, 0x01, 'x'};
	assert_int_equal(decode_exact(c, sizeof c, &out), -1);
	uint8_t d[] = {(12 << 3) | 2, 3, 'a'}; /* unknown field, same rule */
	assert_int_equal(decode_exact(d, sizeof d, &out), -1);
	uint8_t e[] = {(6 << 3) | 2, 4, 'a', 'b', 'c', 'd'}; /* exact fit is fine */
	assert_int_equal(decode_exact(e, sizeof e, &out), 0);
	assert_int_equal(out.payload_len, 4);
}

static size_t put_key(uint8_t *p, uint32_t field, int wt)
{
	uint64_t v = (uint64_t)field << 3 | (uint64_t)wt;
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static void test_unknown_fields_skipped(void **state)
{
	(void)state;
	uint8_t buf[128];
	size_t n = 0;
	n += put_key(buf + n, 1, 0); /* call_id = 7 */
	buf[n++] = 7;
	n += put_key(buf + n, 99, 0); /* unknown varint */
	buf[n++] = 0x96;
	buf[n++] = 0x01;
	n += put_key(buf + n, 100, 1); /* unknown fixed64 */
	memset(buf + n, 0xaa, 8);
	n += 8;
	n += put_key(buf + n, 101, 2); /* unknown length-delimited */
	buf[n++] = 3;
	memcpy(buf + n, "zzz", 3);
	n += 3;
	n += put_key(buf + n, 102, 5); /* unknown fixed32 */
	memset(buf + n, 0xbb, 4);
	n += 4;
	n += put_key(buf + n, 2, 0); /* kind = MESSAGE */
	buf[n++] = 2;
	n += put_key(buf + n, 1000000, 0); /* a large field number */
	buf[n++] = 1;
	n += put_key(buf + n, 536870911, 2); /* the largest field number protobuf allows */
	buf[n++] = 0;
	pbrpc_frame out;
	assert_int_equal(decode_exact(buf, n, &out), 0);
	assert_true(out.call_id == 7);
	assert_int_equal(out.kind, PBRPC_FRAME_MESSAGE);
	assert_int_equal(out.payload_len, 0);
}

/* docs/protocol.md: a known field sent with the wrong wire type is rejected. */
static void test_mistyped_known_field(void **state)
{
	(void)state;
	static const int wire_types[] = {0, 1, 2, 5};
	for (uint32_t field = 1; field <= 8; field++) {
		int is_len = field == 4 || field == 6 || field == 8;
		for (size_t i = 0; i < 4; i++) {
			int wt = wire_types[i];
			if ((wt == 2) == is_len)
				continue; /* the right wire type */
			uint8_t buf[32];
			size_t n = put_key(buf, field, wt);
			if (wt == 0)
				buf[n++] = 1;
			else if (wt == 2)
				buf[n++] = 0;
			else {
				memset(buf + n, 0, wt == 1 ? 8 : 4);
				n += wt == 1 ? 8 : 4;
			}
			pbrpc_frame out;
			if (decode_exact(buf, n, &out) != -1)
				fail_msg("field %u with wire type %d was accepted", field, wt);
		}
	}
}

static void test_bad_wire_types(void **state)
{
	(void)state;
	for (int wt = 3; wt <= 7; wt++) {
		if (wt == 5)
			continue;
		uint8_t groups[] = {(uint8_t)((1 << 3) | wt), 0, 0, 0, 0, 0, 0, 0, 0};
		pbrpc_frame out;
		assert_int_equal(decode_exact(groups, sizeof groups, &out), -1);
		/* Also after a valid field. */
		uint8_t later[] = {1 << 3, 5, (uint8_t)((15 << 3) | wt), 0};
		assert_int_equal(decode_exact(later, sizeof later, &out), -1);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13; /* xorshift64: fixed seed, reproducible */
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Random bytes and random mutations of valid frames: never a crash or an
 * out-of-bounds pointer (run under ASan by make check-asan). */
static void test_random_bytes(void **state)
{
	(void)state;
	uint8_t valid[128];
	pbrpc_frame in = {.call_id = 77,
	                  .kind = 1,
	                  .flags = 3,
	                  .method = "pbrpc.echo.Echo.Say",
	                  .method_len = 19,
	                  .timeout_ms = 1000,
	                  .payload = (const uint8_t *)"abcdef",
	                  .payload_len = 6,
	                  .status = 3,
	                  .message = "msg",
	                  .message_len = 3};
	size_t vn = encode(&in, valid, sizeof valid);
	uint8_t buf[160];
	int ok = 0;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n;
		if (iter & 1) {
			n = rnd() % sizeof buf;
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)rnd();
		} else {
			n = vn;
			memcpy(buf, valid, vn);
			int flips = 1 + rnd() % 4;
			for (int k = 0; k < flips; k++)
				buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 4 == 0)
				n = rnd() % (n + 1);
		}
		pbrpc_frame out;
		if (decode_exact(buf, n, &out) == 0)
			ok++;
	}
	assert_true(ok > 0); /* some mutations stay valid protobuf */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_field),
	    cmocka_unit_test(test_empty_frame_and_zero_fields),
	    cmocka_unit_test(test_round_trip_varint_boundaries),
	    cmocka_unit_test(test_encode_packs_message),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_overlong_varint),
	    cmocka_unit_test(test_length_past_end),
	    cmocka_unit_test(test_unknown_fields_skipped),
	    cmocka_unit_test(test_mistyped_known_field),
	    cmocka_unit_test(test_bad_wire_types),
	    cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
