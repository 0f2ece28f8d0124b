/* file_io.c - the blocking disk work of the file service: whole reads and
 * writes, hashing a file's prefix, and sweeping abandoned uploads. Runs only
 * in the libuv thread pool. */
#include "file_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "file_path.h"

ssize_t file_io_pread(int fd, uint8_t *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, buf + done, n - done, (off_t)(off + done));
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

int file_io_pwrite(int fd, const uint8_t *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(fd, buf + done, n - done, (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) /* cannot happen for a regular file; do not spin */
			return errno = EIO, -1;
		done += (size_t)w;
	}
	return 0;
}

int file_io_hash_prefix(int fd, uint64_t n, crypto_generichash_state *st, uint8_t *buf, size_t size)
{
	uint64_t off = 0;
	while (off < n) {
		size_t want = n - off < size ? (size_t)(n - off) : size;
		ssize_t got = file_io_pread(fd, buf, want, off);
		if (got < 0)
			return -1;
		if ((size_t)got < want)
			return errno = ENODATA, -1;
		crypto_generichash_update(st, buf, want);
		off += want;
	}
	return 0;
}

int file_io_part_trusted(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 && st->st_uid == geteuid();
}

struct timespec file_io_age_cutoff(time_t max_age)
{
	/* The clock the kernel stamps files with: a file changed after this call
	 * can never look older than the cutoff (a precise clock runs a tick ahead). */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	now.tv_sec -= max_age;
	return now;
}

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int file_io_sweep_dir(int dir_fd, time_t max_age)
{
	if (max_age <= 0)
		return 0;
	struct timespec cutoff = file_io_age_cutoff(max_age);
	return file_io_sweep_dir_before(dir_fd, &cutoff);
}

int file_io_sweep_dir_before(int dir_fd, const struct timespec *cutoff)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (!file_is_temp_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		/* ctime: writes, renames and futimens all move it; no client sets it. */
		if (S_ISREG(st.st_mode) && before(&st.st_ctim, cutoff) &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int file_io_sweep_tree(int root_fd, int max_depth, const struct timespec *cutoff)
{
	int removed = file_io_sweep_dir_before(root_fd, cutoff);
	if (max_depth <= 0)
		return removed;
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return removed;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return removed;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		int sub = openat(dirfd(d), de->d_name,
		                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (sub < 0)
			continue; /* not a directory, a symlink, or gone */
		removed += file_io_sweep_tree(sub, max_depth - 1, cutoff);
		close(sub);
	}
	closedir(d);
	return removed;
}

void file_io_fill_entry(Pbrpc__File__Entry *e, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		e->type = PBRPC__FILE__ENTRY_TYPE__REGULAR;
	else if (S_ISDIR(st->st_mode))
		e->type = PBRPC__FILE__ENTRY_TYPE__DIRECTORY;
	else if (S_ISLNK(st->st_mode))
		e->type = PBRPC__FILE__ENTRY_TYPE__SYMLINK;
	else
		e->type = PBRPC__FILE__ENTRY_TYPE__OTHER;
	e->size = st->st_size > 0 ? (uint64_t)st->st_size : 0;
	e->mode = (uint32_t)(st->st_mode & 07777);
	e->mtime_seconds = st->st_mtim.tv_sec;
	e->mtime_nanos = (uint32_t)st->st_mtim.tv_nsec;
}
