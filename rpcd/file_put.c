/* file_put.c - File.Put and File.PutOffset: an upload written to a hidden
 * temporary file beside its target, checked (size and BLAKE2b of the whole
 * file), fsynced, and renamed over the target only then. Until that rename
 * the old file is untouched.
 *
 * Chunks received on the loop wait in a queue; one thread-pool job at a time
 * writes (and hashes, in order) everything queued. While more than two
 * chunks wait we stop reading the connection (pbrpc_call_pause), so memory
 * per upload is bounded whatever the file size. Chunk buffers are charged to
 * the memory budget (mem_budget.h) and come from its pool, where they stay
 * warm for the next chunks: fresh memory costs a page fault per 4 KiB. A
 * chunk that takes the connection past its share is kept (it has arrived)
 * but the connection is not read again until it is back within its share;
 * when the daemon's budget is spent the upload ends with RESOURCE_EXHAUSTED.
 *
 * Writes go behind: each chunk's writeback starts as soon as it is written,
 * and once a range is WRITE_BEHIND_LAG behind the end we wait for it and drop
 * it from the page cache. So an upload holds a few MiB of page cache, not the
 * whole file; pages are recycled while still hot (on a VM, a page the kernel
 * has not touched for a while costs the host a fault too), and the fsync at
 * the end finds almost nothing left to write.
 *
 * A dropped connection keeps the temporary file of a sized upload, so that
 * PutOffset can tell the client where to resume; any other failure removes
 * it. Temporary files untouched for a day are swept (file_io.c). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "caller.h"
#include "file_io.h"
#include "file_service.h"
#include "mem_budget.h"

#define PUT_MAX_QUEUED   (2 * (size_t)FILE_CHUNK)
#define WRITE_BEHIND_LAG ((uint64_t)8 << 20)
#define NANOS_PER_SECOND 1000000000u

/* Permission bits a client may ask for: no set-id bits from the network.
 * They are stored under rpcd's umask, as a file rpcd created would be. */
#define PUT_MODE_MASK 01777u
/* The mode of a put whose header leaves mode at 0 (before the umask). */
#define PUT_DEFAULT_MODE 0644u

struct file_upload {
	file_upload *next;
	char temp[FILE_TEMP_NAME_SIZE];
};

typedef struct put_chunk {
	struct put_chunk *next;
	size_t len, cap; /* chunk_charge(cap) is charged to the budget */
	uint8_t *data;   /* a pooled chunk if cap is FILE_CHUNK, else malloc'ed */
} put_chunk;

/* A chunk of at least half of FILE_CHUNK gets a pooled buffer; a smaller one
 * a buffer of its size, so that a client sending tiny chunks is not charged
 * a whole one for each. */
static size_t chunk_cap(size_t len)
{
	return len >= FILE_CHUNK / 2 && len <= FILE_CHUNK ? FILE_CHUNK : len;
}

/* What a chunk costs: its buffer, its header and malloc's bookkeeping. */
static size_t chunk_charge(size_t cap)
{
	return cap + sizeof(put_chunk) + 2 * sizeof(size_t);
}

enum put_job { PUT_JOB_OPEN, PUT_JOB_WRITE, PUT_JOB_COMMIT, PUT_JOB_CLOSE };

typedef struct put_transfer {
	int root_fd;        /* file_call_root(): this call\'s root */
	file_upload upload; /* listed in svc->uploads from header to the end */
	file_service *svc;
	uv_loop_t *loop;
	pbrpc_call *call; /* NULL once the call has ended */
	uv_work_t work;
	enum put_job job;
	int job_running, busy, closing, listed;
	pbrpc_error job_err;

	char path[PATH_MAX];
	char parent[PATH_MAX];
	const char *name; /* the last component, inside path */
	uint64_t size;
	int size_unknown, no_clobber, resume;
	uint64_t offset;
	uint32_t mode;
	struct timespec mtime;

	int dir_fd, fd;
	int opened;        /* the open job succeeded: fd is the temporary file */
	int keep_temp;     /* on close: leave the temporary file for a resume */
	uint64_t written;  /* bytes in the temporary file (jobs only while one runs) */
	uint64_t dropped;  /* [0, dropped) is on disk and out of the page cache (jobs) */
	uint64_t received; /* offset + data bytes received */
	crypto_generichash_state hash;

	put_chunk *queue, *queue_tail; /* received, waiting for a write job */
	size_t queued;
	put_chunk *writing; /* the running write job's */
	put_chunk *done;    /* written by the last job, freed on the loop */
	int paused, have_header, have_checksum, half_closed;
	int mem_paused;      /* paused until the connection is back within its share */
	mem_account *mem;    /* the connection's: every chunk is charged to it */
	mem_waiter mem_wait; /* while mem_paused */
	uint8_t client_sum[FILE_HASH_BYTES];
	uint8_t stored_sum[FILE_HASH_BYTES];
} put_transfer;

static void free_chunks(put_transfer *t, put_chunk *c)
{
	while (c) {
		put_chunk *next = c->next;
		if (c->cap == FILE_CHUNK)
			mem_chunk_free(c->data);
		else
			free(c->data);
		mem_uncharge(t->mem, chunk_charge(c->cap));
		free(c);
		c = next;
	}
}

static void unlist_upload(put_transfer *t)
{
	if (!t->listed)
		return;
	for (file_upload **pp = &t->svc->uploads; *pp; pp = &(*pp)->next) {
		if (*pp == &t->upload) {
			*pp = t->upload.next;
			break;
		}
	}
	t->listed = 0;
}

static void start_job(put_transfer *t, enum put_job job);

/* Once the call is over and no job runs: close (and maybe remove) the
 * temporary file in a last job, then free t. */
static void release_if_idle(put_transfer *t)
{
	if (t->call || t->busy || t->job_running)
		return;
	if (!t->closing) {
		t->closing = 1;
		start_job(t, PUT_JOB_CLOSE);
		if (t->job_running)
			return;
	}
	unlist_upload(t);
	mem_wait_cancel(&t->mem_wait);
	free_chunks(t, t->queue);
	free_chunks(t, t->writing);
	free_chunks(t, t->done);
	mem_account_release(t->mem);
	if (t->root_fd >= 0)
		close(t->root_fd);
	free(t);
}

/* Ends the call with a status. keep_temp: leave the temporary file for a
 * later resume (only a dropped connection does). */
static void end_call(put_transfer *t, pbrpc_status status, const char *message)
{
	if (!t->call)
		return;
	pbrpc_call *call = t->call;
	t->call = NULL;
	t->keep_temp = 0;
	pbrpc_call_finish(call, status, "%s", message ? message : "");
}

/* ---- thread-pool jobs ---------------------------------------------------- */

/* Opens the part file an interrupted upload left under name, if rpcd can
 * trust it (file_io_part_trusted; O_NOFOLLOW, and the same file checked
 * again once open). Anything else found there is removed, which touches only
 * the name, never what a link points at. Returns the fd, or -1 with errno:
 * ENOENT when nothing trustworthy was kept. */
static int open_kept_part(int dir_fd, const char *name)
{
	struct stat seen, opened;
	if (fstatat(dir_fd, name, &seen, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	if (file_io_part_trusted(&seen)) {
		/* O_NONBLOCK, O_NOCTTY: were it swapped for a FIFO or a terminal
		 * meanwhile, opening must neither hang nor take it over. */
		int fd =
		    openat(dir_fd, name, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &opened) == 0 && file_io_part_trusted(&opened) &&
		    opened.st_dev == seen.st_dev && opened.st_ino == seen.st_ino)
			return fd;
		if (fd >= 0)
			close(fd);
	}
	if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
		return -1;
	errno = ENOENT;
	return -1;
}

static void open_job(put_transfer *t, uint8_t *buf)
{
	char temp_path[FILE_TEMP_NAME_SIZE];
	struct stat st;

	t->dir_fd = file_open_beneath(t->root_fd, t->parent, O_RDONLY | O_DIRECTORY, 0);
	if (t->dir_fd < 0) {
		file_errno_status(errno, t->parent, &t->job_err);
		return;
	}
	file_io_sweep_dir(t->dir_fd, t->svc->partial_max_age);
	if (fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			file_errno_status(EISDIR, t->path, &t->job_err);
			return;
		}
		if (t->no_clobber) {
			file_errno_status(EEXIST, t->path, &t->job_err);
			return;
		}
	} else if (errno != ENOENT) {
		file_errno_status(errno, t->path, &t->job_err);
		return;
	}
	snprintf(temp_path, sizeof temp_path, "%s", t->upload.temp);
	crypto_generichash_init(&t->hash, NULL, 0, FILE_HASH_BYTES);
	if (t->resume) {
		t->fd = open_kept_part(t->dir_fd, temp_path);
		if (t->fd < 0 && !(errno == ENOENT && t->offset == 0)) {
			if (errno == ENOENT)
				file_fail(&t->job_err, PBRPC_FAILED_PRECONDITION,
				          "%s: nothing of an earlier upload is kept; start over",
				          t->path);
			else
				file_fail(&t->job_err, PBRPC_FAILED_PRECONDITION,
				          "%s: something rpcd did not make holds the name of this "
				          "upload's part file (%s); ask the operator to remove it",
				          t->path, strerror(errno));
			return;
		}
	}
	if (t->fd >= 0) {
		if (fstat(t->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size < t->offset) {
			file_fail(
			    &t->job_err, PBRPC_FAILED_PRECONDITION,
			    "%s: the server kept fewer bytes than the resume offset; start over",
			    t->path);
			return;
		}
		/* The kept part is hashed again: the checksum covers the whole file. */
		if (ftruncate(t->fd, (off_t)t->offset) != 0 ||
		    file_io_hash_prefix(t->fd, t->offset, &t->hash, buf, FILE_CHUNK) != 0) {
			file_errno_status(errno, t->path, &t->job_err);
			return;
		}
	} else {
		if (unlinkat(t->dir_fd, temp_path, 0) != 0 && errno != ENOENT) {
			file_errno_status(errno, t->path, &t->job_err);
			return;
		}
		t->fd = openat(t->dir_fd, temp_path,
		               O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (t->fd < 0) {
			file_errno_status(errno, t->path, &t->job_err);
			return;
		}
	}
	t->written = t->dropped = t->offset;
	t->opened = 1;
}

/* Starts writeback of [from, t->written) and drops from the page cache what
 * is far enough behind. The waiting call must be checked: it consumes a
 * writeback error, so the final fsync would no longer see it. */
static void write_behind(put_transfer *t, uint64_t from)
{
	sync_file_range(t->fd, (off_t)from, (off_t)(t->written - from), SYNC_FILE_RANGE_WRITE);
	if (t->written - t->dropped < 2 * WRITE_BEHIND_LAG)
		return;
	uint64_t upto = t->written - WRITE_BEHIND_LAG;
	off_t len = (off_t)(upto - t->dropped);
	if (sync_file_range(t->fd, (off_t)t->dropped, len,
	                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	                        SYNC_FILE_RANGE_WAIT_AFTER) != 0 &&
	    errno != EINVAL && errno != ENOSYS && errno != ESPIPE) {
		file_errno_status(errno, t->path,
		                  &t->job_err); /* keep the pages: nothing dropped */
		return;
	}
	posix_fadvise(t->fd, (off_t)t->dropped, len, POSIX_FADV_DONTNEED);
	t->dropped = upto;
}

static void write_job(put_transfer *t)
{
	uint64_t from = t->written;
	for (put_chunk *c = t->writing; c && t->job_err.code == PBRPC_OK; c = c->next) {
		if (file_io_pwrite(t->fd, c->data, c->len, t->written) != 0) {
			file_errno_status(errno, t->path, &t->job_err);
		} else {
			crypto_generichash_update(&t->hash, c->data, c->len);
			t->written += c->len;
		}
	}
	if (t->written > from)
		write_behind(t, from);
	t->done = t->writing;
	t->writing = NULL;
}

/* Gives the written chunks back: the pool keeps them warm for the next. */
static void recycle_done(put_transfer *t)
{
	free_chunks(t, t->done);
	t->done = NULL;
}

/* A buffer for len bytes, whose charge the caller has made. */
static put_chunk *get_chunk(size_t len)
{
	put_chunk *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	c->cap = chunk_cap(len);
	c->data = c->cap == FILE_CHUNK ? mem_chunk_alloc() : malloc(c->cap);
	if (!c->data) {
		free(c);
		return NULL;
	}
	c->next = NULL;
	c->len = len;
	return c;
}

static void commit_job(put_transfer *t)
{
	if (!t->size_unknown && t->written != t->size) {
		file_fail(&t->job_err, PBRPC_DATA_LOSS, "%s: received %llu bytes of %llu", t->path,
		          (unsigned long long)t->written, (unsigned long long)t->size);
		return;
	}
	crypto_generichash_final(&t->hash, t->stored_sum, sizeof t->stored_sum);
	if (sodium_memcmp(t->stored_sum, t->client_sum, FILE_HASH_BYTES) != 0) {
		file_fail(&t->job_err, PBRPC_DATA_LOSS,
		          "%s: checksum mismatch: the data was damaged on the way", t->path);
		return;
	}
	struct timespec times[2] = {{.tv_sec = 0, .tv_nsec = UTIME_NOW}, t->mtime};
	if (fsync(t->fd) != 0 || fchmod(t->fd, t->mode) != 0 || futimens(t->fd, times) != 0) {
		file_errno_status(errno, t->path, &t->job_err);
		return;
	}
	int rc = t->no_clobber
	             ? renameat2(t->dir_fd, t->upload.temp, t->dir_fd, t->name, RENAME_NOREPLACE)
	             : renameat(t->dir_fd, t->upload.temp, t->dir_fd, t->name);
	if (rc != 0) {
		/* A directory created at the target meanwhile: renameat says EISDIR
		 * or ENOTEMPTY/EEXIST; all mean the same to the client here. */
		file_errno_status(errno == ENOTEMPTY ? EISDIR : errno, t->path, &t->job_err);
		return;
	}
	fsync(t->dir_fd); /* the rename itself must survive a crash */
	t->opened = 0;    /* the temporary name is gone: nothing to remove */
	/* Closed before the reply: a client that runs the file at once must not
	 * find it still open for writing (execve: ETXTBSY). */
	close(t->fd);
	t->fd = -1;
}

static void close_job(put_transfer *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (t->opened && !t->keep_temp)
		unlinkat(t->dir_fd, t->upload.temp, 0);
	if (t->dir_fd >= 0) {
		close(t->dir_fd);
		t->dir_fd = -1;
	}
}

static void on_work(uv_work_t *w)
{
	put_transfer *t = w->data;
	switch (t->job) {
	case PUT_JOB_OPEN: {
		uint8_t *buf = t->resume && t->offset ? malloc(FILE_CHUNK) : NULL;
		if (t->resume && t->offset && !buf)
			file_fail(&t->job_err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		else
			open_job(t, buf);
		free(buf);
		break;
	}
	case PUT_JOB_WRITE: write_job(t); break;
	case PUT_JOB_COMMIT: commit_job(t); break;
	case PUT_JOB_CLOSE: close_job(t); break;
	}
}

/* ---- the loop side -------------------------------------------------------- */

static void after_work(uv_work_t *w, int status);

static void start_job(put_transfer *t, enum put_job job)
{
	t->job = job;
	t->work.data = t;
	if (uv_queue_work(t->loop, &t->work, on_work, after_work) != 0) {
		if (job == PUT_JOB_CLOSE)
			close_job(t); /* cannot happen with libuv; never leak the fds */
		else
			end_call(t, PBRPC_INTERNAL, "cannot queue disk work");
		return;
	}
	t->job_running = 1;
}

static void send_reply(put_transfer *t)
{
	Pbrpc__File__PutReply reply = PBRPC__FILE__PUT_REPLY__INIT;
	char shown[256];
	reply.size = t->written;
	reply.checksum.data = t->stored_sum;
	reply.checksum.len = sizeof t->stored_sum;
	pbrpc_server_log(
	    t->svc->server, PBRPC_LOG_INFO, "%s put %s: %llu bytes from %llu",
	    pbrpc_call_conn_name(t->call), file_path_printable(t->path, shown, sizeof shown),
	    (unsigned long long)(t->written - t->offset), (unsigned long long)t->offset);
	t->busy++;
	pbrpc_status st = pbrpc_call_send(t->call, &reply.base);
	t->busy--;
	end_call(t, st, st == PBRPC_OK ? NULL : "cannot send the reply");
}

/* Starts the next job the upload needs, if none runs. */
static void kick(put_transfer *t)
{
	if (!t->call || t->job_running || !t->opened)
		return;
	if (t->queue) {
		t->writing = t->queue;
		t->queue = t->queue_tail = NULL;
		t->queued = 0;
		start_job(t, PUT_JOB_WRITE);
		if (t->paused && t->call && !t->mem_paused) {
			t->paused = 0;
			pbrpc_call_pause(t->call, 0);
		}
		return;
	}
	if (!t->half_closed)
		return;
	if (!t->have_checksum) {
		end_call(t, PBRPC_INVALID_ARGUMENT, "the upload ended without a checksum");
		return;
	}
	start_job(t, PUT_JOB_COMMIT);
}

static void after_work(uv_work_t *w, int status)
{
	put_transfer *t = w->data;
	(void)status; /* jobs are never cancelled */
	t->job_running = 0;
	recycle_done(t);
	if (t->job == PUT_JOB_CLOSE) {
		release_if_idle(t);
		return;
	}
	if (t->call && t->job_err.code != PBRPC_OK)
		end_call(t, t->job_err.code, t->job_err.message);
	else if (t->call && t->job == PUT_JOB_COMMIT)
		send_reply(t);
	else
		kick(t);
	release_if_idle(t);
}

static pbrpc_status take_header(put_transfer *t, const Pbrpc__File__PutHeader *h, pbrpc_error *err)
{
	pbrpc_status st = file_path_check(h->path.data, h->path.len, t->path, err);
	if (st != PBRPC_OK)
		return st;
	if ((st = file_path_split(t->path, t->parent, &t->name, err)) != PBRPC_OK)
		return st;
	if (h->mtime_nanos >= NANOS_PER_SECOND)
		return file_fail(err, PBRPC_INVALID_ARGUMENT, "mtime nanoseconds out of range");
	if (h->offset && !h->resume)
		return file_fail(err, PBRPC_INVALID_ARGUMENT, "an offset needs resume");
	if (h->resume && h->size_unknown)
		return file_fail(err, PBRPC_INVALID_ARGUMENT,
		                 "an upload of unknown size cannot "
		                 "resume");
	if (!h->size_unknown && h->offset > h->size)
		return file_fail(err, PBRPC_OUT_OF_RANGE, "resume offset past the size");
	char tag[RPCD_CALLER_TAG_LEN + 1];
	rpcd_caller_tag(t->call, tag);
	t->size = h->size;
	t->size_unknown = h->size_unknown;
	t->resume = h->resume;
	t->offset = h->offset;
	t->received = h->offset;
	t->no_clobber = h->no_clobber;
	/* 0 means "not given": no client wants a mode-0000 file dated 1970. */
	t->mode = ((h->mode & 07777) ? h->mode & PUT_MODE_MASK : PUT_DEFAULT_MODE) & ~t->svc->umask;
	t->mtime.tv_sec = h->mtime_seconds;
	t->mtime.tv_nsec = h->mtime_nanos;
	if (h->mtime_seconds == 0 && h->mtime_nanos == 0)
		t->mtime.tv_nsec = UTIME_NOW; /* stamped at the rename */
	file_temp_name(tag, t->path, t->size, t->size_unknown, h->mtime_seconds, h->mtime_nanos,
	               t->upload.temp);
	for (file_upload *u = t->svc->uploads; u; u = u->next)
		if (strcmp(u->temp, t->upload.temp) == 0)
			return file_fail(err, PBRPC_ABORTED,
			                 "%s: the same upload is already in "
			                 "progress",
			                 t->path);
	t->upload.next = t->svc->uploads;
	t->svc->uploads = &t->upload;
	t->listed = 1;
	t->have_header = 1;
	start_job(t, PUT_JOB_OPEN);
	return PBRPC_OK;
}

/* The connection is back within its share: read it again, unless the disk
 * is still behind (kick() resumes then). */
static void on_share_back(mem_waiter *w, mem_answer answer)
{
	put_transfer *t = (put_transfer *)((char *)w - offsetof(put_transfer, mem_wait));
	(void)answer; /* a wait for 0 bytes is always granted */
	t->mem_paused = 0;
	if (t->paused && t->call && t->queued < PUT_MAX_QUEUED) {
		t->paused = 0;
		pbrpc_call_pause(t->call, 0);
	}
}

static pbrpc_status take_data(put_transfer *t, const ProtobufCBinaryData *data, pbrpc_error *err)
{
	if (data->len > FILE_CHUNK)
		return file_fail(err, PBRPC_INVALID_ARGUMENT,
		                 "%s: a data message of %zu bytes; at most %u are allowed", t->path,
		                 data->len, FILE_CHUNK);
	if (!t->size_unknown && data->len > t->size - t->received)
		return file_fail(err, PBRPC_INVALID_ARGUMENT,
		                 "%s: more data than the header's size", t->path);
	if (data->len == 0)
		return PBRPC_OK;
	size_t charge = chunk_charge(chunk_cap(data->len));
	char why[160];
	mem_answer charged = mem_charge_past_share(t->mem, charge);
	if (charged == MEM_OVER_TOTAL)
		return file_fail(err, PBRPC_RESOURCE_EXHAUSTED, "%s",
		                 mem_refusal_message(charged, why, sizeof why));
	put_chunk *c = get_chunk(data->len);
	if (!c) {
		mem_uncharge(t->mem, charge);
		return file_fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	memcpy(c->data, data->data, data->len);
	if (t->queue_tail)
		t->queue_tail->next = c;
	else
		t->queue = c;
	t->queue_tail = c;
	t->queued += c->len;
	t->received += c->len;
	/* The disk is behind: stop reading the connection until it catches up. */
	if (t->queued >= PUT_MAX_QUEUED && !t->paused) {
		t->paused = 1;
		pbrpc_call_pause(t->call, 1);
	}
	/* Past the connection's share: no more from it until it is back within. */
	if (charged == MEM_OVER_SHARE && !t->mem_paused) {
		t->mem_paused = 1;
		if (!t->paused) {
			t->paused = 1;
			pbrpc_call_pause(t->call, 1);
		}
		mem_wait(t->mem, &t->mem_wait, 0, on_share_back);
	}
	kick(t);
	return PBRPC_OK;
}

static void put_message(put_transfer *t, const Pbrpc__File__PutRequest *msg)
{
	pbrpc_error err = {0};
	pbrpc_status st = PBRPC_OK;

	if (!t->have_header && msg->part_case != PBRPC__FILE__PUT_REQUEST__PART_HEADER)
		st =
		    file_fail(&err, PBRPC_INVALID_ARGUMENT, "the first message must be the header");
	else if (t->have_checksum)
		st = file_fail(&err, PBRPC_INVALID_ARGUMENT, "nothing may follow the checksum");
	else if (msg->part_case == PBRPC__FILE__PUT_REQUEST__PART_HEADER)
		st = t->have_header ? file_fail(&err, PBRPC_INVALID_ARGUMENT, "a second header")
		                    : take_header(t, msg->header, &err);
	else if (msg->part_case == PBRPC__FILE__PUT_REQUEST__PART_DATA)
		st = take_data(t, &msg->data, &err);
	else if (msg->part_case == PBRPC__FILE__PUT_REQUEST__PART_CHECKSUM &&
	         msg->checksum.len == FILE_HASH_BYTES) {
		memcpy(t->client_sum, msg->checksum.data, FILE_HASH_BYTES);
		t->have_checksum = 1;
	} else {
		st = file_fail(&err, PBRPC_INVALID_ARGUMENT,
		               "a message with no header, data or "
		               "%d-byte checksum",
		               FILE_HASH_BYTES);
	}
	if (st != PBRPC_OK)
		end_call(t, st, err.message);
}

static void put_start(pbrpc_call *call)
{
	put_transfer *t = calloc(1, sizeof *t);
	if (!t) {
		pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if (!(t->mem = mem_account_of(call))) {
		free(t);
		pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	t->svc = pbrpc_call_service_data(call);
	t->loop = pbrpc_call_loop(call);
	t->call = call;
	t->fd = t->dir_fd = -1;
	if ((t->root_fd = file_call_root(call)) < 0) {
		mem_account_release(t->mem);
		free(t);
		pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of file descriptors");
		return;
	}
	pbrpc_call_set_data(call, t);
}

void file_put(pbrpc_call *call, pbrpc_event event, const Pbrpc__File__PutRequest *msg)
{
	put_transfer *t = pbrpc_call_data(call);
	if (event == PBRPC_EV_START) {
		put_start(call);
		return;
	}
	if (!t)
		return;
	t->busy++;
	switch (event) {
	case PBRPC_EV_MESSAGE:
		if (msg && t->call)
			put_message(t, msg);
		break;
	case PBRPC_EV_HALF_CLOSE:
		t->half_closed = 1;
		if (!t->have_header)
			end_call(t, PBRPC_INVALID_ARGUMENT, "the upload ended before its header");
		else
			kick(t);
		break;
	case PBRPC_EV_CANCEL:
		/* The client is gone: keep what arrived so that it can resume
		 * (unless --partial-max-age 0 says to keep nothing). */
		t->call = NULL;
		t->keep_temp = !t->size_unknown && t->svc->partial_max_age > 0;
		break;
	case PBRPC_EV_START:
	case PBRPC_EV_WRITABLE: break;
	}
	t->busy--;
	release_if_idle(t);
}

/* ---- PutOffset -------------------------------------------------------------- */

typedef struct offset_job {
	int root_fd; /* file_call_root(): this call\'s root */
	file_service *svc;
	pbrpc_call *call;
	Pbrpc__File__PutOffsetReply *reply;
	uv_work_t work;
	char path[PATH_MAX];
	char parent[PATH_MAX];
	const char *name;
	char temp[FILE_TEMP_NAME_SIZE];
	uint64_t size;
	pbrpc_error err;
} offset_job;

static void offset_work(uv_work_t *w)
{
	offset_job *j = w->data;
	struct stat st;
	int dir_fd = file_open_beneath(j->root_fd, j->parent, O_RDONLY | O_DIRECTORY, 0);
	if (dir_fd < 0) {
		file_errno_status(errno, j->parent, &j->err);
		return;
	}
	/* A part file rpcd cannot trust counts as none: the put then starts over
	 * and replaces it. */
	if (fstatat(dir_fd, j->temp, &st, AT_SYMLINK_NOFOLLOW) == 0 && file_io_part_trusted(&st) &&
	    (uint64_t)st.st_size <= j->size)
		j->reply->offset = (uint64_t)st.st_size;
	close(dir_fd);
}

static void offset_done(uv_work_t *w, int status)
{
	offset_job *j = w->data;
	(void)status;
	if (j->err.code != PBRPC_OK)
		pbrpc_call_finish(j->call, j->err.code, "%s", j->err.message);
	else
		pbrpc_call_reply(j->call, &j->reply->base);
	close(j->root_fd);
	free(j);
}

int file_put_offset(pbrpc_call *call, const Pbrpc__File__PutOffsetRequest *request,
                    Pbrpc__File__PutOffsetReply *reply)
{
	offset_job *j = calloc(1, sizeof *j);
	pbrpc_status st;
	if (!j) {
		pbrpc_call_set_message(call, "out of memory");
		return PBRPC_RESOURCE_EXHAUSTED;
	}
	j->svc = pbrpc_call_service_data(call);
	j->call = call;
	j->reply = reply;
	j->size = request->size;
	if ((j->root_fd = file_call_root(call)) < 0) {
		free(j);
		pbrpc_call_set_message(call, "out of file descriptors");
		return PBRPC_RESOURCE_EXHAUSTED;
	}
	j->work.data = j;
	if ((st = file_path_check(request->path.data, request->path.len, j->path, &j->err)) !=
	        PBRPC_OK ||
	    (st = file_path_split(j->path, j->parent, &j->name, &j->err)) != PBRPC_OK)
		goto refuse;
	if (request->mtime_nanos >= NANOS_PER_SECOND) {
		st = file_fail(&j->err, PBRPC_INVALID_ARGUMENT, "mtime nanoseconds out of range");
		goto refuse;
	}
	char tag[RPCD_CALLER_TAG_LEN + 1];
	rpcd_caller_tag(call, tag);
	file_temp_name(tag, j->path, request->size, 0, request->mtime_seconds, request->mtime_nanos,
	               j->temp);
	for (file_upload *u = j->svc->uploads; u; u = u->next) {
		if (strcmp(u->temp, j->temp) == 0) {
			st = file_fail(&j->err, PBRPC_ABORTED, "%s: the same upload is in progress",
			               j->path);
			goto refuse;
		}
	}
	if (uv_queue_work(pbrpc_call_loop(call), &j->work, offset_work, offset_done) != 0) {
		st = file_fail(&j->err, PBRPC_INTERNAL, "cannot queue disk work");
		goto refuse;
	}
	return PBRPC_ASYNC;
refuse:
	pbrpc_call_set_message(call, "%s", j->err.message);
	close(j->root_fd);
	free(j);
	return st;
}
