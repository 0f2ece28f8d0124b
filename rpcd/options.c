/* options.c - parses rpcd's command line (getopt_long) and checks every value. */
#include "options.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_MAX_RECORD = 256,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_CALLS,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_NO_EXEC,
	OPT_EXEC_ALLOW,
	OPT_MAX_EXEC,
	OPT_PARTIAL_MAX_AGE,
	OPT_HOST_KEY,
	OPT_MAX_STARTUPS,
	OPT_PENALTY,
	OPT_AUTHORIZED_KEYS,
	OPT_MAX_MEMORY,
	OPT_EXEC_ENV,
	OPT_EXEC_MAX_PIDS,
	OPT_EXEC_MAX_MEMORY,
	OPT_NO_CGROUP,
};

/* A generous cap that still catches typos; the library bounds its own work. */
#define RPCD_MAX_MAX_CONNECTIONS 1000000u
#define RPCD_MAX_MAX_CALLS       65536u
#define RPCD_MAX_TIMEOUT_MS      86400000u /* one day */
#define RPCD_MAX_MAX_EXEC        4096u
#define RPCD_MAX_PARTIAL_AGE     (3650ull * 86400) /* ten years */
#define RPCD_MAX_EXEC_MAX_PIDS   4194304u          /* the kernel's pid_max limit */
#define RPCD_MIN_EXEC_MEMORY     (1ull << 20)
#define RPCD_MAX_EXEC_MEMORY     (1ull << 50)

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"key", required_argument, NULL, 'k'},
    {"host-key", required_argument, NULL, OPT_HOST_KEY},
    {"max-startups", required_argument, NULL, OPT_MAX_STARTUPS},
    {"penalty", required_argument, NULL, OPT_PENALTY},
    {"authorized-keys", required_argument, NULL, OPT_AUTHORIZED_KEYS},
    {"root", required_argument, NULL, 'r'},
    {"max-record", required_argument, NULL, OPT_MAX_RECORD},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-calls", required_argument, NULL, OPT_MAX_CALLS},
    {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"no-exec", no_argument, NULL, OPT_NO_EXEC},
    {"exec-allow", required_argument, NULL, OPT_EXEC_ALLOW},
    {"max-exec", required_argument, NULL, OPT_MAX_EXEC},
    {"partial-max-age", required_argument, NULL, OPT_PARTIAL_MAX_AGE},
    {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"exec-env", required_argument, NULL, OPT_EXEC_ENV},
    {"exec-max-pids", required_argument, NULL, OPT_EXEC_MAX_PIDS},
    {"exec-max-memory", required_argument, NULL, OPT_EXEC_MAX_MEMORY},
    {"no-cgroup", no_argument, NULL, OPT_NO_CGROUP},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void print_usage(FILE *out)
{
	fprintf(out,
	        "Usage: rpcd [OPTION]...\n"
	        "Serve pbrpc calls (echo, time, exec, file, reflection) to the clients whose\n"
	        "keys the authorized keys file lists, each under its own policy.\n"
	        "\n"
	        "  -l, --listen ADDR          listen on ADDR: host:port, [v6addr]:port or\n"
	        "                             unix:/path; may be repeated (default %s)\n"
	        "      --host-key FILE        the server's identity (default CONFIG/host_key;\n"
	        "                             created, mode 0600, if missing; its fingerprint\n"
	        "                             is logged at startup)\n"
	        "      --authorized-keys FILE the clients accepted: \"[OPTIONS] x25519 BASE64\n"
	        "                             NAME\" lines (default CONFIG/authorized_keys; the\n"
	        "                             default is created on first start, authorizing\n"
	        "                             your own identity CONFIG/id_x25519, made if\n"
	        "                             missing). SIGHUP reads it again.\n"
	        "  -k, --key FILE             also accept clients holding this shared key\n"
	        "                             (protocol 1, for existing deployments; created\n"
	        "                             if missing). Alone, it turns client keys off\n"
	        "                             unless --host-key or --authorized-keys is given\n"
	        "  -r, --root DIR             directory served by the file service (default\n"
	        "                             $XDG_DATA_HOME/pbrpc/files or\n"
	        "                             ~/.local/share/pbrpc/files, created if missing)\n"
	        "      --max-record BYTES     largest record accepted, %u..%u; K and M\n"
	        "                             suffixes mean KiB and MiB (default %u)\n"
	        "      --max-connections N    most clients connected at once (default 1024)\n"
	        "      --max-calls N          most calls open at once on one connection,\n"
	        "                             1..%u (default 128)\n"
	        "      --max-startups N[:TOTAL]\n"
	        "                             handshakes in progress at once from one client\n"
	        "                             address (default 32) and in all (default: the\n"
	        "                             connection limit);\n"
	        "                             more are refused before any key work\n"
	        "      --penalty FAILURES:SECONDS[:REFUSE_SECONDS]\n"
	        "                             an address with FAILURES failed handshakes within\n"
	        "                             SECONDS is refused for REFUSE_SECONDS (default\n"
	        "                             SECONDS; 64:10 in all); 0 turns penalties off\n"
	        "      --handshake-timeout MS close a connection that has not authenticated\n"
	        "                             within MS milliseconds, 1..%u (default 10000)\n"
	        "      --idle-timeout MS      close an authenticated connection with no call\n"
	        "                             for MS milliseconds, 0..%u (default 0: never)\n"
	        "      --no-exec              refuse every exec call (PERMISSION_DENIED)\n"
	        "      --exec-allow FILE      run only the programs whose absolute paths FILE\n"
	        "                             lists, one per line (# comments); --shell runs\n"
	        "                             only if /bin/sh is listed\n"
	        "      --max-exec N           most programs running at once, 1..%u\n"
	        "                             (default %u)\n"
	        "      --exec-env NAME,...    environment variables a client may set for a\n"
	        "                             program (* and ? globs, e.g. 'LANG,LC_*');\n"
	        "                             may be repeated. With --exec-allow only these\n"
	        "                             are accepted (none without --exec-env); without\n"
	        "                             --exec-allow every name is, unless this is given\n"
	        "      --exec-max-pids N      processes one program and its children may have\n"
	        "                             at once, 1..%u (default %u; cgroup pids.max)\n"
	        "      --exec-max-memory BYTES\n"
	        "                             memory one program and its children may use\n"
	        "                             (cgroup memory.max; K and M suffixes; default:\n"
	        "                             no limit)\n"
	        "      --no-cgroup            do not put each program in a cgroup of its own;\n"
	        "                             track its processes as a child subreaper instead\n"
	        "      --partial-max-age SECONDS\n"
	        "                             remove the hidden part files of interrupted\n"
	        "                             uploads (kept for 'rpcc put --continue') once\n"
	        "                             untouched this long, at startup and when a put\n"
	        "                             begins in their directory (default %d, a day);\n"
	        "                             0: keep none, and remove them all at startup\n"
	        "      --max-memory BYTES     most memory all calls together may hold for\n"
	        "                             their buffers, 4M..1024G; K, M and G suffixes\n"
	        "                             (default 256M). One connection's calls may\n"
	        "                             hold an eighth of it (at least 4M): beyond,\n"
	        "                             its new calls wait; when the whole is held,\n"
	        "                             calls that need more get RESOURCE_EXHAUSTED\n"
	        "  -v, --verbose              log debug lines too\n"
	        "  -q, --quiet                log only warnings and errors\n"
	        "  -h, --help                 show this help and exit\n"
	        "  -V, --version              show the version and exit\n"
	        "\n"
	        "CONFIG is $XDG_CONFIG_HOME/pbrpc, else ~/.config/pbrpc.\n"
	        "Logs go to stderr. SIGINT or SIGTERM stops rpcd after in-flight calls end;\n"
	        "SIGHUP re-reads the authorized keys (a broken file keeps the old one).\n"
	        "Exit status: 0 after a clean stop, 1 on a usage or startup error.\n",
	        PBRPC_DEFAULT_ADDRESS, PBRPC_MIN_MAX_RECORD, PBRPC_MAX_MAX_RECORD,
	        PBRPC_DEFAULT_MAX_RECORD, RPCD_MAX_MAX_CALLS, RPCD_MAX_TIMEOUT_MS,
	        RPCD_MAX_TIMEOUT_MS, RPCD_MAX_MAX_EXEC, RPCD_DEFAULT_MAX_EXEC,
	        RPCD_MAX_EXEC_MAX_PIDS, RPCD_DEFAULT_EXEC_MAX_PIDS, RPCD_DEFAULT_PARTIAL_MAX_AGE);
}

static rpcd_parse_result usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static rpcd_parse_result usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("rpcd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'rpcd --help' for more information.\n", stderr);
	va_end(ap);
	return RPCD_PARSE_ERROR;
}

/* Parses a decimal count with an optional K, M or G (binary) suffix into *out,
 * refusing signs, junk, overflow and values above max. */
static int parse_count(const char *text, uint64_t max, uint64_t *out)
{
	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	char *end;
	unsigned long long value = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return -1;
	unsigned shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	else if (*end == 'g' || *end == 'G')
		shift = 30, end++;
	if (*end != '\0' || value > (max >> shift))
		return -1;
	*out = (uint64_t)value << shift;
	return 0;
}

rpcd_parse_result rpcd_options_parse(int argc, char **argv, rpcd_options *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = PBRPC_LOG_INFO;
	o->partial_max_age = RPCD_DEFAULT_PARTIAL_MAX_AGE;
	/* At most one --listen per argument, so argc slots always suffice. */
	o->listen = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*o->listen));
	o->exec_env = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*o->exec_env));
	if (!o->listen || !o->exec_env) {
		fputs("rpcd: out of memory\n", stderr);
		return RPCD_PARSE_ERROR;
	}

	opterr = 0; /* our own messages, prefixed "rpcd:" whatever argv[0] is */
	int c;
	while ((c = getopt_long(argc, argv, ":l:k:r:vqhV", long_options, NULL)) != -1) {
		uint64_t value;
		switch (c) {
		case 'l':
			if (optarg[0] == '\0')
				return usage_error("--listen needs an address");
			o->listen[o->n_listen++] = optarg;
			break;
		case 'k':
			if (optarg[0] == '\0')
				return usage_error("--key needs a file name");
			o->key_file = optarg;
			break;
		case OPT_HOST_KEY:
			if (optarg[0] == '\0')
				return usage_error("--host-key needs a file name");
			o->host_key = optarg;
			break;
		case OPT_AUTHORIZED_KEYS:
			if (optarg[0] == '\0')
				return usage_error("--authorized-keys needs a file name");
			o->authorized_keys = optarg;
			break;
		case OPT_MAX_STARTUPS: {
			char *colon = strchr(optarg, ':');
			uint64_t total = 0;
			if (colon)
				*colon = '\0';
			int bad = strspn(optarg, "0123456789") != strlen(optarg) ||
			          parse_count(optarg, 65536, &value) != 0 || value == 0;
			if (colon) {
				bad =
				    bad || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
				    parse_count(colon + 1, RPCD_MAX_MAX_CONNECTIONS, &total) != 0 ||
				    total < value;
				*colon = ':';
			}
			if (bad) {
				fprintf(stderr,
				        "rpcd: --max-startups '%s': want N or N:TOTAL, 1 <= N <= "
				        "TOTAL\n",
				        optarg);
				return RPCD_PARSE_ERROR;
			}
			o->max_startups = (unsigned)value;
			o->max_startups_total = (unsigned)total;
			break;
		}
		case OPT_PENALTY: {
			unsigned long f = 0, secs = 0, refuse = 0;
			int n = 0;
			if (strcmp(optarg, "0") == 0) {
				o->penalty_failures = UINT_MAX;
				break;
			}
			int fields = sscanf(optarg, "%lu:%lu%n:%lu%n", &f, &secs, &n, &refuse, &n);
			if (fields < 2 || (size_t)n != strlen(optarg) || f == 0 || f > 1000000 ||
			    secs == 0 || secs > 86400 ||
			    (fields == 3 && (refuse == 0 || refuse > 86400)) ||
			    strspn(optarg, "0123456789:") != strlen(optarg)) {
				fprintf(
				    stderr,
				    "rpcd: --penalty '%s': want FAILURES:SECONDS[:REFUSE_SECONDS] "
				    "(1..1000000, 1..86400, 1..86400) or 0 (off)\n",
				    optarg);
				return RPCD_PARSE_ERROR;
			}
			o->penalty_failures = (unsigned)f;
			o->penalty_seconds = (unsigned)secs;
			o->penalty_refuse_seconds = (unsigned)(fields == 3 ? refuse : secs);
			break;
		}
		case 'r':
			if (optarg[0] == '\0')
				return usage_error("--root needs a directory");
			o->root = optarg;
			break;
		case OPT_MAX_RECORD:
			if (parse_count(optarg, PBRPC_MAX_MAX_RECORD, &value) != 0 ||
			    value < PBRPC_MIN_MAX_RECORD) {
				fprintf(stderr, "rpcd: --max-record '%s': must be %u..%u bytes\n",
				        optarg, PBRPC_MIN_MAX_RECORD, PBRPC_MAX_MAX_RECORD);
				return RPCD_PARSE_ERROR;
			}
			o->max_record = (uint32_t)value;
			break;
		case OPT_MAX_CONNECTIONS:
			if (parse_count(optarg, RPCD_MAX_MAX_CONNECTIONS, &value) != 0 ||
			    value == 0) {
				fprintf(stderr, "rpcd: --max-connections '%s': must be 1..%u\n",
				        optarg, RPCD_MAX_MAX_CONNECTIONS);
				return RPCD_PARSE_ERROR;
			}
			o->max_connections = (unsigned)value;
			break;
		case OPT_MAX_CALLS:
			if (parse_count(optarg, RPCD_MAX_MAX_CALLS, &value) != 0 || value == 0) {
				fprintf(stderr, "rpcd: --max-calls '%s': must be 1..%u\n", optarg,
				        RPCD_MAX_MAX_CALLS);
				return RPCD_PARSE_ERROR;
			}
			o->max_calls = (unsigned)value;
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			/* Milliseconds: no K/M suffix makes sense, so digits only. */
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    parse_count(optarg, RPCD_MAX_TIMEOUT_MS, &value) != 0 || value == 0) {
				fprintf(stderr,
				        "rpcd: --handshake-timeout '%s': must be 1..%u ms\n",
				        optarg, RPCD_MAX_TIMEOUT_MS);
				return RPCD_PARSE_ERROR;
			}
			o->handshake_timeout_ms = (unsigned)value;
			break;
		case OPT_IDLE_TIMEOUT:
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    parse_count(optarg, RPCD_MAX_TIMEOUT_MS, &value) != 0) {
				fprintf(stderr,
				        "rpcd: --idle-timeout '%s': must be 0..%u ms (0: never)\n",
				        optarg, RPCD_MAX_TIMEOUT_MS);
				return RPCD_PARSE_ERROR;
			}
			o->idle_timeout_ms = (unsigned)value;
			break;
		case OPT_NO_EXEC: o->no_exec = 1; break;
		case OPT_EXEC_ALLOW:
			if (optarg[0] == '\0')
				return usage_error("--exec-allow needs a file name");
			o->exec_allow = optarg;
			break;
		case OPT_MAX_EXEC:
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    parse_count(optarg, RPCD_MAX_MAX_EXEC, &value) != 0 || value == 0) {
				fprintf(stderr, "rpcd: --max-exec '%s': must be 1..%u\n", optarg,
				        RPCD_MAX_MAX_EXEC);
				return RPCD_PARSE_ERROR;
			}
			o->max_exec = (unsigned)value;
			break;
		case OPT_PARTIAL_MAX_AGE:
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    parse_count(optarg, RPCD_MAX_PARTIAL_AGE, &value) != 0) {
				fprintf(stderr,
				        "rpcd: --partial-max-age '%s': must be 0..%llu seconds\n",
				        optarg, RPCD_MAX_PARTIAL_AGE);
				return RPCD_PARSE_ERROR;
			}
			o->partial_max_age = (int64_t)value;
			break;
		case OPT_MAX_MEMORY:
			if (parse_count(optarg, RPCD_MAX_MAX_MEMORY, &value) != 0 ||
			    value < RPCD_MIN_MAX_MEMORY) {
				fprintf(stderr,
				        "rpcd: --max-memory '%s': must be 4M..1024G bytes (K, M "
				        "and G suffixes)\n",
				        optarg);
				return RPCD_PARSE_ERROR;
			}
			o->max_memory = (uint64_t)value;
			break;
		case OPT_EXEC_ENV: o->exec_env[o->n_exec_env++] = optarg; break;
		case OPT_EXEC_MAX_PIDS:
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    parse_count(optarg, RPCD_MAX_EXEC_MAX_PIDS, &value) != 0 ||
			    value == 0) {
				fprintf(stderr, "rpcd: --exec-max-pids '%s': must be 1..%u\n",
				        optarg, RPCD_MAX_EXEC_MAX_PIDS);
				return RPCD_PARSE_ERROR;
			}
			o->exec_max_pids = (unsigned)value;
			o->exec_max_pids_given = 1;
			break;
		case OPT_EXEC_MAX_MEMORY:
			if (parse_count(optarg, RPCD_MAX_EXEC_MEMORY, &value) != 0 ||
			    value < RPCD_MIN_EXEC_MEMORY) {
				fprintf(
				    stderr,
				    "rpcd: --exec-max-memory '%s': must be at least 1M (K and M "
				    "suffixes: KiB, MiB)\n",
				    optarg);
				return RPCD_PARSE_ERROR;
			}
			o->exec_max_memory = value;
			break;
		case OPT_NO_CGROUP: o->no_cgroup = 1; break;
		case 'v': o->log_level = PBRPC_LOG_DEBUG; break;
		case 'q': o->log_level = PBRPC_LOG_WARN; break;
		case 'h': print_usage(stdout); return RPCD_PARSE_EXIT_OK;
		case 'V':
			printf("rpcd (pbrpc) %s, protocol %d\n", PBRPC_VERSION,
			       PBRPC_PROTOCOL_VERSION);
			return RPCD_PARSE_EXIT_OK;
		case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			/* A bad long option is the whole word; a short one may sit in "-vx". */
			if (strncmp(argv[optind - 1], "--", 2) == 0 || optopt == 0)
				return usage_error("unknown option '%s'", argv[optind - 1]);
			return usage_error("unknown option '-%c'", optopt);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return RPCD_PARSE_RUN;
}

void rpcd_options_free(rpcd_options *o)
{
	free(o->listen);
	o->listen = NULL;
	free(o->exec_env);
	o->exec_env = NULL;
	o->n_exec_env = 0;
	o->n_listen = 0;
}
