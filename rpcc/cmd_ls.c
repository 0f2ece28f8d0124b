/* cmd_ls.c - 'rpcc ls [-l] [REMOTE_DIR]' (File.List) and 'rpcc stat REMOTE'
 * (File.Stat): what is under the server's file root. A directory comes in
 * pages; ls asks for the next one (after = the reply's next) until the
 * listing is complete. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pbrpc.h>

#include "pbrpc/file.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "report.h"

static const char *type_name(Pbrpc__File__EntryType type)
{
	switch (type) {
	case PBRPC__FILE__ENTRY_TYPE__REGULAR: return "regular file";
	case PBRPC__FILE__ENTRY_TYPE__DIRECTORY: return "directory";
	case PBRPC__FILE__ENTRY_TYPE__SYMLINK: return "symbolic link";
	default: return "other";
	}
}

/* "drwxr-xr-x" */
static void mode_string(const Pbrpc__File__Entry *e, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	switch (e->type) {
	case PBRPC__FILE__ENTRY_TYPE__DIRECTORY: out[0] = 'd'; break;
	case PBRPC__FILE__ENTRY_TYPE__SYMLINK: out[0] = 'l'; break;
	case PBRPC__FILE__ENTRY_TYPE__REGULAR: out[0] = '-'; break;
	default: out[0] = '?'; break;
	}
	for (int i = 0; i < 9; i++)
		out[1 + i] = (e->mode & (0400u >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

/* Prints a name from the server with control characters escaped. */
static void put_name(const ProtobufCBinaryData *name)
{
	char buf[4096 + 1];
	size_t n = name->len < sizeof buf - 1 ? name->len : sizeof buf - 1;
	memcpy(buf, name->data, n);
	buf[n] = '\0';
	rpcc_put_safe(stdout, buf);
}

static void format_time(int64_t seconds, char *out, size_t size)
{
	time_t t = (time_t)seconds;
	struct tm tm;
	if (!localtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(out, size, "%lld", (long long)seconds);
}

static void print_entry(const Pbrpc__File__Entry *e, int long_format)
{
	if (long_format) {
		char mode[11], when[32];
		mode_string(e, mode);
		format_time(e->mtime_seconds, when, sizeof when);
		printf("%s %12llu %s ", mode, (unsigned long long)e->size, when);
	}
	put_name(&e->name);
	if (long_format && e->type == PBRPC__FILE__ENTRY_TYPE__DIRECTORY)
		putchar('/');
	putchar('\n');
}

/* 1 if the cursor next moves past after (byte order), so paging ends. */
static int moves_on(const ProtobufCBinaryData *next, const uint8_t *after, size_t after_len)
{
	size_t n = next->len < after_len ? next->len : after_len;
	int c = n ? memcmp(next->data, after, n) : 0;
	return c > 0 || (c == 0 && next->len > after_len);
}

static int run_ls(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"long", no_argument, NULL, 'l'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	const char *name = ctx->command->name;
	Pbrpc__File__ListRequest request = PBRPC__FILE__LIST_REQUEST__INIT;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	int long_format = 0, opt;
	uint8_t after[NAME_MAX + 1];

	while ((opt = getopt_long(argc, argv, "lh", options, NULL)) != -1) {
		switch (opt) {
		case 'l': long_format = 1; break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(name, NULL);
		}
	}
	if (argc - optind > 1)
		return rpcc_usage_error(name, "one REMOTE_DIR at most");
	const char *dir = optind < argc ? argv[optind] : ".";
	request.path.data = (uint8_t *)dir;
	request.path.len = strlen(dir);

	pbrpc_client *client = rpcc_connect(ctx);
	if (!client)
		return RPCC_EXIT_CONNECT;
	int status = RPCC_EXIT_OK, more = 1;
	while (more) {
		Pbrpc__File__ListReply *reply = NULL;
		pbrpc_status st = pbrpc_file_file_list(client, &request, &reply, &call_opts, &err);
		if (st != PBRPC_OK) {
			rpcc_report(name, NULL, &err);
			status = st == PBRPC_UNAVAILABLE ? RPCC_EXIT_CONNECT : RPCC_EXIT_FAILED;
			break;
		}
		for (size_t i = 0; i < reply->n_entries; i++)
			print_entry(reply->entries[i], long_format);
		more = reply->truncated;
		if (more && (reply->next.len == 0 || reply->next.len > NAME_MAX ||
		             !moves_on(&reply->next, request.after.data, request.after.len))) {
			/* A server without a cursor (or a broken one): say what is missing. */
			fprintf(stderr, "rpcc: %s: the listing was cut short (too many entries)\n",
			        name);
			status = RPCC_EXIT_FAILED;
			more = 0;
		} else if (more) {
			memcpy(after, reply->next.data, reply->next.len);
			request.after.data = after;
			request.after.len = reply->next.len;
		}
		pbrpc_message_free(&reply->base);
	}
	pbrpc_client_close(client);
	return status;
}

static int run_stat(const rpcc_context *ctx, int argc, char **argv)
{
	const char *name = ctx->command->name;
	Pbrpc__File__StatRequest request = PBRPC__FILE__STAT_REQUEST__INIT;
	Pbrpc__File__Entry *e = NULL;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};

	int parsed = rpcc_parse_no_options(ctx, argc, argv);
	if (parsed >= 0)
		return parsed;
	if (argc - optind != 1)
		return rpcc_usage_error(name, "expected REMOTE");
	request.path.data = (uint8_t *)argv[optind];
	request.path.len = strlen(argv[optind]);

	pbrpc_client *client = rpcc_connect(ctx);
	if (!client)
		return RPCC_EXIT_CONNECT;
	pbrpc_status st = pbrpc_file_file_stat(client, &request, &e, &call_opts, &err);
	pbrpc_client_close(client);
	if (st != PBRPC_OK) {
		rpcc_report(name, NULL, &err);
		return st == PBRPC_UNAVAILABLE ? RPCC_EXIT_CONNECT : RPCC_EXIT_FAILED;
	}
	char mode[11], when[32];
	mode_string(e, mode);
	format_time(e->mtime_seconds, when, sizeof when);
	fputs("  File: ", stdout);
	put_name(&e->name);
	printf("\n  Type: %s\n  Size: %llu\n  Mode: %04o (%s)\nModify: %s:%02lld.%09u\n",
	       type_name(e->type), (unsigned long long)e->size, (unsigned)(e->mode & 07777), mode,
	       when, (long long)(((e->mtime_seconds % 60) + 60) % 60), (unsigned)e->mtime_nanos);
	pbrpc_message_free(&e->base);
	return RPCC_EXIT_OK;
}

const rpcc_command rpcc_cmd_ls = {
    .name = "ls",
    .args = "[-l] [REMOTE_DIR]",
    .summary = "List a directory under the server's file root",
    .details = "REMOTE_DIR defaults to the root itself, and is listed in full (in pages\n"
               "of the server's size), sorted by name in byte order. -l adds type and\n"
               "mode, size and modification time, like ls -l.",
    .options = "  -l, --long         mode, size and mtime too\n",
    .run = run_ls,
};

const rpcc_command rpcc_cmd_stat = {
    .name = "stat",
    .args = "REMOTE",
    .summary = "Show the type, size, mode and mtime of REMOTE",
    .details = NULL,
    .options = NULL,
    .run = run_stat,
};
