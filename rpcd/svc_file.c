/* svc_file.c - pbrpc.file.File: get, put, list and stat beneath --root.
 * This file opens the root and routes the methods; file_get.c, file_put.c
 * and file_meta.c hold the handlers, file_path.c the path rules. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_io.h"
#include "client_policy.h"
#include "file_service.h"
#include "services.h"

/* How deep the startup sweep of abandoned uploads looks. */
#define SWEEP_MAX_DEPTH 32

static const pbrpc_file_file_handlers file_handlers = {
    .get = file_get,
    .put = file_put,
    .put_offset = file_put_offset,
    .list = file_list,
    .stat = file_stat,
};

/* The service lives as long as the process: rpcd serves one root. */
static file_service service = {.root_fd = -1, .partial_max_age = RPCD_DEFAULT_PARTIAL_MAX_AGE};

void rpcd_file_set_partial_max_age(time_t seconds)
{
	service.partial_max_age = seconds;
}

typedef struct sweep_job {
	int root_fd;
	struct timespec cutoff;
} sweep_job;

/* Removes abandoned upload files under the root, in a thread of its own so
 * that a large tree does not delay serving. It touches nothing but its own
 * job: the server may be gone before it ends. */
static void *sweep_thread(void *arg)
{
	sweep_job *job = arg;
	file_io_sweep_tree(job->root_fd, SWEEP_MAX_DEPTH, &job->cutoff);
	close(job->root_fd);
	free(job);
	return NULL;
}

/* The cutoff is taken now, before any listener exists, on the clock file
 * times come from: this process's uploads change their files later, so even
 * with max_age 0 the sweep removes only what earlier processes left. */
static void start_sweep(int root_fd, time_t max_age)
{
	pthread_t thread;
	sweep_job *job = malloc(sizeof *job);
	if (!job)
		return;
	job->cutoff = file_io_age_cutoff(max_age);
	job->root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	if (job->root_fd < 0) {
		free(job);
		return;
	}
	if (pthread_create(&thread, NULL, sweep_thread, job) != 0) {
		close(job->root_fd);
		free(job);
		return;
	}
	pthread_detach(thread);
}

/* The process's umask. /proc says it without changing it; where it cannot,
 * umask() is set and put back, which is safe only because no thread creates
 * files yet while rpcd starts. */
static mode_t read_umask(void)
{
	unsigned mask = 0;
	int found = 0;
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");
	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, "Umask: %o", &mask) == 1;
	if (f)
		fclose(f);
	if (!found) {
		mode_t old = umask(077);
		umask(old);
		mask = old;
	}
	return (mode_t)(mask & 0777);
}

int file_call_root(const pbrpc_call *call)
{
	const rpcd_client_key *k = rpcd_policy_of(call);
	int root = k && k->root_fd >= 0 ? k->root_fd : service.root_fd;
	return fcntl(root, F_DUPFD_CLOEXEC, 0);
}

pbrpc_status rpcd_file_register(pbrpc_server *s, const char *root, pbrpc_error *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (err) {
			err->code = PBRPC_FAILED_PRECONDITION;
			snprintf(err->message, sizeof err->message, "file root %s: %s", root,
			         strerror(errno));
		}
		return PBRPC_FAILED_PRECONDITION;
	}
	if (service.root_fd >= 0)
		close(service.root_fd);
	service.root_fd = fd;
	service.server = s;
	service.umask = read_umask();
	pbrpc_status st = pbrpc_file_file_register(s, &file_handlers, &service, err);
	if (st == PBRPC_OK)
		start_sweep(fd, service.partial_max_age);
	return st;
}
