/* cmd_put.c - 'rpcc put [-q] [--continue] [--no-clobber] LOCAL|- REMOTE':
 * File.Put.
 *
 * Sends a header (path, size, mode, mtime), the data in 1 MiB chunks and the
 * BLAKE2b checksum of the whole file; the server stores it under REMOTE only
 * if everything arrived intact. --continue first asks File.PutOffset how
 * much of an interrupted upload the server kept and sends only the rest. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <pbrpc.h>

#include "pbrpc/file.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "progress.h"
#include "report.h"

#define HASH_BYTES 32
#define CHUNK      (1u << 20)

typedef struct upload {
	const char *name; /* the command's */
	const char *local;
	char remote[PATH_MAX];
	int fd;
	int size_known;
	uint64_t size;
	uint32_t mode;
	struct timespec mtime;
	uint64_t offset; /* where this call starts (a resume) */
	uint64_t sent;
	crypto_generichash_state hash;
	uint8_t *buf;
	int quiet;
} upload;

/* Reads up to n bytes, retrying short reads until n or end of input. */
static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Opens LOCAL (or stdin) and learns its size, mode and mtime. */
static int open_local(upload *u)
{
	struct stat st;
	if (strcmp(u->local, "-") == 0) {
		mode_t mask = umask(0);
		umask(mask);
		u->fd = STDIN_FILENO;
		u->size_known = 0;
		u->mode = 0666 & ~mask;
		clock_gettime(CLOCK_REALTIME, &u->mtime);
		return 0;
	}
	u->fd = open(u->local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (u->fd < 0 || fstat(u->fd, &st) != 0) {
		rpcc_reportf(u->name, PBRPC_OK, "%s: %s", u->local, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		rpcc_reportf(u->name, PBRPC_OK, "%s: %s", u->local,
		             S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		return -1;
	}
	u->size_known = 1;
	u->size = (uint64_t)st.st_size;
	u->mode = st.st_mode & 0777;
	u->mtime = st.st_mtim;
	return 0;
}

/* Asks where an interrupted upload stopped, and hashes our bytes before it. */
static pbrpc_status find_offset(upload *u, pbrpc_client *client, const pbrpc_call_options *opts,
                                pbrpc_error *err)
{
	Pbrpc__File__PutOffsetRequest request = PBRPC__FILE__PUT_OFFSET_REQUEST__INIT;
	Pbrpc__File__PutOffsetReply *reply = NULL;
	request.path.data = (uint8_t *)u->remote;
	request.path.len = strlen(u->remote);
	request.size = u->size;
	request.mtime_seconds = u->mtime.tv_sec;
	request.mtime_nanos = (uint32_t)u->mtime.tv_nsec;
	pbrpc_status st = pbrpc_file_file_put_offset(client, &request, &reply, opts, err);
	if (st != PBRPC_OK)
		return st;
	u->offset = reply->offset <= u->size ? reply->offset : 0;
	pbrpc_message_free(&reply->base);
	for (uint64_t off = 0; off < u->offset;) {
		size_t want = u->offset - off < CHUNK ? (size_t)(u->offset - off) : CHUNK;
		ssize_t got = read_full(u->fd, u->buf, want);
		if (got != (ssize_t)want) {
			rpcc_reportf(u->name, PBRPC_OK, "reading %s: %s", u->local,
			             got < 0 ? strerror(errno) : "the file shrank");
			err->code = PBRPC_OK;
			return PBRPC_ABORTED;
		}
		crypto_generichash_update(&u->hash, u->buf, want);
		off += want;
	}
	return PBRPC_OK;
}

/* Streams header, data and checksum; returns the call's status. */
static pbrpc_status send_file(upload *u, pbrpc_client *client, int no_clobber, int resume,
                              const pbrpc_call_options *opts, pbrpc_error *err)
{
	Pbrpc__File__PutHeader header = PBRPC__FILE__PUT_HEADER__INIT;
	Pbrpc__File__PutRequest m = PBRPC__FILE__PUT_REQUEST__INIT;
	Pbrpc__File__PutReply *reply = NULL;
	uint8_t sum[HASH_BYTES];
	rpcc_progress progress;
	pbrpc_status st;

	header.path.data = (uint8_t *)u->remote;
	header.path.len = strlen(u->remote);
	header.size = u->size;
	header.size_unknown = !u->size_known;
	header.mode = u->mode;
	header.mtime_seconds = u->mtime.tv_sec;
	header.mtime_nanos = (uint32_t)u->mtime.tv_nsec;
	header.resume = resume;
	header.offset = u->offset;
	header.no_clobber = no_clobber;

	pbrpc_stream *s = pbrpc_file_file_put_open(client, opts, err);
	if (!s)
		return err->code;
	m.part_case = PBRPC__FILE__PUT_REQUEST__PART_HEADER;
	m.header = &header;
	st = pbrpc_file_file_put_send(s, &m, err);
	rpcc_progress_start(&progress, u->local, u->offset, u->size, u->size_known, u->quiet);
	u->sent = u->offset;
	while (st == PBRPC_OK) {
		size_t want = CHUNK;
		if (u->size_known && u->size - u->sent < want)
			want = (size_t)(u->size - u->sent);
		if (want == 0)
			break;
		ssize_t got = read_full(u->fd, u->buf, want);
		if (got < 0 || (u->size_known && (size_t)got < want)) {
			rpcc_progress_end(&progress);
			rpcc_reportf(u->name, PBRPC_OK, "reading %s: %s", u->local,
			             got < 0 ? strerror(errno)
			                     : "the file shrank while being sent");
			pbrpc_stream_free(s); /* cancels: the server keeps nothing at REMOTE */
			err->code = PBRPC_OK;
			return PBRPC_ABORTED;
		}
		if (got == 0)
			break; /* end of stdin */
		crypto_generichash_update(&u->hash, u->buf, (size_t)got);
		m = (Pbrpc__File__PutRequest)PBRPC__FILE__PUT_REQUEST__INIT;
		m.part_case = PBRPC__FILE__PUT_REQUEST__PART_DATA;
		m.data.data = u->buf;
		m.data.len = (size_t)got;
		st = pbrpc_file_file_put_send(s, &m, err);
		u->sent += (uint64_t)got;
		rpcc_progress_update(&progress, u->sent);
	}
	if (st == PBRPC_OK) {
		crypto_generichash_final(&u->hash, sum, sizeof sum);
		m = (Pbrpc__File__PutRequest)PBRPC__FILE__PUT_REQUEST__INIT;
		m.part_case = PBRPC__FILE__PUT_REQUEST__PART_CHECKSUM;
		m.checksum.data = sum;
		m.checksum.len = sizeof sum;
		st = pbrpc_file_file_put_send(s, &m, err);
	}
	/* Even after a failed send: the server's own status says more. */
	pbrpc_status final = pbrpc_file_file_put_finish(s, &reply, err);
	if (final != PBRPC_OK || st == PBRPC_OK)
		st = final;
	rpcc_progress_end(&progress);
	if (st == PBRPC_OK && (reply->size != u->sent || reply->checksum.len != HASH_BYTES ||
	                       sodium_memcmp(reply->checksum.data, sum, HASH_BYTES) != 0)) {
		snprintf(err->message, sizeof err->message,
		         "the server confirmed a different size or checksum");
		st = err->code = PBRPC_DATA_LOSS;
	}
	pbrpc_message_free(reply ? &reply->base : NULL);
	pbrpc_stream_free(s);
	return st;
}

/* REMOTE ending in '/' or naming a directory receives LOCAL's base name. */
static int resolve_remote(upload *u, pbrpc_client *client, const char *remote,
                          const pbrpc_call_options *opts)
{
	Pbrpc__File__StatRequest request = PBRPC__FILE__STAT_REQUEST__INIT;
	Pbrpc__File__Entry *entry = NULL;
	pbrpc_error err = {0};
	size_t len = strlen(remote);
	int into_dir = len > 0 && remote[len - 1] == '/';

	if (!into_dir) {
		request.path.data = (uint8_t *)remote;
		request.path.len = len;
		pbrpc_status st = pbrpc_file_file_stat(client, &request, &entry, opts, &err);
		if (st == PBRPC_OK) {
			into_dir = entry->type == PBRPC__FILE__ENTRY_TYPE__DIRECTORY;
			pbrpc_message_free(&entry->base);
		} else if (st != PBRPC_NOT_FOUND && st != PBRPC_PERMISSION_DENIED) {
			/* A path the server refuses: say so now, not after sending it all.
			 * (PERMISSION_DENIED may be a symlink out, which put replaces.) */
			rpcc_report(u->name, NULL, &err);
			return -1;
		}
	}
	const char *base = strcmp(u->local, "-") == 0 ? "" : base_name(u->local);
	if (into_dir && base[0] == '\0') {
		rpcc_reportf(u->name, PBRPC_INVALID_ARGUMENT, "%s is a directory: name the file",
		             remote);
		return -1;
	}
	int n = into_dir ? snprintf(u->remote, sizeof u->remote, "%s%s%s", remote,
	                            remote[len - 1] == '/' ? "" : "/", base)
	                 : snprintf(u->remote, sizeof u->remote, "%s", remote);
	if (n < 0 || (size_t)n >= sizeof u->remote) {
		rpcc_reportf(u->name, PBRPC_INVALID_ARGUMENT, "REMOTE path too long");
		return -1;
	}
	return 0;
}

static int run_put(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"continue", no_argument, NULL, 'c'},
	    {"no-clobber", no_argument, NULL, 'n'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	upload u = {.name = ctx->command->name, .fd = -1};
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	int resume = 0, no_clobber = 0, opt, status = RPCC_EXIT_FAILED;

	while ((opt = getopt_long(argc, argv, "qcnh", options, NULL)) != -1) {
		switch (opt) {
		case 'q': u.quiet = 1; break;
		case 'c': resume = 1; break;
		case 'n': no_clobber = 1; break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(u.name, NULL);
		}
	}
	if (argc - optind != 2)
		return rpcc_usage_error(u.name, "expected LOCAL|- REMOTE");
	u.local = argv[optind];
	if (resume && strcmp(u.local, "-") == 0)
		return rpcc_usage_error(u.name, "--continue needs a LOCAL file, not -");
	if (open_local(&u) != 0)
		goto out;
	u.buf = malloc(CHUNK);
	if (!u.buf) {
		rpcc_reportf(u.name, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	pbrpc_client *client = rpcc_connect(ctx);
	if (!client) {
		status = RPCC_EXIT_CONNECT;
		goto out;
	}
	crypto_generichash_init(&u.hash, NULL, 0, HASH_BYTES);
	pbrpc_status st = PBRPC_OK;
	if (resolve_remote(&u, client, argv[optind + 1], &call_opts) != 0) {
		pbrpc_client_close(client);
		goto out;
	}
	if (resume)
		st = find_offset(&u, client, &call_opts, &err);
	if (st == PBRPC_OK)
		st = send_file(&u, client, no_clobber, resume, &call_opts, &err);
	pbrpc_client_close(client);
	if (st == PBRPC_OK)
		status = RPCC_EXIT_OK;
	else {
		if (err.code != PBRPC_OK)
			rpcc_report(u.name, NULL, &err);
		status = st == PBRPC_UNAVAILABLE ? RPCC_EXIT_CONNECT : RPCC_EXIT_FAILED;
	}
out:
	if (u.fd > STDIN_FILENO)
		close(u.fd);
	free(u.buf);
	return status;
}

const rpcc_command rpcc_cmd_put = {
    .name = "put",
    .args = "[-q] [--continue] [--no-clobber] LOCAL|- REMOTE",
    .summary = "Upload LOCAL (or stdin) to REMOTE under the server's root",
    .details = "The server writes a hidden temporary file and renames it onto REMOTE only\n"
               "once the size and BLAKE2b checksum match, so an interrupted or damaged\n"
               "upload leaves the old REMOTE as it was. An existing REMOTE is replaced, as\n"
               "scp does; a REMOTE directory (or one ending in /) receives LOCAL's name.\n"
               "Mode and mtime are kept. --continue resumes an interrupted upload of the\n"
               "same unchanged file, sending only what the server has not kept.",
    .options = "  -q, --quiet        no progress bar\n"
               "  -c, --continue     resume an interrupted upload\n"
               "  -n, --no-clobber   fail (ALREADY_EXISTS) rather than replace REMOTE\n",
    .run = run_put,
};
