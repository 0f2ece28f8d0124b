/* fault_hostile: a hostile peer and crypto misuse against a real rpcd.
 *
 *   fault_hostile ADDR KEYFILE LOGFILE PID MAXCALLS MAXCONNS HANDSHAKE_MS
 *
 * tests/integration/hostile.sh starts rpcd (-v --max-calls MAXCALLS
 * --max-connections MAXCONNS --handshake-timeout HANDSHAKE_MS) and runs this
 * over TCP and over a Unix socket. Each case prints PASS or FAIL and an
 * "outcome:" line (what the peer saw, and the line rpcd logged). A case that
 * ends a connection must find exactly one line in rpcd's log (LOGFILE) saying
 * why for that connection; after every case a normal echo call through the
 * library must still work. PID is rpcd's, for its memory in /proc/PID/status.
 *
 * The byte-level client is the one in peer/raw_peer.c, shared with
 * badinput.c: it speaks the protocol with the library's internals over a plain
 * blocking socket, and every wait is bounded by poll(). Time limits are
 * generous upper bounds only. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "channel.h"
#include "frame.h"
#include "handshake.h"
#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"
#include "pbrpc/wire.pb-c.h"
#include "record.h"

#include "peer/raw_peer.h"

static const char *g_log;
static uint8_t g_key[PBRPC_KEY_BYTES];
static int g_pid;
static unsigned g_max_calls, g_max_conns, g_handshake_ms;
static int g_failed;

/* ---- reporting ------------------------------------------------------------ */

static char g_why[512];     /* why the current case failed (the first reason wins) */
static char g_outcome[512]; /* what happened, for the table */

static void outcome(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outcome(const char *fmt, ...)
{
	size_t at = strlen(g_outcome);
	if (at + 3 >= sizeof g_outcome)
		return;
	if (at)
		at += (size_t)snprintf(g_outcome + at, sizeof g_outcome - at, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g_outcome + at, sizeof g_outcome - at, fmt, ap);
	va_end(ap);
}

/* ---- rpcd's log and memory ------------------------------------------------ */

/* Calls fn on every log line past `from`; stops early when it returns 1. */
static int log_scan(off_t from, int (*fn)(const char *line, void *arg), void *arg)
{
	FILE *f = fopen(g_log, "r");
	if (!f)
		return 0;
	char line[1024];
	int hit = 0;
	fseeko(f, from, SEEK_SET);
	while (!hit && fgets(line, sizeof line, f))
		hit = fn(line, arg);
	fclose(f);
	return hit;
}

typedef struct line_search {
	const char *text; /* alternatives split by | */
	char found[1024];
} line_search;

static int line_matches(const char *line, void *arg)
{
	line_search *ls = arg;
	char alts[256];
	snprintf(alts, sizeof alts, "%s", ls->text);
	for (char *save = NULL, *alt = strtok_r(alts, "|", &save); alt;
	     alt = strtok_r(NULL, "|", &save)) {
		if (strstr(line, alt)) {
			snprintf(ls->found, sizeof ls->found, "%s", line);
			return 1;
		}
	}
	return 0;
}

/* Waits (bounded by wait_ms) for a line past `from` with one of the
 * alternatives in text; copies it (without the time stamp) into found. */
static int log_wait_within(off_t from, const char *text, char *found, size_t size, int wait_ms)
{
	line_search ls = {.text = text};
	int64_t until = now_ms() + wait_ms;
	while (!log_scan(from, line_matches, &ls)) {
		if (now_ms() > until)
			return 0;
		usleep(10000);
	}
	const char *p = strstr(ls.found, ": "); /* past "TIME rpcd[PID] level" */
	p = p ? p + 2 : ls.found;
	snprintf(found, size, "%s", p);
	found[strcspn(found, "\n")] = '\0';
	return 1;
}

/* The same for a line that must come: WAIT_MS is only a safety net. */
static int log_wait(off_t from, const char *text, char *found, size_t size)
{
	return log_wait_within(from, text, found, size, WAIT_MS);
}

/* How long a check that a line does NOT come looks (it passes at the end). */
#define ABSENT_MS 3000

static int g_settle_ms = 30; /* how long one_close_line waits for a second line */

typedef struct conn_lines {
	char tag[32]; /* " cN " */
	int count;
	char last[1024];
} conn_lines;

/* Counts the lines about one connection that are not its routine ones. */
static int count_conn_line(const char *line, void *arg)
{
	conn_lines *cl = arg;
	/* The lines that end a connection; a call's own lines do not count. */
	if (strstr(line, cl->tag) &&
	    (strstr(line, " closed: ") || strstr(line, " handshake failed: ") ||
	     strstr(line, " refused: ")))
		cl->count++;
	return 0;
}

/* The connection ended: exactly one line past `from` says why, containing one
 * of the alternatives in want. Its text goes into the outcome. */
static int one_close_line(off_t from, const char *want)
{
	char found[1024];
	if (!log_wait(from, want, found, sizeof found))
		return bad("rpcd logged no line with '%s'", want);
	conn_lines cl = {.count = 0};
	char name[24];
	if (sscanf(found, "%23s", name) != 1 || name[0] != 'c')
		return bad("cannot tell the connection of '%s'", found);
	snprintf(cl.tag, sizeof cl.tag, " %s ", name);
	if (g_settle_ms)
		usleep((useconds_t)g_settle_ms *
		       1000); /* a second line would come in the same loop turn */
	log_scan(from, count_conn_line, &cl);
	if (cl.count != 1)
		return bad("%d lines for %s, want exactly one (first: '%s')", cl.count, name,
		           found);
	outcome("log '%s'", found);
	return 0;
}

/* VmRSS and VmHWM of rpcd in KiB. */
static int rpcd_memory(long *rss_kb, long *hwm_kb)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", g_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return bad("cannot read %s", path);
	*rss_kb = *hwm_kb = -1;
	while (fgets(line, sizeof line, f)) {
		sscanf(line, "VmRSS: %ld", rss_kb);
		sscanf(line, "VmHWM: %ld", hwm_kb);
	}
	fclose(f);
	return *rss_kb < 0 || *hwm_kb < 0 ? bad("no VmRSS/VmHWM in %s", path) : 0;
}

/* Expects the server to close the connection (after whatever it sends). */
static int expect_closed(raw *r, const char *after)
{
	int64_t t = raw_wait_closed(r, WAIT_MS);
	if (t < 0)
		return bad("connection still open %d ms after %s", WAIT_MS, after);
	outcome("closed");
	return 0;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	return raw_rnd(&g_rng);
}

/* ---- hostile bytes --------------------------------------------------------------- */

static int case_zero_length_sealed(void)
{
	off_t from = log_size();
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	uint8_t h[8] = {0};
	raw_send(&r, h, sizeof h);
	int rc = expect_closed(&r, "a zero length");
	raw_close(&r);
	return rc ? rc : one_close_line(from, "closed: bad record length 0");
}

static int case_sealed_shorter_than_tag(void)
{
	off_t from = log_size();
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	uint8_t rec[4 + 5] = {0, 0, 0, 5, 1, 2, 3, 4, 5};
	raw_send(&r, rec, sizeof rec);
	int rc = expect_closed(&r, "a 5-byte sealed record");
	raw_close(&r);
	return rc ? rc : one_close_line(from, "closed: record failed authentication");
}

/* A valid length around random bytes, as the first record. */
static int garbage_first_record(uint32_t n)
{
	off_t from = log_size();
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	uint8_t *rec = malloc(4 + n);
	pbrpc_put_be32(rec, n);
	for (uint32_t i = 0; i < n; i++)
		rec[4 + i] = (uint8_t)rnd();
	raw_send(&r, rec, 4 + n);
	free(rec);
	int rc = expect_closed(&r, "a garbage ClientHello");
	raw_close(&r);
	return rc ? rc : one_close_line(from, "handshake failed");
}

static int case_garbage_first_record(void)
{
	return garbage_first_record(200);
}

static int case_garbage_at_handshake_cap(void)
{
	return garbage_first_record(PBRPC_HANDSHAKE_MAX_RECORD);
}

static int case_garbage_sealed_record(void)
{
	off_t from = log_size();
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	uint8_t rec[4 + 100];
	pbrpc_put_be32(rec, 100);
	for (size_t i = 4; i < sizeof rec; i++)
		rec[i] = (uint8_t)rnd();
	raw_send(&r, rec, sizeof rec);
	int rc = expect_closed(&r, "a garbage sealed record");
	raw_close(&r);
	return rc ? rc : one_close_line(from, "closed: record failed authentication");
}

/* A whole ClientHello, the server's answer read, then nothing: the client
 * never sends its proof. */
static int case_half_handshake_then_silence(void)
{
	off_t from = log_size();
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	raw_send_hello(&r, g_key, 0);
	uint32_t len;
	int rc = 0;
	if (raw_record(&r, &len) != 1 || raw_record(&r, &len) != 1)
		rc = bad("no ServerHello and proof");
	int64_t t = rc ? -1 : raw_wait_closed(&r, (int)g_handshake_ms + WAIT_MS);
	raw_close(&r);
	if (rc == 0 && t < 0)
		rc = bad("still open %u ms past the handshake limit", (unsigned)WAIT_MS);
	if (rc == 0) {
		outcome("closed after %lld ms (limit %u)", (long long)t, g_handshake_ms);
		rc = one_close_line(from, "closed: handshake not finished in time");
	}
	return rc;
}

/* One byte of a ClientHello every second: the handshake limit is not reset
 * by each byte, so the connection is closed at the limit. */
static int case_byte_every_second(void)
{
	off_t from = log_size();
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	pbrpc_handshake hs;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	pbrpc_handshake_init(&hs, 0, g_key, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_handshake_client_hello(&hs, &out);
	int64_t start = now_ms(), until = start + g_handshake_ms + WAIT_MS, closed_at = -1;
	size_t sent = 0;
	while (closed_at < 0 && now_ms() < until && sent < pbrpc_buf_len(&out)) {
		if (send(r.fd, pbrpc_buf_head(&out) + sent, 1, MSG_NOSIGNAL) == 1)
			sent++;
		/* Wait a second, or less if the server closes first. */
		struct pollfd pfd = {.fd = r.fd, .events = POLLIN};
		if (poll(&pfd, 1, 1000) == 1) {
			char c;
			if (recv(r.fd, &c, 1, MSG_DONTWAIT) <= 0)
				closed_at = now_ms();
		}
	}
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&hs);
	raw_close(&r);
	if (closed_at < 0)
		return bad("not closed within %u ms (%zu bytes sent)", g_handshake_ms + WAIT_MS,
		           sent);
	outcome("closed after %lld ms and %zu bytes (limit %u ms)", (long long)(closed_at - start),
	        sent, g_handshake_ms);
	return one_close_line(from, "closed: handshake not finished in time");
}

/* More idle sockets than --max-connections: the limit holds, the excess gets
 * the refusal "too many connections", an honest client is told
 * RESOURCE_EXHAUSTED, and gets in once the idle ones are closed at the
 * handshake limit. */
static int case_idle_flood(void)
{
	enum { EXTRA = 80 }; /* more than rpcd lets linger, so both refusal paths run */
	off_t from = log_size();
	unsigned n = g_max_conns + EXTRA;
	raw *socks = calloc(n, sizeof *socks);
	int rc = 0;
	unsigned opened = 0;
	for (; rc == 0 && opened < n; opened++)
		rc = raw_connect(&socks[opened]);
	/* Each refused socket gets one refusal record, then EOF; the others get
	 * nothing. Look at all of them until the EXTRA refusals came, and a
	 * little longer for any more (one slot may still be held by the
	 * previous case's connection, closing). */
	unsigned refused = 0, still_open = 0;
	char *refusal = calloc(n, 1);
	struct pollfd *pfds = calloc(n, sizeof *pfds);
	int64_t until = now_ms() + WAIT_MS, settle = -1;
	while (rc == 0 && now_ms() < until && (settle < 0 || now_ms() < settle)) {
		for (unsigned i = 0; i < opened; i++)
			pfds[i] =
			    (struct pollfd){.fd = refusal[i] ? -1 : socks[i].fd, .events = POLLIN};
		poll(pfds, opened, 50);
		for (unsigned i = 0; rc == 0 && i < opened; i++) {
			uint32_t len;
			if (!(pfds[i].revents & POLLIN) ||
			    raw_record_within(&socks[i], &len, 100) != 1)
				continue;
			Pbrpc__Wire__ServerHello *h = pbrpc__wire__server_hello__unpack(
			    NULL, len, socks[i].rec + PBRPC_RECORD_HEADER);
			if (h && h->error && strcmp(h->error, "too many connections") == 0)
				refusal[i] = 1, refused++;
			else
				rc = bad("socket %u: a record that is not the refusal", i);
			if (h)
				pbrpc__wire__server_hello__free_unpacked(h, NULL);
		}
		if (settle < 0 && refused >= EXTRA)
			settle = now_ms() + 200;
	}
	g_why[0] = rc ? g_why[0] : '\0';
	still_open = opened - refused;
	free(refusal);
	free(pfds);
	if (rc == 0 && (refused < EXTRA || still_open > g_max_conns))
		rc = bad("%u refused and %u open of %u, want %u and %u", refused, still_open, n,
		         EXTRA, g_max_conns);
	/* An honest client, while the flood holds every slot. */
	pbrpc_error err = {0};
	pbrpc_client *c = rc ? NULL : library_connect(g_key, &err);
	if (c) {
		pbrpc_client_close(c);
		rc = bad("an honest client got in past the limit");
	} else if (rc == 0 && (err.code != PBRPC_RESOURCE_EXHAUSTED ||
	                       !strstr(err.message, "too many connections"))) {
		rc = bad("honest client: '%s' (%s), want RESOURCE_EXHAUSTED", err.message,
		         pbrpc_status_name(err.code));
	}
	if (rc == 0)
		outcome("%u of %u idle sockets refused; honest client: '%s' (%s)", refused, n,
		        err.message, pbrpc_status_name(err.code));
	/* The idle ones end at the handshake limit; then there is room again. */
	for (unsigned i = 0; rc == 0 && i < opened; i++)
		if (raw_wait_closed(&socks[i], (int)g_handshake_ms + WAIT_MS) < 0)
			rc = bad("idle socket %u still open past the handshake limit", i);
	for (unsigned i = 0; i < opened; i++)
		raw_close(&socks[i]);
	free(socks);
	char found[1024];
	if (rc == 0 && !log_wait(from, "refused: too many connections", found, sizeof found))
		rc = bad("no refusal in rpcd's log");
	if (rc == 0) {
		outcome("log '%s'", found);
		if (!log_wait(from, "closed: handshake not finished in time", found, sizeof found))
			rc = bad("idle sockets not closed at the handshake limit");
		else
			outcome("then '%s'; honest client gets in", found);
	}
	return rc;
}

/* Streaming calls that are never half-closed stay open, answered message by
 * message; one with a deadline ends DEADLINE_EXCEEDED; a unary REQUEST
 * without HALF_CLOSE is answered anyway; a client that leaves with calls
 * open has them cleaned up. */
static int case_calls_never_half_closed(void)
{
	enum { OPEN = 3 };
	off_t from = log_size();
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	Pbrpc__Echo__EchoRequest req = echo_req("no half-close");
	pbrpc_frame f, st;
	int rc = 0;
	for (uint64_t id = 1; rc == 0 && id <= OPEN; id++) {
		f = request(id, PBRPC_ECHO_ECHO_CHAT_METHOD, PBRPC_FLAG_HAS_MESSAGE);
		if (send_frame(&r, &f, &req.base) != 0 || recv_frame(&r, &st) != 1 ||
		    st.call_id != id || st.kind != PBRPC_FRAME_MESSAGE)
			rc = bad("chat %llu: no reply to its message", (unsigned long long)id);
	}
	/* Still open: a short wait sees nothing more. */
	if (rc == 0 && recv_frame_within(&r, &st, 200) != -1)
		rc = bad("a call never half-closed ended by itself");
	g_why[0] = '\0';
	if (rc == 0) {
		f = request(10, PBRPC_ECHO_ECHO_CHAT_METHOD, PBRPC_FLAG_HAS_MESSAGE);
		f.timeout_ms = 300;
		if (send_frame(&r, &f, &req.base) != 0 || recv_status(&r, 10, &st) != 0)
			rc = -1;
		else if (st.status != PBRPC_DEADLINE_EXCEEDED)
			rc = bad("chat with a deadline: %s, want DEADLINE_EXCEEDED",
			         pbrpc_status_name((int)st.status));
	}
	if (rc == 0) {
		f = request(11, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
		if (send_frame(&r, &f, &req.base) != 0 || recv_status(&r, 11, &st) != 0 ||
		    st.status != PBRPC_OK)
			rc = bad("a unary call without HALF_CLOSE was not answered OK");
	}
	raw_close(&r); /* FIN with OPEN calls open */
	if (rc == 0) {
		outcome("%d chats open and answered; one with timeout 300 ms: DEADLINE_EXCEEDED; "
		        "unary without half-close: OK; client leaves",
		        OPEN);
		rc = one_close_line(from, "closed: disconnected");
	}
	return rc;
}

/* Sends all of p while reading (and counting) whatever comes back, so that
 * neither side stalls. on_frame sees each frame; returns -1 to stop. */
typedef int (*frame_fn)(const pbrpc_frame *f, void *arg);

static int pump(raw *r, const uint8_t *p, size_t n, frame_fn on_frame, void *arg, int *done)
{
	size_t sent = 0;
	int64_t idle_until = now_ms() + WAIT_MS;
	while (sent < n || !*done) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN | (sent < n ? POLLOUT : 0)};
		int pr = poll(&pfd, 1, 100);
		if (pr < 0 && errno != EINTR)
			return bad("poll: %s", strerror(errno));
		if (now_ms() > idle_until)
			return bad("no progress for %d ms (%zu of %zu bytes sent)", WAIT_MS, sent,
			           n);
		if (pr <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && sent < n) {
			ssize_t w = send(r->fd, p + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0) {
				sent += (size_t)w;
				idle_until = now_ms() + WAIT_MS;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				return bad("send: %s", strerror(errno));
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pbrpc_buf_reserve(&r->in, 64 << 10) != 0)
				return bad("input buffer full");
			ssize_t got = recv(r->fd, pbrpc_buf_tail(&r->in), pbrpc_buf_room(&r->in),
			                   MSG_DONTWAIT);
			if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
				return bad("the server closed the connection");
			if (got > 0) {
				pbrpc_buf_commit(&r->in, (size_t)got);
				idle_until = now_ms() + WAIT_MS;
			}
			uint32_t len;
			while (pbrpc_record_check(pbrpc_buf_head(&r->in), pbrpc_buf_len(&r->in),
			                          PBRPC_MAX_MAX_RECORD,
			                          &len) == PBRPC_RECORD_READY) {
				pbrpc_frame f;
				uint8_t *rec = pbrpc_buf_head(&r->in);
				if (open_frame(r, rec, len, &f) != 0 || on_frame(&f, arg) != 0)
					return -1;
				pbrpc_buf_consume(&r->in, PBRPC_RECORD_HEADER + len);
			}
		}
	}
	return 0;
}

typedef struct tally {
	unsigned n;          /* calls */
	unsigned char *seen; /* per call id: 1 message seen, 2 status seen */
	unsigned messages, ok, exhausted, statuses;
	unsigned want; /* done once this many STATUS frames came */
	int done;
} tally;

static int count_frame(const pbrpc_frame *f, void *arg)
{
	tally *t = arg;
	if (f->call_id == 0 || f->call_id > t->n)
		return bad("a frame for call %llu, which we never opened",
		           (unsigned long long)f->call_id);
	unsigned char *s = &t->seen[f->call_id - 1];
	if (*s & 2)
		return bad("a frame for call %llu after its STATUS",
		           (unsigned long long)f->call_id);
	if (f->kind == PBRPC_FRAME_MESSAGE) {
		*s |= 1;
		t->messages++;
	} else if (f->kind == PBRPC_FRAME_STATUS) {
		*s |= 2;
		t->statuses++;
		if (f->status == PBRPC_OK)
			t->ok++;
		else if (f->status == PBRPC_RESOURCE_EXHAUSTED)
			t->exhausted++;
		else
			return bad("call %llu: %s", (unsigned long long)f->call_id,
			           pbrpc_status_name((int)f->status));
	}
	t->done = t->statuses >= t->want;
	return 0;
}

/* 10,000 streaming calls in flight on one connection. Those within
 * --max-calls are opened (and then each sent a message with HALF_CLOSE, so
 * they end OK with one reply each); the excess is answered
 * RESOURCE_EXHAUSTED. Every call gets exactly one STATUS. */
static int case_ten_thousand_in_flight(void)
{
	enum { IN_FLIGHT = 10000, EXCESS = 100, N = IN_FLIGHT + EXCESS };
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	unsigned admitted = g_max_calls < IN_FLIGHT ? g_max_calls : IN_FLIGHT;
	if (admitted < IN_FLIGHT)
		printf("  (only %u in flight: run rpcd with --max-calls %d)\n", admitted,
		       IN_FLIGHT);
	if (g_max_calls > admitted) {
		raw_close(&r);
		return bad("--max-calls %u: want at most %d, so that %d calls are refused",
		           g_max_calls, IN_FLIGHT, EXCESS);
	}
	tally t = {.n = N, .seen = calloc(N, 1), .want = N - admitted};
	pbrpc_buf b;
	pbrpc_buf_init(&b, 64u << 20);
	Pbrpc__Echo__EchoRequest req = echo_req("in flight");
	int64_t t0 = now_ms();
	/* Phase 1: open them all; nothing comes back but the excess's refusals. */
	for (uint64_t id = 1; id <= N; id++) {
		pbrpc_frame f = request(id, PBRPC_ECHO_ECHO_CHAT_METHOD, 0);
		pbrpc_frame_append_sealed(&b, &r.ch, &f, NULL, r.peer_max);
	}
	/* Returns once every excess call has its answer: then all the admitted
	 * ones are open at once. */
	int rc = pump(&r, pbrpc_buf_head(&b), pbrpc_buf_len(&b), count_frame, &t, &t.done);
	pbrpc_buf_consume(&b, pbrpc_buf_len(&b));
	long rss = 0, hwm = 0;
	if (rc == 0 && t.statuses != N - admitted)
		rc = bad("%u answers for %u calls over the limit", t.statuses, N - admitted);
	if (rc == 0)
		rc = rpcd_memory(&rss, &hwm);
	t.want = N;
	t.done = 0;
	/* Phase 2: one message with HALF_CLOSE on each open call. */
	for (uint64_t id = 1; rc == 0 && id <= N; id++) {
		if (t.seen[id - 1] & 2)
			continue; /* refused */
		pbrpc_frame m = {.call_id = id,
		                 .kind = PBRPC_FRAME_MESSAGE,
		                 .flags = PBRPC_FLAG_HAS_MESSAGE | PBRPC_FLAG_HALF_CLOSE};
		pbrpc_frame_append_sealed(&b, &r.ch, &m, &req.base, r.peer_max);
	}
	if (rc == 0)
		rc = pump(&r, pbrpc_buf_head(&b), pbrpc_buf_len(&b), count_frame, &t, &t.done);
	pbrpc_buf_free(&b);
	if (rc == 0 && (t.ok != admitted || t.exhausted != N - admitted || t.messages != admitted))
		rc = bad("%u OK (with %u replies), %u RESOURCE_EXHAUSTED; want %u, %u, %u", t.ok,
		         t.messages, t.exhausted, admitted, admitted, N - admitted);
	if (rc == 0)
		outcome("%u calls open at once (rpcd VmRSS %ld KiB then), each answered OK; %u "
		        "RESOURCE_EXHAUSTED; every call one STATUS; %lld ms",
		        admitted, rss, N - admitted, (long long)(now_ms() - t0));
	free(t.seen);
	raw_close(&r);
	return rc;
}

/* Clients that stream requests and never read the replies: rpcd stops
 * reading each at its high-water mark (its memory stays bounded), does not
 * disconnect them, and every reply is there once they read again. Some
 * stream into Echo.Chat, one pipelines unary Echo.Say calls. */
enum { BIG_MSG = 16 << 10, MAX_MSGS = 16384 /* 256 MiB: never reached */ };

typedef struct stalled {
	raw r;
	int unary;
	unsigned sent; /* whole records written */
	uint8_t *rec;  /* the record being written, rec_at bytes of it so far */
	size_t rec_len, rec_at;
	int stalled;
} stalled;

/* Writes one more piece; marks the stream stalled after 300 ms with no room. */
static int stalled_write(stalled *st, const ProtobufCMessage *msg)
{
	if (!st->rec) {
		pbrpc_frame f = {
		    .call_id = 1, .kind = PBRPC_FRAME_MESSAGE, .flags = PBRPC_FLAG_HAS_MESSAGE};
		if (st->unary)
			f = request(st->sent + 1, PBRPC_ECHO_ECHO_SAY_METHOD,
			            PBRPC_FLAG_HAS_MESSAGE);
		st->rec_len = seal_frame(&st->r, &f, msg, &st->rec);
		st->rec_at = 0;
	}
	struct pollfd pfd = {.fd = st->r.fd, .events = POLLOUT};
	if (poll(&pfd, 1, 300) != 1) {
		st->stalled = 1;
		return 0;
	}
	ssize_t w = send(st->r.fd, st->rec + st->rec_at, st->rec_len - st->rec_at,
	                 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && errno != EAGAIN && errno != EINTR)
		return bad("send: %s", strerror(errno));
	if (w > 0 && (st->rec_at += (size_t)w) == st->rec_len) {
		free(st->rec);
		st->rec = NULL;
		st->sent++;
	}
	return st->sent < MAX_MSGS ? 0
	                           : bad("rpcd read %u messages without pushing back", st->sent);
}

/* Reads again: the rest of the record in hand (and a HALF_CLOSE), then every reply. */
static int stalled_drain(stalled *st)
{
	pbrpc_buf tail;
	pbrpc_buf_init(&tail, (size_t)PBRPC_MAX_MAX_RECORD + 128);
	if (st->rec) {
		pbrpc_buf_append(&tail, st->rec + st->rec_at, st->rec_len - st->rec_at);
		free(st->rec);
		st->rec = NULL;
		st->sent++;
	}
	unsigned calls = st->unary ? st->sent : 1;
	if (!st->unary) {
		pbrpc_frame hc = {.call_id = 1, .kind = PBRPC_FRAME_HALF_CLOSE};
		pbrpc_frame_append_sealed(&tail, &st->r.ch, &hc, NULL, st->r.peer_max);
	}
	tally t = {.n = calls, .seen = calloc(calls, 1), .want = calls};
	int rc =
	    pump(&st->r, pbrpc_buf_head(&tail), pbrpc_buf_len(&tail), count_frame, &t, &t.done);
	unsigned replies = st->unary ? t.ok : t.messages;
	if (rc == 0 && (replies != st->sent || t.ok != calls))
		rc = bad("%u replies to %u messages, %u OK", replies, st->sent, t.ok);
	pbrpc_buf_free(&tail);
	free(t.seen);
	return rc;
}

/* chats streams into Echo.Chat and unaries pipelines of Echo.Say, none read. */
static int never_read(int chats, int unaries)
{
	/* Generous: per stream ~9 MiB output cap + 4 MiB input. Under ASan its
	 * quarantine keeps freed memory: hostile.sh passes a looser bound. */
	const char *env = getenv("HOSTILE_MEM_BOUND_KB");
	const long bound_kb = env ? atol(env) : 64 << 10;
	const int STREAMS = chats + unaries - 1; /* the last index */
	off_t from = log_size();
	stalled st[8];
	if (chats + unaries > 8)
		return bad("at most 8 streams");
	memset(st, 0, sizeof st);
	int rc = 0;
	long rss0, hwm0, rss1 = 0, hwm1 = 0;
	char *text = malloc(BIG_MSG + 1);
	memset(text, 'b', BIG_MSG);
	text[BIG_MSG] = '\0';
	Pbrpc__Echo__EchoRequest req = echo_req(text);
	int opened = 0;
	for (; rc == 0 && opened < STREAMS + 1; opened++) {
		if (raw_open(&st[opened].r) != 0) {
			rc = -1;
			break;
		}
		st[opened].unary = opened >= chats;
		pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_CHAT_METHOD, 0);
		if (!st[opened].unary)
			rc = send_frame(&st[opened].r, &f, NULL);
	}
	if (rc == 0)
		rc = rpcd_memory(&rss0, &hwm0);
	/* Write round-robin until every stream is stalled. */
	for (int left = STREAMS + 1; rc == 0 && left > 0;) {
		left = 0;
		for (int i = 0; rc == 0 && i <= STREAMS; i++) {
			if (st[i].stalled)
				continue;
			rc = stalled_write(&st[i], &req.base);
			left += !st[i].stalled;
		}
	}
	if (rc == 0)
		rc = rpcd_memory(&rss1, &hwm1);
	if (rc == 0 && (hwm1 - hwm0 > bound_kb || rss1 - rss0 > bound_kb))
		rc = bad("rpcd grew by VmRSS %ld KiB, VmHWM %ld KiB (bound %ld KiB)", rss1 - rss0,
		         hwm1 - hwm0, bound_kb);
	unsigned total = 0;
	for (int i = 0; i <= STREAMS; i++)
		total += st[i].sent;
	if (rc == 0)
		outcome("%d chat stream(s) + %d unary pipeline(s) stalled after %u x 16 KiB sent "
		        "(%u MiB), none read; rpcd VmRSS %ld -> %ld KiB, VmHWM %ld -> %ld KiB",
		        chats, unaries, total, total / 64, rss0, rss1, hwm0, hwm1);
	for (int i = 0; rc == 0 && i <= STREAMS; i++)
		rc = stalled_drain(&st[i]);
	if (rc == 0)
		outcome("then every reply and OK; none disconnected");
	for (int i = 0; i < opened; i++) {
		free(st[i].rec);
		raw_close(&st[i].r);
	}
	free(text);
	char found[1024];
	if (log_wait_within(from, "output buffer full|input buffer full", found, sizeof found,
	                    ABSENT_MS)) {
		g_why[0] = '\0';
		rc = bad("rpcd disconnected a client that does not read: '%s'", found);
	}
	return rc;
}

static int case_stream_never_reads(void)
{
	return never_read(4, 0);
}

static int case_unary_pipeline_never_reads(void)
{
	return never_read(0, 1);
}

/* ---- crypto misuse ----------------------------------------------------------------- */

static int case_wrong_key_library(void)
{
	off_t from = log_size();
	uint8_t other[PBRPC_KEY_BYTES];
	randombytes_buf(other, sizeof other);
	pbrpc_error err = {0};
	pbrpc_client *c = library_connect(other, &err);
	if (c) {
		pbrpc_client_close(c);
		return bad("connected with the wrong key");
	}
	if (err.code != PBRPC_UNAUTHENTICATED || !strstr(err.message, "authentication failed"))
		return bad("'%s' (%s), want UNAUTHENTICATED", err.message,
		           pbrpc_status_name(err.code));
	outcome("client: '%s' (%s), sends no proof", err.message, pbrpc_status_name(err.code));
	return one_close_line(from, "closed: disconnected during handshake");
}

/* Runs the client side of a handshake up to the server's proof; on return
 * hs holds the keys derived from what the client saw. */
static int hs_until_server_proof(raw *r, pbrpc_handshake *hs, const uint8_t *rec1, size_t n)
{
	if (raw_send(r, rec1, n) != 0)
		return -1;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	uint32_t len;
	int rc = 0;
	for (int i = 0; rc == 0 && i < 2; i++) {
		if (raw_record(r, &len) != 1)
			rc = bad("no record %d from the server", i + 2);
		else
			pbrpc_handshake_recv(hs, r->rec, PBRPC_RECORD_HEADER + len, &out);
	}
	pbrpc_buf_free(&out);
	return rc;
}

/* The client proof a client would send for what it saw (hs), whatever the
 * server proof was: 0a 20 || HMAC(client_proof_key, th). */
static void forge_client_proof(const pbrpc_handshake *hs, uint8_t rec4[38])
{
	pbrpc_put_be32(rec4, 34);
	rec4[4] = 0x0a;
	rec4[5] = 0x20;
	crypto_auth(rec4 + 6, hs->th, sizeof hs->th, hs->client_proof_key);
}

/* A client with another key that sends its proof anyway. */
static int case_wrong_key_proof(void)
{
	off_t from = log_size();
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	uint8_t other[PBRPC_KEY_BYTES];
	randombytes_buf(other, sizeof other);
	pbrpc_handshake hs;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	pbrpc_handshake_init(&hs, 0, other, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_handshake_client_hello(&hs, &out);
	int rc = hs_until_server_proof(&r, &hs, pbrpc_buf_head(&out), pbrpc_buf_len(&out));
	pbrpc_buf_free(&out);
	if (rc == 0 && !strstr(hs.error, "authentication failed"))
		rc = bad("the client accepted the server's proof under another key");
	uint8_t rec4[38];
	forge_client_proof(&hs, rec4);
	pbrpc_handshake_wipe(&hs);
	if (rc == 0)
		raw_send(&r, rec4, sizeof rec4);
	if (rc == 0)
		rc = expect_closed(&r, "a proof under another key");
	raw_close(&r);
	return rc ? rc : one_close_line(from, "handshake failed: client did not prove the key");
}

/* Connection A's client records (1 and 4) replayed word for word on B, as an
 * eavesdropper would: B's server has a fresh key pair, so A's proof fails. */
static int case_proof_replayed_from_another_connection(void)
{
	uint8_t rec1[PBRPC_RECORD_HEADER + PBRPC_HANDSHAKE_MAX_RECORD], rec4[38];
	size_t rec1_len = 0;
	raw a, b;
	if (raw_connect(&a) != 0)
		return -1;
	int rc = raw_handshake(&a, g_key, rec1, &rec1_len, rec4);
	raw_close(&a);
	if (rc != 0)
		return rc;
	off_t from = log_size();
	if (raw_connect(&b) != 0)
		return -1;
	uint32_t len;
	raw_send(&b, rec1, rec1_len);
	if (raw_record(&b, &len) != 1 || raw_record(&b, &len) != 1)
		rc = bad("no ServerHello and proof on B");
	if (rc == 0)
		raw_send(&b, rec4, sizeof rec4);
	if (rc == 0)
		rc = expect_closed(&b, "a replayed proof");
	raw_close(&b);
	return rc ? rc : one_close_line(from, "handshake failed: client did not prove the key");
}

/* The other way round: the server's proof of connection A shown to the
 * client of connection B. The client (the library's handshake code) refuses. */
static int case_server_proof_from_another_connection(void)
{
	off_t from = log_size();
	raw a, b;
	pbrpc_handshake ha, hb;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	if (raw_connect(&a) != 0 || raw_connect(&b) != 0)
		return -1;
	pbrpc_handshake_init(&ha, 0, g_key, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_handshake_init(&hb, 0, g_key, PBRPC_DEFAULT_MAX_RECORD);
	pbrpc_handshake_client_hello(&ha, &out);
	raw_send(&a, pbrpc_buf_head(&out), pbrpc_buf_len(&out));
	pbrpc_buf_consume(&out, pbrpc_buf_len(&out));
	pbrpc_handshake_client_hello(&hb, &out);
	raw_send(&b, pbrpc_buf_head(&out), pbrpc_buf_len(&out));
	pbrpc_buf_consume(&out, pbrpc_buf_len(&out));
	uint32_t la, lb;
	int rc = 0;
	uint8_t a_proof[38];
	if (raw_record(&a, &la) != 1 || raw_record(&a, &la) != 1 || la != 34)
		rc = bad("no proof on A");
	else
		memcpy(a_proof, a.rec, sizeof a_proof);
	if (rc == 0 && raw_record(&b, &lb) == 1 &&
	    pbrpc_handshake_recv(&hb, b.rec, PBRPC_RECORD_HEADER + lb, &out) == PBRPC_HS_CONTINUE) {
		if (pbrpc_handshake_recv(&hb, a_proof, sizeof a_proof, &out) != PBRPC_HS_FAILED)
			rc = bad("the client took the server proof of another connection");
		else if (!strstr(hb.error, "authentication failed"))
			rc = bad("client: '%s'", hb.error);
		else
			outcome("client: '%s' (%s)", hb.error, pbrpc_status_name(hb.status));
	} else if (rc == 0) {
		rc = bad("no ServerHello on B");
	}
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&ha);
	pbrpc_handshake_wipe(&hb);
	raw_close(&a);
	raw_close(&b);
	char found[1024];
	if (rc == 0 &&
	    !log_wait(from, "closed: disconnected during handshake", found, sizeof found))
		rc = bad("rpcd logged no close");
	if (rc == 0)
		outcome("log '%s' (for each)", found);
	return rc;
}

/* A sealed record of connection A sent on connection B (both at counter 0). */
static int case_record_from_another_connection(void)
{
	raw a, b;
	if (raw_open(&a) != 0)
		return -1;
	if (raw_open(&b) != 0) {
		raw_close(&a);
		return -1;
	}
	off_t from = log_size();
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("hi");
	uint8_t *rec;
	size_t n = seal_frame(&a, &f, &req.base, &rec);
	raw_send(&b, rec, n);
	free(rec);
	int rc = expect_closed(&b, "a record of another connection");
	raw_close(&a);
	raw_close(&b);
	return rc ? rc : one_close_line(from, "closed: record failed authentication");
}

/* Two sealed records of one connection, in the wrong order or one missing. */
static int out_of_order(int drop_first)
{
	off_t from = log_size();
	raw r;
	if (raw_open(&r) != 0)
		return -1;
	pbrpc_frame f1 = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	pbrpc_frame f2 = request(2, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	Pbrpc__Echo__EchoRequest req = echo_req("order");
	uint8_t *r1, *r2;
	size_t n1 = seal_frame(&r, &f1, &req.base, &r1), n2 = seal_frame(&r, &f2, &req.base, &r2);
	raw_send(&r, r2, n2);
	if (!drop_first)
		raw_send(&r, r1, n1);
	free(r1);
	free(r2);
	pbrpc_frame st;
	int rc = 0;
	int got = recv_frame(&r, &st);
	g_why[0] = '\0';
	if (got == 1)
		rc = bad("an out-of-order record got an answer");
	if (rc == 0)
		outcome("no answer to either; closed");
	raw_close(&r);
	return rc ? rc : one_close_line(from, "closed: record failed authentication");
}

static int case_records_reordered(void)
{
	return out_of_order(0);
}

static int case_record_dropped(void)
{
	return out_of_order(1);
}

static int count_flip_line(const char *line, void *arg)
{
	unsigned *n = arg;
	*n += strstr(line, "closed: record failed authentication") != NULL ||
	      strstr(line, "closed: bad record length") != NULL;
	return 0;
}

/* Every bit of one sealed record flipped in turn, each on a connection of its
 * own: every one ends that connection with one line saying why. A flip in the
 * length header that asks for more bytes gets them (zeros), so the server
 * always has a whole record to judge. */
static int case_every_bit_flipped(void)
{
	Pbrpc__Echo__EchoRequest req = echo_req("hi");
	pbrpc_frame f = request(1, PBRPC_ECHO_ECHO_SAY_METHOD, PBRPC_FLAG_HAS_MESSAGE);
	size_t bits = 0, auth = 0, length = 0;
	int rc = 0;
	off_t start = log_size();
	g_settle_ms = 0; /* checked once for all at the end instead */
	for (size_t bit = 0; rc == 0; bit++) {
		off_t from = log_size();
		raw r;
		if (raw_open(&r) != 0)
			return -1;
		uint8_t *rec;
		size_t n = seal_frame(&r, &f, &req.base, &rec);
		if (bits == 0)
			bits = n * 8;
		rec[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		uint32_t claimed = pbrpc_get_be32(rec);
		const char *want = "closed: record failed authentication";
		size_t pad = 0;
		if (claimed == 0 || claimed > PBRPC_DEFAULT_MAX_RECORD)
			want = "closed: bad record length";
		else if (claimed > n - PBRPC_RECORD_HEADER)
			pad = claimed - (n - PBRPC_RECORD_HEADER);
		raw_send(&r, rec, n);
		free(rec);
		if (pad) {
			uint8_t *zeros = calloc(1, pad);
			raw_send(&r, zeros, pad);
			free(zeros);
		}
		rc = expect_closed(&r, "a flipped bit");
		raw_close(&r);
		g_outcome[0] = '\0';
		if (rc == 0)
			rc = one_close_line(from, want);
		if (rc != 0) {
			char why[sizeof g_why];
			snprintf(why, sizeof why, "%s", g_why);
			g_why[0] = '\0';
			rc = bad("bit %zu: %s", bit, why);
		}
		if (strstr(want, "length"))
			length++;
		else
			auth++;
		if (bit + 1 == bits)
			break;
		if (bit % 64 == 63 && (rc = echo_ok()) != 0)
			break;
	}
	g_settle_ms = 30;
	g_outcome[0] = '\0';
	usleep(100000);
	unsigned lines = 0;
	log_scan(start, count_flip_line, &lines);
	if (rc == 0 && lines != bits)
		rc = bad("%u closing lines for %zu flipped records", lines, bits);
	if (rc == 0)
		outcome("%zu of %zu flips closed with one line each: %zu 'record failed "
		        "authentication', "
		        "%zu 'bad record length'",
		        auth + length, bits, auth, length);
	return rc;
}

/* Builds a ClientHello record for hs's key pair with the given version and
 * suites, and makes it the first record of hs's transcript (as if hs had
 * sent it). */
static size_t client_hello_record(pbrpc_handshake *hs, uint32_t version, const int *suites,
                                  size_t n_suites, uint8_t *rec, int into_transcript)
{
	Pbrpc__Wire__ClientHello hello = PBRPC__WIRE__CLIENT_HELLO__INIT;
	Pbrpc__Wire__Suite s[8];
	for (size_t i = 0; i < n_suites; i++)
		s[i] = (Pbrpc__Wire__Suite)suites[i];
	hello.version = version;
	hello.suites = s;
	hello.n_suites = n_suites;
	hello.ephemeral_pk.data = hs->pk;
	hello.ephemeral_pk.len = sizeof hs->pk;
	hello.max_record = hs->max_record;
	hello.software = "fault_hostile";
	size_t len = protobuf_c_message_pack(&hello.base, rec + PBRPC_RECORD_HEADER);
	pbrpc_put_be32(rec, (uint32_t)len);
	if (into_transcript) {
		crypto_generichash_init(&hs->transcript, NULL, 0, 32);
		crypto_generichash_update(&hs->transcript, rec, PBRPC_RECORD_HEADER + len);
		memcpy(hs->client_pk, hs->pk, 32);
	}
	return PBRPC_RECORD_HEADER + len;
}

/* An offer the server cannot take: it refuses with a ServerHello saying why. */
static int refused_offer(uint32_t version, const int *suites, size_t n_suites, const char *want)
{
	off_t from = log_size();
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	pbrpc_handshake hs;
	pbrpc_handshake_init(&hs, 0, g_key, PBRPC_DEFAULT_MAX_RECORD);
	uint8_t rec[256];
	size_t n = client_hello_record(&hs, version, suites, n_suites, rec, 1);
	raw_send(&r, rec, n);
	uint32_t len;
	int rc = 0;
	if (raw_record(&r, &len) != 1) {
		rc = bad("no refusal");
	} else {
		pbrpc_buf out;
		pbrpc_buf_init(&out, 1 << 16);
		int step = pbrpc_handshake_recv(&hs, r.rec, PBRPC_RECORD_HEADER + len, &out);
		pbrpc_buf_free(&out);
		if (step != PBRPC_HS_FAILED || !strstr(hs.error, want))
			rc = bad("client: '%s', want a refusal '%s'", hs.error, want);
		else
			outcome("refusal ServerHello; client: '%s' (%s)", hs.error,
			        pbrpc_status_name(hs.status));
	}
	pbrpc_handshake_wipe(&hs);
	if (rc == 0)
		rc = expect_closed(&r, "a refusal");
	raw_close(&r);
	char line[80];
	snprintf(line, sizeof line, "handshake failed: %s", want);
	return rc ? rc : one_close_line(from, line);
}

static int case_offer_older_version(void)
{
	static const int suites[] = {1};
	return refused_offer(0, suites, 1, "unsupported protocol version");
}

static int case_offer_newer_version(void)
{
	static const int suites[] = {2, 1};
	return refused_offer(3, suites, 2, "unsupported protocol version");
}

static int case_offer_unknown_suites_only(void)
{
	static const int suites[] = {0, 7, 99};
	return refused_offer(1, suites, 3, "no common AEAD suite");
}

static int case_offer_no_suite(void)
{
	return refused_offer(1, NULL, 0, "no common AEAD suite");
}

/* A man in the middle rewrites the honest client's offer [AES-256-GCM,
 * ChaCha20-Poly1305] to [ChaCha20-Poly1305] (or changes the server's
 * max_record on the way back). Both sides then hash different hellos: the
 * client rejects the server's proof, and a client that did not check would
 * still have its own proof rejected by the server. */
static int mitm(int strip_offer, int client_checks)
{
	static const int honest[] = {2, 1}, stripped[] = {1};
	off_t from = log_size();
	raw r;
	if (raw_connect(&r) != 0)
		return -1;
	pbrpc_handshake hs;
	pbrpc_handshake_init(&hs, 0, g_key, PBRPC_DEFAULT_MAX_RECORD);
	uint8_t sent[256], seen[256];
	client_hello_record(&hs, 1, honest, 2, seen, 1); /* what the client hashes */
	size_t n = strip_offer ? client_hello_record(&hs, 1, stripped, 1, sent, 0)
	                       : client_hello_record(&hs, 1, honest, 2, sent, 0);
	raw_send(&r, sent, n);
	uint32_t len;
	int rc = 0;
	pbrpc_buf out;
	pbrpc_buf_init(&out, 1 << 16);
	if (raw_record(&r, &len) != 1) {
		rc = bad("no ServerHello");
	} else {
		uint8_t *rec2 = r.rec;
		if (!strip_offer) {
			/* ServerHello field 4 (max_record) is a varint after tag 0x20. */
			uint8_t *p = memchr(rec2 + PBRPC_RECORD_HEADER + 2 + 2 + 34, 0x20,
			                    len - (2 + 2 + 34));
			if (!p)
				rc = bad("no max_record in the ServerHello");
			else
				p[1] ^= 0x01; /* 4194304 -> 4194305: still a valid value */
		}
		if (rc == 0 && pbrpc_handshake_recv(&hs, rec2, PBRPC_RECORD_HEADER + len, &out) !=
		                   PBRPC_HS_CONTINUE)
			rc = bad("the client refused the ServerHello: %s", hs.error);
	}
	if (rc == 0 && raw_record(&r, &len) != 1)
		rc = bad("no server proof");
	int step = rc ? 0 : pbrpc_handshake_recv(&hs, r.rec, PBRPC_RECORD_HEADER + len, &out);
	if (rc == 0 && (step != PBRPC_HS_FAILED || !strstr(hs.error, "authentication failed")))
		rc = bad("the client accepted a proof over a tampered transcript");
	if (rc == 0)
		outcome("client: '%s' (%s)", hs.error, pbrpc_status_name(hs.status));
	pbrpc_buf_free(&out);
	const char *want = "closed: disconnected during handshake";
	if (rc == 0 && !client_checks) {
		uint8_t rec4[38];
		forge_client_proof(&hs, rec4);
		raw_send(&r, rec4, sizeof rec4);
		rc = expect_closed(&r, "a proof over a tampered transcript");
		want = "handshake failed: client did not prove the key";
	}
	pbrpc_handshake_wipe(&hs);
	raw_close(&r);
	return rc ? rc : one_close_line(from, want);
}

static int case_mitm_strips_aes_offer(void)
{
	return mitm(1, 1);
}

static int case_mitm_strips_aes_offer_unchecking_client(void)
{
	return mitm(1, 0);
}

static int case_mitm_changes_server_max_record(void)
{
	return mitm(0, 1);
}

typedef struct hostile_case {
	const char *name;
	int (*run)(void);
} hostile_case;

static const hostile_case cases[] = {
    {"zero length after the handshake", case_zero_length_sealed},
    {"sealed record shorter than its tag", case_sealed_shorter_than_tag},
    {"valid length around garbage (first record)", case_garbage_first_record},
    {"valid length around garbage (1024 bytes, the handshake cap)", case_garbage_at_handshake_cap},
    {"valid length around garbage (sealed)", case_garbage_sealed_record},
    {"half a handshake (ClientHello, no proof) then silence", case_half_handshake_then_silence},
    {"one byte every second", case_byte_every_second},
    {"flood of idle sockets past --max-connections", case_idle_flood},
    {"calls that never half-close", case_calls_never_half_closed},
    {"streams that never read their replies", case_stream_never_reads},
    {"unary calls pipelined, replies never read", case_unary_pipeline_never_reads},
    {"10000 calls in flight on one connection", case_ten_thousand_in_flight},
    {"wrong key (library client)", case_wrong_key_library},
    {"wrong key, proof sent anyway", case_wrong_key_proof},
    {"client proof replayed from another connection", case_proof_replayed_from_another_connection},
    {"server proof from another connection", case_server_proof_from_another_connection},
    {"sealed record replayed from another connection", case_record_from_another_connection},
    {"sealed records reordered", case_records_reordered},
    {"sealed record dropped", case_record_dropped},
    {"every bit of one sealed record flipped", case_every_bit_flipped},
    {"ClientHello offering version 0", case_offer_older_version},
    {"ClientHello offering version 3", case_offer_newer_version},
    {"ClientHello offering only unknown suites", case_offer_unknown_suites_only},
    {"ClientHello offering no suite", case_offer_no_suite},
    {"MITM strips the AES-GCM offer", case_mitm_strips_aes_offer},
    {"MITM strips the AES-GCM offer, client skips its check",
     case_mitm_strips_aes_offer_unchecking_client},
    {"MITM changes the server's max_record", case_mitm_changes_server_max_record},
};

int main(int argc, char **argv)
{
	if (argc != 8) {
		/* tests/run.sh runs every fault_* program bare: nothing to do alone. */
		printf("fault_hostile runs from tests/integration/hostile.sh (usage: fault_hostile "
		       "ADDR KEYFILE LOGFILE PID MAXCALLS MAXCONNS HANDSHAKE_MS)\n");
		return argc == 1 ? 0 : 2;
	}
	g_log = argv[3];
	g_pid = atoi(argv[4]);
	g_max_calls = (unsigned)atoi(argv[5]);
	g_max_conns = (unsigned)atoi(argv[6]);
	g_handshake_ms = (unsigned)atoi(argv[7]);
	const char *only = getenv("HOSTILE_ONLY"); /* a substring of case names, by hand */
	raw_peer_ctx peer = {
	    .addr = argv[1], .log = g_log, .key = g_key, .why = g_why, .why_size = sizeof g_why};
	if (raw_peer_setup(&peer, argv[2], g_key) != 0)
		return 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const hostile_case *c = &cases[i];
		if (only && !strstr(c->name, only))
			continue;
		g_why[0] = g_outcome[0] = '\0';
		int64_t t0 = now_ms();
		int rc = c->run();
		if (rc == 0)
			rc = echo_ok();
		if (rc == 0) {
			printf("PASS %s (%lld ms)\n", c->name, (long long)(now_ms() - t0));
			printf("  outcome: %s; rpcd still serving\n", g_outcome);
		} else {
			printf("FAIL %s: %s\n", c->name, g_why[0] ? g_why : "failed");
			g_failed = 1;
		}
		fflush(stdout);
	}
	sodium_memzero(g_key, sizeof g_key);
	return g_failed;
}
