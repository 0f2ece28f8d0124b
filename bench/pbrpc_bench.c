/* pbrpc_bench.c - the pbrpc side of make bench, built only on the public
 * library API and the generated stubs, against a running rpcd.
 *
 *   pbrpc_bench latency   -a ADDR -k KEY [-n COUNT] [-s BYTES]
 *   pbrpc_bench load      -a ADDR -k KEY [-c CONNS] [-f INFLIGHT] [-t THREADS]
 *                         [-d SECS] [-s BYTES] [-p RPCD_PID]
 *   pbrpc_bench handshake -a ADDR -k KEY [-n MAX] [-d SECS] [-t THREADS]
 *   pbrpc_bench x25519    [-d SECS]        X25519 operations per second, one thread
 *   pbrpc_bench flood     -a ADDR [-d SECS] an attacker with no crypto of its own:
 *                         a replayed-style version 2 hello, the reply read, close
 * (-K SERVER_KEY.pub pins the server's key for an identity -k KEY.)
 *   pbrpc_bench idle      -a ADDR -k KEY -p RPCD_PID [-n CONNS] [-d SECS]
 *   pbrpc_bench exec      -a ADDR -k KEY [-n COUNT] [-d SECS]
 *   pbrpc_bench cmd       [-n COUNT] [-d SECS] [-b BYTES] -- PROGRAM ARGS...
 *
 * Each prints "key value" lines (µs, calls/s, MB/s with MB = 10^6 bytes), or
 * "na REASON" and exits 3 when the server lacks the service measured.
 *
 * Several calls in flight on one connection from one thread: each
 * connection keeps a window of F calls started with pbrpc_client_call_async.
 * Like the raw floor, which answers each read's replies with one write, the
 * loop waits for a connection's oldest reply, takes every other reply that
 * is already there, starts as many new calls and writes them together. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pbrpc.h>
#include <sodium.h>

#include "bench_util.h"
#include "pbrpc/echo.pbrpc.h"
#if defined(__has_include)
#if __has_include("pbrpc/exec.pbrpc.h")
#include "pbrpc/exec.pbrpc.h"
#define HAVE_EXEC 1
#endif
#endif

extern char **environ;

static const char *g_addr;
static pbrpc_client_options g_opts;
static uint8_t g_payload[65536];
static long g_size = 64;

static pbrpc_client *dial(void)
{
	pbrpc_error err = {0};
	pbrpc_client *c = pbrpc_client_connect(g_addr, &g_opts, &err);
	if (!c)
		fprintf(stderr, "pbrpc_bench: connect %s: %s\n", g_addr, err.message);
	return c;
}

static int echo_once(pbrpc_client *c)
{
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	Pbrpc__Echo__EchoReply *reply = NULL;
	pbrpc_error err; /* set on failure: no 1 KiB memset per call */
	req.data.data = g_payload;
	req.data.len = (size_t)g_size;
	if (pbrpc_echo_echo_say(c, &req, &reply, NULL, &err) != PBRPC_OK) {
		fprintf(stderr, "pbrpc_bench: echo: %s\n", err.message);
		return -1;
	}
	int ok = reply->data.len == (size_t)g_size;
	pbrpc_message_free(&reply->base);
	return ok ? 0 : -1;
}

/* ---- latency: one connection, one call at a time --------------------------- */

static int mode_latency(long count)
{
	pbrpc_client *c = dial();
	if (!c)
		return 1;
	for (int i = 0; i < 100; i++) /* warm-up: allocations, caches */
		if (echo_once(c) != 0)
			return 1;
	double *us = malloc(sizeof *us * (size_t)count);
	double t0 = now_s(), stop = t0 + 20;
	long n = 0;
	for (; n < count && now_s() < stop; n++) {
		double a = now_s();
		if (echo_once(c) != 0)
			return 1;
		us[n] = (now_s() - a) * 1e6;
	}
	print_latency(us, n, now_s() - t0);
	printf("suite %s\n", pbrpc_client_suite(c));
	pbrpc_client_close(c);
	free(us);
	return 0;
}

/* ---- load: C connections × F in flight over T threads ---------------------- */

typedef struct load_job {
	int nconn, inflight;
	double secs;
	pthread_barrier_t *ready;
	double *stop;
	long calls;
	int failed;
} load_job;

/* Starts one echo call; its request goes out at the next flush. */
static pbrpc_stream *start_call(pbrpc_client *c)
{
	Pbrpc__Echo__EchoRequest req = PBRPC__ECHO__ECHO_REQUEST__INIT;
	pbrpc_error err; /* set on failure: no 1 KiB memset per call */
	req.data.data = g_payload;
	req.data.len = (size_t)g_size;
	pbrpc_stream *s =
	    pbrpc_client_call_async(c, PBRPC_ECHO_ECHO_SAY_METHOD, &req.base, NULL, &err);
	if (!s)
		fprintf(stderr, "pbrpc_bench: start call: %s\n", err.message);
	return s;
}

/* Waits for the reply of s (which it frees) and checks it. */
static int finish_call(pbrpc_stream *s)
{
	ProtobufCMessage *msg = NULL;
	pbrpc_error err;
	if (pbrpc_client_call_wait(s, &msg, &err) != PBRPC_OK) {
		fprintf(stderr, "pbrpc_bench: call: %s\n", err.message);
		return -1;
	}
	int ok = ((Pbrpc__Echo__EchoReply *)msg)->data.len == (size_t)g_size;
	pbrpc_message_free(msg);
	return ok ? 0 : -1;
}

static int flush(pbrpc_client *c)
{
	pbrpc_error err;
	if (pbrpc_client_flush(c, &err) == PBRPC_OK)
		return 0;
	fprintf(stderr, "pbrpc_bench: flush: %s\n", err.message);
	return -1;
}

static void *load_thread(void *arg)
{
	load_job *j = arg;
	int n = j->nconn, f = j->inflight;
	pbrpc_client **cl = calloc((size_t)n, sizeof *cl);
	pbrpc_stream **ring = calloc((size_t)n * (size_t)f, sizeof *ring);
	int *head = calloc((size_t)n, sizeof *head);
	for (int i = 0; i < n; i++)
		if (!(cl[i] = dial()))
			j->failed = 1;
	pthread_barrier_wait(j->ready);
	pthread_barrier_wait(j->ready); /* main has set *stop */
	double stop = *j->stop;
	if (j->failed)
		goto out;
	if (n == 1 && f == 1) {
		while (now_s() < stop) {
			if (echo_once(cl[0]) != 0) {
				j->failed = 1;
				goto out;
			}
			j->calls++;
		}
		goto out;
	}
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < f; k++)
			if (!(ring[i * f + k] = start_call(cl[i]))) {
				j->failed = 1;
				goto out;
			}
		if (flush(cl[i]) != 0) {
			j->failed = 1;
			goto out;
		}
	}
	while (now_s() < stop) {
		for (int i = 0; i < n; i++) {
			pbrpc_stream **win = &ring[i * f];
			/* The oldest reply, then every later one already here. */
			int got = 0, h = head[i];
			do {
				int rc = finish_call(win[h]);
				win[h] = NULL;
				if (rc != 0) {
					j->failed = 1;
					goto out;
				}
				got++;
				h = (h + 1) % f;
			} while (got < f && pbrpc_stream_ready(win[h]));
			/* As many new calls, in one write. */
			for (int k = 0; k < got; k++)
				if (!(win[(head[i] + k) % f] = start_call(cl[i]))) {
					j->failed = 1;
					goto out;
				}
			if (flush(cl[i]) != 0) {
				j->failed = 1;
				goto out;
			}
			head[i] = h;
			j->calls += got;
		}
	}
	for (int i = 0; i < n * f; i++) /* drain the window */
		if (ring[i]) {
			finish_call(ring[i]);
			ring[i] = NULL;
		}
out:
	for (int i = 0; i < n * f; i++)
		pbrpc_stream_free(ring[i]);
	for (int i = 0; i < n; i++)
		pbrpc_client_close(cl[i]);
	free(cl);
	free(ring);
	free(head);
	return NULL;
}

static int mode_load(int conns, int inflight, int threads, double secs, pid_t server)
{
	if (threads > conns)
		threads = conns;
	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	load_job *jobs = calloc((size_t)threads, sizeof *jobs);
	pthread_barrier_t ready;
	double stop = 0;
	pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
	for (int t = 0; t < threads; t++) {
		jobs[t] = (load_job){.nconn = conns / threads + (t < conns % threads),
		                     .inflight = inflight,
		                     .ready = &ready,
		                     .stop = &stop};
		pthread_create(&tid[t], NULL, load_thread, &jobs[t]);
	}
	pthread_barrier_wait(&ready); /* everyone connected */
	double cpu0 = server > 0 ? proc_cpu_s(server) : 0;
	double t0 = now_s();
	stop = t0 + secs;
	pthread_barrier_wait(&ready);
	long total = 0;
	int failed = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		total += jobs[t].calls;
		failed |= jobs[t].failed;
	}
	double el = now_s() - t0;
	printf("calls %ld\ncalls_per_s %.0f\n", total, (double)total / el);
	if (server > 0 && total > 0)
		printf("server_cpu_us_per_call %.3f\n",
		       (proc_cpu_s(server) - cpu0) * 1e6 / (double)total);
	free(tid);
	free(jobs);
	return failed;
}

/* ---- handshakes: connect + handshake + one echo + close -------------------- */

typedef struct hs_job {
	long max;
	double stop;
	long done;
	int failed;
} hs_job;

static void *hs_thread(void *arg)
{
	hs_job *j = arg;
	while (j->done < j->max && now_s() < j->stop) {
		pbrpc_client *c = dial();
		if (!c || echo_once(c) != 0) {
			pbrpc_client_close(c);
			j->failed = 1;
			break;
		}
		pbrpc_client_close(c);
		j->done++;
	}
	return NULL;
}

/* THREADS clients in parallel, each connecting over and over. */
static int mode_handshake(long max, double secs, int threads)
{
	pthread_t tid[256];
	hs_job jobs[256];
	double t0 = now_s();
	for (int t = 0; t < threads; t++) {
		jobs[t] = (hs_job){.max = max / threads + 1, .stop = t0 + secs};
		pthread_create(&tid[t], NULL, hs_thread, &jobs[t]);
	}
	long n = 0;
	int failed = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		n += jobs[t].done;
		failed |= jobs[t].failed;
	}
	printf("connections %ld\nper_s %.0f\n", n, (double)n / (now_s() - t0));
	return failed;
}

/* ---- X25519 operations per second: what a handshake's key work costs ------- */

static int mode_x25519(double secs)
{
	uint8_t sk[32], pk[32], out[32];
	randombytes_buf(sk, sizeof sk);
	crypto_scalarmult_base(pk, sk);
	long n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 64; i++, n++) {
			if (crypto_scalarmult(out, sk, pk) != 0)
				return 1;
			sk[0] ^= out[0]; /* each result feeds the next: nothing to hoist */
		}
	} while ((t = now_s()) - t0 < secs);
	printf("ops %ld\nops_per_s %.0f\n", n, (double)n / (t - t0));
	return 0;
}

/* ---- an unauthenticated flood: hellos that make the server do key work ---- */

/* A plain TCP connection to "A.B.C.D:PORT", or -1. */
static int dial_raw(const char *addr)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int mode_flood(double secs)
{
	/* Record 1 of version 2: ClientHello{version 2, noise = e || payload},
	 * payload = {suites [2, 1]}; e is a fixed valid public key (no crypto
	 * per attempt on this side). */
	uint8_t rec[4 + 2 + 2 + 32 + 4], sk[32];
	randombytes_buf(sk, sizeof sk);
	size_t n = 0;
	rec[4 + n++] = 0x08, rec[4 + n++] = 0x02;
	rec[4 + n++] = 0x32, rec[4 + n++] = 32 + 4;
	crypto_scalarmult_base(rec + 4 + n, sk);
	n += 32;
	rec[4 + n++] = 0x12, rec[4 + n++] = 0x02, rec[4 + n++] = 0x02, rec[4 + n++] = 0x01;
	rec[0] = rec[1] = rec[2] = 0, rec[3] = (uint8_t)n;
	long attempts = 0, answered = 0;
	double t0 = now_s(), t;
	while ((t = now_s()) - t0 < secs) {
		int fd = dial_raw(g_addr);
		if (fd < 0)
			continue;
		attempts++;
		uint8_t reply[1100];
		/* A ServerHello{version 2 (08 02), noise (3a ...)}: key work was done;
		 * a refusal carries software and error instead. */
		if (write(fd, rec, 4 + n) == (ssize_t)(4 + n) &&
		    read(fd, reply, sizeof reply) > 7 && reply[6] == 0x3a)
			answered++;
		close(fd);
	}
	printf("attempts %ld\nattempts_per_s %.0f\nkey_work_per_s %.0f\n", attempts,
	       (double)attempts / (t - t0), (double)answered / (t - t0));
	return 0;
}

/* ---- memory per idle authenticated connection ------------------------------ */

static int mode_idle(long count, double secs, pid_t server)
{
	if (server <= 0)
		return fprintf(stderr, "pbrpc_bench: idle needs -p RPCD_PID\n"), 2;
	pbrpc_client *warm = dial(); /* the server's one-time allocations happen first */
	if (!warm || echo_once(warm) != 0)
		return 1;
	usleep(200000);
	long rss0 = proc_rss_kb(server);
	pbrpc_client **cl = calloc((size_t)count, sizeof *cl);
	double t0 = now_s(), stop = t0 + secs;
	long n = 0;
	for (; n < count && now_s() < stop; n++)
		if (!(cl[n] = dial()) || echo_once(cl[n]) != 0)
			break;
	double el = now_s() - t0;
	usleep(500000);
	long rss1 = proc_rss_kb(server);
	printf("connections %ld\nrss_before_kb %ld\nrss_after_kb %ld\nbytes_per_conn %.0f\n"
	       "connect_per_s %.0f\n",
	       n, rss0, rss1, n ? (double)(rss1 - rss0) * 1024 / (double)n : 0.0, (double)n / el);
	for (long i = 0; i < count; i++)
		pbrpc_client_close(cl[i]);
	pbrpc_client_close(warm);
	free(cl);
	return n == count ? 0 : 1;
}

/* ---- exec round trip on a kept connection ---------------------------------- */

#ifdef HAVE_EXEC
/* Runs `true`; 0 on exit code 0, 3 if the server has no exec, else 1. */
static int exec_true(pbrpc_client *c)
{
	ProtobufCBinaryData arg = {.len = 4, .data = (uint8_t *)"true"};
	Pbrpc__Exec__Start start = PBRPC__EXEC__START__INIT;
	Pbrpc__Exec__RunRequest req = PBRPC__EXEC__RUN_REQUEST__INIT;
	pbrpc_error err = {0};
	int rc = 1, exited = 0;
	start.n_argv = 1;
	start.argv = &arg;
	req.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_START;
	req.start = &start;
	pbrpc_stream *s = pbrpc_exec_exec_run_open(c, NULL, &err);
	if (!s || pbrpc_exec_exec_run_send(s, &req, &err) != PBRPC_OK ||
	    pbrpc_stream_close_send(s, &err) != PBRPC_OK)
		goto out;
	for (int i = 0; i < 1000; i++) {
		Pbrpc__Exec__RunReply *r = NULL;
		if (pbrpc_exec_exec_run_recv(s, &r, &err) != PBRPC_OK)
			goto out;
		if (!r) {
			rc = exited ? 0 : 1;
			break;
		}
		if (r->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_EXIT)
			exited = r->exit->code == 0 && r->exit->signal == 0;
		pbrpc_message_free(&r->base);
	}
out:
	if (rc != 0) {
		if (err.code == PBRPC_UNIMPLEMENTED)
			rc = 3;
		else
			fprintf(stderr, "pbrpc_bench: exec: %s\n",
			        err.message[0] ? err.message : "true did not exit 0");
	}
	pbrpc_stream_free(s);
	return rc;
}
#endif

static int mode_exec(long count, double secs)
{
#ifdef HAVE_EXEC
	pbrpc_client *c = dial();
	if (!c)
		return 1;
	int rc = exec_true(c); /* warm-up, and is there an exec service? */
	if (rc == 3) {
		printf("na service not built\n");
		return 3;
	}
	if (rc != 0)
		return 1;
	double *us = malloc(sizeof *us * (size_t)count);
	double t0 = now_s(), stop = t0 + secs;
	long n = 0;
	for (; n < count && now_s() < stop; n++) {
		double a = now_s();
		if (exec_true(c) != 0)
			return 1;
		us[n] = (now_s() - a) * 1e6;
	}
	print_latency(us, n, now_s() - t0);
	pbrpc_client_close(c);
	free(us);
	return 0;
#else
	(void)count;
	(void)secs;
	printf("na service not built\n");
	return 3;
#endif
}

/* ---- cmd: wall time of a whole command (rpcc exec/get/put) ----------------- */

static int mode_cmd(char **argv, long count, double secs, double bytes)
{
	double *us = malloc(sizeof *us * (size_t)count);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	double t0 = now_s(), stop = t0 + secs;
	long n = 0;
	for (; n < count && now_s() < stop; n++) {
		double a = now_s();
		pid_t pid;
		int st;
		if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0 ||
		    waitpid(pid, &st, 0) != pid) {
			fprintf(stderr, "pbrpc_bench: cannot run %s\n", argv[0]);
			return 1;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "pbrpc_bench: %s exited %d\n", argv[0],
			        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			return 1;
		}
		us[n] = (now_s() - a) * 1e6;
	}
	double el = now_s() - t0;
	print_latency(us, n, el);
	if (bytes > 0 && n > 0)
		printf("mb_per_s %.0f\n", bytes / (us[n / 2] / 1e6) / 1e6);
	posix_spawn_file_actions_destroy(&fa);
	free(us);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
		        "usage: pbrpc_bench latency|load|handshake|idle|exec|cmd [options]\n");
		return 2;
	}
	const char *mode = argv[1];
	long count = 10000;
	int conns = 16, inflight = 16, threads = 2;
	double secs = 3, bytes = 0;
	pid_t server = 0;
	int opt;
	pbrpc_client_options_init(&g_opts);
	memset(g_payload, 'x', sizeof g_payload);
	optind = 2;
	static uint8_t server_key[32];
	pbrpc_error kerr;
	while ((opt = getopt(argc, argv, "+a:k:K:n:s:c:f:t:d:p:b:")) != -1) {
		switch (opt) {
		case 'a': g_addr = optarg; break;
		case 'k': g_opts.key_file = optarg; break;
		case 'K':
			if (pbrpc_public_key_load(optarg, server_key, &kerr) != PBRPC_OK)
				return fprintf(stderr, "pbrpc_bench: %s\n", kerr.message), 2;
			g_opts.server_key = server_key;
			break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 's': g_size = strtol(optarg, NULL, 10); break;
		case 'c': conns = atoi(optarg); break;
		case 'f': inflight = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'p': server = (pid_t)atoi(optarg); break;
		case 'b': bytes = atof(optarg); break;
		default: return 2;
		}
	}
	if (count < 1 || count > 10000000 || g_size < 0 || g_size > (long)sizeof g_payload ||
	    conns < 1 || conns > 20000 || inflight < 1 || inflight > 128 || threads < 1 ||
	    threads > 256 || secs <= 0 || secs > 120) {
		fprintf(stderr, "pbrpc_bench: option out of range\n");
		return 2;
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "cmd")) {
		if (optind >= argc)
			return fprintf(stderr, "pbrpc_bench: cmd needs a program\n"), 2;
		return mode_cmd(argv + optind, count, secs, bytes);
	}
	if (!strcmp(mode, "x25519"))
		return mode_x25519(secs);
	if (!g_addr)
		return fprintf(stderr, "pbrpc_bench: -a ADDR is required\n"), 2;
	if (!strcmp(mode, "flood"))
		return mode_flood(secs);
	if (!strcmp(mode, "latency"))
		return mode_latency(count);
	if (!strcmp(mode, "load"))
		return mode_load(conns, inflight, threads, secs, server);
	if (!strcmp(mode, "handshake"))
		return mode_handshake(count, secs, threads);
	if (!strcmp(mode, "idle"))
		return mode_idle(count, secs, server);
	if (!strcmp(mode, "exec"))
		return mode_exec(count, secs);
	fprintf(stderr, "pbrpc_bench: unknown mode %s\n", mode);
	return 2;
}
