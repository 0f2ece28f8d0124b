/* fuzz_path.c - the file service's path checks (rpcd/file_path.c): the
 * string checks, the split into directory and name, and resolution beneath
 * a root by the kernel. The root is a temporary tree made once, with
 * symlinks that point inside it, out of it, and to an absolute path; whatever
 * the path, an opened file must lie inside the root.
 *
 * Input: the path as a client sends it (any bytes). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "file_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char root_path[PATH_MAX];
static size_t root_len;
static int root_fd = -1;

static void check(int ok)
{
	if (!ok)
		abort();
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void remove_tree(void)
{
	if (root_fd >= 0)
		close(root_fd);
	/* The parent of the root holds the "outside" file the symlinks aim at. */
	char top[PATH_MAX];
	snprintf(top, sizeof top, "%s", root_path);
	char *slash = strrchr(top, '/');
	if (slash)
		*slash = '\0';
	nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_file(const char *path)
{
	FILE *f = fopen(path, "w");
	check(f != NULL);
	fputs("x\n", f);
	fclose(f);
}

static void at_root(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", root_path, name);
}

/* top/outside.txt, and top/root/ with files, a directory and symlinks. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	check(sodium_init() >= 0);
	char top[] = "/tmp/pbrpc-fuzz-path.XXXXXX";
	check(mkdtemp(top) != NULL);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/outside.txt", top);
	make_file(p);
	snprintf(root_path, sizeof root_path, "%s/root", top);
	root_len = strlen(root_path);
	check(mkdir(root_path, 0700) == 0);
	at_root(p, "a");
	check(mkdir(p, 0700) == 0);
	at_root(p, "a/b");
	make_file(p);
	at_root(p, "file");
	make_file(p);
	at_root(p, "in");
	check(symlink("a", p) == 0);
	at_root(p, "out");
	check(symlink("../outside.txt", p) == 0);
	at_root(p, "up");
	check(symlink("..", p) == 0);
	at_root(p, "abs");
	check(symlink("/etc", p) == 0);
	at_root(p, FILE_TEMP_PREFIX "x" FILE_TEMP_SUFFIX);
	make_file(p);
	root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check(root_fd >= 0);
	atexit(remove_tree);
	return 0;
}

/* Opens path beneath the root; if that worked, the file must be inside it. */
static void open_and_check(const char *path)
{
	int fd = file_open_beneath(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0) {
		pbrpc_error err;
		check(file_errno_status(errno, path, &err) != PBRPC_OK);
		check(memchr(err.message, '\0', sizeof err.message) != NULL);
		return;
	}
	char link[64], where[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, where, sizeof where - 1);
	check(n > 0);
	where[n] = '\0';
	check(strncmp(where, root_path, root_len) == 0 &&
	      (where[root_len] == '\0' || where[root_len] == '/'));
	close(fd);
}

static int has_dotdot_component(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
		p += strspn(p, "/");
	}
	return 0;
}

static void check_printable(const char *path, size_t size)
{
	char out[64];
	file_path_printable(path, out, size);
	check(memchr(out, '\0', size) != NULL);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		check(*p >= 0x20 && *p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	pbrpc_error err;
	err.message[0] = '\0';
	pbrpc_status rc = file_path_check(data, size, path, &err);
	check(memchr(err.message, '\0', sizeof err.message) != NULL);
	if (rc != PBRPC_OK) {
		check(rc == PBRPC_INVALID_ARGUMENT || rc == PBRPC_PERMISSION_DENIED);
		check(err.code == rc);
		/* The kernel must hold even for what the string checks refuse. */
		if (size < PATH_MAX && !memchr(data, '\0', size)) {
			memcpy(path, data, size);
			path[size] = '\0';
			open_and_check(path);
		}
		return 0;
	}
	check(strlen(path) == size && memcmp(path, data, size) == 0);
	check(path[0] != '/' && !has_dotdot_component(path));
	for (const char *c = path; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
		check(!file_is_temp_name(c)); /* no component names a part file */
	open_and_check(path);

	char parent[PATH_MAX];
	const char *name;
	if (file_path_split(path, parent, &name, &err) == PBRPC_OK) {
		check(name >= path && name < path + size && *name != '\0');
		check(!strchr(name, '/') && !file_is_temp_name(name));
		size_t dir_len = (size_t)(name - path);
		if (dir_len == 0)
			check(strcmp(parent, ".") == 0);
		else
			check(strlen(parent) == dir_len - 1 &&
			      memcmp(parent, path, dir_len - 1) == 0);
	}

	check_printable(path, 1 + size % 64);
	char temp[FILE_TEMP_NAME_SIZE];
	file_temp_name("0123456789abcdef", path, size, (int)(size & 1), (int64_t)size,
	               (uint32_t)size, temp);
	check(file_is_temp_name(temp) && strlen(temp) == sizeof FILE_TEMP_PREFIX - 1 + 16 + 1 + 32 +
	                                                     sizeof FILE_TEMP_SUFFIX - 1);
	/* Another client's upload of the same file never meets this one's part file. */
	char other[FILE_TEMP_NAME_SIZE];
	file_temp_name("fedcba9876543210", path, size, (int)(size & 1), (int64_t)size,
	               (uint32_t)size, other);
	check(strcmp(temp, other) != 0);
	return 0;
}
