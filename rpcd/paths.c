/* paths.c - where rpcd keeps its files, and making their directories. */
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_directory(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int rpcd_mkdir_p(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path)) {
		errno = len == 0 ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	/* Walk the components left to right, cutting the string at each '/'. */
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char saved = path[i];
		path[i] = '\0';
		/* An existing directory is fine whatever mkdir said (EEXIST, EROFS, EACCES). */
		if (mkdir(path, mode) != 0) {
			int mkdir_errno = errno;
			if (!is_directory(path)) {
				errno = mkdir_errno == EEXIST ? ENOTDIR : mkdir_errno;
				return -1;
			}
		}
		path[i] = saved;
	}
	return 0;
}

int rpcd_mkdir_parent(const char *file, mode_t mode)
{
	const char *slash = strrchr(file, '/');
	if (!slash || slash == file)
		return 0; /* in the working directory or in "/" */
	char dir[PATH_MAX];
	size_t len = (size_t)(slash - file);
	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, file, len);
	dir[len] = '\0';
	return rpcd_mkdir_p(dir, mode);
}

char *rpcd_default_root(char *buf, size_t size)
{
	const char *data_home = getenv("XDG_DATA_HOME");
	int n;
	/* The XDG spec says relative values are to be ignored. */
	if (data_home && data_home[0] == '/') {
		n = snprintf(buf, size, "%s/pbrpc/files", data_home);
	} else {
		const char *home = getenv("HOME");
		if (!home || home[0] == '\0')
			return NULL;
		n = snprintf(buf, size, "%s/.local/share/pbrpc/files", home);
	}
	if (n < 0 || (size_t)n >= size)
		return NULL;
	return buf;
}
