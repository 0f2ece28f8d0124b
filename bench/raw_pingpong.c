/* raw_pingpong.c - the floor for small-call latency: a plain TCP ping-pong on
 * loopback with the same 4-byte length prefix pbrpc uses, no crypto, no
 * protobuf. A forked child echoes; the parent times each round trip.
 *   raw_pingpong [-c COUNT] [-s BYTES]   prints the same summary as rpcc ping */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int io_all(int fd, void *p, size_t n, int writing)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = writing ? write(fd, b, n) : read(fd, b, n);
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

static void serve(int lfd)
{
	int fd = accept(lfd, NULL, NULL);
	int one = 1;
	uint8_t buf[1 << 16];
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (;;) {
		uint8_t hdr[4];
		if (io_all(fd, hdr, 4, 0) != 0)
			_exit(0);
		uint32_t len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
		if (len > sizeof buf || io_all(fd, buf, len, 0) != 0)
			_exit(1);
		/* One write for header + body, as a real server batches. */
		uint8_t out[4 + sizeof buf];
		memcpy(out, hdr, 4);
		memcpy(out + 4, buf, len);
		if (io_all(fd, out, 4 + len, 1) != 0)
			_exit(1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long count = 10000, size = 64;
	int opt;
	while ((opt = getopt(argc, argv, "c:s:")) != -1) {
		if (opt == 'c')
			count = strtol(optarg, NULL, 10);
		else if (opt == 's')
			size = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (count < 1 || count > 10000000 || size < 0 || size > 60000) {
		fprintf(stderr, "raw_pingpong: bad -c or -s\n");
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) != 0) {
		perror("raw_pingpong: listen");
		return 1;
	}
	pid_t child = fork();
	if (child == 0)
		serve(lfd);
	close(lfd);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("raw_pingpong: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	uint8_t *msg = malloc(4 + (size_t)size), *back = malloc(4 + (size_t)size);
	double *ms = malloc(sizeof *ms * (size_t)count);
	memset(msg, 'x', 4 + (size_t)size);
	msg[0] = (uint8_t)(size >> 24), msg[1] = (uint8_t)(size >> 16);
	msg[2] = (uint8_t)(size >> 8), msg[3] = (uint8_t)size;
	double sum = 0;
	for (long i = 0; i < count; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (io_all(fd, msg, 4 + (size_t)size, 1) || io_all(fd, back, 4 + (size_t)size, 0)) {
			fprintf(stderr, "raw_pingpong: connection lost\n");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		sum += ms[i];
	}
	qsort(ms, (size_t)count, sizeof *ms, cmp_double);
	printf("%ld calls, %ld bytes, 0 errors: min/avg/p50/p99/max = %.3f/%.3f/%.3f/%.3f/%.3f ms\n",
	       count, size, ms[0], sum / (double)count, ms[count / 2], ms[count * 99 / 100],
	       ms[count - 1]);
	close(fd);
	waitpid(child, NULL, 0);
	free(msg);
	free(back);
	free(ms);
	return 0;
}
