/* raw.c - the raw floors pbrpc is measured against: plain C over plain
 * loopback sockets, the same 4-byte big-endian length prefix, no crypto, no
 * protobuf. The server is a forked child with one epoll loop (as rpcd has
 * one libuv loop) that echoes every whole record, all of a read's replies in
 * one write.
 *
 *   raw pingpong  [-n COUNT] [-s BYTES] [-P]       sequential round trips (-P: client
 *                                                  on CPU 0, server on CPU 1)
 *   raw pipelined [-c CONNS] [-f INFLIGHT] [-t THREADS] [-d SECS] [-s BYTES]
 *   raw connect   [-n MAX] [-d SECS] [-s BYTES] [-t THREADS]  connect + echo + close
 *   raw bulk      [-m MIB]                         one-way stream, 1 MiB writes
 *   raw spawn     [-n COUNT] [-d SECS]             posix_spawn("true") + wait
 *
 * Each prints "key value" lines (µs, calls/s, MB/s with MB = 10^6 bytes).
 * Every loop is bounded by a count and by time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

extern char **environ;

#define MAX_MSG 65536
#define SRV_BUF (256u << 10)

/* ---- the echo server ------------------------------------------------------ */

typedef struct srv_conn {
	int fd;
	size_t have;
	uint8_t buf[SRV_BUF];
} srv_conn;

static int write_fully(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, 1000);
		} else if (!(w < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return 0;
}

static int read_fully(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Echoes whole records until the parent closes the listener's peer. */
static void serve(int lfd)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			srv_conn *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					continue;
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				c = malloc(sizeof *c);
				c->fd = fd;
				c->have = 0;
				struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				continue;
			}
			ssize_t r = read(c->fd, c->buf + c->have, SRV_BUF - c->have);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				close(c->fd); /* also leaves the epoll set */
				free(c);
				continue;
			}
			c->have += (size_t)r;
			size_t whole = 0;
			while (c->have - whole >= 4) {
				uint32_t len = get_be32(c->buf + whole);
				if (len > MAX_MSG || c->have - whole - 4 < len)
					break;
				whole += 4 + len;
			}
			if (whole && write_fully(c->fd, c->buf, whole) != 0) {
				close(c->fd);
				free(c);
				continue;
			}
			memmove(c->buf, c->buf + whole, c->have - whole);
			c->have -= whole;
		}
	}
}

static struct sockaddr_in g_addr;
static pid_t g_server;
static int g_pin; /* -P: client on CPU 0, server on CPU 1 */

static void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		perror("raw: sched_setaffinity");
}

static void start_server(void)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t slen = sizeof g_addr;
	memset(&g_addr, 0, sizeof g_addr);
	g_addr.sin_family = AF_INET;
	g_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0 || listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&g_addr, &slen) != 0) {
		perror("raw: listen");
		exit(1);
	}
	g_server = fork();
	if (g_server == 0) {
		if (g_pin)
			pin_to(1);
		serve(lfd);
		_exit(0);
	}
	close(lfd);
}

static void stop_server(void)
{
	kill(g_server, SIGTERM);
	waitpid(g_server, NULL, 0);
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0) {
		perror("raw: connect");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static uint8_t *make_msg(size_t size)
{
	uint8_t *m = malloc(4 + size);
	memset(m, 'x', 4 + size);
	put_be32(m, (uint32_t)size);
	return m;
}

/* ---- modes ---------------------------------------------------------------- */

static int mode_pingpong(long count, long size)
{
	start_server();
	if (g_pin)
		pin_to(0);
	int fd = dial();
	if (fd < 0)
		return 1;
	uint8_t *msg = make_msg((size_t)size), *back = malloc(4 + (size_t)size);
	double *us = malloc(sizeof *us * (size_t)count);
	double t0 = now_s(), stop = t0 + 20;
	long done = 0;
	for (; done < count && now_s() < stop; done++) {
		double a = now_s();
		if (write_fully(fd, msg, 4 + (size_t)size) ||
		    read_fully(fd, back, 4 + (size_t)size)) {
			fprintf(stderr, "raw: connection lost\n");
			return 1;
		}
		us[done] = (now_s() - a) * 1e6;
	}
	double el = now_s() - t0;
	print_latency(us, done, el);
	close(fd);
	stop_server();
	return 0;
}

typedef struct pipe_job {
	int nconn, inflight;
	long size;
	double stop;
	long replies;
} pipe_job;

static void *pipe_thread(void *arg)
{
	pipe_job *j = arg;
	int ep = epoll_create1(0);
	int *fds = calloc((size_t)j->nconn, sizeof *fds);
	size_t *have = calloc((size_t)j->nconn, sizeof *have);
	size_t rec = 4 + (size_t)j->size;
	uint8_t *burst = malloc(rec * (size_t)j->inflight);
	uint8_t *buf = malloc(SRV_BUF);
	for (int i = 0; i < j->inflight; i++) {
		memset(burst + rec * (size_t)i, 'x', rec);
		put_be32(burst + rec * (size_t)i, (uint32_t)j->size);
	}
	for (int i = 0; i < j->nconn; i++) {
		if ((fds[i] = dial()) < 0)
			exit(1);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
		write_fully(fds[i], burst, rec * (size_t)j->inflight);
	}
	struct epoll_event evs[256];
	while (now_s() < j->stop) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < n; e++) {
			int i = (int)evs[e].data.u32;
			ssize_t r = read(fds[i], buf, SRV_BUF);
			if (r <= 0) {
				fprintf(stderr, "raw: server closed\n");
				exit(1);
			}
			/* Replies are all rec bytes: count the whole ones, send as many. */
			have[i] += (size_t)r;
			size_t got = have[i] / rec;
			have[i] %= rec;
			j->replies += (long)got;
			while (got > 0) {
				size_t k = got > (size_t)j->inflight ? (size_t)j->inflight : got;
				write_fully(fds[i], burst, rec * k);
				got -= k;
			}
		}
	}
	for (int i = 0; i < j->nconn; i++)
		close(fds[i]);
	close(ep);
	free(fds);
	free(have);
	free(burst);
	free(buf);
	return NULL;
}

static int mode_pipelined(int conns, int inflight, int threads, double secs, long size)
{
	if (threads > conns)
		threads = conns;
	start_server();
	pthread_t tid[256];
	pipe_job jobs[256];
	double t0 = now_s();
	double cpu0 = proc_cpu_s(g_server);
	for (int t = 0; t < threads; t++) {
		jobs[t] = (pipe_job){.nconn = conns / threads + (t < conns % threads),
		                     .inflight = inflight,
		                     .size = size,
		                     .stop = t0 + secs};
		pthread_create(&tid[t], NULL, pipe_thread, &jobs[t]);
	}
	long total = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		total += jobs[t].replies;
	}
	double el = now_s() - t0, cpu = proc_cpu_s(g_server) - cpu0;
	printf("calls %ld\ncalls_per_s %.0f\nserver_cpu_us_per_call %.3f\n", total,
	       (double)total / el, total ? cpu * 1e6 / (double)total : 0.0);
	stop_server();
	return 0;
}

typedef struct connect_job {
	long max, size, done;
	double stop;
	int failed;
} connect_job;

static void *connect_thread(void *arg)
{
	connect_job *j = arg;
	uint8_t *msg = make_msg((size_t)j->size), *back = malloc(4 + (size_t)j->size);
	while (j->done < j->max && now_s() < j->stop) {
		int fd = dial();
		if (fd < 0 || write_fully(fd, msg, 4 + (size_t)j->size) ||
		    read_fully(fd, back, 4 + (size_t)j->size)) {
			fprintf(stderr, "raw: connect round failed\n");
			j->failed = 1;
			break;
		}
		close(fd);
		j->done++;
	}
	free(msg);
	free(back);
	return NULL;
}

static int mode_connect(long max, double secs, long size, int threads)
{
	start_server();
	pthread_t tid[256];
	connect_job jobs[256];
	double t0 = now_s();
	for (int t = 0; t < threads; t++) {
		jobs[t] = (connect_job){.max = max / threads + 1, .size = size, .stop = t0 + secs};
		pthread_create(&tid[t], NULL, connect_thread, &jobs[t]);
	}
	long n = 0;
	int failed = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		n += jobs[t].done;
		failed |= jobs[t].failed;
	}
	printf("connections %ld\nper_s %.0f\n", n, (double)n / (now_s() - t0));
	stop_server();
	return failed;
}

static int mode_bulk(long mib)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) != 0)
		return perror("raw: listen"), 1;
	size_t chunk = 1u << 20;
	pid_t child = fork();
	if (child == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
			_exit(1);
		uint8_t *b = malloc(chunk);
		memset(b, 'x', chunk);
		for (long i = 0; i < mib; i++)
			if (write_fully(fd, b, chunk) != 0)
				_exit(1);
		_exit(0);
	}
	int fd = accept(lfd, NULL, NULL);
	uint8_t *b = malloc(chunk);
	double t0 = now_s(), stop = t0 + 60;
	uint64_t total = 0;
	ssize_t r;
	while ((r = read(fd, b, chunk)) > 0 && now_s() < stop)
		total += (uint64_t)r;
	double el = now_s() - t0;
	waitpid(child, NULL, 0);
	printf("bytes %llu\nmb_per_s %.0f\n", (unsigned long long)total, (double)total / el / 1e6);
	return total == (uint64_t)mib << 20 ? 0 : 1;
}

static int mode_spawn(long count, double secs)
{
	double *us = malloc(sizeof *us * (size_t)count);
	char *argv[] = {"true", NULL};
	double t0 = now_s(), stop = t0 + secs;
	long n = 0;
	for (; n < count && now_s() < stop; n++) {
		double a = now_s();
		pid_t pid;
		int st;
		if (posix_spawnp(&pid, "true", NULL, NULL, argv, environ) != 0 ||
		    waitpid(pid, &st, 0) != pid || st != 0)
			return fprintf(stderr, "raw: spawn failed\n"), 1;
		us[n] = (now_s() - a) * 1e6;
	}
	print_latency(us, n, now_s() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: raw pingpong|pipelined|connect|bulk|spawn [options]\n");
		return 2;
	}
	const char *mode = argv[1];
	long count = 10000, size = 64, mib = 1024;
	int conns = 16, inflight = 16, threads = 2;
	double secs = 3;
	int opt;
	optind = 2;
	while ((opt = getopt(argc, argv, "n:s:c:f:t:d:m:P")) != -1) {
		switch (opt) {
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 's': size = strtol(optarg, NULL, 10); break;
		case 'c': conns = atoi(optarg); break;
		case 'f': inflight = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'm': mib = strtol(optarg, NULL, 10); break;
		case 'P': g_pin = 1; break;
		default: return 2;
		}
	}
	if (count < 1 || count > 10000000 || size < 0 || size > MAX_MSG - 4 || conns < 1 ||
	    conns > 10000 || inflight < 1 || inflight > 1024 || threads < 1 || threads > 256 ||
	    secs <= 0 || secs > 60 || mib < 1 || mib > 8192) {
		fprintf(stderr, "raw: option out of range\n");
		return 2;
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "pingpong"))
		return mode_pingpong(count, size);
	if (!strcmp(mode, "pipelined"))
		return mode_pipelined(conns, inflight, threads, secs, size);
	if (!strcmp(mode, "connect"))
		return mode_connect(count, secs, size, threads);
	if (!strcmp(mode, "bulk"))
		return mode_bulk(mib);
	if (!strcmp(mode, "spawn"))
		return mode_spawn(count, secs);
	fprintf(stderr, "raw: unknown mode %s\n", mode);
	return 2;
}
