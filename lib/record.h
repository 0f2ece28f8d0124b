/* record.h - the record envelope: a big-endian uint32 length, then that many bytes. */
#ifndef PBRPC_RECORD_H
#define PBRPC_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define PBRPC_RECORD_HEADER 4
/* Records before authentication are small; a peer that has not proved the
 * key may not make us buffer more than this. */
#define PBRPC_HANDSHAKE_MAX_RECORD 1024u

enum {
	PBRPC_RECORD_BAD = -1,  /* zero or over-cap length: close the connection */
	PBRPC_RECORD_SHORT = 0, /* need more bytes */
	PBRPC_RECORD_READY = 1, /* a whole record is buffered */
};

static inline uint32_t pbrpc_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void pbrpc_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Looks at n buffered bytes. Once the 4-byte header is there, *body_len is
 * set and checked against max_body before anything is allocated for it. */
int pbrpc_record_check(const uint8_t *p, size_t n, uint32_t max_body, uint32_t *body_len);

#endif
