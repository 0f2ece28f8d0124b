/* buf.c - a byte buffer with a hard maximum size. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

void pbrpc_buf_init(pbrpc_buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

int pbrpc_buf_reserve(pbrpc_buf *b, size_t n)
{
	if (b->size - b->end >= n)
		return 0;
	size_t len = b->end - b->start;
	if (len + n > b->max || len + n < len)
		return -1;
	if (b->start > 0) { /* slide the bytes down before growing */
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
		if (b->size - b->end >= n)
			return 0;
	}
	size_t want = b->size ? b->size : 4096;
	while (want < len + n)
		want *= 2;
	if (want > b->max)
		want = b->max;
	uint8_t *p = realloc(b->data, want);
	if (!p)
		return -1;
	b->data = p;
	b->size = want;
	return 0;
}

void pbrpc_buf_consume(pbrpc_buf *b, size_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

int pbrpc_buf_append(pbrpc_buf *b, const void *p, size_t n)
{
	if (n == 0) /* b->data may still be NULL, and memcpy wants real pointers */
		return 0;
	if (pbrpc_buf_reserve(b, n) != 0)
		return -1;
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return 0;
}

void pbrpc_buf_shrink(pbrpc_buf *b, size_t keep)
{
	if (b->start != b->end || b->size <= keep)
		return;
	free(b->data);
	b->data = NULL;
	b->size = b->start = b->end = 0;
}

void pbrpc_buf_free(pbrpc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}
