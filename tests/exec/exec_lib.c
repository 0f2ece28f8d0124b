/* exec_lib.c - runs programs through pbrpc_exec() (pbrpc/exec.h) against a
 * real rpcd and prints PASS/FAIL lines. Built and run by
 * tests/integration/exec.sh:  exec_lib ADDRESS KEYFILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbrpc.h>
#include <pbrpc/exec.h>

static int failed;

static void check(const char *name, int ok, const char *detail)
{
	printf("%s lib: %s%s%s\n", ok ? "PASS" : "FAIL", name, ok || !detail ? "" : ": ",
	       ok || !detail ? "" : detail);
	failed |= !ok;
}

int main(int argc, char **argv)
{
	pbrpc_client_options co;
	pbrpc_error err = {0};
	pbrpc_exec_result r;
	pbrpc_exec_options o;

	if (argc != 3) {
		fprintf(stderr, "usage: exec_lib ADDRESS KEYFILE\n");
		return 2;
	}
	pbrpc_client_options_init(&co);
	co.key_file = argv[2];
	pbrpc_client *c = pbrpc_client_connect(argv[1], &co, &err);
	if (!c) {
		printf("FAIL lib: connect: %s\n", err.message);
		return 1;
	}

	/* The three lines of the header's promise. */
	const char *hello[] = {"printf", "hello", NULL};
	pbrpc_status st = pbrpc_exec(c, hello, NULL, &r, &err);
	check("printf hello",
	      st == PBRPC_OK && r.exit_code == 0 && r.out_len == 5 && strcmp(r.out, "hello") == 0 &&
	          r.err_len == 0,
	      err.message);
	pbrpc_exec_result_free(&r);

	pbrpc_exec_options_init(&o);
	o.shell = 1;
	const char *shell[] = {"echo \"$GREETING\" >&2; exit 7", NULL};
	const char *env[] = {"GREETING=hi there", NULL};
	o.env = env;
	st = pbrpc_exec(c, shell, &o, &r, &err);
	check("shell, env, stderr and exit 7",
	      st == PBRPC_OK && r.exit_code == 7 && r.out_len == 0 &&
	          strcmp(r.err, "hi there\n") == 0,
	      err.message);
	pbrpc_exec_result_free(&r);

	size_t n = 3u << 20;
	char *data = malloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	pbrpc_exec_options_init(&o);
	o.stdin_data = data;
	o.stdin_len = n;
	const char *cat[] = {"cat", NULL};
	st = pbrpc_exec(c, cat, &o, &r, &err);
	check("3 MiB stdin through cat",
	      st == PBRPC_OK && r.exit_code == 0 && r.out_len == n && memcmp(r.out, data, n) == 0 &&
	          !r.out_truncated,
	      err.message);
	pbrpc_exec_result_free(&r);
	free(data);

	pbrpc_exec_options_init(&o);
	o.max_output = 1000;
	const char *zeros[] = {"head", "-c", "100000", "/dev/zero", NULL};
	st = pbrpc_exec(c, zeros, &o, &r, &err);
	check("output limit truncates",
	      st == PBRPC_OK && r.exit_code == 0 && r.out_len == 1000 && r.out_truncated,
	      err.message);
	pbrpc_exec_result_free(&r);

	pbrpc_exec_options_init(&o);
	o.timeout_ms = 300;
	const char *sleeper[] = {"sleep", "30", NULL};
	st = pbrpc_exec(c, sleeper, &o, &r, &err);
	check("timeout kills",
	      st == PBRPC_OK && r.timed_out && r.signal == 15 && r.duration_ms < 5000, err.message);
	pbrpc_exec_result_free(&r);

	const char *missing[] = {"no-such-program-here", NULL};
	st = pbrpc_exec(c, missing, NULL, &r, &err);
	check("missing program is NOT_FOUND",
	      st == PBRPC_NOT_FOUND && r.out == NULL && strstr(err.message, "no-such-program-here"),
	      err.message);
	pbrpc_exec_result_free(&r);

	pbrpc_client_close(c);
	return failed;
}
