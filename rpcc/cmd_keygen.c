/* cmd_keygen.c - 'rpcc keygen FILE': writes a new shared key. No server. */
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include <pbrpc.h>

#include "commands.h"
#include "report.h"

static int run_keygen(const rpcc_context *ctx, int argc, char **argv)
{
	const char *name = ctx->command->name;
	const char *path;
	struct stat st;
	pbrpc_error err = {0};

	int parsed = rpcc_parse_no_options(ctx, argc, argv);
	if (parsed >= 0)
		return parsed;
	if (argc - optind != 1)
		return rpcc_usage_error(name, "expected one FILE");
	path = argv[optind];

	/* The library refuses too (atomically); this check only words it well. */
	if (lstat(path, &st) == 0) {
		rpcc_reportf(name, PBRPC_ALREADY_EXISTS, "%s already exists; not overwriting it",
		             path);
		return RPCC_EXIT_FAILED;
	}
	if (pbrpc_key_generate(path, &err) != PBRPC_OK) {
		/* Name the file unless the library's message already does. */
		rpcc_report(name, strstr(err.message, path) == NULL ? path : NULL, &err);
		return RPCC_EXIT_FAILED;
	}
	return RPCC_EXIT_OK;
}

const rpcc_command rpcc_cmd_keygen = {
    .name = "keygen",
    .args = "FILE",
    .summary = "Write a new random key to FILE (mode 0600); never overwrites",
    .options = NULL,
    .run = run_keygen,
};
