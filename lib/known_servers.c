/* known_servers.c - the client's pins of server host keys, like ssh's
 * known_hosts: "ADDRESS x25519 BASE64" lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"

/* A server on this machine: the user's own rpcd may be trusted by its key
 * file, which only this user can have written. */
static int is_local_address(const char *address)
{
	return strncmp(address, "unix:", 5) == 0 || strncmp(address, "127.", 4) == 0 ||
	       strncmp(address, "[::1]:", 6) == 0 || strncmp(address, "localhost:", 10) == 0;
}

static int is_local_host_key(const uint8_t key[32])
{
	char path[4096];
	uint8_t local[32];
	return pbrpc_config_path("host_key.pub", path, sizeof path) &&
	       pbrpc_public_key_load(path, local, NULL) == PBRPC_OK &&
	       sodium_memcmp(local, key, 32) == 0;
}

/* Appends "address x25519 BASE64" to file (made 0600 if missing, and its
 * directory 0700). */
static pbrpc_status append_line(const char *file, const char *address, const uint8_t key[32],
                                pbrpc_error *err)
{
	char line[4200], pub[128];
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", file);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) { /* mkdir -p of the file's directory, 0700 */
		*slash = '\0';
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0700);
				*p = '/';
			}
		mkdir(dir, 0700);
	}
	pbrpc_public_key_format(key, pub, sizeof pub);
	int n = snprintf(line, sizeof line, "%s %s\n", address, pub);
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return pbrpc_error_set(err, PBRPC_PERMISSION_DENIED, "cannot add to %s: %s", file,
		                       strerror(errno));
	ssize_t w = write(fd, line, (size_t)n);
	int saved = errno;
	close(fd);
	if (w != n)
		return pbrpc_error_set(err, PBRPC_INTERNAL, "cannot add to %s: %s", file,
		                       strerror(w < 0 ? saved : EIO));
	return PBRPC_OK;
}

pbrpc_status pbrpc_known_servers_check(const char *file, const char *address, const uint8_t key[32],
                                       int accept_new, int *added, pbrpc_error *err)
{
	char path[4096], fp[PBRPC_FINGERPRINT_SIZE], line[4200];
	char changed_at[64] = "";
	if (added)
		*added = 0;
	if (!file && !(file = pbrpc_config_path("known_servers", path, sizeof path)))
		return pbrpc_error_set(err, PBRPC_UNAUTHENTICATED,
		                       "no known_servers file: set HOME or pass --server-key");
	pbrpc_key_fingerprint(key, fp);
	FILE *f = fopen(file, "re");
	if (!f && errno != ENOENT)
		return pbrpc_error_set(err, PBRPC_UNAUTHENTICATED, "cannot read %s: %s", file,
		                       strerror(errno));
	size_t alen = strlen(address);
	unsigned lineno = 0;
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		lineno++;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\0')
			continue;
		if (strncmp(p, address, alen) != 0 || (p[alen] != ' ' && p[alen] != '\t'))
			continue;
		uint8_t pinned[32];
		if (pbrpc_public_key_parse(p + alen, pinned, NULL, NULL) != PBRPC_OK)
			continue; /* a line we cannot read pins nothing */
		if (sodium_memcmp(pinned, key, 32) == 0) {
			found = 1;
			break;
		}
		if (!changed_at[0])
			snprintf(changed_at, sizeof changed_at, "%u", lineno);
	}
	if (f)
		fclose(f);
	if (found)
		return PBRPC_OK;
	if (changed_at[0])
		return pbrpc_error_set(
		    err, PBRPC_UNAUTHENTICATED,
		    "server key changed: %s now presents %s, not the key pinned at %s:%s. "
		    "Someone may be impersonating the server; if its key was replaced on purpose, "
		    "remove that line",
		    address, fp, file, changed_at);
	if (is_local_address(address) && is_local_host_key(key))
		return PBRPC_OK;
	if (!accept_new)
		return pbrpc_error_set(
		    err, PBRPC_UNAUTHENTICATED,
		    "unknown server %s, key %s; if that is its key, connect once "
		    "with --accept-new (or add '%s <its .pub line>' to %s)",
		    address, fp, address, file);
	pbrpc_status st = append_line(file, address, key, err);
	if (st == PBRPC_OK && added)
		*added = 1;
	return st;
}
