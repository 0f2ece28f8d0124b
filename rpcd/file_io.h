/* file_io.h - the blocking disk work of the file service. These functions
 * run only in the libuv thread pool (uv_queue_work), never on the loop. */
#ifndef RPCD_FILE_IO_H
#define RPCD_FILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <sodium.h>

#include "pbrpc/file.pb-c.h"

/* Reads up to n bytes at off, retrying short reads; returns the bytes read
 * (less than n only at end of file) or -1 with errno. */
ssize_t file_io_pread(int fd, uint8_t *buf, size_t n, uint64_t off);

/* Writes all n bytes at off. Returns 0, or -1 with errno. */
int file_io_pwrite(int fd, const uint8_t *buf, size_t n, uint64_t off);

/* Adds bytes [0, n) of fd to st, reading through buf (size bytes). Returns
 * 0, or -1 with errno (ENODATA if the file is shorter than n). */
int file_io_hash_prefix(int fd, uint64_t n, crypto_generichash_state *st, uint8_t *buf,
                        size_t size);

/* 1 if st may be an upload's part file rpcd made: a regular file with
 * exactly one link, owned by rpcd's effective user. Anything else found
 * under a part file's name was planted (a hard link to a file elsewhere, a
 * FIFO...) and must never be written through. */
int file_io_part_trusted(const struct stat *st);

/* Removes the uploads' temporary files in dir_fd whose last change (ctime)
 * is before *cutoff (CLOCK_REALTIME). Returns how many it removed. */
int file_io_sweep_dir_before(int dir_fd, const struct timespec *cutoff);

/* Removes those untouched for max_age seconds or more, as a put beginning in
 * dir_fd does. max_age 0 removes none: rpcd then keeps no temporary file past
 * its upload, so any left predates this process and the startup sweep
 * (cutoff = start time) takes it, without touching uploads in progress. */
int file_io_sweep_dir(int dir_fd, time_t max_age);

/* file_io_sweep_dir_before on root_fd and its subdirectories, at most
 * max_depth levels down, never following symlinks. Returns how many it
 * removed. */
int file_io_sweep_tree(int root_fd, int max_depth, const struct timespec *cutoff);

/* The cutoff for files untouched for max_age seconds as of now. */
struct timespec file_io_age_cutoff(time_t max_age);

/* Fills e's type, size, mode and mtime from st (the name is the caller's). */
void file_io_fill_entry(Pbrpc__File__Entry *e, const struct stat *st);

#endif /* RPCD_FILE_IO_H */
