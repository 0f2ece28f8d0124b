/* authorized_keys.h - the clients rpcd accepts and what each may do: one
 * "[OPTIONS] x25519 BASE64 NAME" line per client key (docs/security.md). */
#ifndef RPCD_AUTHORIZED_KEYS_H
#define RPCD_AUTHORIZED_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "exec_policy.h"
#include "pbrpc.h"

typedef struct rpcd_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
} rpcd_cidr;

typedef struct rpcd_key_table rpcd_key_table;

/* One authorized client: its key, its name and its policy. */
typedef struct rpcd_client_key {
	rpcd_key_table *table; /* the file this line came from */
	char name[64];
	uint8_t key[32];
	char fingerprint[PBRPC_FINGERPRINT_SIZE];
	unsigned line;
	int no_exec, read_only;
	int has_exec_allow;
	rpcd_exec_policy exec; /* exec-allow=FILE (has_exec_allow), env= (exec.has_env) */
	int root_fd;           /* root=DIR, or -1: the server's root */
	char *root;
	char **services; /* services=; NULL: every service */
	size_t n_services;
	unsigned max_calls; /* max-calls=; 0: the server's limit */
	rpcd_cidr *from;    /* from=; NULL: any address */
	size_t n_from;
} rpcd_client_key;

struct rpcd_key_table {
	char *path;
	rpcd_client_key *keys;
	size_t n_keys;
	unsigned refs; /* the current table holds one; each connection using it one */
};

/* Reads path. NULL with err set to "FILE:LINE: why" (or FILE: why) if any
 * line is wrong: unknown option, bad key, a key or name listed twice. The
 * table starts with one reference: drop it with rpcd_key_table_unref(). */
rpcd_key_table *rpcd_key_table_load(const char *path, pbrpc_error *err);
rpcd_client_key *rpcd_key_table_find(rpcd_key_table *t, const uint8_t key[32]);
void rpcd_key_table_ref(rpcd_key_table *t);
void rpcd_key_table_unref(rpcd_key_table *t);

/* 1 if sa (NULL: a Unix socket) matches one of k's from= networks, or k has
 * none. A Unix-socket client never matches a from= list. */
int rpcd_client_key_from_ok(const rpcd_client_key *k, const struct sockaddr *sa);

#endif /* RPCD_AUTHORIZED_KEYS_H */
