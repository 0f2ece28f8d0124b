/* progress.c - the progress bar: one line on stderr rewritten in place with
 * \r, at most ten times a second, so that it costs nothing next to the
 * transfer itself. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 100000000 /* 0.1 s */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "1023 B", "12.3 KiB", "4.0 GiB" */
static void human(char *buf, size_t size, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;
	while (bytes >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f %s", bytes, units[u]);
	else
		snprintf(buf, size, "%.1f %s", bytes, units[u]);
}

void rpcc_progress_start(rpcc_progress *p, const char *label, uint64_t done, uint64_t total,
                         int total_known, int quiet)
{
	memset(p, 0, sizeof *p);
	p->enabled = !quiet && isatty(STDERR_FILENO);
	size_t len = strlen(label);
	const size_t room = sizeof p->label - 1;
	/* Keep the end of a long name: it is the part that tells files apart. */
	if (len > room)
		snprintf(p->label, sizeof p->label, "...%s", label + len - (room - 3));
	else
		snprintf(p->label, sizeof p->label, "%s", label);
	for (char *c = p->label; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	p->total = total;
	p->total_known = total_known;
	p->first = p->done = done;
	p->start_ns = now_ns();
	p->drawn_ns = 0;
}

static void draw(rpcc_progress *p, int64_t now)
{
	char bytes[32], rate[32], eta[32] = "";
	double seconds = (double)(now - p->start_ns) / 1e9;
	double speed = seconds > 0 ? (double)(p->done - p->first) / seconds : 0;

	human(bytes, sizeof bytes, (double)p->done);
	human(rate, sizeof rate, speed);
	if (p->total_known && speed > 0 && p->done <= p->total) {
		unsigned long left = (unsigned long)((double)(p->total - p->done) / speed);
		snprintf(eta, sizeof eta, " ETA %lu:%02lu:%02lu", left / 3600, left / 60 % 60,
		         left % 60);
	}
	if (p->total_known) {
		unsigned percent = p->total ? (unsigned)(p->done * 100 / p->total) : 100;
		fprintf(stderr, "\r%-30s %3u%% %10s %10s/s%s\033[K", p->label, percent, bytes, rate,
		        eta);
	} else {
		fprintf(stderr, "\r%-30s %10s %10s/s\033[K", p->label, bytes, rate);
	}
	fflush(stderr);
	p->drawn_ns = now;
}

void rpcc_progress_update(rpcc_progress *p, uint64_t done)
{
	if (!p->enabled)
		return;
	p->done = done;
	int64_t now = now_ns();
	if (now - p->drawn_ns >= REDRAW_NS)
		draw(p, now);
}

void rpcc_progress_end(rpcc_progress *p)
{
	if (!p->enabled)
		return;
	draw(p, now_ns());
	fputc('\n', stderr);
	p->enabled = 0;
}
