/* file_get.c - File.Get: a file streamed to the client in 1 MiB chunks
 * (each sent as smaller messages to a client whose record limit is smaller).
 *
 * Three chunk buffers go round a ring in file order: one thread-pool job
 * reads the next chunk while another hashes the one before it (hashing is
 * in file order, reading can run ahead), and the loop sends what is hashed.
 * So a read that waits for the disk overlaps the hashing. When the
 * connection's output is full we wait for PBRPC_EV_WRITABLE; a transfer
 * holds at most three chunks whatever the file size.
 *
 * Chunks are charged to the memory budget (mem_budget.h) as they are taken:
 * a Get starts only with its first chunk granted (waiting while its
 * connection holds its share, refused when the daemon's budget is spent),
 * and reads ahead into a second and third only while the budget allows.
 *
 * A big file is read around the page cache: a chunk the cache holds (mincore)
 * is copied from it, any other is read with O_DIRECT. Streaming a cold file
 * once through the cache would evict others' pages for nothing, and each
 * fresh page costs a fault (on a VM, at the host too): more CPU than the read
 * itself. Small files are read normally and stay cached. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "file_io.h"
#include "file_service.h"
#include "mem_budget.h"

/* Files at least this big skip the page cache where it does not hold them. */
#define GET_DIRECT_MIN ((uint64_t)32 << 20)
/* What O_DIRECT asks of offsets, lengths and buffers (the page size covers
 * the usual 512 B and 4 KiB logical blocks). */
#define DIRECT_ALIGN 4096u
#define GET_SLOTS    3
/* What a data message costs beyond its bytes once framed and sealed: the
 * AEAD tag (16), the Frame's call id (11), kind (2), flags (2) and payload
 * header (6), the GetReply's data header (6); 43, rounded up. */
#define GET_MESSAGE_OVERHEAD 64u

/* A chunk buffer's way round: read, then hashed, then sent. */
enum slot_state { SLOT_FREE, SLOT_READING, SLOT_READ, SLOT_HASHING, SLOT_HASHED };

typedef struct get_slot {
	uint8_t *data; /* FILE_CHUNK bytes, DIRECT_ALIGN aligned */
	size_t len;
	size_t sent; /* of len, while it is being sent in pieces */
	enum slot_state state;
} get_slot;

typedef struct get_transfer {
	int root_fd; /* file_call_root(): this call\'s root */
	file_service *svc;
	pbrpc_call *call; /* NULL once the call has ended */
	uv_work_t read_work, hash_work;
	int opened; /* the open job succeeded */
	int read_running, hash_running;
	int busy; /* inside pump(): library calls may re-enter us */
	int pump_again;
	pbrpc_error read_err; /* the open and read jobs' */

	char path[PATH_MAX];
	uint64_t offset; /* the first byte the client wants */
	size_t piece;    /* the most data one message carries: fits the client's records */
	int fd;
	struct stat st;
	uint64_t size;                 /* the size at open: exactly this much is sent and hashed */
	uint64_t next_read;            /* where the next read job starts (loop) */
	uint64_t read_at;              /* where the running read job reads */
	crypto_generichash_state hash; /* the open job's, then the hash jobs' */
	int direct_ok;                 /* reads may use O_DIRECT (read jobs only) */
	int direct_on;                 /* fd has O_DIRECT set now (read jobs only) */

	get_slot slot[GET_SLOTS];
	int first, used;          /* the ring: slots [first, first + used) in file order */
	int read_slot, hash_slot; /* the running jobs' */

	mem_account *mem;    /* the connection's: every slot with data is charged to it */
	mem_waiter mem_wait; /* for the first chunk, while the connection holds its share */
} get_transfer;

static void destroy(get_transfer *t)
{
	if (t->fd >= 0)
		close(t->fd);
	mem_wait_cancel(&t->mem_wait);
	for (int i = 0; i < GET_SLOTS; i++) {
		if (t->slot[i].data) {
			mem_chunk_free(t->slot[i].data);
			mem_uncharge(t->mem, FILE_CHUNK);
		}
	}
	mem_account_release(t->mem);
	if (t->root_fd >= 0)
		close(t->root_fd);
	free(t);
}

/* Ends the call (if it has not ended) and frees t once nothing refers to it. */
static void finish(get_transfer *t, pbrpc_status status, const char *message)
{
	if (t->call) {
		pbrpc_call *call = t->call;
		t->call = NULL;
		pbrpc_call_finish(call, status, "%s", message ? message : "");
	}
}

static void release_if_idle(get_transfer *t)
{
	if (!t->call && !t->busy && !t->read_running && !t->hash_running)
		destroy(t);
}

/* ---- thread-pool jobs ---------------------------------------------------- */

static void open_job(get_transfer *t)
{
	/* O_NONBLOCK: a FIFO must not hang a pool thread before we can refuse it. */
	t->fd = file_open_beneath(t->root_fd, t->path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (t->fd < 0) {
		file_errno_status(errno, t->path, &t->read_err);
		return;
	}
	if (fstat(t->fd, &t->st) != 0) {
		file_errno_status(errno, t->path, &t->read_err);
		return;
	}
	if (S_ISDIR(t->st.st_mode)) {
		file_errno_status(EISDIR, t->path, &t->read_err);
		return;
	}
	if (!S_ISREG(t->st.st_mode)) {
		file_fail(&t->read_err, PBRPC_FAILED_PRECONDITION, "%s: not a regular file",
		          t->path);
		return;
	}
	t->size = (uint64_t)t->st.st_size;
	if (t->offset > t->size) {
		file_fail(&t->read_err, PBRPC_OUT_OF_RANGE,
		          "%s: offset %llu is past the end (%llu)", t->path,
		          (unsigned long long)t->offset, (unsigned long long)t->size);
		return;
	}
	/* The checksum covers the whole file, also the part the client already has. */
	crypto_generichash_init(&t->hash, NULL, 0, FILE_HASH_BYTES);
	if (file_io_hash_prefix(t->fd, t->offset, &t->hash, t->slot[0].data, FILE_CHUNK) != 0) {
		if (errno == ENODATA)
			file_fail(&t->read_err, PBRPC_ABORTED, "%s: file shrank while being read",
			          t->path);
		else
			file_errno_status(errno, t->path, &t->read_err);
		return;
	}
	t->next_read = t->offset;
	t->direct_ok = t->size >= GET_DIRECT_MIN;
}

/* Sets or clears O_DIRECT on t->fd; on a refusal, stops trying. */
static int set_direct(get_transfer *t, int on)
{
	if (t->direct_on == on)
		return 0;
	int flags = fcntl(t->fd, F_GETFL);
	if (flags < 0 || fcntl(t->fd, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT) != 0) {
		t->direct_ok = 0;
		return -1;
	}
	t->direct_on = on;
	return 0;
}

/* Whether the page cache holds all of [off, off + len); off is a multiple
 * of DIRECT_ALIGN, len at most FILE_CHUNK. When it cannot tell: yes. */
static int all_cached(int fd, uint64_t off, size_t len)
{
	unsigned char resident[FILE_CHUNK / DIRECT_ALIGN];
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || off % (uint64_t)page != 0 || (size_t)page < DIRECT_ALIGN)
		return 1;
	/* Mapping a range touches none of its pages; mincore then says which
	 * are in memory. */
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	if (map == MAP_FAILED)
		return 1;
	int all = mincore(map, len, resident) != 0;
	if (!all) {
		size_t pages = (len + (size_t)page - 1) / (size_t)page, i = 0;
		while (i < pages && (resident[i] & 1))
			i++;
		all = i == pages;
	}
	munmap(map, len);
	return all;
}

/* Reads up to want bytes at off into buf (FILE_CHUNK bytes, aligned) with
 * O_DIRECT, unless the page cache holds them all. Returns the bytes read
 * (fewer than want: read the rest normally), or -1 with errno. */
static ssize_t read_around_cache(get_transfer *t, uint8_t *buf, size_t want, uint64_t off)
{
	size_t done = 0;
	if (off % DIRECT_ALIGN != 0 || all_cached(t->fd, off, want) || set_direct(t, 1) != 0)
		return 0;
	while (done < want) {
		/* Whole blocks: past the end of the file the read is just short. */
		size_t len = (want - done + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
		ssize_t r = pread(t->fd, buf + done, len, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EINVAL) {
			t->direct_ok = 0; /* alignment or file system: read normally */
			break;
		}
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r < want - done ? (size_t)r : want - done;
		if ((off + done) % DIRECT_ALIGN != 0)
			break; /* a short read: end of file */
	}
	return (ssize_t)done;
}

/* Reads the chunk at t->read_at into t->read_slot. */
static void read_job(get_transfer *t)
{
	get_slot *slot = &t->slot[t->read_slot];
	uint64_t left = t->size - t->read_at;
	size_t want = left < FILE_CHUNK ? (size_t)left : FILE_CHUNK;
	ssize_t got = 0;
	if (t->direct_ok) {
		/* After an unaligned resume offset, one short read realigns. */
		size_t past = (size_t)(t->read_at % DIRECT_ALIGN);
		if (past && want > DIRECT_ALIGN - past)
			want = DIRECT_ALIGN - past;
		got = read_around_cache(t, slot->data, want, t->read_at);
	}
	if (got >= 0 && (size_t)got < want) { /* the rest through the page cache */
		set_direct(t, 0);
		ssize_t more = file_io_pread(t->fd, slot->data + got, want - (size_t)got,
		                             t->read_at + (uint64_t)got);
		got = more < 0 ? -1 : got + more;
	}
	if (got < 0) {
		file_errno_status(errno, t->path, &t->read_err);
		return;
	}
	if ((size_t)got < want) {
		file_fail(&t->read_err, PBRPC_ABORTED, "%s: file shrank while being read", t->path);
		return;
	}
	slot->len = want;
}

static void on_read_work(uv_work_t *w)
{
	get_transfer *t = w->data;
	if (t->opened)
		read_job(t);
	else
		open_job(t);
}

static void on_hash_work(uv_work_t *w)
{
	get_transfer *t = w->data;
	get_slot *slot = &t->slot[t->hash_slot];
	crypto_generichash_update(&t->hash, slot->data, slot->len);
}

static void pump(get_transfer *t);

static void send_info(get_transfer *t)
{
	Pbrpc__File__FileInfo info = PBRPC__FILE__FILE_INFO__INIT;
	Pbrpc__File__GetReply reply = PBRPC__FILE__GET_REPLY__INIT;
	info.size = t->size;
	info.mode = (uint32_t)(t->st.st_mode & 07777);
	info.mtime_seconds = t->st.st_mtim.tv_sec;
	info.mtime_nanos = (uint32_t)t->st.st_mtim.tv_nsec;
	reply.part_case = PBRPC__FILE__GET_REPLY__PART_INFO;
	reply.info = &info;
	pbrpc_status st = pbrpc_call_send(t->call, &reply.base);
	if (st != PBRPC_OK)
		finish(t, st, "cannot send");
}

static void after_read_work(uv_work_t *w, int status)
{
	get_transfer *t = w->data;
	(void)status; /* jobs are never cancelled */
	t->read_running = 0;
	if (!t->call) {
		release_if_idle(t);
		return;
	}
	if (t->read_err.code != PBRPC_OK) {
		finish(t, t->read_err.code, t->read_err.message);
		release_if_idle(t);
		return;
	}
	if (!t->opened) {
		t->opened = 1;
		t->busy++;
		send_info(t);
		t->busy--;
	} else {
		t->slot[t->read_slot].state = SLOT_READ;
		t->next_read += t->slot[t->read_slot].len;
	}
	pump(t);
}

static void after_hash_work(uv_work_t *w, int status)
{
	get_transfer *t = w->data;
	(void)status;
	t->hash_running = 0;
	t->slot[t->hash_slot].state = SLOT_HASHED;
	if (!t->call) {
		release_if_idle(t);
		return;
	}
	pump(t);
}

/* Queues a read (or, before the file is open, the open) or a hash job. */
static void start_job(get_transfer *t, int hash)
{
	uv_work_t *w = hash ? &t->hash_work : &t->read_work;
	w->data = t;
	if (uv_queue_work(pbrpc_call_loop(t->call), w, hash ? on_hash_work : on_read_work,
	                  hash ? after_hash_work : after_read_work) != 0) {
		finish(t, PBRPC_INTERNAL, "cannot queue disk work");
		return;
	}
	if (hash)
		t->hash_running = 1;
	else
		t->read_running = 1;
}

/* ---- the loop side -------------------------------------------------------- */

static void send_checksum(get_transfer *t)
{
	uint8_t sum[FILE_HASH_BYTES];
	Pbrpc__File__GetReply reply = PBRPC__FILE__GET_REPLY__INIT;
	crypto_generichash_final(&t->hash, sum, sizeof sum);
	reply.part_case = PBRPC__FILE__GET_REPLY__PART_CHECKSUM;
	reply.checksum.data = sum;
	reply.checksum.len = sizeof sum;
	pbrpc_status st = pbrpc_call_send(t->call, &reply.base);
	if (st != PBRPC_OK) {
		finish(t, st, "cannot send");
		return;
	}
	char shown[256];
	pbrpc_server_log(t->svc->server, PBRPC_LOG_INFO, "%s get %s: %llu bytes from %llu",
	                 pbrpc_call_conn_name(t->call),
	                 file_path_printable(t->path, shown, sizeof shown),
	                 (unsigned long long)(t->size - t->offset), (unsigned long long)t->offset);
	finish(t, PBRPC_OK, NULL);
}

/* Whether slot s has a buffer to read into: its own, one a free slot holds,
 * or a new chunk the budget grants (read-ahead never waits for one). */
static int slot_buffer(get_transfer *t, int s)
{
	if (t->slot[s].data)
		return 1;
	for (int k = 0; k < GET_SLOTS; k++) {
		int in_ring = (k - t->first + GET_SLOTS) % GET_SLOTS < t->used;
		if (!in_ring && t->slot[k].data) {
			t->slot[s].data = t->slot[k].data;
			t->slot[k].data = NULL;
			return 1;
		}
	}
	if (mem_charge(t->mem, FILE_CHUNK) != MEM_GRANTED)
		return 0;
	if (!(t->slot[s].data = mem_chunk_alloc())) {
		mem_uncharge(t->mem, FILE_CHUNK);
		return 0;
	}
	return 1;
}

/* Sends what is hashed while the connection takes it, keeps one read and
 * one hash going, and ends the call after the last chunk. */
static void pump(get_transfer *t)
{
	if (t->busy) {
		t->pump_again = 1;
		return;
	}
	t->busy++;
	do {
		t->pump_again = 0;
		while (t->call && t->used > 0 && t->slot[t->first].state == SLOT_HASHED &&
		       pbrpc_call_writable(t->call)) {
			Pbrpc__File__GetReply reply = PBRPC__FILE__GET_REPLY__INIT;
			get_slot *slot = &t->slot[t->first];
			size_t n =
			    slot->len - slot->sent < t->piece ? slot->len - slot->sent : t->piece;
			reply.part_case = PBRPC__FILE__GET_REPLY__PART_DATA;
			reply.data.data = slot->data + slot->sent;
			reply.data.len = n;
			pbrpc_status st = pbrpc_call_send(t->call, &reply.base);
			slot->sent += n; /* sending copied it */
			if (slot->sent == slot->len) {
				slot->state = SLOT_FREE;
				slot->sent = 0;
				t->first = (t->first + 1) % GET_SLOTS;
				t->used--;
			}
			if (st != PBRPC_OK)
				finish(t, st, "cannot send");
		}
		if (!t->call || !t->opened)
			break;
		/* Hashing goes in file order: the oldest slot not hashed yet. */
		for (int i = 0; i < t->used && !t->hash_running; i++) {
			int s = (t->first + i) % GET_SLOTS;
			if (t->slot[s].state == SLOT_HASHED)
				continue;
			if (t->slot[s].state == SLOT_READ) {
				t->slot[s].state = SLOT_HASHING;
				t->hash_slot = s;
				start_job(t, 1);
			}
			break;
		}
		if (t->call && !t->read_running && t->used < GET_SLOTS && t->next_read < t->size &&
		    slot_buffer(t, (t->first + t->used) % GET_SLOTS)) {
			int s = (t->first + t->used) % GET_SLOTS;
			t->slot[s].state = SLOT_READING;
			t->used++;
			t->read_slot = s;
			t->read_at = t->next_read;
			start_job(t, 0);
		} else if (t->call && t->used == 0 && t->next_read == t->size && !t->read_running &&
		           !t->hash_running) {
			send_checksum(t);
		}
	} while (t->pump_again && t->call);
	t->busy--;
	release_if_idle(t);
}

/* Takes the first chunk (the open job hashes a resumed prefix through it)
 * and queues the open. */
static void get_begin(get_transfer *t)
{
	if (!(t->slot[0].data = mem_chunk_alloc())) {
		mem_uncharge(t->mem, FILE_CHUNK);
		finish(t, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	start_job(t, 0); /* the open */
}

static void on_first_chunk(mem_waiter *w, mem_answer answer)
{
	get_transfer *t = (get_transfer *)((char *)w - offsetof(get_transfer, mem_wait));
	char why[160];
	if (answer == MEM_GRANTED)
		get_begin(t);
	else
		finish(t, PBRPC_RESOURCE_EXHAUSTED, mem_refusal_message(answer, why, sizeof why));
	release_if_idle(t);
}

static void get_start(pbrpc_call *call, const Pbrpc__File__GetRequest *req)
{
	file_service *svc = pbrpc_call_service_data(call);
	get_transfer *t = calloc(1, sizeof *t);
	if (!t || !(t->mem = mem_account_of(call))) {
		free(t);
		pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	t->fd = t->root_fd = -1;
	t->svc = svc;
	t->call = call;
	if ((t->root_fd = file_call_root(call)) < 0) {
		pbrpc_call_finish(call, PBRPC_RESOURCE_EXHAUSTED, "out of file descriptors");
		destroy(t);
		return;
	}
	if (file_path_check(req->path.data, req->path.len, t->path, &t->read_err) != PBRPC_OK) {
		pbrpc_call_finish(call, t->read_err.code, "%s", t->read_err.message);
		destroy(t);
		return;
	}
	t->offset = req->offset;
	/* A client may accept records smaller than a chunk (down to
	 * PBRPC_MIN_MAX_RECORD): it gets each chunk in pieces that fit. */
	uint32_t peer = pbrpc_call_peer_max_record(call);
	t->piece =
	    peer - GET_MESSAGE_OVERHEAD < FILE_CHUNK ? peer - GET_MESSAGE_OVERHEAD : FILE_CHUNK;
	pbrpc_call_set_data(call, t);
	char why[160], shown[256];
	switch (mem_charge(t->mem, FILE_CHUNK)) {
	case MEM_GRANTED: get_begin(t); break;
	case MEM_OVER_SHARE:
		/* Served when this connection's other calls give memory back. */
		pbrpc_server_log(svc->server, PBRPC_LOG_DEBUG, "%s get %s: waiting: %s",
		                 pbrpc_call_conn_name(call),
		                 file_path_printable(t->path, shown, sizeof shown),
		                 mem_refusal_message(MEM_OVER_SHARE, why, sizeof why));
		mem_wait(t->mem, &t->mem_wait, FILE_CHUNK, on_first_chunk);
		break;
	case MEM_OVER_TOTAL:
		finish(t, PBRPC_RESOURCE_EXHAUSTED,
		       mem_refusal_message(MEM_OVER_TOTAL, why, sizeof why));
		break;
	}
	release_if_idle(t);
}

void file_get(pbrpc_call *call, pbrpc_event event, const Pbrpc__File__GetRequest *msg)
{
	get_transfer *t = pbrpc_call_data(call);
	switch (event) {
	case PBRPC_EV_START:
		if (msg)
			get_start(call, msg);
		else
			pbrpc_call_finish(call, PBRPC_INVALID_ARGUMENT, "no request");
		break;
	case PBRPC_EV_WRITABLE:
		if (t && t->call)
			pump(t);
		break;
	case PBRPC_EV_CANCEL:
		if (t) {
			t->call = NULL; /* freed when this returns */
			release_if_idle(t);
		}
		break;
	case PBRPC_EV_MESSAGE:
	case PBRPC_EV_HALF_CLOSE: break; /* a server-streaming call gets neither */
	}
}
