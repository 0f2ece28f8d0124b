/* file_service.h - what the parts of the file service share: the root, the
 * uploads in progress, and the handlers each part implements.
 *
 * Threads: handlers and libuv callbacks run on the loop thread and only send
 * and receive; every open, read, write, fsync, rename, readdir and stat runs
 * in a uv_queue_work job (file_io.c holds the blocking code). A transfer's
 * state outlives its pbrpc_call: after PBRPC_EV_CANCEL it is freed only once
 * no job is in flight. */
#ifndef RPCD_FILE_SERVICE_H
#define RPCD_FILE_SERVICE_H

#include <limits.h>
#include <sys/types.h>
#include <time.h>

#include "file_path.h"
#include "pbrpc/file.pbrpc.h"

/* Data moves in chunks of at most this size (records are at most 4 MiB by
 * default); a put's bigger chunk is refused. Get sends smaller ones to a
 * client whose record limit is smaller. */
#define FILE_CHUNK      (1u << 20)
#define FILE_HASH_BYTES 32 /* BLAKE2b-256 */

typedef struct file_upload file_upload;

typedef struct file_service {
	int root_fd;            /* O_DIRECTORY; everything resolves beneath it */
	pbrpc_server *server;   /* for log lines */
	file_upload *uploads;   /* in progress; the loop thread's only */
	time_t partial_max_age; /* --partial-max-age; 0: a dropped upload keeps nothing */
	mode_t umask;           /* rpcd's, read once at startup: applied to put's modes */
} file_service;

/* svc_file.c: a descriptor (the caller closes it) of the root this call's
 * paths resolve beneath: the client key's root= if it has one, else the
 * server's. -1 with errno if none can be had. Jobs keep their own, so a
 * reload of the authorized keys never pulls a root from under one. */
int file_call_root(const pbrpc_call *call);

/* svc_file.c: how long an interrupted upload's temporary file is kept for a
 * resume (--partial-max-age); call before rpcd_file_register. */
void rpcd_file_set_partial_max_age(time_t seconds);

/* file_get.c */
void file_get(pbrpc_call *call, pbrpc_event event, const Pbrpc__File__GetRequest *msg);

/* file_put.c */
void file_put(pbrpc_call *call, pbrpc_event event, const Pbrpc__File__PutRequest *msg);
int file_put_offset(pbrpc_call *call, const Pbrpc__File__PutOffsetRequest *request,
                    Pbrpc__File__PutOffsetReply *reply);

/* file_meta.c */
int file_list(pbrpc_call *call, const Pbrpc__File__ListRequest *request,
              Pbrpc__File__ListReply *reply);
int file_stat(pbrpc_call *call, const Pbrpc__File__StatRequest *request, Pbrpc__File__Entry *reply);

#endif /* RPCD_FILE_SERVICE_H */
