/* cmd_keygen.c - 'rpcc keygen [--shared] FILE': writes a new identity (FILE
 * and FILE.pub) or, with --shared, a shared key for protocol 1. No server. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pbrpc.h>

#include "commands.h"
#include "report.h"

/* "user@host", as ssh-keygen comments its keys. */
static void default_comment(char *buf, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	snprintf(buf, size, "%s@%s", pw ? pw->pw_name : "user", host);
}

static int run_keygen(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"shared", no_argument, NULL, 's'},
	    {"comment", required_argument, NULL, 'C'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	const char *name = ctx->command->name;
	const char *comment = NULL;
	char comment_buf[320], pub_path[4096];
	int shared = 0, opt;
	struct stat st;
	pbrpc_error err = {0};

	while ((opt = getopt_long(argc, argv, "C:h", options, NULL)) != -1) {
		switch (opt) {
		case 's': shared = 1; break;
		case 'C': comment = optarg; break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(name, NULL);
		}
	}
	if (argc - optind != 1)
		return rpcc_usage_error(name, "expected one FILE");
	const char *path = argv[optind];

	/* The library refuses too (atomically); this check only words it well. */
	snprintf(pub_path, sizeof pub_path, "%s.pub", path);
	if (lstat(path, &st) == 0 || (!shared && lstat(pub_path, &st) == 0)) {
		rpcc_reportf(name, PBRPC_ALREADY_EXISTS, "%s already exists; not overwriting it",
		             lstat(path, &st) == 0 ? path : pub_path);
		return RPCC_EXIT_FAILED;
	}
	pbrpc_status rc;
	if (shared) {
		rc = pbrpc_key_generate(path, &err);
	} else {
		if (!comment) {
			default_comment(comment_buf, sizeof comment_buf);
			comment = comment_buf;
		}
		rc = pbrpc_identity_generate(path, comment, &err);
	}
	if (rc != PBRPC_OK) {
		/* Name the file unless the library's message already does. */
		rpcc_report(name, strstr(err.message, path) == NULL ? path : NULL, &err);
		return RPCC_EXIT_FAILED;
	}
	if (!shared) {
		uint8_t secret[32], pub[32];
		char fp[PBRPC_FINGERPRINT_SIZE];
		if (pbrpc_identity_load(path, secret, &err) == PBRPC_OK) {
			pbrpc_public_key_of(secret, pub);
			explicit_bzero(secret, sizeof secret);
			pbrpc_key_fingerprint(pub, fp);
			printf("Your identity is in %s; its public key, for the server's\n"
			       "authorized_keys, is in %s.\nFingerprint: %s %s\n",
			       path, pub_path, fp, comment);
		}
	}
	return RPCC_EXIT_OK;
}

const rpcc_command rpcc_cmd_keygen = {
    .name = "keygen",
    .args = "[--shared] [-C COMMENT] FILE",
    .summary = "Write a new identity to FILE and FILE.pub; never overwrites",
    .details = "An identity is an X25519 key pair: FILE holds the secret (mode 0600), FILE.pub\n"
               "the line to add to the server's authorized_keys. The default identity is\n"
               "~/.config/pbrpc/id_x25519. With --shared, FILE gets a shared key instead\n"
               "(64 hex digits) for servers still on the shared-key handshake (rpcd --key).",
    .options = "  --shared           write a shared key (protocol 1) instead of an identity\n"
               "  -C, --comment TEXT the comment ending the .pub line (default user@host)\n",
    .run = run_keygen,
};
