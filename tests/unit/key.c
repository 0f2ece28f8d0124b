/* Unit tests of key files: generate (0600, never overwrite), load, refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "pbrpc.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/pbrpc-keytest.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
	static char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_generate_and_load(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof p, "%s", path_of("key"));
	pbrpc_error err = {0};
	assert_int_equal(pbrpc_key_generate(p, &err), PBRPC_OK);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);

	uint8_t key[PBRPC_KEY_BYTES], again[PBRPC_KEY_BYTES];
	assert_int_equal(pbrpc_key_load(p, key, &err), PBRPC_OK);
	assert_int_equal(pbrpc_key_load(p, again, &err), PBRPC_OK);
	assert_memory_equal(key, again, sizeof key);
	/* the file's hex is the key */
	char text[80] = {0}, hex[65];
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	sodium_bin2hex(hex, sizeof hex, key, sizeof key);
	assert_memory_equal(text, hex, 64);

	/* Two keys are different. */
	char p2[128];
	snprintf(p2, sizeof p2, "%s", path_of("key2"));
	assert_int_equal(pbrpc_key_generate(p2, &err), PBRPC_OK);
	assert_int_equal(pbrpc_key_load(p2, again, &err), PBRPC_OK);
	assert_memory_not_equal(key, again, sizeof key);
}

static void test_refuses_overwrite(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof p, "%s", path_of("keep"));
	pbrpc_error err = {0};
	write_file(p, "precious\n", 0600);
	assert_int_equal(pbrpc_key_generate(p, &err), PBRPC_ALREADY_EXISTS);
	assert_non_null(strstr(err.message, "already exists"));
	FILE *f = fopen(p, "r");
	char text[32] = {0};
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	assert_string_equal(text, "precious\n"); /* untouched */
	/* Nor through a dangling symlink. */
	char link[128];
	snprintf(link, sizeof link, "%s", path_of("dangling"));
	unlink(link);
	assert_int_equal(symlink(path_of("nowhere"), link), 0);
	assert_int_not_equal(pbrpc_key_generate(link, &err), PBRPC_OK);
	assert_int_equal(access(path_of("nowhere"), F_OK), -1);
	/* A missing directory is an error with a message. */
	assert_int_not_equal(pbrpc_key_generate(path_of("no/such/dir/key"), &err), PBRPC_OK);
	assert_true(err.message[0] != '\0');
}

static const char *good = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";

static void test_refuses_open_modes(void **state)
{
	(void)state;
	const char *p = path_of("modes");
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_error err = {0};
	mode_t bad[] = {0640, 0604, 0660, 0644, 0666, 0610, 0601, 0602, 0620};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(p, good, bad[i]);
		assert_int_equal(pbrpc_key_load(p, key, &err), PBRPC_PERMISSION_DENIED);
		assert_non_null(strstr(err.message, "group or others"));
	}
	write_file(p, good, 0400);
	assert_int_equal(pbrpc_key_load(p, key, &err), PBRPC_OK);
	assert_int_equal(key[0], 0x00);
	assert_int_equal(key[1], 0x11);
	assert_int_equal(key[31], 0xff);
}

static void test_refuses_bad_content(void **state)
{
	(void)state;
	const char *p = path_of("content");
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_error err = {0};
	static const char *const bad[] = {
	    "",
	    "\n",
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",   /* 63 */
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\n", /* 65 */
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",  /* non-hex */
	    "00112233445566778899aabbccddeeff 0112233445566778899aabbccddeeff\n",  /* space */
	    " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\nextra junk\n",
	    "0011223344556677",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(p, bad[i], 0600);
		if (pbrpc_key_load(p, key, &err) != PBRPC_INVALID_ARGUMENT)
			fail_msg("accepted key file content #%zu", i);
		assert_non_null(strstr(err.message, "64 hexadecimal digits"));
	}
	/* A very long file is refused, not read whole. */
	char *big = malloc(1 << 20);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	write_file(p, big, 0600);
	free(big);
	assert_int_equal(pbrpc_key_load(p, key, &err), PBRPC_INVALID_ARGUMENT);
	/* Line-ending variants are fine. */
	write_file(p, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n", 0600);
	assert_int_equal(pbrpc_key_load(p, key, &err), PBRPC_OK);
	write_file(p, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 0600);
	assert_int_equal(pbrpc_key_load(p, key, &err), PBRPC_OK);
}

static void test_missing_and_not_regular(void **state)
{
	(void)state;
	uint8_t key[PBRPC_KEY_BYTES];
	pbrpc_error err = {0};
	assert_int_equal(pbrpc_key_load(path_of("absent"), key, &err), PBRPC_NOT_FOUND);
	assert_non_null(strstr(err.message, "absent"));
	assert_int_equal(pbrpc_key_load(dir, key, &err), PBRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(err.message, "not a regular file"));
	/* A symlink to a good key is followed; the target's mode is what counts. */
	char target[128], link[128]; /* path_of() returns one static buffer */
	snprintf(target, sizeof target, "%s", path_of("target"));
	snprintf(link, sizeof link, "%s", path_of("link"));
	write_file(target, good, 0600);
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(pbrpc_key_load(link, key, &err), PBRPC_OK);
	assert_int_equal(chmod(target, 0644), 0);
	assert_int_equal(pbrpc_key_load(link, key, &err), PBRPC_PERMISSION_DENIED);
}

static void test_default_path(void **state)
{
	(void)state;
	char buf[256];
	setenv("PBRPC_KEY", "/some/key", 1);
	assert_string_equal(pbrpc_key_default_path(buf, sizeof buf), "/some/key");
	unsetenv("PBRPC_KEY");
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	assert_string_equal(pbrpc_key_default_path(buf, sizeof buf), "/xdg/pbrpc/key");
	setenv("XDG_CONFIG_HOME", "relative", 1); /* ignored, as the XDG spec says */
	setenv("HOME", "/home/u", 1);
	assert_string_equal(pbrpc_key_default_path(buf, sizeof buf), "/home/u/.config/pbrpc/key");
	assert_null(pbrpc_key_default_path(buf, 5)); /* does not fit */
}

/* A client's default credential: $PBRPC_KEY, the identity, or a shared key
 * only when there is no identity. */
static void test_credential_default_path(void **state)
{
	(void)state;
	char buf[256], home[] = "/tmp/pbrpc-credXXXXXX", path[300];
	assert_non_null(mkdtemp(home));
	setenv("PBRPC_KEY", "/some/key", 1);
	assert_string_equal(pbrpc_credential_default_path(buf, sizeof buf), "/some/key");
	unsetenv("PBRPC_KEY");
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", home, 1);
	snprintf(path, sizeof path, "%s/.config/pbrpc/id_x25519", home);
	assert_string_equal(pbrpc_credential_default_path(buf, sizeof buf), path); /* neither */
	snprintf(path, sizeof path, "%s/.config", home);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/.config/pbrpc", home);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/.config/pbrpc/key", home);
	assert_int_equal(pbrpc_key_generate(path, NULL), PBRPC_OK);
	assert_string_equal(pbrpc_credential_default_path(buf, sizeof buf), path); /* the key */
	snprintf(path, sizeof path, "%s/.config/pbrpc/id_x25519", home);
	assert_int_equal(pbrpc_identity_generate(path, "t", NULL), PBRPC_OK);
	assert_string_equal(pbrpc_credential_default_path(buf, sizeof buf), path); /* identity */
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate_and_load),
	    cmocka_unit_test(test_refuses_overwrite),
	    cmocka_unit_test(test_refuses_open_modes),
	    cmocka_unit_test(test_refuses_bad_content),
	    cmocka_unit_test(test_missing_and_not_regular),
	    cmocka_unit_test(test_default_path),
	    cmocka_unit_test(test_credential_default_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
