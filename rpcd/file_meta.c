/* file_meta.c - File.List and File.Stat: asynchronous unary calls whose
 * readdir and stat run in the thread pool.
 *
 * List answers in pages: the names after the client's cursor (`after`), in
 * byte order, as many as fit one reply. Finding the first names of a big
 * directory keeps at most twice a page of them while reading it: whenever
 * that fills, the smallest page's worth is kept and the rest dropped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "file_io.h"
#include "file_service.h"

/* A page holds at most this many entries and this many bytes of entries,
 * and no more than fits one record the client accepts. */
#define LIST_MAX_ENTRIES     20000
#define LIST_MAX_REPLY_BYTES (2u << 20)
/* What a reply costs beside its entries: frame and seal (64, see file_get.c),
 * the next cursor (a name and its header) and truncated. */
#define LIST_REPLY_OVERHEAD (64u + NAME_MAX + 4u + 2u)
/* An entry's header in the reply: its tag and length. */
#define LIST_ENTRY_HEADER 4u

typedef struct meta_job {
	int root_fd; /* file_call_root(): this call\'s root */
	file_service *svc;
	pbrpc_call *call;
	ProtobufCMessage *reply; /* in the call's arena */
	int is_list;
	uv_work_t work;
	char path[PATH_MAX];
	pbrpc_error err;
	/* List */
	char after[NAME_MAX + 1]; /* the cursor: only names after it ("": all) */
	size_t budget;            /* bytes of entries one reply may hold */
	char **names;             /* candidates, then the page's names */
	size_t n_names, cap_names, name_bytes;
	Pbrpc__File__Entry *entries;
	Pbrpc__File__Entry **entry_ptrs;
	size_t n_entries;
	int truncated;
	const char *next; /* the last name the page covered, in names */
} meta_job;

static void free_job(meta_job *j)
{
	for (size_t i = 0; i < j->n_names; i++)
		free(j->names[i]);
	free(j->names);
	free(j->entries);
	free(j->entry_ptrs);
	if (j->root_fd >= 0)
		close(j->root_fd);
	free(j);
}

/* strcmp compares as unsigned char: byte order, as the protocol says. */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the candidates and keeps the smallest that can make one page: at
 * most LIST_MAX_ENTRIES, at most budget bytes of names. The rest are after
 * this page: the listing is truncated. */
static void keep_first_page(meta_job *j)
{
	size_t keep = 0, bytes = 0;
	qsort(j->names, j->n_names, sizeof *j->names, by_name);
	while (keep < j->n_names && keep < LIST_MAX_ENTRIES &&
	       bytes + strlen(j->names[keep]) <= j->budget)
		bytes += strlen(j->names[keep++]);
	if (keep < j->n_names)
		j->truncated = 1;
	for (size_t i = keep; i < j->n_names; i++)
		free(j->names[i]);
	j->n_names = keep;
	j->name_bytes = bytes;
}

/* Adds a candidate; 0, or -1 when out of memory. */
static int add_name(meta_job *j, const char *name)
{
	if (j->n_names == j->cap_names) {
		size_t bigger = j->cap_names ? j->cap_names * 2 : 64;
		char **names = realloc(j->names, bigger * sizeof *names);
		if (!names)
			return -1;
		j->names = names;
		j->cap_names = bigger;
	}
	if (!(j->names[j->n_names] = strdup(name)))
		return -1;
	j->n_names++;
	j->name_bytes += strlen(name);
	if (j->n_names >= 2 * LIST_MAX_ENTRIES || j->name_bytes > 2 * j->budget)
		keep_first_page(j);
	return 0;
}

/* Fills the page's entries from the kept names (those removed meanwhile are
 * left out) while they fit the budget. */
static int fill_entries(meta_job *j, int dir_fd)
{
	size_t bytes = 0;
	j->entries = calloc(j->n_names ? j->n_names : 1, sizeof *j->entries);
	j->entry_ptrs = calloc(j->n_names ? j->n_names : 1, sizeof *j->entry_ptrs);
	if (!j->entries || !j->entry_ptrs)
		return -1;
	for (size_t i = 0; i < j->n_names; i++) {
		struct stat st;
		Pbrpc__File__Entry *e = &j->entries[j->n_entries];
		if (fstatat(dir_fd, j->names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			j->next = j->names[i]; /* removed meanwhile: covered all the same */
			continue;
		}
		pbrpc__file__entry__init(e);
		e->name.data = (uint8_t *)j->names[i];
		e->name.len = strlen(j->names[i]);
		file_io_fill_entry(e, &st);
		size_t size = pbrpc__file__entry__get_packed_size(e) + LIST_ENTRY_HEADER;
		if (bytes + size > j->budget && j->n_entries > 0) {
			j->truncated = 1;
			break;
		}
		bytes += size;
		j->entry_ptrs[j->n_entries++] = e;
		j->next = j->names[i];
	}
	return 0;
}

static void list_work(meta_job *j)
{
	int fd = file_open_beneath(j->root_fd, j->path, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
	if (fd < 0) {
		file_errno_status(errno, j->path, &j->err);
		return;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		file_errno_status(errno, j->path, &j->err);
		close(fd);
		return;
	}
	struct dirent *de;
	int failed = 0;
	while (!failed && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || file_is_temp_name(name))
			continue;
		if (strcmp(name, j->after) <= 0)
			continue; /* an earlier page's */
		failed = add_name(j, name) != 0;
	}
	if (!failed) {
		keep_first_page(j);
		failed = fill_entries(j, dirfd(d)) != 0;
	}
	closedir(d);
	if (failed)
		file_fail(&j->err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
}

static void stat_work(meta_job *j)
{
	struct stat st;
	/* O_PATH: stat without opening for reading, so FIFOs cannot block us. */
	int fd = file_open_beneath(j->root_fd, j->path, O_PATH, 0);
	if (fd < 0 || fstat(fd, &st) != 0) {
		file_errno_status(errno, j->path, &j->err);
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	file_io_fill_entry((Pbrpc__File__Entry *)j->reply, &st);
}

static void on_work(uv_work_t *w)
{
	meta_job *j = w->data;
	if (j->is_list)
		list_work(j);
	else
		stat_work(j);
}

static void after_work(uv_work_t *w, int status)
{
	meta_job *j = w->data;
	(void)status;
	if (j->err.code != PBRPC_OK) {
		pbrpc_call_finish(j->call, j->err.code, "%s", j->err.message);
	} else if (j->is_list) {
		Pbrpc__File__ListReply *reply = (Pbrpc__File__ListReply *)j->reply;
		reply->entries = j->entry_ptrs;
		reply->n_entries = j->n_entries;
		reply->truncated = j->truncated;
		if (j->truncated && j->next) {
			reply->next.data = (uint8_t *)j->next;
			reply->next.len = strlen(j->next);
		}
		pbrpc_call_reply(j->call, j->reply); /* packs it now: we may free after */
	} else {
		Pbrpc__File__Entry *e = (Pbrpc__File__Entry *)j->reply;
		e->name.data = (uint8_t *)j->path;
		e->name.len = strlen(j->path);
		pbrpc_call_reply(j->call, j->reply);
	}
	free_job(j);
}

static int start(pbrpc_call *call, const ProtobufCBinaryData *path, ProtobufCMessage *reply,
                 int is_list, const ProtobufCBinaryData *after)
{
	meta_job *j = calloc(1, sizeof *j);
	if (!j) {
		pbrpc_call_set_message(call, "out of memory");
		return PBRPC_RESOURCE_EXHAUSTED;
	}
	j->svc = pbrpc_call_service_data(call);
	j->call = call;
	j->reply = reply;
	j->is_list = is_list;
	if ((j->root_fd = file_call_root(call)) < 0) {
		free_job(j);
		pbrpc_call_set_message(call, "out of file descriptors");
		return PBRPC_RESOURCE_EXHAUSTED;
	}
	j->work.data = j;
	pbrpc_status st = file_path_check(path->data, path->len, j->path, &j->err);
	int has_after = after && after->len > 0;
	if (st == PBRPC_OK && has_after &&
	    (after->len > NAME_MAX || memchr(after->data, '\0', after->len)))
		st = file_fail(&j->err, PBRPC_INVALID_ARGUMENT,
		               "after: a name of at most %d bytes without a NUL byte", NAME_MAX);
	else if (st == PBRPC_OK && has_after) {
		memcpy(j->after, after->data, after->len);
		j->after[after->len] = '\0';
	}
	if (is_list) {
		/* The page must fit one record the client accepts. */
		uint32_t peer = pbrpc_call_peer_max_record(call);
		j->budget = peer - LIST_REPLY_OVERHEAD < LIST_MAX_REPLY_BYTES
		                ? peer - LIST_REPLY_OVERHEAD
		                : LIST_MAX_REPLY_BYTES;
	}
	if (st == PBRPC_OK &&
	    uv_queue_work(pbrpc_call_loop(call), &j->work, on_work, after_work) == 0)
		return PBRPC_ASYNC;
	if (st == PBRPC_OK)
		st = file_fail(&j->err, PBRPC_INTERNAL, "cannot queue disk work");
	pbrpc_call_set_message(call, "%s", j->err.message);
	free_job(j);
	return st;
}

int file_list(pbrpc_call *call, const Pbrpc__File__ListRequest *request,
              Pbrpc__File__ListReply *reply)
{
	return start(call, &request->path, &reply->base, 1, &request->after);
}

int file_stat(pbrpc_call *call, const Pbrpc__File__StatRequest *request, Pbrpc__File__Entry *reply)
{
	return start(call, &request->path, &reply->base, 0, NULL);
}
