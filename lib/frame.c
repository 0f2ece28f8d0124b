/* frame.c - protobuf coding of the Frame message, bounds-checked by hand. */
#include "frame.h"

#include <string.h>

#include "record.h"

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };
enum {
	F_CALL_ID = 1,
	F_KIND = 2,
	F_FLAGS = 3,
	F_METHOD = 4,
	F_TIMEOUT = 5,
	F_PAYLOAD = 6,
	F_STATUS = 7,
	F_MESSAGE = 8,
};

static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	if (*p < end && **p < 0x80) { /* most keys and values fit in one byte */
		*v = *(*p)++;
		return 0;
	}
	uint64_t x = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		if (shift == 63 && b > 1)
			return -1; /* more than 64 bits */
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int pbrpc_frame_decode(const uint8_t *p, size_t n, pbrpc_frame *f)
{
	const uint8_t *end = p + n;
	memset(f, 0, sizeof *f);
	while (p < end) {
		uint64_t key, v;
		if (get_varint(&p, end, &key) != 0 || key >> 3 == 0 || key >> 3 > UINT32_MAX)
			return -1;
		switch (key & 7) {
		case WIRE_VARINT:
			if (get_varint(&p, end, &v) != 0)
				return -1;
			switch (key >> 3) {
			case F_CALL_ID: f->call_id = v; break;
			case F_KIND: f->kind = v > UINT32_MAX ? 0 : (uint32_t)v; break;
			case F_FLAGS: f->flags = (uint32_t)v; break;
			case F_TIMEOUT: f->timeout_ms = v; break;
			case F_STATUS: f->status = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; break;
			case F_METHOD:
			case F_PAYLOAD:
			case F_MESSAGE: return -1; /* a known field with the wrong wire type */
			}
			break;
		case WIRE_LEN:
			if (get_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
				return -1;
			switch (key >> 3) {
			case F_METHOD:
				f->method = (const char *)p;
				f->method_len = v;
				break;
			case F_PAYLOAD:
				f->payload = p;
				f->payload_len = v;
				break;
			case F_MESSAGE:
				f->message = (const char *)p;
				f->message_len = v;
				break;
			case F_CALL_ID:
			case F_KIND:
			case F_FLAGS:
			case F_TIMEOUT:
			case F_STATUS: return -1;
			}
			p += v;
			break;
		case WIRE_I64:
			if (end - p < 8 || key >> 3 <= F_MESSAGE) /* ours are never fixed-width */
				return -1;
			p += 8;
			break;
		case WIRE_I32:
			if (end - p < 4 || key >> 3 <= F_MESSAGE)
				return -1;
			p += 4;
			break;
		default: return -1;
		}
	}
	return 0;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_uint(uint8_t *p, int field, uint64_t v)
{
	if (v == 0)
		return p;
	p = put_varint(p, (uint64_t)field << 3 | WIRE_VARINT);
	return put_varint(p, v);
}

static uint8_t *put_bytes(uint8_t *p, int field, const void *data, size_t len)
{
	if (len == 0)
		return p;
	p = put_varint(p, (uint64_t)field << 3 | WIRE_LEN);
	p = put_varint(p, len);
	memcpy(p, data, len);
	return p + len;
}

static size_t uint_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static size_t bytes_size(size_t len)
{
	return len ? 1 + varint_size(len) + len : 0;
}

size_t pbrpc_frame_size(const pbrpc_frame *f, size_t payload_len)
{
	return uint_size(f->call_id) + uint_size(f->kind) + uint_size(f->flags) +
	       bytes_size(f->method_len) + uint_size(f->timeout_ms) + bytes_size(payload_len) +
	       uint_size(f->status) + bytes_size(f->message_len);
}

size_t pbrpc_frame_encode(const pbrpc_frame *f, const ProtobufCMessage *msg, size_t payload_len,
                          uint8_t *out)
{
	uint8_t *p = out;
	p = put_uint(p, F_CALL_ID, f->call_id);
	p = put_uint(p, F_KIND, f->kind);
	p = put_uint(p, F_FLAGS, f->flags);
	p = put_bytes(p, F_METHOD, f->method, f->method_len);
	p = put_uint(p, F_TIMEOUT, f->timeout_ms);
	if (msg && payload_len) {
		p = put_varint(p, (uint64_t)F_PAYLOAD << 3 | WIRE_LEN);
		p = put_varint(p, payload_len);
		p += protobuf_c_message_pack(msg, p);
	} else {
		p = put_bytes(p, F_PAYLOAD, f->payload, payload_len);
	}
	p = put_uint(p, F_STATUS, f->status);
	p = put_bytes(p, F_MESSAGE, f->message, f->message_len);
	return (size_t)(p - out);
}

int pbrpc_frame_append_sealed(pbrpc_buf *out, pbrpc_channel *ch, const pbrpc_frame *f,
                              const ProtobufCMessage *msg, uint32_t max_body)
{
	size_t payload_len = msg ? protobuf_c_message_get_packed_size(msg) : f->payload_len;
	size_t plain = pbrpc_frame_size(f, payload_len);
	if (plain + PBRPC_SEAL_OVERHEAD > max_body)
		return -1;
	if (pbrpc_buf_reserve(out, PBRPC_RECORD_HEADER + plain + PBRPC_SEAL_OVERHEAD) != 0)
		return -2;
	uint8_t *rec = pbrpc_buf_tail(out);
	pbrpc_frame_encode(f, msg, payload_len, rec + PBRPC_RECORD_HEADER);
	pbrpc_buf_commit(out, pbrpc_channel_seal(ch, rec, plain));
	return 0;
}
