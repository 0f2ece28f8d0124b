/* frame.h - the Frame inside every sealed record (proto/pbrpc/wire.proto).
 * Coded by hand: decoding points into the record (no copy, no allocation)
 * and encoding packs the payload message straight into the output buffer.
 * The bytes are standard protobuf, so any protobuf library reads them. */
#ifndef PBRPC_FRAME_H
#define PBRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

enum pbrpc_frame_kind {
	PBRPC_FRAME_REQUEST = 1,
	PBRPC_FRAME_MESSAGE = 2,
	PBRPC_FRAME_HALF_CLOSE = 3,
	PBRPC_FRAME_CANCEL = 4,
	PBRPC_FRAME_STATUS = 5,
};

enum { PBRPC_FLAG_HAS_MESSAGE = 1, PBRPC_FLAG_HALF_CLOSE = 2 };

typedef struct pbrpc_frame {
	uint64_t call_id;
	uint32_t kind;
	uint32_t flags;
	const char *method; /* not NUL-terminated */
	size_t method_len;
	uint64_t timeout_ms;
	const uint8_t *payload;
	size_t payload_len;
	uint32_t status;
	const char *message; /* not NUL-terminated */
	size_t message_len;
} pbrpc_frame;

/* Parses a Frame; pointers refer into p. Returns 0, or -1 if malformed. */
int pbrpc_frame_decode(const uint8_t *p, size_t n, pbrpc_frame *f);

/* Bytes pbrpc_frame_encode() writes for f plus a payload of payload_len bytes. */
size_t pbrpc_frame_size(const pbrpc_frame *f, size_t payload_len);
/* Writes f into out (which has pbrpc_frame_size() bytes). The payload is
 * msg packed in place if msg is set, else f->payload. Returns bytes written. */
size_t pbrpc_frame_encode(const pbrpc_frame *f, const ProtobufCMessage *msg, size_t payload_len,
                          uint8_t *out);

#include "buf.h"
#include "channel.h"

/* Encodes f (payload = msg packed, or f->payload), seals it as one record and
 * appends it to out. Returns 0, -1 if it would exceed max_body (the peer's
 * limit), or -2 if out is full. */
int pbrpc_frame_append_sealed(pbrpc_buf *out, pbrpc_channel *ch, const pbrpc_frame *f,
                              const ProtobufCMessage *msg, uint32_t max_body);
#endif
