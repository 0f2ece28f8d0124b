/* options.h - rpcd's command line: what it means and its defaults. */
#ifndef RPCD_OPTIONS_H
#define RPCD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "pbrpc.h"

typedef struct rpcd_options {
	const char **listen;           /* --listen addresses, pointing into argv */
	size_t n_listen;               /* 0: PBRPC_DEFAULT_ADDRESS */
	const char *key_file;          /* --key: the shared key (protocol 1); NULL: off */
	const char *host_key;          /* --host-key FILE; NULL: the default */
	const char *authorized_keys;   /* --authorized-keys FILE; NULL: the default */
	const char *root;              /* NULL: the default root (see rpcd_default_root) */
	uint32_t max_record;           /* 0: the library default */
	unsigned max_connections;      /* 0: the library default */
	unsigned max_calls;            /* per connection; 0: the library default */
	unsigned handshake_timeout_ms; /* 0: the library default */
	unsigned idle_timeout_ms;      /* 0: never */
	int log_level;                 /* PBRPC_LOG_* */
	int no_exec;                   /* --no-exec: the exec service refuses every run */
	const char *exec_allow;        /* --exec-allow FILE: only the programs listed there */
	unsigned max_exec;             /* --max-exec: programs running at once; 0: the default */
	int64_t partial_max_age;       /* --partial-max-age: seconds an abandoned upload is kept */
	unsigned max_startups;         /* --max-startups N[:TOTAL]: per address; 0: default */
	unsigned max_startups_total;   /* ... in all; 0: the library default */
	unsigned penalty_failures;     /* --penalty FAILURES:SECONDS; UINT_MAX: off */
	unsigned penalty_seconds;      /* the window failures are counted in */
	unsigned penalty_refuse_seconds; /* how long a penalized address is refused */
	uint64_t max_memory;   /* --max-memory: bytes all calls' buffers; 0: the default */
	const char **exec_env; /* --exec-env NAME,...: names a client may set, into argv */
	size_t n_exec_env;
	unsigned exec_max_pids;   /* --exec-max-pids: processes per run; 0: the default */
	int exec_max_pids_given;  /* set on the command line: failing to apply it is fatal */
	uint64_t exec_max_memory; /* --exec-max-memory: bytes per run; 0: no limit */
	int no_cgroup;            /* --no-cgroup: contain runs without a cgroup */
} rpcd_options;

#define RPCD_DEFAULT_MAX_EXEC 16
/* Processes (and threads) one run may have at once, where a cgroup holds it. */
#define RPCD_DEFAULT_EXEC_MAX_PIDS 256
/* A day: long enough to resume after a dropped connection or a restart. */
#define RPCD_DEFAULT_PARTIAL_MAX_AGE (24 * 3600)
/* --max-memory's range (the default is MEM_DEFAULT_MAX in mem_budget.h). */
#define RPCD_MIN_MAX_MEMORY ((uint64_t)4 << 20)
#define RPCD_MAX_MAX_MEMORY ((uint64_t)1 << 40)

typedef enum rpcd_parse_result {
	RPCD_PARSE_RUN = 0, /* options are valid: start the server */
	RPCD_PARSE_EXIT_OK, /* --help or --version was printed: exit 0 */
	RPCD_PARSE_ERROR,   /* a message was printed to stderr: exit 1 */
} rpcd_parse_result;

/* Parses argv into o. o->listen and o->exec_env are malloc'ed: free it with rpcd_options_free(). */
rpcd_parse_result rpcd_options_parse(int argc, char **argv, rpcd_options *o);
void rpcd_options_free(rpcd_options *o);

#endif /* RPCD_OPTIONS_H */
