/* main.c - rpcc: global options, the command table, dispatch, exit codes.
 *
 *   rpcc [--server ADDR] [--key FILE] [--timeout SECONDS] COMMAND [ARGS...]
 *
 * Global options come before COMMAND; each command parses the rest with
 * getopt_long. Exit codes are in commands.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbrpc.h>

#include "commands.h"
#include "parse.h"
#include "report.h"

#define RPCC_TABLE_ROW(name) &rpcc_cmd_##name,
static const rpcc_command *const commands[] = {RPCC_COMMANDS(RPCC_TABLE_ROW)};
#undef RPCC_TABLE_ROW

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* A year: long enough for anything, small enough for every int64 sum. */
#define MAX_TIMEOUT_MS (365LL * 24 * 3600 * 1000)

static const rpcc_command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void print_global_help(FILE *out)
{
	fputs("usage: rpcc [--server ADDR] [--key FILE] [--server-key FILE] [--accept-new]\n"
	      "            [--timeout SECONDS] COMMAND [ARGS...]\n"
	      "       rpcc help COMMAND\n"
	      "\n"
	      "Calls a pbrpc server (rpcd) over an authenticated, encrypted connection.\n"
	      "\n"
	      "Options (before COMMAND):\n"
	      "  --server ADDR      server: host:port, [v6addr]:port or unix:/path\n"
	      "                     (default: $PBRPC_SERVER, else " PBRPC_DEFAULT_ADDRESS ")\n"
	      "  --key FILE         your identity (from 'rpcc keygen'), or a shared key file\n"
	      "                     (default: $PBRPC_KEY, else ~/.config/pbrpc/id_x25519,\n"
	      "                     else the shared key ~/.config/pbrpc/key)\n"
	      "  --server-key FILE  trust only this server key (a .pub file or line)\n"
	      "  --known-servers FILE  pinned server keys (default:\n"
	      "                     ~/.config/pbrpc/known_servers)\n"
	      "  --accept-new       pin the key of a server not yet known (never a changed one)\n"
	      "  --timeout SECONDS  deadline for connecting and for each call (default: none)\n"
	      "  -h, --help         show this help\n"
	      "  -V, --version      show the version\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "'rpcc COMMAND --help' shows a command's options.\n"
	      "Exit status: 0 success, 1 a call failed, 2 bad usage,\n"
	      "255 connection or authentication failure.\n"
	      "'rpcc exec' exits with the remote program's status: see 'rpcc exec --help'.\n",
	      out);
}

void rpcc_print_help(const rpcc_command *cmd, FILE *out)
{
	fprintf(out, "usage: rpcc [GLOBAL OPTIONS] %s%s%s\n\n%s.\n", cmd->name,
	        cmd->args[0] != '\0' ? " " : "", cmd->args, cmd->summary);
	if (cmd->details != NULL)
		fprintf(out, "%s\n", cmd->details);
	fputs("\nOptions:\n", out);
	if (cmd->options != NULL)
		fputs(cmd->options, out);
	fputs("  -h, --help         show this help\n", out);
}

int rpcc_help(const rpcc_command *cmd)
{
	rpcc_print_help(cmd, stdout);
	return RPCC_EXIT_OK;
}

int rpcc_parse_no_options(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {RPCC_HELP_OPTION, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'h')
			return rpcc_help(ctx->command);
		return rpcc_usage_error(ctx->command->name, NULL);
	}
	return -1;
}

/* 'rpcc help [COMMAND]' */
static int run_help(int argc, char **argv)
{
	const rpcc_command *cmd;

	if (argc < 2) {
		print_global_help(stdout);
		return RPCC_EXIT_OK;
	}
	if (argc > 2)
		return rpcc_usage_error("help", "one COMMAND at most");
	cmd = find_command(argv[1]);
	if (cmd == NULL)
		return rpcc_usage_error(NULL, "unknown command '%s'", argv[1]);
	return rpcc_help(cmd);
}

/* Reports a failed write to stdout (a full disk, a closed pipe) that
 * buffering has hidden until now. */
static int finish_stdout(const char *command, int status)
{
	int flush_failed;

	errno = 0;
	flush_failed = fflush(stdout) != 0;
	if (flush_failed || ferror(stdout)) {
		rpcc_reportf(command, PBRPC_OK, "writing output: %s",
		             flush_failed && errno != 0 ? strerror(errno) : "write error");
		if (status == RPCC_EXIT_OK)
			status = RPCC_EXIT_FAILED;
	}
	return status;
}

static int run_command(const rpcc_command *cmd, rpcc_context *ctx, int argc, char **argv)
{
	char *label = NULL;
	int status;

	ctx->command = cmd;
	/* getopt prints its complaints after argv[0]: make them "rpcc: CMD: ...". */
	if (asprintf(&label, "rpcc: %s", cmd->name) >= 0)
		argv[0] = label;
	optind = 0; /* glibc: 0 restarts getopt afresh, including its internal state */
	status = cmd->run(ctx, argc, argv);
	status = finish_stdout(cmd->name, status);
	free(label);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"server", required_argument, NULL, 'S'},
	    {"key", required_argument, NULL, 'K'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {"server-key", required_argument, NULL, 'P'},
	    {"known-servers", required_argument, NULL, 'N'},
	    {"accept-new", no_argument, NULL, 'A'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	rpcc_context ctx = {0};
	const rpcc_command *cmd;
	int opt;

	argv[0] = "rpcc"; /* getopt's messages start with argv[0] */
	/* '+': stop at COMMAND; what follows belongs to the command. */
	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (opt) {
		case 'S':
			if (optarg[0] == '\0')
				return rpcc_usage_error(NULL, "--server needs an address");
			ctx.server = optarg;
			break;
		case 'K':
			if (optarg[0] == '\0')
				return rpcc_usage_error(NULL, "--key needs a file name");
			ctx.key_file = optarg;
			break;
		case 'P':
			if (optarg[0] == '\0')
				return rpcc_usage_error(NULL, "--server-key needs a file name");
			ctx.server_key_file = optarg;
			break;
		case 'N':
			if (optarg[0] == '\0')
				return rpcc_usage_error(NULL, "--known-servers needs a file name");
			ctx.known_servers = optarg;
			break;
		case 'A': ctx.accept_new = 1; break;
		case 'T':
			if (rpcc_parse_seconds(optarg, MAX_TIMEOUT_MS, &ctx.timeout_ms) != 0)
				return rpcc_usage_error(NULL,
				                        "--timeout: '%s' is not a number of "
				                        "seconds (0 = none, at most a year)",
				                        optarg);
			break;
		case 'h': print_global_help(stdout); return finish_stdout(NULL, RPCC_EXIT_OK);
		case 'V':
			printf("rpcc %s\n", PBRPC_VERSION);
			return finish_stdout(NULL, RPCC_EXIT_OK);
		default: return rpcc_usage_error(NULL, NULL);
		}
	}
	if (optind >= argc)
		return rpcc_usage_error(NULL, "no COMMAND given");
	if (strcmp(argv[optind], "help") == 0)
		return finish_stdout(NULL, run_help(argc - optind, argv + optind));
	cmd = find_command(argv[optind]);
	if (cmd == NULL)
		return rpcc_usage_error(NULL, "unknown command '%s'", argv[optind]);
	return run_command(cmd, &ctx, argc - optind, argv + optind);
}
