/* name_list.h - a list of environment-variable names an operator accepts,
 * with * and ? wildcards, like sshd's AcceptEnv: "LANG,LC_*,TZ" on rpcd's
 * command line (--exec-env), "env=LANG:LC_*" in a key's options. */
#ifndef RPCD_NAME_LIST_H
#define RPCD_NAME_LIST_H

#include <stddef.h>

#include "pbrpc.h"

typedef struct rpcd_name_list {
	char **patterns; /* malloc'ed, each a checked pattern */
	size_t n;
} rpcd_name_list;

/* Most patterns one list holds, and the longest pattern. */
#define RPCD_NAME_LIST_MAX    1024
#define RPCD_NAME_PATTERN_MAX 128

/* Splits text at any of the separator characters and appends each pattern
 * to l (so a repeated option adds to the list). A pattern is a variable name,
 * [A-Za-z_][A-Za-z0-9_]*, in which * (any run) and ? (one character) may
 * stand anywhere. An empty or malformed pattern is refused: returns -1 with
 * INVALID_ARGUMENT and a message naming it in err, and l keeps only what it
 * held before. Returns 0 on success. Free l with rpcd_name_list_free(). */
int rpcd_name_list_parse(rpcd_name_list *l, const char *text, const char *separators,
                         pbrpc_error *err);

/* 1 if the name_len bytes at name (not NUL-terminated: the part of a
 * "NAME=VALUE" entry before '=') match any pattern of l, as fnmatch(3) with no
 * flags would match them; else 0. An empty list matches nothing. */
int rpcd_name_list_match(const rpcd_name_list *l, const char *name, size_t name_len);

/* Frees the patterns; l is empty (and reusable) afterwards. */
void rpcd_name_list_free(rpcd_name_list *l);

#endif /* RPCD_NAME_LIST_H */
