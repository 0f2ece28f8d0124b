/* fuzz_record.c - the record envelope (record.c) and the input buffer
 * (buf.c) fed a byte stream in fuzzer-chosen splits, the way conn.c reads a
 * socket. Every split must find exactly the records, and the bad length, that
 * one pass over the whole stream finds.
 *
 * Input: byte 0 picks the length cap and the largest read; byte 1 seeds the
 * read sizes; the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 4096

typedef struct found {
	size_t n;
	size_t offset[MAX_RECORDS]; /* where each record starts in the stream */
	uint32_t body_len[MAX_RECORDS];
	int bad;           /* a bad length ended the stream */
	size_t bad_offset; /* where its header starts */
} found;

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The reference: one pass over the whole stream. */
static void parse_whole(const uint8_t *p, size_t n, uint32_t cap, found *out)
{
	size_t at = 0;
	while (n - at >= PBRPC_RECORD_HEADER && out->n < MAX_RECORDS) {
		uint32_t len = pbrpc_get_be32(p + at);
		if (len == 0 || len > cap) {
			out->bad = 1;
			out->bad_offset = at;
			return;
		}
		if (n - at - PBRPC_RECORD_HEADER < len)
			return;
		out->offset[out->n] = at;
		out->body_len[out->n++] = len;
		at += PBRPC_RECORD_HEADER + len;
	}
}

typedef struct reader {
	const uint8_t *stream; /* to check each record's bytes against */
	size_t consumed;       /* stream offset of the first byte not yet a record */
	uint32_t cap;
	found got;
} reader;

/* conn.c's handle_records: every whole record in p[0, n); bytes used, or -1. */
static long take_records(reader *r, const uint8_t *p, size_t n)
{
	size_t used = 0;
	for (;;) {
		uint32_t body_len = 0;
		int rc = pbrpc_record_check(p + used, n - used, r->cap, &body_len);
		if (rc == PBRPC_RECORD_SHORT)
			return (long)used;
		if (rc == PBRPC_RECORD_BAD) {
			check(body_len == 0 || body_len > r->cap);
			r->got.bad = 1;
			r->got.bad_offset = r->consumed;
			return -1;
		}
		check(rc == PBRPC_RECORD_READY && body_len > 0 && body_len <= r->cap);
		if (r->got.n == MAX_RECORDS)
			return -1;
		size_t whole = PBRPC_RECORD_HEADER + body_len;
		check(memcmp(p + used, r->stream + r->consumed, whole) == 0);
		r->got.offset[r->got.n] = r->consumed;
		r->got.body_len[r->got.n++] = body_len;
		r->consumed += whole;
		used += whole;
	}
}

static uint32_t next_rand(uint32_t *state)
{
	uint32_t x = *state; /* xorshift32 */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t caps[4] = {PBRPC_HANDSHAKE_MAX_RECORD, 16, 300, 65536};
	static const size_t max_reads[4] = {1, 7, 64, 4096};
	if (size < 2)
		return 0;
	uint32_t cap = caps[data[0] & 3];
	size_t max_read = max_reads[(data[0] >> 2) & 3];
	uint32_t seed = 0x9e3779b9u ^ data[1];
	const uint8_t *stream = data + 2;
	size_t n = size - 2;

	static found want;
	memset(&want, 0, sizeof want);
	parse_whole(stream, n, cap, &want);

	static reader r;
	memset(&r, 0, sizeof r);
	r.stream = stream;
	r.cap = cap;
	pbrpc_buf in;
	pbrpc_buf_init(&in, (size_t)cap + PBRPC_RECORD_HEADER + max_read);

	size_t at = 0;
	while (at < n && !r.got.bad && r.got.n < MAX_RECORDS) {
		size_t chunk = 1 + next_rand(&seed) % max_read;
		if (chunk > n - at)
			chunk = n - at;
		if (pbrpc_buf_len(&in) == 0) {
			/* conn.c's scratch path: records straight from the read. */
			long used = take_records(&r, stream + at, chunk);
			if (used >= 0 && (size_t)used < chunk)
				check(pbrpc_buf_append(&in, stream + at + used,
				                       chunk - (size_t)used) == 0);
		} else {
			/* conn.c's on_alloc: room for the rest of a checked record. */
			size_t room_wanted = max_read;
			if (pbrpc_buf_len(&in) >= PBRPC_RECORD_HEADER) {
				size_t need = PBRPC_RECORD_HEADER +
				              pbrpc_get_be32(pbrpc_buf_head(&in)) -
				              pbrpc_buf_len(&in);
				if (need > room_wanted)
					room_wanted = need;
			}
			check(pbrpc_buf_reserve(&in, room_wanted) == 0);
			check(pbrpc_buf_room(&in) >= room_wanted && in.size <= in.max);
			if (chunk > pbrpc_buf_room(&in))
				chunk = pbrpc_buf_room(&in);
			memcpy(pbrpc_buf_tail(&in), stream + at, chunk);
			pbrpc_buf_commit(&in, chunk);
			long used = take_records(&r, pbrpc_buf_head(&in), pbrpc_buf_len(&in));
			if (used > 0)
				pbrpc_buf_consume(&in, (size_t)used);
			pbrpc_buf_shrink(&in, 0);
		}
		check(in.start <= in.end && in.end <= in.size && in.size <= in.max);
		at += chunk;
	}

	check(r.got.n == want.n && r.got.bad == want.bad);
	check(memcmp(r.got.offset, want.offset, want.n * sizeof want.offset[0]) == 0);
	check(memcmp(r.got.body_len, want.body_len, want.n * sizeof want.body_len[0]) == 0);
	if (want.bad)
		check(r.got.bad_offset == want.bad_offset);
	else if (want.n < MAX_RECORDS)
		check(r.consumed + pbrpc_buf_len(&in) == n); /* the rest waits in the buffer */
	pbrpc_buf_free(&in);
	return 0;
}
