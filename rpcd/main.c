/* main.c - rpcd: startup (key, file root, listeners), the run, and exit codes. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "client_policy.h"
#include "file_service.h"
#include "identities.h"
#include "mem_budget.h"
#include "options.h"
#include "paths.h"
#include "pbrpc.h"
#include "services.h"

#define EXIT_STARTUP 1

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

/* The keys rpcd authenticates with: the shared key (protocol 1, opt-in)
 * and the host key with the authorized keys (protocol 2). */
typedef struct rpcd_keys {
	int has_psk, has_host_key;
	uint8_t psk[PBRPC_KEY_BYTES];
	uint8_t host_key[32];
	char host_key_path[PATH_MAX], authorized_path[PATH_MAX];
	int psk_created, host_key_created;
	char bootstrap_note[PATH_MAX * 2 + 128];
} rpcd_keys;

/* --key alone keeps the shared-key-only server of before; otherwise client
 * keys are on, from the given or default files. */
static int load_keys(rpcd_options *o, rpcd_keys *k)
{
	pbrpc_error err = {0};
	memset(k, 0, sizeof *k);
	if (o->key_file) {
		if (rpcd_shared_key_load(o->key_file, k->psk, &k->psk_created) != 0)
			return -1;
		k->has_psk = 1;
		if (!o->host_key && !o->authorized_keys)
			return 0;
	}
	if (!o->host_key &&
	    !pbrpc_config_path("host_key", k->host_key_path, sizeof k->host_key_path)) {
		fputs("rpcd: no default host key: set HOME or use --host-key\n", stderr);
		return -1;
	}
	if (o->host_key)
		snprintf(k->host_key_path, sizeof k->host_key_path, "%s", o->host_key);
	if (rpcd_host_key_load(k->host_key_path, k->host_key, &k->host_key_created) != 0)
		return -1;
	if (o->authorized_keys) {
		snprintf(k->authorized_path, sizeof k->authorized_path, "%s", o->authorized_keys);
	} else {
		if (!pbrpc_config_path("authorized_keys", k->authorized_path,
		                       sizeof k->authorized_path)) {
			fputs(
			    "rpcd: no default authorized keys: set HOME or use --authorized-keys\n",
			    stderr);
			return -1;
		}
		/* First start with no options: let this user's own rpcc in. */
		if (access(k->authorized_path, F_OK) != 0 &&
		    rpcd_authorized_keys_bootstrap(k->authorized_path, k->bootstrap_note,
		                                   sizeof k->bootstrap_note) != 0)
			return -1;
	}
	if (rpcd_policy_load(k->authorized_path, &err) != 0) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		return -1;
	}
	k->has_host_key = 1;
	return 0;
}

static void on_sighup(uv_signal_t *h, int signum)
{
	(void)signum;
	pbrpc_server *s = h->data;
	pbrpc_error err = {0};
	long n = rpcd_policy_reload(s, &err);
	if (n < 0)
		pbrpc_server_log(s, PBRPC_LOG_ERROR,
		                 "SIGHUP: keeping the authorized keys in force: %s", err.message);
	else
		pbrpc_server_log(s, PBRPC_LOG_INFO, "SIGHUP: %ld authorized keys in force", n);
}

static pbrpc_server *start_server(const rpcd_options *o, const rpcd_keys *keys)
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
	so.max_unauthenticated_per_source = o->max_startups;
	so.max_unauthenticated = o->max_startups_total;
	so.penalty_failures = o->penalty_failures;
	so.penalty_window_ms = o->penalty_seconds * 1000u;
	so.penalty_ms = o->penalty_refuse_seconds * 1000u;
	if (keys->has_host_key) {
		so.host_key = keys->host_key;
		rpcd_policy_attach(&so);
	}

	pbrpc_server *s = pbrpc_server_new(keys->has_psk ? keys->psk : NULL, &so, &err);
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
	char root[PATH_MAX];
	if (prepare_root(&o, root, sizeof(root)) != 0)
		goto fail;

	static rpcd_keys keys; /* big; and wiped before exit */
	if (load_keys(&o, &keys) != 0) {
		explicit_bzero(&keys, sizeof keys);
		rpcd_policy_free();
		goto fail;
	}
	pbrpc_server *s = start_server(&o, &keys);
	if (!s) {
		explicit_bzero(&keys, sizeof keys);
		rpcd_policy_free();
		goto fail;
	}

	uv_signal_t hup;
	if (keys.has_host_key) {
		char fp[PBRPC_FINGERPRINT_SIZE];
		uint8_t pub[32];
		pbrpc_public_key_of(keys.host_key, pub);
		pbrpc_key_fingerprint(pub, fp);
		pbrpc_server_log(s, PBRPC_LOG_INFO, "%s host key %s: %s",
		                 keys.host_key_created ? "created" : "using", keys.host_key_path,
		                 fp);
		if (keys.bootstrap_note[0])
			pbrpc_server_log(s, PBRPC_LOG_INFO, "%s", keys.bootstrap_note);
		pbrpc_server_log(s, PBRPC_LOG_INFO, "authorized keys: %s", keys.authorized_path);
		uv_signal_init(pbrpc_server_loop(s), &hup);
		hup.data = s;
		uv_signal_start(&hup, on_sighup, SIGHUP);
		uv_unref((uv_handle_t *)&hup); /* the server decides when the loop ends */
	}
	if (keys.psk_created)
		pbrpc_server_log(s, PBRPC_LOG_INFO, "created key file %s", o.key_file);
	if (keys.has_psk)
		pbrpc_server_log(s, PBRPC_LOG_INFO, "shared key %s accepted (protocol 1)",
		                 o.key_file);
	pbrpc_server_log(s, PBRPC_LOG_DEBUG, "file root %s", o.root);
	const char *address;
	for (size_t i = 0; (address = pbrpc_server_address(s, i)) != NULL; i++)
		pbrpc_server_log(s, PBRPC_LOG_INFO, "listening on %s", address);

	int rc = pbrpc_server_run(s);
	if (rc != 0)
		pbrpc_server_log(s, PBRPC_LOG_ERROR, "server stopped with an error (%d)", rc);
	if (keys.has_host_key)
		uv_close((uv_handle_t *)&hup, NULL); /* closed by the free's last loop turn */
	pbrpc_server_free(s);
	rpcd_exec_free();   /* after the server: its runs have all been reaped by now */
	rpcd_policy_free(); /* after the server: its connections released their keys */
	explicit_bzero(&keys, sizeof keys);
	rpcd_options_free(&o);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
fail:
	rpcd_options_free(&o);
	return EXIT_STARTUP;
}
