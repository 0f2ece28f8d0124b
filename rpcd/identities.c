/* identities.c - see identities.h. */
#include "identities.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "pbrpc.h"

typedef pbrpc_status (*key_maker)(const char *path, pbrpc_error *err);
typedef pbrpc_status (*key_loader)(const char *path, uint8_t secret[32], pbrpc_error *err);

/* The one way rpcd comes by a key file: create it (and its directory,
 * 0700) if it does not exist, then load it. */
static int key_file_ensure(const char *path, const char *what, key_maker make, key_loader load,
                           uint8_t secret[32], int *created)
{
	pbrpc_error err = {0};
	struct stat st;
	*created = 0;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		if (rpcd_mkdir_parent(path, 0700) != 0) {
			fprintf(stderr, "rpcd: cannot create the directory of %s: %s\n", path,
			        strerror(errno));
			return -1;
		}
		if (make(path, &err) == PBRPC_OK) {
			*created = 1;
		} else if (err.code != PBRPC_ALREADY_EXISTS) {
			/* ALREADY_EXISTS: another process won the race; load its key. */
			fprintf(stderr, "rpcd: %s: %s\n", what, err.message);
			return -1;
		}
	}
	if (load(path, secret, &err) != PBRPC_OK) {
		fprintf(stderr, "rpcd: %s: %s\n", what, err.message);
		return -1;
	}
	return 0;
}

static pbrpc_status make_host_key(const char *path, pbrpc_error *err)
{
	char host[256] = "localhost", comment[300];
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	snprintf(comment, sizeof comment, "rpcd@%s", host);
	return pbrpc_identity_generate(path, comment, err);
}

int rpcd_host_key_load(const char *path, uint8_t secret[32], int *created)
{
	return key_file_ensure(path, "host key", make_host_key, pbrpc_identity_load, secret,
	                       created);
}

int rpcd_shared_key_load(const char *path, uint8_t key[PBRPC_KEY_BYTES], int *created)
{
	return key_file_ensure(path, "shared key", pbrpc_key_generate, pbrpc_key_load, key,
	                       created);
}

/* The login name as a key NAME (letters, digits, . _ @ - +). */
static void user_name(char *buf, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw && pw->pw_name[0] ? pw->pw_name : "me";
	size_t n = 0;
	for (; name[n] && n + 1 < size && n < 63; n++)
		buf[n] =
		    isalnum((unsigned char)name[n]) || strchr("._@-+", name[n]) ? name[n] : '_';
	buf[n] = '\0';
}

int rpcd_authorized_keys_bootstrap(const char *path, char *note, size_t size)
{
	char id[4096], pub_path[4200], line[512], name[64];
	uint8_t secret[32], pub[32];
	pbrpc_error err = {0};
	if (!pbrpc_config_path("id_x25519", id, sizeof id)) {
		fputs("rpcd: no home directory for the default identity: set HOME or use "
		      "--authorized-keys\n",
		      stderr);
		return -1;
	}
	int made = 0;
	if (access(id, F_OK) != 0) {
		if (rpcd_mkdir_parent(id, 0700) != 0 ||
		    (pbrpc_identity_generate(id, "rpcc", &err) != PBRPC_OK &&
		     err.code != PBRPC_ALREADY_EXISTS)) {
			fprintf(stderr, "rpcd: cannot make your identity %s: %s\n", id,
			        err.message[0] ? err.message : strerror(errno));
			return -1;
		}
		made = 1;
	}
	if (pbrpc_identity_load(id, secret, &err) != PBRPC_OK) {
		fprintf(stderr, "rpcd: %s\n", err.message);
		return -1;
	}
	pbrpc_public_key_of(secret, pub);
	explicit_bzero(secret, sizeof secret);
	snprintf(pub_path, sizeof pub_path, "%s.pub", id);
	user_name(name, sizeof name);
	char key[128];
	pbrpc_public_key_format(pub, key, sizeof key);
	snprintf(line, sizeof line,
	         "# Clients rpcd accepts: [OPTIONS] x25519 BASE64 NAME (see rpcd(8)).\n"
	         "%s %s\n",
	         key, name);
	if (rpcd_mkdir_parent(path, 0700) != 0) {
		fprintf(stderr, "rpcd: cannot create the directory of %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST) /* another rpcd was quicker: use its file */
			return 0;
		fprintf(stderr, "rpcd: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t len = strlen(line);
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
		fprintf(stderr, "rpcd: cannot write %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	char fp[PBRPC_FINGERPRINT_SIZE];
	pbrpc_key_fingerprint(pub, fp);
	snprintf(note, size, "created %s authorizing %s (%s, %s%s)", path, name, fp, id,
	         made ? ", made now" : "");
	return 0;
}
