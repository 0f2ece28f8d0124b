/* emfile.c - a server whose process has run out of descriptors *and* lost
 * libuv's spare one (another thread took the slot while libuv reopened it)
 * must not spin: libuv 1.44 then calls on_connection(EMFILE) again and again
 * for as long as a connection waits, and the loop never returns.
 *   fault_emfile
 * Runs a pbrpc_server on its own loop in this process, fills the descriptor
 * table, takes libuv's spare, connects once, and checks that the waiting
 * connection is closed, that a stop asked for from another thread is honoured,
 * and that the loop did not spin meanwhile. Prints PASS/FAIL lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "pbrpc.h"

#define FD_LIMIT 64

static int failed;

static void result(int ok, const char *what, const char *detail)
{
	fflush(stdout);
	printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", what, ok ? "" : ": ", ok ? "" : detail);
	failed |= !ok;
}

static double cpu_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void quiet_log(void *data, int level, const char *line)
{
	(void)level;
	if (strstr(line, "out of file descriptors"))
		(*(int *)data)++;
}

/* The client's side: connect while no descriptor is free on the server,
 * then wait for the server to close the connection, then ask it to stop. */
typedef struct client_job {
	int sock;
	struct sockaddr_in addr;
	pbrpc_server *server;
	int closed; /* the waiting connection was closed by the server */
} client_job;

static void *client_thread(void *arg)
{
	client_job *j = arg;
	if (connect(j->sock, (struct sockaddr *)&j->addr, sizeof j->addr) == 0) {
		struct pollfd p = {.fd = j->sock, .events = POLLIN};
		char byte;
		if (poll(&p, 1, 3000) == 1 && read(j->sock, &byte, 1) <= 0)
			j->closed = 1;
	}
	pbrpc_server_stop(j->server);
	return NULL;
}

/* A spinning loop never gets back to its timers: only a signal ends it. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char line[] = "FAIL the loop does not spin: stuck for 15 s\n";
	(void)!write(STDOUT_FILENO, line, sizeof line - 1);
	_exit(1);
}

static void on_watchdog(uv_timer_t *t)
{
	uv_stop(t->loop); /* only reached if the loop still turns */
}

int main(void)
{
	uint8_t key[PBRPC_KEY_BYTES] = {0};
	pbrpc_error err = {0};
	uv_loop_t loop;
	uv_loop_init(&loop);
	int shed_lines = 0;
	pbrpc_server_options o;
	pbrpc_server_options_init(&o);
	o.loop = &loop;
	o.grace_ms = 100;
	o.log = quiet_log;
	o.log_data = &shed_lines;
	pbrpc_server *s = pbrpc_server_new(key, &o, &err);
	if (!s || pbrpc_server_listen(s, "127.0.0.1:0", &err) != PBRPC_OK) {
		printf("FAIL server: %s\n", err.message);
		return 1;
	}
	client_job job = {.server = s, .sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	const char *bound = pbrpc_server_address(s, 0);
	job.addr.sin_family = AF_INET;
	job.addr.sin_port = htons((uint16_t)atoi(strrchr(bound, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &job.addr.sin_addr);

	/* No descriptor left, and libuv's spare taken by "another thread". The
	 * thread is started first: it needs no new descriptor after this. */
	pthread_t thread;
	struct rlimit lim = {FD_LIMIT, FD_LIMIT};
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
		printf("FAIL setrlimit: %s\n", strerror(errno));
		return 1;
	}
	while (open("/", O_RDONLY | O_CLOEXEC) >= 0)
		;
	if (loop.emfile_fd >= 0) {
		close(loop.emfile_fd);
		if (open("/", O_RDONLY | O_CLOEXEC) < 0)
			printf("# could not take libuv's spare descriptor\n");
		loop.emfile_fd = -1;
	}
	uv_timer_t watchdog;
	uv_timer_init(&loop, &watchdog);
	uv_timer_start(&watchdog, on_watchdog, 8000, 0);
	uv_unref((uv_handle_t *)&watchdog);
	pthread_create(&thread, NULL, client_thread, &job);

	signal(SIGALRM, on_alarm);
	alarm(15);
	double cpu0 = cpu_seconds();
	pbrpc_server_run(s);
	alarm(0);
	double cpu = cpu_seconds() - cpu0;
	pthread_join(thread, NULL);

	char detail[128];
	result(job.closed, "a connection that arrives with no descriptor free is closed",
	       "it stayed open (or connect failed)");
	snprintf(detail, sizeof detail, "%.2f s of CPU", cpu);
	result(cpu < 1.0, "the loop does not spin", detail);
	result(uv_is_active((uv_handle_t *)&watchdog), "a stop from another thread is honoured",
	       "the loop ran until the watchdog");
	result(shed_lines >= 1, "the server says so in its log",
	       "no 'out of file descriptors' line");
	uv_close((uv_handle_t *)&watchdog, NULL);
	pbrpc_server_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return failed;
}
