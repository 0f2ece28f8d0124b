/* strbuf.c - a growable string for building generated text. */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void)
{
	fputs("protoc-gen-pbrpc: out of memory\n", stderr);
	exit(1);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

/* Makes room for extra more bytes plus the NUL. */
static void reserve(strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need < extra)
		out_of_memory();
	if (need <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap = cap * 2 >= cap ? cap * 2 : need;
	sb->data = xrealloc(sb->data, cap);
	sb->cap = cap;
}

void sb_add(strbuf *sb, const char *s)
{
	size_t n = strlen(s);
	reserve(sb, n);
	memcpy(sb->data + sb->len, s, n + 1);
	sb->len += n;
}

void sb_addc(strbuf *sb, char c)
{
	reserve(sb, 1);
	sb->data[sb->len++] = c;
	sb->data[sb->len] = '\0';
}

void sb_vaddf(strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		fputs("protoc-gen-pbrpc: bad format\n", stderr);
		exit(1);
	}
	reserve(sb, (size_t)n);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sb_addf(strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

const char *sb_str(const strbuf *sb)
{
	return sb->data ? sb->data : "";
}

char *sb_take(strbuf *sb)
{
	char *s = sb->data ? sb->data : xstrdup("");
	*sb = (strbuf)STRBUF_INIT;
	return s;
}

void sb_free(strbuf *sb)
{
	free(sb->data);
	*sb = (strbuf)STRBUF_INIT;
}
