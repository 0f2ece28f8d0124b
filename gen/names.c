/* names.c - the C names of things: protoc-c's and pbrpc's own. */
#include "names.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* protobuf-c 1.4.1 c_helpers.cc: ToCamel(). */
static void add_camel(strbuf *sb, const char *s, size_t n)
{
	int next_upper = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			next_upper = 1;
		} else if (next_upper) {
			sb_addc(sb, (char)toupper((unsigned char)s[i]));
			next_upper = 0;
		} else {
			sb_addc(sb, s[i]);
		}
	}
}

/* protobuf-c 1.4.1 c_helpers.cc: CamelToLower(). */
static void add_lower(strbuf *sb, const char *s, size_t n)
{
	int was_upper = 1;
	for (size_t i = 0; i < n; i++) {
		int is_upper = isupper((unsigned char)s[i]) != 0;
		if (is_upper && !was_upper)
			sb_addc(sb, '_');
		sb_addc(sb, (char)tolower((unsigned char)s[i]));
		was_upper = is_upper;
	}
}

/* Adds each non-empty '.'-separated piece of s through add, "__" between
 * pieces (also between those of successive calls). */
static void add_pieces(strbuf *sb, const char *s, void (*add)(strbuf *, const char *, size_t))
{
	while (*s) {
		size_t n = strcspn(s, ".");
		if (n) {
			if (sb->len)
				sb_add(sb, "__");
			add(sb, s, n);
		}
		s += n;
		if (*s == '.')
			s++;
	}
}

char *pbc_type_name(const char *package, const char *rel_name)
{
	strbuf sb = STRBUF_INIT;
	add_pieces(&sb, package, add_camel);
	add_pieces(&sb, rel_name, add_camel);
	return sb_take(&sb);
}

char *pbc_descriptor_name(const char *package, const char *rel_name)
{
	strbuf sb = STRBUF_INIT;
	add_pieces(&sb, package, add_lower);
	add_pieces(&sb, rel_name, add_lower);
	sb_add(&sb, "__descriptor");
	return sb_take(&sb);
}

char *snake_case(const char *name)
{
	strbuf sb = STRBUF_INIT;
	for (size_t i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];
		if (isupper(c) && i > 0) {
			unsigned char prev = (unsigned char)name[i - 1];
			unsigned char next = (unsigned char)name[i + 1];
			/* a new word: "sayHello", "v2Beta", or the last capital of "URLRequest" */
			if (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next)))
				sb_addc(&sb, '_');
		}
		sb_addc(&sb, (char)tolower(c));
	}
	return sb_take(&sb);
}

char *upper_case(const char *s)
{
	char *u = xstrdup(s);
	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

char *service_prefix(const char *package, const char *service)
{
	strbuf sb = STRBUF_INIT;
	for (const char *p = package; *p; p++)
		sb_addc(&sb, *p == '.' ? '_' : (char)tolower((unsigned char)*p));
	if (sb.len)
		sb_addc(&sb, '_');
	char *snake = snake_case(service);
	sb_add(&sb, snake);
	free(snake);
	return sb_take(&sb);
}

char *proto_base(const char *proto_name)
{
	static const char suffix[] = ".proto";
	size_t n = strlen(proto_name), k = sizeof suffix - 1;
	strbuf sb = STRBUF_INIT;
	sb_add(&sb, proto_name);
	if (n > k && strcmp(proto_name + n - k, suffix) == 0) {
		sb.len = n - k;
		sb.data[sb.len] = '\0';
	}
	return sb_take(&sb);
}

char *include_guard(const char *proto_name)
{
	strbuf sb = STRBUF_INIT;
	sb_add(&sb, "PBRPC_STUBS_");
	for (const char *p = proto_name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c))
			sb_addc(&sb, (char)c);
		else
			sb_addf(&sb, "_%02x", c);
	}
	sb_add(&sb, "__INCLUDED");
	return sb_take(&sb);
}

int is_c_keyword(const char *s)
{
	static const char *const keywords[] = {
	    "auto",       "break",     "case",           "char",
	    "const",      "continue",  "default",        "do",
	    "double",     "else",      "enum",           "extern",
	    "float",      "for",       "goto",           "if",
	    "inline",     "int",       "long",           "register",
	    "restrict",   "return",    "short",          "signed",
	    "sizeof",     "static",    "struct",         "switch",
	    "typedef",    "union",     "unsigned",       "void",
	    "volatile",   "while",     "_Alignas",       "_Alignof",
	    "_Atomic",    "_Bool",     "_Complex",       "_Generic",
	    "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
	    "bool",       "true",      "false",          "asm",
	};
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (strcmp(s, keywords[i]) == 0)
			return 1;
	return 0;
}
