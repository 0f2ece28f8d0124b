/* commands.h - what every rpcc command shares: the command table, the
 * context built from the global options, and the exit codes.
 *
 * Adding a command: write rpcc/cmd_NAME.c defining
 * `const rpcc_command rpcc_cmd_NAME`, and add X(NAME) to RPCC_COMMANDS. */
#ifndef RPCC_COMMANDS_H
#define RPCC_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes, as ssh and scp use them. */
enum {
	RPCC_EXIT_OK = 0,
	RPCC_EXIT_FAILED = 1,    /* a call or a local step failed */
	RPCC_EXIT_USAGE = 2,     /* bad command line */
	RPCC_EXIT_CONNECT = 255, /* no connection: unreachable, bad key, authentication failed */
};

/* The largest payload rpcc sends from stdin or builds for ping. */
#define RPCC_MAX_PAYLOAD (1u << 20)

typedef struct rpcc_command rpcc_command;

/* The global options, resolved lazily by rpcc_connect(). */
typedef struct rpcc_context {
	const rpcc_command *command;
	const char *server;          /* --server, or NULL */
	const char *key_file;        /* --key, or NULL */
	const char *server_key_file; /* --server-key: pin this host key (a .pub file) */
	const char *known_servers;   /* --known-servers FILE, or NULL: the default */
	int accept_new;              /* --accept-new: pin an unknown server's key */
	int64_t timeout_ms;          /* --timeout; 0 = no deadline */
} rpcc_context;

struct rpcc_command {
	const char *name;    /* "echo" */
	const char *args;    /* the synopsis after the name: "[--upper] [TEXT...]" */
	const char *summary; /* one line for 'rpcc --help', at most 64 characters */
	const char *details; /* more lines for 'rpcc NAME --help', or NULL */
	const char *options; /* one "  -x, --long ARG  what it does\n" line per option, or NULL */
	/* argv[0] is the command's name; getopt_long is reset before the call.
	 * Returns an exit code. */
	int (*run)(const rpcc_context *ctx, int argc, char **argv);
};

/* The command table, in the order 'rpcc --help' lists it. */
#define RPCC_COMMANDS(X)                                                                           \
	X(keygen)                                                                                  \
	X(echo)                                                                                    \
	X(time)                                                                                    \
	X(ping)                                                                                    \
	X(exec)                                                                                    \
	X(get)                                                                                     \
	X(put)                                                                                     \
	X(ls)                                                                                      \
	X(stat)                                                                                    \
	X(list)                                                                                    \
	X(describe)

#define RPCC_DECLARE_COMMAND(name) extern const rpcc_command rpcc_cmd_##name;
RPCC_COMMANDS(RPCC_DECLARE_COMMAND)
#undef RPCC_DECLARE_COMMAND

/* The long option every command accepts, for its getopt_long table. */
#define RPCC_HELP_OPTION                                                                           \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* Prints cmd's usage and options to out (main.c). */
void rpcc_print_help(const rpcc_command *cmd, FILE *out);
/* For a command's -h/--help: prints its help to stdout; returns RPCC_EXIT_OK. */
int rpcc_help(const rpcc_command *cmd);
/* For commands whose only option is --help: returns -1 to go on, else an exit code. */
int rpcc_parse_no_options(const rpcc_context *ctx, int argc, char **argv);

#endif /* RPCC_COMMANDS_H */
