/* server.c - the server: loop, listeners, services and their routes,
 * signals, graceful stop, and log lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "record.h"
#include "reflection.h"
#include "runtime.h"

#define SCRATCH_SIZE (256u << 10)

void pbrpc_server_options_init(pbrpc_server_options *o)
{
	memset(o, 0, sizeof *o);
	o->log_level = PBRPC_LOG_INFO;
}

static void default_log(void *data, int level, const char *line)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	struct timespec ts;
	struct tm tm;
	char when[32];
	(void)data;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%d] %s: %s\n", when, ts.tv_nsec / 1000000,
	        program_invocation_short_name, (int)getpid(), names[level & 3], line);
}

void pbrpc_server_log(pbrpc_server *s, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > s->opt.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->opt.log(s->opt.log_data, level, line);
}

/* Says how many lines each limit held back. */
static void flush_log_limits(pbrpc_server *s)
{
	for (int i = 0; i < PBRPC_LOG_LIMITS; i++) {
		pbrpc_log_limit *l = &s->log_limits[i];
		if (l->suppressed)
			pbrpc_server_log(s, l->level, "%u similar lines suppressed", l->suppressed);
		l->suppressed = 0;
	}
}

static void on_log_timer(uv_timer_t *t)
{
	flush_log_limits(t->data);
}

void pbrpc_server_log_limited(pbrpc_server *s, int level, const char *why, const char *fmt, ...)
{
	if (level > s->opt.log_level)
		return;
	uint64_t key = (uint64_t)(uintptr_t)fmt * 1099511628211u;
	for (const char *p = why ? why : ""; *p; p++)
		key = (key ^ (unsigned char)*p) * 1099511628211u;
	uint64_t now = uv_now(s->loop), second = now / 1000;
	pbrpc_log_limit *l = NULL, *oldest = &s->log_limits[0];
	for (int i = 0; i < PBRPC_LOG_LIMITS && !l; i++) {
		if (s->log_limits[i].key == key)
			l = &s->log_limits[i];
		else if (s->log_limits[i].second < oldest->second)
			oldest = &s->log_limits[i];
	}
	if (!l) {
		l = oldest;
		if (l->suppressed)
			pbrpc_server_log(s, l->level, "%u similar lines suppressed", l->suppressed);
		*l = (pbrpc_log_limit){.key = key, .second = second, .level = level};
	}
	if (l->second != second) {
		if (l->suppressed)
			pbrpc_server_log(s, level, "%u similar lines suppressed", l->suppressed);
		l->second = second;
		l->lines = l->suppressed = 0;
	}
	if (l->lines >= PBRPC_LOG_LINES_PER_SEC) {
		/* The count is said when this second ends, even if no line follows. */
		if (l->suppressed++ == 0 && !uv_is_closing((uv_handle_t *)&s->log_timer))
			uv_timer_start(&s->log_timer, on_log_timer, 1000 - now % 1000, 0);
		return;
	}
	l->lines++;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->opt.log(s->opt.log_data, level, line);
}

static void on_stop_async(uv_async_t *async);

pbrpc_server *pbrpc_server_new(const uint8_t key[PBRPC_KEY_BYTES], const pbrpc_server_options *opts,
                               pbrpc_error *err)
{
	if (sodium_init() < 0) {
		pbrpc_error_set(err, PBRPC_INTERNAL, "libsodium failed to initialise");
		return NULL;
	}
	pbrpc_server *s = calloc(1, sizeof *s);
	if (!s) {
		pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	if (opts)
		s->opt = *opts;
	else
		pbrpc_server_options_init(&s->opt);
	if (!s->opt.max_record)
		s->opt.max_record = PBRPC_DEFAULT_MAX_RECORD;
	if (s->opt.max_record < PBRPC_MIN_MAX_RECORD || s->opt.max_record > PBRPC_MAX_MAX_RECORD) {
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "max_record must be %u..%u bytes",
		                PBRPC_MIN_MAX_RECORD, PBRPC_MAX_MAX_RECORD);
		free(s);
		return NULL;
	}
	if (!s->opt.max_connections)
		s->opt.max_connections = 1024;
	if (!s->opt.max_calls)
		s->opt.max_calls = 128;
	if (!s->opt.handshake_timeout_ms)
		s->opt.handshake_timeout_ms = 10000;
	if (!s->opt.grace_ms)
		s->opt.grace_ms = 5000;
	if (!s->opt.max_output)
		s->opt.max_output = 1u << 20;
	if (!s->opt.max_unauthenticated) /* by default the connection limit says it */
		s->opt.max_unauthenticated = s->opt.max_connections;
	if (!s->opt.max_unauthenticated_per_source)
		s->opt.max_unauthenticated_per_source = 32;
	if (!s->opt.penalty_failures)
		s->opt.penalty_failures = 64;
	if (!s->opt.penalty_window_ms)
		s->opt.penalty_window_ms = 10000;
	if (!s->opt.penalty_ms)
		s->opt.penalty_ms = 10000;
	if (!s->opt.log)
		s->opt.log = default_log;
	const char *bad =
	    !key && !s->opt.host_key ? "neither a shared key nor a host key given"
	    : s->opt.host_key && !s->opt.authorize
	        ? "a host key needs an authorize callback (which client keys to accept)"
	        : NULL;
	if (bad) {
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "%s", bad);
		free(s);
		return NULL;
	}
	if (key) {
		memcpy(s->key, key, PBRPC_KEY_BYTES);
		s->has_key = 1;
	}
	if (s->opt.host_key) {
		memcpy(s->host_key, s->opt.host_key, 32);
		s->has_host_key = 1;
		s->opt.host_key = NULL; /* the caller's memory; we keep our copy */
	}

	if (s->opt.loop) {
		s->loop = s->opt.loop;
	} else {
		uv_loop_init(&s->own_loop);
		s->loop = &s->own_loop;
	}
	s->scratch_size = SCRATCH_SIZE;
	s->scratch = malloc(s->scratch_size);
	uv_async_init(s->loop, &s->stop_async, on_stop_async);
	s->stop_async.data = s;
	uv_timer_init(s->loop, &s->grace_timer);
	s->grace_timer.data = s;
	uv_unref((uv_handle_t *)&s->grace_timer);
	uv_timer_init(s->loop, &s->log_timer);
	s->log_timer.data = s;
	uv_unref((uv_handle_t *)&s->log_timer);
	uv_idle_init(s->loop, &s->drain_idle);
	s->drain_idle.data = s;
	if (!s->scratch || pbrpc_reflection_register(s, err) != PBRPC_OK) {
		if (!s->scratch)
			pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		pbrpc_server_free(s);
		return NULL;
	}
	return s;
}

static uint64_t name_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
	return h;
}

/* Rebuilds the route table so that lookups stay one probe on average. */
static int rebuild_routes(pbrpc_server *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_services; i++)
		n += s->services[i]->desc->n_methods;
	size_t size = 16;
	while (size < n * 2)
		size *= 2;
	pbrpc_route *routes = calloc(size, sizeof *routes);
	if (!routes)
		return -1;
	for (size_t i = 0; i < s->n_services; i++) {
		const pbrpc_service_entry *e = s->services[i];
		for (size_t m = 0; m < e->desc->n_methods; m++) {
			const pbrpc_method_desc *md = &e->desc->methods[m];
			size_t at = name_hash(md->full_name, strlen(md->full_name)) & (size - 1);
			while (routes[at].method)
				at = (at + 1) & (size - 1);
			routes[at].method = md;
			routes[at].service = e;
		}
	}
	free(s->routes);
	s->routes = routes;
	s->routes_size = size;
	return 0;
}

const pbrpc_route *pbrpc_server_route(const pbrpc_server *s, const char *name, size_t len)
{
	if (!s->routes)
		return NULL;
	size_t at = name_hash(name, len) & (s->routes_size - 1);
	for (; s->routes[at].method; at = (at + 1) & (s->routes_size - 1)) {
		/* name comes from the wire: it may hold NULs, so compare lengths first */
		const char *full = s->routes[at].method->full_name;
		if (strnlen(full, len + 1) == len && memcmp(full, name, len) == 0)
			return &s->routes[at];
	}
	return NULL;
}

pbrpc_status pbrpc_server_add_service(pbrpc_server *s, const pbrpc_service_desc *desc,
                                      const void *handlers, void *service_data, pbrpc_error *err)
{
	for (size_t m = 0; m < desc->n_methods; m++) {
		const char *name = desc->methods[m].full_name;
		if (pbrpc_server_route(s, name, strlen(name)))
			return pbrpc_error_set(err, PBRPC_ALREADY_EXISTS,
			                       "method %s is already served", name);
	}
	pbrpc_service_entry *e = calloc(1, sizeof *e);
	pbrpc_service_entry **list = realloc(s->services, (s->n_services + 1) * sizeof *list);
	if (!e || !list) {
		free(e);
		if (list)
			s->services = list;
		return pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	e->desc = desc;
	e->handlers = handlers;
	e->data = service_data;
	s->services = list;
	s->services[s->n_services++] = e;
	if (rebuild_routes(s) != 0) {
		s->n_services--;
		free(e);
		return pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	return PBRPC_OK;
}

size_t pbrpc_server_service_count(const pbrpc_server *s)
{
	return s->n_services;
}

const pbrpc_service_desc *pbrpc_server_service(const pbrpc_server *s, size_t n)
{
	return n < s->n_services ? s->services[n]->desc : NULL;
}

/* ---- the connection limit -------------------------------------------------
 * A connection over max_connections is told why before it is closed: a
 * refusal ServerHello "too many connections", which the client library
 * reports as RESOURCE_EXHAUSTED (docs/protocol.md, 3.6 and 8). The socket
 * then lingers until the client's first bytes (its ClientHello) or EOF
 * arrive, at most REFUSAL_LINGER_MS: closing it while the ClientHello is
 * still on its way would reset the connection (or, on a Unix socket, fail
 * the client's write) before the client reads the refusal. At most
 * MAX_LINGERING_REFUSALS per listener linger at once; beyond that a
 * refusal is written and the socket closed at once. */
#define REFUSAL_LINGER_MS      500
#define MAX_LINGERING_REFUSALS 64

/* A listener and the refusals still lingering on it; freed when both the
 * listener is closed and its last refusal is gone. */
typedef struct listener_entry {
	pbrpc_listener l; /* first: h.handle.data points at both */
	unsigned lingering;
	int closed;
	int spare_fd;      /* lent to libuv if it loses its own (see lend_spare) */
	time_t shed_noted; /* when the last "shed" line was logged */
} listener_entry;

typedef struct refusal {
	pbrpc_uv_stream h;
	uv_timer_t timer;
	listener_entry *listener;
	int handles_open;
	char sink[256]; /* whatever the client sends is read and dropped */
} refusal;

static void free_listener(uv_handle_t *h)
{
	listener_entry *e = h->data;
	e->closed = 1;
	if (e->spare_fd >= 0)
		close(e->spare_fd);
	e->spare_fd = -1;
	if (e->lingering == 0)
		free(e);
}

static void on_refusal_closed(uv_handle_t *h)
{
	refusal *r = h->data;
	if (--r->handles_open > 0)
		return;
	if (r->listener) {
		listener_entry *e = r->listener;
		if (--e->lingering == 0 && e->closed)
			free(e);
	}
	free(r);
}

static void refusal_close(refusal *r)
{
	if (!uv_is_closing(&r->h.handle))
		uv_close(&r->h.handle, on_refusal_closed);
	if (!uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, on_refusal_closed);
}

static void on_refusal_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	refusal *r = h->data;
	(void)suggested;
	*buf = uv_buf_init(r->sink, sizeof r->sink);
}

/* The client's ClientHello (or EOF, or an error): nothing more to wait for. */
static void on_refusal_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	if (nread != 0)
		refusal_close(stream->data);
}

static void on_refusal_timer(uv_timer_t *t)
{
	refusal_close(t->data);
}

static void refuse_connection(pbrpc_server *s, listener_entry *e, uv_stream_t *listener)
{
	refusal *r = calloc(1, sizeof *r);
	int rc = UV_ENOMEM;
	if (!r)
		goto fail;
	if (listener->type == UV_TCP)
		rc = uv_tcp_init(s->loop, &r->h.tcp);
	else
		rc = uv_pipe_init(s->loop, &r->h.pipe, 0);
	if (rc != 0)
		goto fail;
	r->h.handle.data = r;
	uv_timer_init(s->loop, &r->timer);
	r->timer.data = r;
	r->handles_open = 2;
	if ((rc = uv_accept(listener, &r->h.stream)) != 0) {
		pbrpc_server_log(s, PBRPC_LOG_WARN, "accept: %s", uv_strerror(rc));
		refusal_close(r);
		return;
	}
	char peer[72] = "unix";
	if (listener->type == UV_TCP) {
		struct sockaddr_storage sa;
		int len = sizeof sa;
		if (uv_tcp_getpeername(&r->h.tcp, (struct sockaddr *)&sa, &len) == 0)
			pbrpc_address_format((struct sockaddr *)&sa, (socklen_t)len, peer,
			                     sizeof peer);
	}
	int linger = e->lingering < MAX_LINGERING_REFUSALS;
	pbrpc_server_log_limited(
	    s, PBRPC_LOG_WARN, NULL, "c%llu %s refused: too many connections (limit %u)",
	    (unsigned long long)++s->conn_serial, peer, s->opt.max_connections);

	/* The record is small and the socket new: one try_write takes it all. */
	pbrpc_buf out;
	uv_os_fd_t fd;
	pbrpc_buf_init(&out, PBRPC_RECORD_HEADER + PBRPC_HANDSHAKE_MAX_RECORD);
	if (pbrpc_handshake_refusal(&out, PBRPC_REFUSAL_TOO_MANY_CONNECTIONS) == 0) {
		uv_buf_t b =
		    uv_buf_init((char *)pbrpc_buf_head(&out), (unsigned)pbrpc_buf_len(&out));
		uv_try_write(&r->h.stream, &b, 1);
	}
	pbrpc_buf_free(&out);
	if (uv_fileno(&r->h.handle, &fd) == 0)
		shutdown(fd, SHUT_WR); /* the refusal, then EOF */
	if (!linger || uv_read_start(&r->h.stream, on_refusal_alloc, on_refusal_read) != 0) {
		refusal_close(r);
		return;
	}
	r->listener = e;
	e->lingering++;
	uv_timer_start(&r->timer, on_refusal_timer, REFUSAL_LINGER_MS, 0);
	return;
fail:
	pbrpc_server_log(s, PBRPC_LOG_ERROR, "accept: %s", uv_strerror(rc));
	free(r);
}

/* Says so when the connection just accepted took the last descriptor. From
 * then on libuv closes every new connection unanswered (it keeps a spare
 * descriptor for that, so the loop never spins on EMFILE) and tells us
 * nothing: this line is all the operator gets. It costs one fcntl and one
 * close per accepted connection. */
static void warn_if_out_of_descriptors(pbrpc_listener *l)
{
	listener_entry *e = (listener_entry *)l;
	if (e->spare_fd < 0) /* lent to libuv: take another while one is free */
		e->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uv_os_fd_t fd;
	if (uv_fileno(&l->h.handle, &fd) != 0)
		return;
	int probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (probe >= 0) {
		close(probe);
		return;
	}
	int why = errno;
	if (why != EMFILE && why != ENFILE)
		return;
	struct rlimit lim = {0};
	getrlimit(RLIMIT_NOFILE, &lim);
	pbrpc_server_log(l->server, PBRPC_LOG_WARN,
	                 "out of file descriptors (%s, limit %llu, %zu connections): new "
	                 "connections on %s are closed unanswered until some are freed",
	                 why == EMFILE ? "this process" : "the whole system",
	                 (unsigned long long)lim.rlim_cur, l->server->n_conns, l->address);
}

/* libuv keeps a spare descriptor (loop->emfile_fd) that it closes to accept
 * and drop connections when the table is full, so it never reports EMFILE,
 * unless that spare is gone: another thread took the slot while libuv
 * reopened it. Then its accept loop calls us with EMFILE and retries at once,
 * for ever (accept fails on a full table whether or not anyone waits). Hand it
 * our own spare: its next try drops what waits, reopens a spare and returns.
 * The field is libuv's (1.x on Unix); it is not part of its documented API. */
static void lend_spare(listener_entry *e, uv_stream_t *listener)
{
	uv_loop_t *loop = listener->loop;
	if (loop->emfile_fd < 0 && e->spare_fd >= 0) {
		loop->emfile_fd = e->spare_fd;
		e->spare_fd = -1;
	}
	time_t now = time(NULL);
	if (now != e->shed_noted) { /* at most a line a second */
		e->shed_noted = now;
		pbrpc_server_log(e->l.server, PBRPC_LOG_WARN,
		                 "out of file descriptors: new connections on %s are closed "
		                 "unanswered until some are freed",
		                 e->l.address);
	}
}

static void on_connection(uv_stream_t *listener, int status)
{
	pbrpc_listener *l = listener->data;
	if (status == UV_EMFILE || status == UV_ENFILE) {
		lend_spare((listener_entry *)l, listener);
		return;
	}
	if (status < 0) {
		pbrpc_server_log(l->server, PBRPC_LOG_WARN, "accept on %s: %s", l->address,
		                 uv_strerror(status));
		return;
	}
	if (!l->server->stopping && l->server->n_conns >= l->server->opt.max_connections)
		refuse_connection(l->server, (listener_entry *)l, listener);
	else
		pbrpc_conn_accept(l->server, listener);
	warn_if_out_of_descriptors(l);
}

pbrpc_status pbrpc_server_listen(pbrpc_server *s, const char *address, pbrpc_error *err)
{
	pbrpc_address addrs[PBRPC_ADDRESS_MAX];
	int n = pbrpc_address_resolve(address, addrs, err);
	if (n == 0)
		return err ? err->code : PBRPC_INVALID_ARGUMENT;

	pbrpc_listener **list = realloc(s->listeners, (s->n_listeners + 1) * sizeof *list);
	if (!list)
		return pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	s->listeners = list;
	listener_entry *entry = calloc(1, sizeof *entry);
	if (!entry)
		return pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	pbrpc_listener *l = &entry->l;
	l->server = s;
	entry->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const struct sockaddr *sa = (const struct sockaddr *)&addrs[0].sa;
	int rc;
	if (sa->sa_family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;
		uv_pipe_init(s->loop, &l->h.pipe, 0);
		l->h.handle.data = l;
		rc = uv_pipe_bind(&l->h.pipe, path);
		if (rc == UV_EADDRINUSE) {
			/* A stale socket from a dead server is replaced; a live one is not. */
			int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (probe >= 0 && connect(probe, sa, addrs[0].len) != 0 &&
			    errno == ECONNREFUSED) {
				unlink(path);
				rc = uv_pipe_bind(&l->h.pipe, path);
			}
			if (probe >= 0)
				close(probe);
		}
		if (rc == 0)
			snprintf(l->unix_path, sizeof l->unix_path, "%s", path);
	} else {
		uv_tcp_init(s->loop, &l->h.tcp);
		l->h.handle.data = l;
		/* SO_REUSEADDR is set by libuv: a restarted server binds past TIME_WAIT. */
		rc = uv_tcp_bind(&l->h.tcp, sa, sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	}
	if (rc == 0)
		rc = uv_listen(&l->h.stream, 511, on_connection);
	if (rc != 0) {
		uv_close(&l->h.handle, free_listener);
		return pbrpc_error_set(
		    err, rc == UV_EADDRINUSE ? PBRPC_ALREADY_EXISTS : PBRPC_UNAVAILABLE,
		    "cannot listen on %s: %s", address, uv_strerror(rc));
	}
	if (sa->sa_family == AF_UNIX) {
		snprintf(l->address, sizeof l->address, "unix:%s", l->unix_path);
	} else {
		struct sockaddr_storage bound;
		int len = sizeof bound;
		uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&bound, &len);
		pbrpc_address_format((struct sockaddr *)&bound, (socklen_t)len, l->address,
		                     sizeof l->address);
	}
	s->listeners[s->n_listeners++] = l;
	return PBRPC_OK;
}

const char *pbrpc_server_address(const pbrpc_server *s, size_t n)
{
	return n < s->n_listeners ? s->listeners[n]->address : NULL;
}

static void on_signal(uv_signal_t *sig, int signum)
{
	pbrpc_server *s = sig->data;
	pbrpc_server_log(s, PBRPC_LOG_INFO, "%s: stopping", strsignal(signum));
	pbrpc_server_stop(s);
}

static void close_if_open(uv_handle_t *h)
{
	if (h->loop && !uv_is_closing(h))
		uv_close(h, NULL);
}

/* Closes the server's own handles once nothing is left to wait for. */
static void maybe_finish_stop(pbrpc_server *s)
{
	if (!s->stopping || s->n_conns > 0 || s->closed)
		return;
	s->closed = 1;
	close_if_open((uv_handle_t *)&s->grace_timer);
	close_if_open((uv_handle_t *)&s->log_timer);
	close_if_open((uv_handle_t *)&s->stop_async);
	close_if_open((uv_handle_t *)&s->drain_idle);
	if (s->opt.handle_signals && s->started) {
		close_if_open((uv_handle_t *)&s->sigint);
		close_if_open((uv_handle_t *)&s->sigterm);
	}
}

void pbrpc_server_conn_gone(pbrpc_server *s)
{
	maybe_finish_stop(s);
}

static void on_grace_over(uv_timer_t *t)
{
	pbrpc_server *s = t->data;
	if (s->n_conns)
		pbrpc_server_log(s, PBRPC_LOG_WARN, "grace period over: closing %zu connection(s)",
		                 s->n_conns);
	for (pbrpc_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		pbrpc_conn_close(c, "server stopping");
	}
}

static void begin_stop(pbrpc_server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	for (size_t i = 0; i < s->n_listeners; i++) {
		pbrpc_listener *l = s->listeners[i];
		if (l->unix_path[0])
			unlink(l->unix_path);
		uv_close(&l->h.handle, free_listener);
	}
	s->n_listeners = 0;
	/* Idle connections go now; busy ones when their last call ends. */
	for (pbrpc_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->n_calls == 0)
			pbrpc_conn_close_after_output(c, "server stopping");
	}
	uv_ref((uv_handle_t *)&s->grace_timer);
	uv_timer_start(&s->grace_timer, on_grace_over, s->opt.grace_ms, 0);
	maybe_finish_stop(s);
}

static void on_stop_async(uv_async_t *async)
{
	begin_stop(async->data);
}

void pbrpc_server_stop(pbrpc_server *s)
{
	if (!s->closed) /* once stopped, the async handle is gone */
		uv_async_send(&s->stop_async);
}

int pbrpc_server_run(pbrpc_server *s)
{
	if (s->opt.handle_signals && !s->started) {
		uv_signal_init(s->loop, &s->sigint);
		uv_signal_init(s->loop, &s->sigterm);
		s->sigint.data = s->sigterm.data = s;
		uv_signal_start(&s->sigint, on_signal, SIGINT);
		uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	}
	s->started = 1;
	uv_run(s->loop, UV_RUN_DEFAULT);
	return 0;
}

void pbrpc_server_free(pbrpc_server *s)
{
	if (!s)
		return;
	s->stopping = 1;
	for (pbrpc_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		pbrpc_conn_close_now(c, "server freed");
	}
	for (size_t i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i]->unix_path[0])
			unlink(s->listeners[i]->unix_path);
		uv_close(&s->listeners[i]->h.handle, free_listener);
	}
	s->n_listeners = 0;
	s->closed = 0;
	maybe_finish_stop(s);
	close_if_open((uv_handle_t *)&s->grace_timer);
	close_if_open((uv_handle_t *)&s->log_timer);
	close_if_open((uv_handle_t *)&s->stop_async);
	close_if_open((uv_handle_t *)&s->drain_idle);
	/* Let the close callbacks run so nothing refers to freed memory. On the
	 * caller's loop, only turn it until ours are done: theirs may live on. */
	if (s->loop == &s->own_loop) {
		uv_run(s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->own_loop);
	} else {
		for (int i = 0; i < 64 && (s->n_conns > 0 || i < 2); i++)
			uv_run(s->loop, UV_RUN_NOWAIT);
	}
	for (size_t i = 0; i < s->n_services; i++)
		free(s->services[i]);
	free(s->services);
	free(s->listeners);
	free(s->routes);
	free(s->scratch);
	free(s->sources);
	sodium_memzero(s->key, sizeof s->key);
	sodium_memzero(s->host_key, sizeof s->host_key);
	free(s);
}

void pbrpc_server_reauthorize(pbrpc_server *s)
{
	pbrpc_conn *next;
	for (pbrpc_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->hs || c->closing || !c->authorized)
			continue;
		pbrpc_error why = {0};
		if (pbrpc_conn_authorize(c, &why) != PBRPC_OK) {
			char line[sizeof why.message + 16];
			snprintf(line, sizeof line, "revoked: %s", why.message);
			/* From the loop, outside any handler of c: tear down now. */
			pbrpc_conn_close_now(c, line);
		}
	}
}

struct uv_loop_s *pbrpc_server_loop(pbrpc_server *s)
{
	return s->loop;
}
