/* name_list.c - accepted environment-variable names, with * and ? wildcards. */
#include "name_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int refuse(pbrpc_error *err, const char *token, size_t len, const char *why)
{
	char shown[RPCD_NAME_PATTERN_MAX + 4];
	size_t n = 0;
	/* The text may come from a key's options: show it printable and short. */
	for (size_t i = 0; i < len && n < RPCD_NAME_PATTERN_MAX; i++, n++)
		shown[n] = (token[i] >= 0x20 && token[i] < 0x7f) ? token[i] : '?';
	if (len > RPCD_NAME_PATTERN_MAX) {
		memcpy(shown + n, "...", 3);
		n += 3;
	}
	shown[n] = '\0';
	err->code = PBRPC_INVALID_ARGUMENT;
	snprintf(err->message, sizeof err->message, "'%s': %s", shown, why);
	return -1;
}

static int is_name_char(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* NULL if token is a valid pattern, else why not. */
static const char *check_pattern(const char *token, size_t len)
{
	if (len == 0)
		return "empty name";
	if (len > RPCD_NAME_PATTERN_MAX)
		return "name too long";
	for (size_t i = 0; i < len; i++) {
		char c = token[i];
		if (c == '*' || c == '?')
			continue;
		if (!is_name_char(c, i == 0))
			return i == 0 && c >= '0' && c <= '9'
			           ? "not an environment variable name (starts with a digit)"
			           : "not an environment variable name (letters, digits and _, "
			             "with the wildcards * and ?)";
	}
	return NULL;
}

int rpcd_name_list_parse(rpcd_name_list *l, const char *text, const char *separators,
                         pbrpc_error *err)
{
	size_t old_n = l->n;
	const char *p = text;
	for (;;) {
		size_t len = strcspn(p, separators);
		const char *why = check_pattern(p, len);
		if (!why && l->n >= RPCD_NAME_LIST_MAX)
			why = "too many names";
		char *copy = why ? NULL : strndup(p, len);
		char **grown = copy ? realloc(l->patterns, (l->n + 1) * sizeof *grown) : NULL;
		if (!why && !grown)
			why = "out of memory";
		if (why) {
			free(copy);
			while (l->n > old_n) /* all or nothing */
				free(l->patterns[--l->n]);
			return refuse(err, p, len, why);
		}
		l->patterns = grown;
		l->patterns[l->n++] = copy;
		p += len;
		if (*p == '\0')
			return 0;
		p++; /* the separator: a name must follow it */
	}
}

/* Glob match of pattern (NUL-terminated) against name[0..len): '*' any run,
 * '?' one byte. Backtracks only to the last '*', so it is O(len x pattern). */
static int glob_match(const char *pattern, const char *name, size_t len)
{
	const char *star = NULL;
	size_t i = 0, star_i = 0;
	while (i < len) {
		if (*pattern == '*') {
			star = pattern++;
			star_i = i;
		} else if (*pattern != '\0' && (*pattern == '?' || *pattern == name[i])) {
			pattern++;
			i++;
		} else if (star) {
			pattern = star + 1;
			i = ++star_i;
		} else {
			return 0;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

int rpcd_name_list_match(const rpcd_name_list *l, const char *name, size_t name_len)
{
	for (size_t i = 0; i < l->n; i++)
		if (glob_match(l->patterns[i], name, name_len))
			return 1;
	return 0;
}

void rpcd_name_list_free(rpcd_name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->patterns[i]);
	free(l->patterns);
	l->patterns = NULL;
	l->n = 0;
}
