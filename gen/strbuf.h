/* strbuf.h - a growable string for building generated text.
 *
 * Allocation failures end the process (see xmalloc): a code generator has
 * nothing better to do with them. */
#ifndef PBRPC_GEN_STRBUF_H
#define PBRPC_GEN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
	char *data; /* always NUL-terminated once anything was added; NULL before */
	size_t len;
	size_t cap;
} strbuf;

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* malloc/calloc/realloc/strdup that exit(1) with a message instead of returning NULL. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

void sb_add(strbuf *sb, const char *s);
void sb_addc(strbuf *sb, char c);
void sb_addf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vaddf(strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The text so far ("" when empty). Owned by sb. */
const char *sb_str(const strbuf *sb);
/* Hands the text to the caller (free() it) and empties sb. Never NULL. */
char *sb_take(strbuf *sb);
void sb_free(strbuf *sb);

#endif /* PBRPC_GEN_STRBUF_H */
