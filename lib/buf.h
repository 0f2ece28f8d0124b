/* buf.h - a byte buffer with a hard maximum size (after OpenSSH's sshbuf).
 * Bytes live in data[start, end); free space is data[end, size). */
#ifndef PBRPC_BUF_H
#define PBRPC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct pbrpc_buf {
	uint8_t *data;
	size_t start, end, size;
	size_t max; /* size never grows past this */
} pbrpc_buf;

static inline size_t pbrpc_buf_len(const pbrpc_buf *b)
{
	return b->end - b->start;
}
/* NULL for a buffer that never held anything: NULL + 0 is undefined in C. */
static inline uint8_t *pbrpc_buf_head(const pbrpc_buf *b)
{
	return b->data ? b->data + b->start : NULL;
}
static inline uint8_t *pbrpc_buf_tail(const pbrpc_buf *b)
{
	return b->data ? b->data + b->end : NULL;
}
static inline size_t pbrpc_buf_room(const pbrpc_buf *b)
{
	return b->size - b->end;
}

void pbrpc_buf_init(pbrpc_buf *b, size_t max);
/* Makes room for n more bytes at the tail (compacting, then growing).
 * Returns 0, or -1 if that would pass max or memory ran out. */
int pbrpc_buf_reserve(pbrpc_buf *b, size_t n);
/* n bytes were written at the tail. */
static inline void pbrpc_buf_commit(pbrpc_buf *b, size_t n)
{
	b->end += n;
}
/* Drops n bytes from the head. */
void pbrpc_buf_consume(pbrpc_buf *b, size_t n);
/* Appends n bytes; 0 or -1 as reserve. */
int pbrpc_buf_append(pbrpc_buf *b, const void *p, size_t n);
/* Gives back memory above keep bytes when the buffer is empty (idle connections stay small). */
void pbrpc_buf_shrink(pbrpc_buf *b, size_t keep);
void pbrpc_buf_free(pbrpc_buf *b);

#endif
