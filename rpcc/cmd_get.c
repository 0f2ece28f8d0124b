/* cmd_get.c - 'rpcc get [-q] [--continue] REMOTE [LOCAL|-]': File.Get.
 *
 * The download goes to ".LOCAL.pbrpc-part" beside LOCAL and is renamed onto
 * LOCAL only once its size and BLAKE2b checksum match what the server sent;
 * mode and mtime follow the remote file. An interrupted download keeps the
 * part file, and --continue asks only for the rest (the checksum still
 * covers the whole file).
 *
 * The part file is written behind: each chunk's writeback starts at once,
 * and what is WRITE_BEHIND_LAG behind is waited for and dropped from the
 * page cache. So a big download holds a few MiB of page cache, its pages are
 * recycled while hot (fresh ones cost a fault each, on a VM at the host too),
 * and the fsync before the rename has almost nothing left to do. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <pbrpc.h>

#include "pbrpc/file.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "progress.h"
#include "report.h"

#define HASH_BYTES       32
#define READ_CHUNK       (1u << 20)
#define WRITE_BEHIND_LAG ((uint64_t)8 << 20)

typedef struct download {
	const char *name; /* the command's, for messages */
	const char *remote;
	char local[PATH_MAX];
	char part[PATH_MAX]; /* "" when writing to stdout */
	int fd;
	uint64_t offset;   /* bytes already in the part file */
	uint64_t received; /* offset + data received */
	uint64_t dropped;  /* the part file's [0, dropped) is on disk, out of the cache */
	crypto_generichash_state hash;
	mode_t mode; /* the remote file's, applied once all arrived */
	struct timespec mtime;
	rpcc_progress progress;
	int quiet;
} download;

/* The last component of path ("" if it ends with '/'). */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* part = dir(local) + "/." + base(local) + ".pbrpc-part". */
static int part_name(const char *local, char *part, size_t size)
{
	const char *base = base_name(local);
	int n = snprintf(part, size, "%.*s.%s.pbrpc-part", (int)(base - local), local, base);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Starts writeback of the part file's [from, d->received) and drops from the
 * page cache what is far enough behind. Errors are left to the fsync. */
/* Returns -1 with errno if waiting for the writeback failed: that call
 * consumes the error, so the final fsync would not report it. */
static int write_behind(download *d, uint64_t from)
{
	if (!d->part[0])
		return 0; /* standard output: not ours to flush */
	sync_file_range(d->fd, (off_t)from, (off_t)(d->received - from), SYNC_FILE_RANGE_WRITE);
	if (d->received - d->dropped < 2 * WRITE_BEHIND_LAG)
		return 0;
	uint64_t upto = d->received - WRITE_BEHIND_LAG;
	off_t len = (off_t)(upto - d->dropped);
	if (sync_file_range(d->fd, (off_t)d->dropped, len,
	                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	                        SYNC_FILE_RANGE_WAIT_AFTER) != 0 &&
	    errno != EINVAL && errno != ENOSYS && errno != ESPIPE)
		return -1;
	posix_fadvise(d->fd, (off_t)d->dropped, len, POSIX_FADV_DONTNEED);
	d->dropped = upto;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Hashes the n bytes already in the part file (a resume). */
static int hash_prefix(int fd, uint64_t n, crypto_generichash_state *st)
{
	uint8_t *buf = malloc(READ_CHUNK);
	uint64_t off = 0;
	if (!buf)
		return -1;
	while (off < n) {
		size_t want = n - off < READ_CHUNK ? (size_t)(n - off) : READ_CHUNK;
		ssize_t got = pread(fd, buf, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			free(buf);
			return -1;
		}
		crypto_generichash_update(st, buf, (size_t)got);
		off += (uint64_t)got;
	}
	free(buf);
	return 0;
}

/* Opens the part file: fresh, or (resume) as it is, hashing what it holds. */
static int open_part(download *d, int resume)
{
	struct stat st;
	int flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (resume ? 0 : O_TRUNC);
	d->fd = open(d->part, flags, 0600);
	if (d->fd < 0 || fstat(d->fd, &st) != 0) {
		rpcc_reportf(d->name, PBRPC_OK, "%s: %s", d->part, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		rpcc_reportf(d->name, PBRPC_OK, "%s: not a regular file", d->part);
		return -1;
	}
	d->offset = (uint64_t)st.st_size;
	if (hash_prefix(d->fd, d->offset, &d->hash) != 0 ||
	    lseek(d->fd, (off_t)d->offset, SEEK_SET) < 0) {
		rpcc_reportf(d->name, PBRPC_OK, "reading %s: %s", d->part, strerror(errno));
		return -1;
	}
	return 0;
}

/* Checks and stores one reply. Returns 0, 1 once the checksum matched, or
 * -1 after reporting (err->code says how the call failed; PBRPC_OK: locally). */
static int take_reply(download *d, const Pbrpc__File__GetReply *r, int *have_info, uint64_t *size,
                      pbrpc_error *err)
{
	switch (r->part_case) {
	case PBRPC__FILE__GET_REPLY__PART_INFO:
		if (*have_info || !r->info)
			break;
		*have_info = 1;
		*size = r->info->size;
		if (*size < d->offset) {
			snprintf(err->message, sizeof err->message,
			         "%s is now smaller than the partial download; get it again "
			         "without --continue",
			         d->remote);
			err->code = PBRPC_FAILED_PRECONDITION;
			return -1;
		}
		d->mode = (mode_t)(r->info->mode & 0777);
		d->mtime.tv_sec = r->info->mtime_seconds;
		d->mtime.tv_nsec = r->info->mtime_nanos < 1000000000 ? r->info->mtime_nanos : 0;
		rpcc_progress_start(&d->progress, d->remote, d->offset, *size, 1, d->quiet);
		return 0;
	case PBRPC__FILE__GET_REPLY__PART_DATA:
		if (!*have_info)
			break;
		if (r->data.len > *size - d->received) {
			snprintf(err->message, sizeof err->message,
			         "the server sent more than %llu bytes", (unsigned long long)*size);
			err->code = PBRPC_DATA_LOSS;
			return -1;
		}
		int failed = write_all(d->fd, r->data.data, r->data.len) != 0;
		if (!failed) {
			d->received += r->data.len;
			failed = write_behind(d, d->received - r->data.len) != 0;
		}
		if (failed) {
			rpcc_reportf(d->name, PBRPC_OK, "writing %s: %s",
			             d->part[0] ? d->part : "standard output", strerror(errno));
			err->code = PBRPC_OK;
			return -1;
		}
		crypto_generichash_update(&d->hash, r->data.data, r->data.len);
		rpcc_progress_update(&d->progress, d->received);
		return 0;
	case PBRPC__FILE__GET_REPLY__PART_CHECKSUM: {
		uint8_t sum[HASH_BYTES];
		if (!*have_info)
			break;
		crypto_generichash_final(&d->hash, sum, sizeof sum);
		if (d->received != *size || r->checksum.len != HASH_BYTES ||
		    sodium_memcmp(sum, r->checksum.data, HASH_BYTES) != 0) {
			snprintf(err->message, sizeof err->message, "%s: %s", d->remote,
			         d->received != *size ? "the download is short"
			                              : "checksum mismatch: the data was damaged");
			err->code = PBRPC_DATA_LOSS;
			return -1;
		}
		return 1;
	}
	default: break;
	}
	snprintf(err->message, sizeof err->message, "the server's replies are out of order");
	err->code = PBRPC_INTERNAL;
	return -1;
}

/* Runs the call; returns PBRPC_OK once everything arrived and matched, else
 * the failure (err->code PBRPC_OK with a status: reported already). */
static pbrpc_status receive(download *d, pbrpc_client *client, const pbrpc_call_options *opts,
                            pbrpc_error *err)
{
	Pbrpc__File__GetRequest request = PBRPC__FILE__GET_REQUEST__INIT;
	int have_info = 0, verified = 0;
	uint64_t size = 0;
	pbrpc_status st;

	request.path.data = (uint8_t *)d->remote;
	request.path.len = strlen(d->remote);
	request.offset = d->offset;
	d->received = d->dropped = d->offset;
	pbrpc_stream *s = pbrpc_file_file_get(client, &request, opts, err);
	if (!s)
		return err->code;
	for (;;) {
		Pbrpc__File__GetReply *r = NULL;
		st = pbrpc_file_file_get_recv(s, &r, err);
		if (st != PBRPC_OK)
			break;
		if (!r) {
			if (!verified) {
				st = PBRPC_DATA_LOSS;
				snprintf(err->message, sizeof err->message,
				         "%s: the download ended without a checksum", d->remote);
				err->code = st;
			}
			break;
		}
		int rc = verified ? -1 : take_reply(d, r, &have_info, &size, err);
		if (verified) {
			snprintf(err->message, sizeof err->message, "a reply after the checksum");
			err->code = PBRPC_INTERNAL;
		}
		pbrpc_message_free(&r->base);
		if (rc < 0) {
			st = err->code == PBRPC_OK ? PBRPC_ABORTED : err->code;
			if (err->code == PBRPC_OK)
				err->message[0] = '\0'; /* reported already */
			break;
		}
		verified = rc == 1;
	}
	pbrpc_stream_free(s);
	rpcc_progress_end(&d->progress);
	return st;
}

/* A break in the connection (or a deadline) is worth resuming; the rest is not. */
static int worth_keeping(pbrpc_status st)
{
	return st == PBRPC_UNAVAILABLE || st == PBRPC_DEADLINE_EXCEEDED || st == PBRPC_CANCELLED ||
	       st == PBRPC_ABORTED;
}

static int run_get(const rpcc_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"continue", no_argument, NULL, 'c'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	download d = {.name = ctx->command->name, .fd = -1};
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	int resume = 0, opt;

	while ((opt = getopt_long(argc, argv, "qch", options, NULL)) != -1) {
		switch (opt) {
		case 'q': d.quiet = 1; break;
		case 'c': resume = 1; break;
		case 'h': return rpcc_help(ctx->command);
		default: return rpcc_usage_error(d.name, NULL);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return rpcc_usage_error(d.name, "expected REMOTE [LOCAL|-]");
	d.remote = argv[optind];
	const char *local = argc - optind == 2 ? argv[optind + 1] : base_name(d.remote);
	int to_stdout = strcmp(local, "-") == 0;
	if (to_stdout && resume)
		return rpcc_usage_error(d.name, "--continue needs a LOCAL file, not -");
	if (!to_stdout) {
		struct stat st;
		const char *base = base_name(d.remote);
		if (local[0] == '\0' || strcmp(local, ".") == 0 || strcmp(local, "..") == 0)
			local = ".";
		if (stat(local, &st) == 0 && S_ISDIR(st.st_mode)) {
			/* Into a directory, like cp and scp. */
			if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
				return rpcc_usage_error(d.name, "REMOTE '%s' names no file",
				                        d.remote);
			int n = snprintf(d.local, sizeof d.local, "%s/%s", local, base);
			if (n < 0 || (size_t)n >= sizeof d.local)
				return rpcc_usage_error(d.name, "LOCAL path too long");
		} else if (snprintf(d.local, sizeof d.local, "%s", local) >= (int)sizeof d.local) {
			return rpcc_usage_error(d.name, "LOCAL path too long");
		}
		if (part_name(d.local, d.part, sizeof d.part) != 0)
			return rpcc_usage_error(d.name, "LOCAL path too long");
	}

	pbrpc_client *client = rpcc_connect(ctx);
	if (!client)
		return RPCC_EXIT_CONNECT;
	crypto_generichash_init(&d.hash, NULL, 0, HASH_BYTES);
	if (to_stdout) {
		d.fd = STDOUT_FILENO;
	} else if (open_part(&d, resume) != 0) {
		if (d.fd >= 0)
			close(d.fd);
		pbrpc_client_close(client);
		return RPCC_EXIT_FAILED;
	}

	pbrpc_status st = receive(&d, client, &call_opts, &err);
	pbrpc_client_close(client);
	int status = RPCC_EXIT_OK;
	struct timespec times[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, d.mtime};
	if (st == PBRPC_OK && !to_stdout &&
	    (fchmod(d.fd, d.mode) != 0 || futimens(d.fd, times) != 0 || fsync(d.fd) != 0 ||
	     rename(d.part, d.local) != 0)) {
		rpcc_reportf(d.name, PBRPC_OK, "%s: %s", d.local, strerror(errno));
		status = RPCC_EXIT_FAILED;
	} else if (st != PBRPC_OK) {
		if (err.message[0])
			rpcc_report(d.name, NULL, &err);
		status = st == PBRPC_UNAVAILABLE ? RPCC_EXIT_CONNECT : RPCC_EXIT_FAILED;
		if (!to_stdout && (!worth_keeping(st) || d.received == 0)) {
			unlink(d.part);
		} else if (!to_stdout) {
			fprintf(stderr,
			        "rpcc: %s: %llu bytes kept; 'rpcc get --continue' resumes\n",
			        d.name, (unsigned long long)d.received);
		}
	}
	if (!to_stdout && d.fd >= 0)
		close(d.fd);
	return status;
}

const rpcc_command rpcc_cmd_get = {
    .name = "get",
    .args = "[-q] [--continue] REMOTE [LOCAL|-]",
    .summary = "Download REMOTE from the server's file root",
    .details = "LOCAL defaults to REMOTE's base name; a directory receives the file by that\n"
               "name; - writes to standard output. The file is written to .LOCAL.pbrpc-part\n"
               "and renamed onto LOCAL only when its BLAKE2b checksum matches; mode and\n"
               "mtime follow the remote file. After an interruption the part file is kept\n"
               "and --continue downloads only the rest.",
    .options = "  -q, --quiet        no progress bar\n"
               "  -c, --continue     resume from the part file of an interrupted get\n",
    .run = run_get,
};
