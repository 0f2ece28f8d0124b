/* main.c - rpcd: startup (key, file root, listeners), the run, and exit codes. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "file_service.h"
#include "mem_budget.h"
#include "options.h"
#include "paths.h"
#include "pbrpc.h"
#include "services.h"

#define EXIT_STARTUP 1

/* Loads the key file, first creating it (and its directory, 0700) if it does
 * not exist, as "no options works on one machine" asks. *created says so. */
static int load_or_create_key(const char *path, uint8_t key[PBRPC_KEY_BYTES], int *created)
{
	pbrpc_error err = {0};
	struct stat st;
	*created = 0;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		if (rpcd_mkdir_parent(path, 0700) != 0) {
			fprintf(stderr, "rpcd: cannot create the directory of %s: %s\n", path,
			        strerror(errno));
			return -1;
		}
		if (pbrpc_key_generate(path, &err) == PBRPC_OK) {
			*created = 1;
		} else if (err.code != PBRPC_ALREADY_EXISTS) {
			/* ALREADY_EXISTS: another process won the race; load its key. */
			fprintf(stderr, "rpcd: %s\n", err.message);
			return -1;
		}
	}
	if (pbrpc_key_load(path, key, &err) != PBRPC_OK) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		return -1;
	}
	return 0;
}

/* The default root is created if missing; a root the operator names must
 * already exist, so that a typo does not quietly serve an empty directory. */
static int prepare_root(rpcd_options *o, char *buf, size_t size)
{
	if (o->root) {
		struct stat st;
		if (stat(o->root, &st) != 0) {
			fprintf(stderr, "rpcd: --root %s: %s\n", o->root, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "rpcd: --root %s: not a directory\n", o->root);
			return -1;
		}
		return 0;
	}
	if (!rpcd_default_root(buf, size)) {
		fprintf(stderr, "rpcd: no default file root: set HOME or XDG_DATA_HOME, or use "
		                "--root\n");
		return -1;
	}
	if (rpcd_mkdir_p(buf, 0700) != 0) {
		fprintf(stderr, "rpcd: cannot create %s: %s\n", buf, strerror(errno));
		return -1;
	}
	o->root = buf;
	return 0;
}

static pbrpc_server *start_server(const rpcd_options *o, const uint8_t key[PBRPC_KEY_BYTES])
{
	pbrpc_error err = {0};
	pbrpc_server_options so;
	pbrpc_server_options_init(&so);
	so.max_record = o->max_record;
	so.max_connections = o->max_connections;
	so.max_calls = o->max_calls;
	so.handshake_timeout_ms = o->handshake_timeout_ms;
	so.idle_timeout_ms = o->idle_timeout_ms;
	so.handle_signals = 1;
	so.log_level = o->log_level;

	pbrpc_server *s = pbrpc_server_new(key, &so, &err);
	if (!s) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		return NULL;
	}
	mem_budget_configure(s, (size_t)o->max_memory);
	if (rpcd_echo_register(s, &err) != PBRPC_OK || rpcd_time_register(s, &err) != PBRPC_OK) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		goto fail;
	}
	rpcd_file_set_partial_max_age((time_t)o->partial_max_age);
	if (rpcd_file_register(s, o->root, &err) != PBRPC_OK) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		goto fail;
	}
	if (rpcd_exec_register(s, o, &err) != PBRPC_OK) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		goto fail;
	}
	for (size_t i = 0; i < o->n_listen; i++) {
		if (pbrpc_server_listen(s, o->listen[i], &err) != PBRPC_OK) {
			fprintf(stderr, "rpcd: %s\n", err.message); /* it names the address */
			goto fail;
		}
	}
	return s;
fail:
	pbrpc_server_free(s);
	rpcd_exec_free();
	return NULL;
}

int main(int argc, char **argv)
{
	rpcd_options o;
	switch (rpcd_options_parse(argc, argv, &o)) {
	case RPCD_PARSE_RUN: break;
	case RPCD_PARSE_EXIT_OK: rpcd_options_free(&o); return EXIT_SUCCESS;
	case RPCD_PARSE_ERROR: rpcd_options_free(&o); return EXIT_STARTUP;
	}
	/* A peer that vanishes mid-write must cost an EPIPE, not the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* Each connection is a descriptor: let --max-connections reach the hard
	 * limit (10,000 idle clients) instead of the soft 1024 many shells set. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}

	if (o.n_listen == 0) {
		o.listen[0] = PBRPC_DEFAULT_ADDRESS; /* o.listen always has room for one */
		o.n_listen = 1;
	}
	char key_path[PATH_MAX];
	if (!o.key_file) {
		o.key_file = pbrpc_key_default_path(key_path, sizeof(key_path));
		if (!o.key_file) {
			fputs("rpcd: no default key file: set HOME or PBRPC_KEY, or use --key\n",
			      stderr);
			goto fail;
		}
	}
	char root[PATH_MAX];
	if (prepare_root(&o, root, sizeof(root)) != 0)
		goto fail;

	uint8_t key[PBRPC_KEY_BYTES];
	int key_created;
	if (load_or_create_key(o.key_file, key, &key_created) != 0)
		goto fail;
	pbrpc_server *s = start_server(&o, key);
	if (!s) {
		explicit_bzero(key, sizeof(key));
		goto fail;
	}

	if (key_created)
		pbrpc_server_log(s, PBRPC_LOG_INFO, "created key file %s", o.key_file);
	pbrpc_server_log(s, PBRPC_LOG_DEBUG, "key file %s, file root %s", o.key_file, o.root);
	const char *address;
	for (size_t i = 0; (address = pbrpc_server_address(s, i)) != NULL; i++)
		pbrpc_server_log(s, PBRPC_LOG_INFO, "listening on %s", address);

	int rc = pbrpc_server_run(s);
	if (rc != 0)
		pbrpc_server_log(s, PBRPC_LOG_ERROR, "server stopped with an error (%d)", rc);
	pbrpc_server_free(s);
	rpcd_exec_free(); /* after the server: its runs have all been reaped by now */
	explicit_bzero(key, sizeof(key)); /* kept until now in case the server borrows it */
	rpcd_options_free(&o);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
fail:
	rpcd_options_free(&o);
	return EXIT_STARTUP;
}
