/* paths.h - where rpcd keeps its files, and making their directories. */
#ifndef RPCD_PATHS_H
#define RPCD_PATHS_H

#include <stddef.h>
#include <sys/types.h>

/* Creates dir and any missing parents with mode (like mkdir -p). Returns 0,
 * or -1 with errno set (ENOTDIR if a component exists but is no directory). */
int rpcd_mkdir_p(const char *dir, mode_t mode);

/* Creates the directory that holds file, if missing, with mode. Returns 0 or
 * -1 with errno set. */
int rpcd_mkdir_parent(const char *file, mode_t mode);

/* The default file root: $XDG_DATA_HOME/pbrpc/files when that is an absolute
 * path, else $HOME/.local/share/pbrpc/files. Writes it into buf; returns buf,
 * or NULL if it does not fit or no home is known. */
char *rpcd_default_root(char *buf, size_t size);

#endif /* RPCD_PATHS_H */
