/* file_meta.c - File.List and File.Stat: asynchronous unary calls whose
 * readdir and stat run in the thread pool. */
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

/* One reply must fit a record (4 MiB by default): cap what a listing holds. */
#define LIST_MAX_ENTRIES    20000
#define LIST_MAX_NAME_BYTES (2u << 20)

typedef struct meta_job {
	file_service *svc;
	pbrpc_call *call;
	ProtobufCMessage *reply; /* in the call's arena */
	int is_list;
	uv_work_t work;
	char path[PATH_MAX];
	pbrpc_error err;
	/* List */
	Pbrpc__File__Entry *entries;
	Pbrpc__File__Entry **entry_ptrs;
	size_t n_entries;
	int truncated;
} meta_job;

static void free_job(meta_job *j)
{
	for (size_t i = 0; i < j->n_entries; i++)
		free(j->entries[i].name.data);
	free(j->entries);
	free(j->entry_ptrs);
	free(j);
}

static int by_name(const void *a, const void *b)
{
	const Pbrpc__File__Entry *x = a, *y = b;
	return strcmp((const char *)x->name.data, (const char *)y->name.data);
}

static void list_work(meta_job *j)
{
	int fd =
	    file_open_beneath(j->svc->root_fd, j->path, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
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
	size_t cap = 0, name_bytes = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || file_is_temp_name(name))
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* removed meanwhile */
		size_t len = strlen(name);
		if (j->n_entries == LIST_MAX_ENTRIES || name_bytes + len > LIST_MAX_NAME_BYTES) {
			j->truncated = 1;
			break;
		}
		if (j->n_entries == cap) {
			size_t bigger = cap ? cap * 2 : 64;
			Pbrpc__File__Entry *e = realloc(j->entries, bigger * sizeof *e);
			if (!e)
				goto no_memory;
			j->entries = e;
			cap = bigger;
		}
		Pbrpc__File__Entry *e = &j->entries[j->n_entries];
		pbrpc__file__entry__init(e);
		e->name.data = malloc(len + 1);
		if (!e->name.data)
			goto no_memory;
		memcpy(e->name.data, name, len + 1);
		e->name.len = len;
		file_io_fill_entry(e, &st);
		j->n_entries++;
		name_bytes += len;
	}
	closedir(d);
	qsort(j->entries, j->n_entries, sizeof *j->entries, by_name);
	j->entry_ptrs = malloc((j->n_entries ? j->n_entries : 1) * sizeof *j->entry_ptrs);
	if (!j->entry_ptrs) {
		file_fail(&j->err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < j->n_entries; i++)
		j->entry_ptrs[i] = &j->entries[i];
	return;
no_memory:
	closedir(d);
	file_fail(&j->err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
}

static void stat_work(meta_job *j)
{
	struct stat st;
	/* O_PATH: stat without opening for reading, so FIFOs cannot block us. */
	int fd = file_open_beneath(j->svc->root_fd, j->path, O_PATH, 0);
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
                 int is_list)
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
	j->work.data = j;
	pbrpc_status st = file_path_check(path->data, path->len, j->path, &j->err);
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
	return start(call, &request->path, &reply->base, 1);
}

int file_stat(pbrpc_call *call, const Pbrpc__File__StatRequest *request, Pbrpc__File__Entry *reply)
{
	return start(call, &request->path, &reply->base, 0);
}
