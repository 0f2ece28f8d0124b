/* client.c - the blocking client. One socket, shared by any number of
 * threads: senders take the send lock; whichever waiting thread finds no
 * reader becomes the reader and hands each frame to the call it belongs to
 * (leader/follower). A lone caller thus reads its own reply with no thread
 * hop at all. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "error.h"
#include "frame.h"
#include "handshake.h"
#include "keyfile.h"
#include "record.h"

#define READ_CHUNK (64u << 10)
/* Single-request calls opened as streams wait in the output buffer, up to
 * this much, until the caller waits for a reply: pipelined calls then share
 * one write. */
#define DEFER_LIMIT (64u << 10)
/* How often a reader with no wake fd looks at its call again. */
#define UNWOKEN_SLICE_MS 100
/* Freed calls a client keeps for its next ones: a window of calls in flight
 * then costs no trip through malloc's slow paths per call. */
#define SPARE_STREAMS 64

typedef struct queued_msg {
	struct queued_msg *next;
	ProtobufCMessage *msg; /* unpacked by the reader, straight from the record */
} queued_msg;

struct pbrpc_stream {
	pthread_cond_t cond; /* first: it stays initialised while the stream is spare */
	pbrpc_client *client;
	pbrpc_stream *next; /* in client->calls while open; in client->spare after */
	uint64_t id;
	const pbrpc_method_desc *method;
	int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
	uint64_t timeout_ms;
	queued_msg *head, *tail;
	queued_msg first; /* the queue's node while only one message waits (no malloc) */
	int first_in_use;
	int started;      /* REQUEST queued or sent: a cancel must tell the server (lock) */
	int request_sent; /* the REQUEST frame went into the output (the owner's only) */
	int half_closed;
	int done; /* STATUS seen, or failed locally */
	/* done, or a message waits: set under the lock, read without it by
	 * pbrpc_stream_ready() */
	_Atomic int settled;
	int listed;
	pbrpc_status status;
	char *message; /* the status text; NULL if empty (most calls: no allocation) */
};

/* How the reader last found the socket: recv_first if a reply was already
 * waiting, so the next read tries recv before poll. */
typedef struct read_hint {
	int recv_first;
	unsigned probe;
} read_hint;
#define READ_PROBE_EVERY 16

static int release_stream(pbrpc_stream *s);
static void destroy_stream(pbrpc_stream *s);

struct pbrpc_client {
	int fd;
	pbrpc_channel ch; /* tx under send_lock; rx only by the reader */
	uint32_t max_record, peer_max_record;
	pthread_mutex_t send_lock;
	pbrpc_buf out;        /* under send_lock */
	_Atomic int deferred; /* out holds requests waiting for a flush; set under send_lock */

	pthread_mutex_t lock; /* everything below */
	int reader_active;
	int n_waiting;           /* threads in a condition wait for their call */
	int n_polling;           /* threads in pbrpc_client_poll() waiting on progress */
	pthread_cond_t progress; /* a reader handed records over, or gave up its role */
	int locks_ready;
	pthread_t owner;          /* the thread that connected */
	int threaded;             /* another thread has used the client */
	int wake_fd;              /* eventfd, once threaded: wakes the reader to look again */
	uint64_t *cancels;        /* CANCELs waiting for the send lock */
	_Atomic size_t n_cancels; /* atomic: senders look without the lock */
	size_t cancels_size;
	uint64_t next_id;
	pbrpc_stream *calls, *calls_tail; /* open calls, oldest first */
	pbrpc_stream *spare;              /* freed calls kept for reuse (linked by next) */
	unsigned n_spare;
	_Atomic int broken; /* set once, under lock; senders look without it */
	char broken_why[200];
	pbrpc_buf in;   /* the reader's */
	read_hint hint; /* the reader's */
	char software[64];
	int protocol;           /* PBRPC_PROTOCOL_V1 or _V2 */
	uint8_t server_key[32]; /* protocol 2: the server's host key */
	int server_key_added;   /* known_servers gained it (accept_new) */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_after_ms(int64_t ms)
{
	return ms > 0 ? now_ns() + ms * 1000000 : 0;
}

/* Milliseconds poll() may wait before deadline (-1: forever). */
static int poll_ms(int64_t deadline)
{
	if (!deadline)
		return -1;
	int64_t left = deadline - now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > 60000 ? 60000 : (int)left;
}

/* Writes all of p, waiting for the socket up to deadline. */
static int write_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int ms = poll_ms(deadline);
		if (ms == 0)
			return errno = ETIMEDOUT, -1;
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Reads until in holds a whole record: returns 1 with *body_len set, 0 when
 * the deadline passed, wake_fd (if >= 0) was signalled or a wait of slice_ms
 * (if > 0) ended, or -1 with why set.
 * It polls before reading, so a call whose reply is not there yet costs one
 * poll and one recv, not a failed recv as well. */
static int read_record(int fd, int wake_fd, int slice_ms, pbrpc_buf *in, uint32_t cap,
                       int64_t deadline, read_hint *hint, uint32_t *body_len, const char **why)
{
	/* Skip the poll while replies tend to be waiting already (a reader going
	 * round many connections); otherwise try that now and then. */
	int guess = hint && (hint->recv_first || ++hint->probe % READ_PROBE_EVERY == 0);
	int readable = guess;
	for (;;) {
		int rc = pbrpc_record_check(pbrpc_buf_head(in), pbrpc_buf_len(in), cap, body_len);
		if (rc == PBRPC_RECORD_READY)
			return 1;
		if (rc == PBRPC_RECORD_BAD) {
			*why = cap == PBRPC_HANDSHAKE_MAX_RECORD
			           ? "the peer does not speak pbrpc (bad handshake record length)"
			           : "the server sent a record of bad length";
			return -1;
		}
		size_t want = READ_CHUNK;
		if (pbrpc_buf_len(in) >= PBRPC_RECORD_HEADER &&
		    PBRPC_RECORD_HEADER + *body_len - pbrpc_buf_len(in) > want)
			want = PBRPC_RECORD_HEADER + *body_len - pbrpc_buf_len(in);
		if (pbrpc_buf_reserve(in, want) != 0) {
			*why = "out of memory";
			return -1;
		}
		if (!readable) {
			struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
			                        {.fd = wake_fd, .events = POLLIN}};
			int ms = poll_ms(deadline);
			int sliced = slice_ms > 0 && (ms < 0 || ms > slice_ms);
			/* Even past the deadline: a reply already here is taken. */
			int n = poll(pfd, wake_fd >= 0 ? 2 : 1, sliced ? slice_ms : ms);
			if (n < 0 && errno != EINTR) {
				*why = strerror(errno);
				return -1;
			}
			if (wake_fd >= 0 && (pfd[1].revents & POLLIN)) {
				uint64_t drained;
				if (read(wake_fd, &drained, sizeof drained) < 0 &&
				    errno != EAGAIN) {
					*why = strerror(errno);
					return -1;
				}
				return 0;
			}
			if (n <= 0) {
				if (sliced || poll_ms(deadline) == 0)
					return 0;
				continue;
			}
			readable = 1;
		}
		ssize_t r = recv(fd, pbrpc_buf_tail(in), pbrpc_buf_room(in), 0);
		if (guess) { /* a recv without a poll first: was there something? */
			hint->recv_first = r > 0;
			guess = 0;
		}
		if (r > 0) {
			pbrpc_buf_commit(in, (size_t)r);
			continue;
		}
		if (r == 0) {
			*why = pbrpc_buf_len(in)
			           ? "the server closed the connection inside a record"
			           : "the server closed the connection";
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			*why = strerror(errno);
			return -1;
		}
		readable = 0;
	}
}

static int connect_one(const pbrpc_address *a, int64_t deadline, pbrpc_error *err, const char *text)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		pbrpc_error_set(err, PBRPC_UNAVAILABLE, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, sa, a->len) != 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			pbrpc_error_set(err, PBRPC_UNAVAILABLE, "cannot connect to %s: %s", text,
			                strerror(errno));
			close(fd);
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t len = sizeof soerr;
		int rc;
		while ((rc = poll(&pfd, 1, poll_ms(deadline))) < 0 && errno == EINTR)
			;
		if (rc <= 0) {
			pbrpc_error_set(err, PBRPC_UNAVAILABLE, "cannot connect to %s: timed out",
			                text);
			close(fd);
			return -1;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			pbrpc_error_set(err, PBRPC_UNAVAILABLE, "cannot connect to %s: %s", text,
			                strerror(soerr));
			close(fd);
			return -1;
		}
	}
	if (sa->sa_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return fd;
}

/* What the client checks the server's host key against (protocol 2). */
typedef struct server_check {
	const pbrpc_client_options *opts;
	const char *address;
	pbrpc_client *client;
} server_check;

static int verify_server(void *data, const uint8_t key[32], pbrpc_error *why)
{
	server_check *chk = data;
	memcpy(chk->client->server_key, key, 32);
	if (chk->opts->server_key) {
		if (sodium_memcmp(chk->opts->server_key, key, 32) == 0)
			return 0;
		char fp[PBRPC_FINGERPRINT_SIZE];
		pbrpc_key_fingerprint(key, fp);
		pbrpc_error_set(why, PBRPC_UNAUTHENTICATED,
		                "server key changed: %s presents %s, not the key we were given",
		                chk->address, fp);
		return -1;
	}
	return pbrpc_known_servers_check(chk->opts->known_servers, chk->address, key,
	                                 chk->opts->accept_new, &chk->client->server_key_added,
	                                 why) == PBRPC_OK
	           ? 0
	           : -1;
}

/* Protocol 2: the server's verdict on our key, its first sealed record:
 * a Frame{call_id 0, STATUS}. */
static int read_verdict(pbrpc_client *c, int64_t deadline, pbrpc_error *err)
{
	const char *why = NULL;
	uint32_t body_len;
	size_t plain_len;
	pbrpc_frame f;
	int r = read_record(c->fd, -1, 0, &c->in, c->max_record, deadline, NULL, &body_len, &why);
	if (r <= 0) {
		pbrpc_error_set(err, PBRPC_UNAVAILABLE, "handshake: %s",
		                r == 0 ? "timed out waiting for the server" : why);
		return -1;
	}
	uint8_t *rec = pbrpc_buf_head(&c->in);
	if (pbrpc_channel_open(&c->ch, rec, body_len, &plain_len) != 0 ||
	    pbrpc_frame_decode(rec + PBRPC_RECORD_HEADER, plain_len, &f) != 0 || f.call_id != 0 ||
	    f.kind != PBRPC_FRAME_STATUS || f.status > PBRPC_STATUS_MAX) {
		pbrpc_error_set(err, PBRPC_UNAVAILABLE,
		                "handshake: the server's verdict on our key does not authenticate");
		return -1;
	}
	int rc = 0;
	if (f.status != PBRPC_OK) {
		pbrpc_error_set(err, (pbrpc_status)f.status, "%.*s",
		                (int)(f.message_len > 500 ? 500 : f.message_len), f.message);
		if (err)
			for (char *p = err->message; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = '?';
		rc = -1;
	}
	pbrpc_buf_consume(&c->in, PBRPC_RECORD_HEADER + body_len);
	return rc;
}

static int run_handshake(pbrpc_client *c, const uint8_t secret[32], pbrpc_credential_kind kind,
                         server_check *chk, int64_t deadline, pbrpc_error *err)
{
	pbrpc_handshake *hs = malloc(sizeof *hs);
	const char *why = NULL;
	int rc = -1, done = 0;

	if (!hs) {
		pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return -1;
	}
	if (kind == PBRPC_CREDENTIAL_IDENTITY) {
		pbrpc_handshake_init(hs, 0, NULL, c->max_record);
		pbrpc_handshake_set_static(hs, secret);
		pbrpc_handshake_set_verify(hs, verify_server, chk);
	} else {
		pbrpc_handshake_init(hs, 0, secret, c->max_record);
	}
	if (pbrpc_handshake_client_hello(hs, &c->out) != 0)
		goto out;
	for (;;) {
		if (pbrpc_buf_len(&c->out)) {
			if (write_all(c->fd, pbrpc_buf_head(&c->out), pbrpc_buf_len(&c->out),
			              deadline) != 0) {
				int saved = errno;
				/* A server that refused us at once ("too many connections")
				 * may have closed before our hello arrived: its refusal can
				 * still be waiting to be read, and says more than EPIPE. */
				uint32_t body_len;
				if (hs->step == 0 &&
				    read_record(c->fd, -1, 0, &c->in, PBRPC_HANDSHAKE_MAX_RECORD,
				                deadline, NULL, &body_len, &why) > 0 &&
				    pbrpc_handshake_recv(hs, pbrpc_buf_head(&c->in),
				                         PBRPC_RECORD_HEADER + body_len,
				                         &c->out) == PBRPC_HS_FAILED) {
					pbrpc_error_set(err, hs->status, "%s", hs->error);
					goto out;
				}
				pbrpc_error_set(err, PBRPC_UNAVAILABLE, "handshake: %s",
				                strerror(saved));
				goto out;
			}
			pbrpc_buf_consume(&c->out, pbrpc_buf_len(&c->out));
		}
		if (done)
			break;
		uint32_t body_len;
		int r = read_record(c->fd, -1, 0, &c->in, PBRPC_HANDSHAKE_MAX_RECORD, deadline,
		                    NULL, &body_len, &why);
		if (r <= 0) {
			pbrpc_error_set(err, PBRPC_UNAVAILABLE, "handshake: %s",
			                r == 0 ? "timed out waiting for the server" : why);
			goto out;
		}
		size_t rec_len = PBRPC_RECORD_HEADER + body_len;
		int step = pbrpc_handshake_recv(hs, pbrpc_buf_head(&c->in), rec_len, &c->out);
		pbrpc_buf_consume(&c->in, rec_len);
		if (step == PBRPC_HS_FAILED) {
			pbrpc_error_set(err, hs->status, "%s", hs->error);
			goto out;
		}
		done = step == PBRPC_HS_DONE;
	}
	pbrpc_handshake_channel(hs, &c->ch);
	c->peer_max_record = hs->peer_max_record;
	c->protocol = hs->version;
	snprintf(c->software, sizeof c->software, "%s", hs->peer_software);
	rc = hs->version == PBRPC_PROTOCOL_V2 ? read_verdict(c, deadline, err) : 0;
out:
	pbrpc_handshake_wipe(hs);
	free(hs);
	return rc;
}

void pbrpc_client_options_init(pbrpc_client_options *o)
{
	memset(o, 0, sizeof *o);
}

/* The credential opts name, or the default one: $PBRPC_KEY, the user's
 * identity, else the shared key of protocol 1. */
static pbrpc_status load_credential(const pbrpc_client_options *opts, uint8_t secret[32],
                                    pbrpc_credential_kind *kind, pbrpc_error *err)
{
	char path[4096];
	const char *file = opts->key_file;
	if (opts->identity) {
		memcpy(secret, opts->identity, 32);
		*kind = PBRPC_CREDENTIAL_IDENTITY;
		return PBRPC_OK;
	}
	if (opts->key) {
		memcpy(secret, opts->key, 32);
		*kind = PBRPC_CREDENTIAL_SHARED_KEY;
		return PBRPC_OK;
	}
	if (!file && !(file = pbrpc_credential_default_path(path, sizeof path)))
		return pbrpc_error_set(err, PBRPC_UNAUTHENTICATED,
		                       "no identity: set HOME or PBRPC_KEY, or pass a key file");
	if (access(file, F_OK) != 0)
		return pbrpc_error_set(
		    err, PBRPC_UNAUTHENTICATED,
		    "no identity: %s does not exist; make one with: rpcc keygen %s", file, file);
	if (pbrpc_credential_load(file, secret, kind, err) != PBRPC_OK) {
		if (err)
			err->code = PBRPC_UNAUTHENTICATED;
		return PBRPC_UNAUTHENTICATED;
	}
	return PBRPC_OK;
}

pbrpc_client *pbrpc_client_connect(const char *address, const pbrpc_client_options *opts,
                                   pbrpc_error *err)
{
	pbrpc_client_options defaults;
	uint8_t secret[32];
	pbrpc_credential_kind kind;
	pbrpc_address addrs[PBRPC_ADDRESS_MAX];

	if (!opts) {
		pbrpc_client_options_init(&defaults);
		opts = &defaults;
	}
	if (sodium_init() < 0) {
		pbrpc_error_set(err, PBRPC_INTERNAL, "libsodium failed to initialise");
		return NULL;
	}
	uint32_t max_record = opts->max_record ? opts->max_record : PBRPC_DEFAULT_MAX_RECORD;
	if (max_record < PBRPC_MIN_MAX_RECORD || max_record > PBRPC_MAX_MAX_RECORD) {
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "max_record must be %u..%u bytes",
		                PBRPC_MIN_MAX_RECORD, PBRPC_MAX_MAX_RECORD);
		return NULL;
	}
	if (load_credential(opts, secret, &kind, err) != PBRPC_OK)
		return NULL;
	int n = pbrpc_address_resolve(address, addrs, err);
	if (n == 0) {
		sodium_memzero(secret, sizeof secret);
		return NULL;
	}
	int64_t deadline =
	    deadline_after_ms(opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000);
	pbrpc_client *c = calloc(1, sizeof *c);
	if (!c) {
		sodium_memzero(secret, sizeof secret);
		pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	c->max_record = max_record;
	c->fd = -1;
	c->wake_fd = -1;
	for (int i = 0; i < n && c->fd < 0; i++)
		c->fd = connect_one(&addrs[i], deadline, err, address);
	pbrpc_buf_init(&c->in, (size_t)max_record + PBRPC_RECORD_HEADER + READ_CHUNK);
	pbrpc_buf_init(&c->out, (size_t)PBRPC_MAX_MAX_RECORD + 64);
	server_check chk = {opts, address, c};
	if (c->fd < 0 || run_handshake(c, secret, kind, &chk, deadline, err) != 0) {
		sodium_memzero(secret, sizeof secret);
		pbrpc_client_close(c);
		return NULL;
	}
	sodium_memzero(secret, sizeof secret);
	c->owner = pthread_self();
	c->locks_ready = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_cond_init(&c->progress, NULL);
	return c;
}

int pbrpc_client_protocol(const pbrpc_client *c)
{
	return c->protocol;
}

int pbrpc_client_server_key(const pbrpc_client *c, uint8_t key[32])
{
	if (c->protocol != PBRPC_PROTOCOL_V2)
		return -1;
	memcpy(key, c->server_key, 32);
	return 0;
}

int pbrpc_client_server_key_added(const pbrpc_client *c)
{
	return c->server_key_added;
}

void pbrpc_client_close(pbrpc_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->cancels);
	while (c->spare) {
		pbrpc_stream *s = c->spare;
		c->spare = s->next;
		destroy_stream(s);
	}
	pbrpc_buf_free(&c->in);
	pbrpc_buf_free(&c->out);
	pbrpc_channel_wipe(&c->ch);
	if (c->locks_ready) { /* the locks exist only after a handshake */
		pthread_mutex_destroy(&c->lock);
		pthread_mutex_destroy(&c->send_lock);
		pthread_cond_destroy(&c->progress);
	}
	free(c);
}

const char *pbrpc_client_server_software(const pbrpc_client *c)
{
	return c->software;
}

const char *pbrpc_client_suite(const pbrpc_client *c)
{
	return pbrpc_suite_name(c->ch.suite);
}

void pbrpc_message_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* ---- calls ----------------------------------------------------------------- */

#define MAX_STATUS_TEXT 1024 /* with its NUL */

/* Ends s (lock held) with the server's status text, copied as it is (no
 * printf per call), and wakes its waiter. */
static void set_done_text(pbrpc_stream *s, pbrpc_status status, const char *text, size_t len)
{
	if (s->done)
		return;
	s->done = 1;
	s->settled = 1;
	s->status = status;
	if (len >= MAX_STATUS_TEXT)
		len = MAX_STATUS_TEXT - 1;
	if (len && (s->message = malloc(len + 1))) { /* no memory: the status name stands */
		memcpy(s->message, text, len);
		s->message[len] = '\0';
	}
	pthread_cond_signal(&s->cond);
}

static void set_done(pbrpc_stream *s, pbrpc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends s locally (lock held) and wakes its waiter. */
static void set_done(pbrpc_stream *s, pbrpc_status status, const char *fmt, ...)
{
	char text[MAX_STATUS_TEXT];
	va_list ap;
	if (s->done)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	set_done_text(s, status, text, strlen(text));
}

static void unlist(pbrpc_stream *s)
{
	if (!s->listed)
		return;
	pbrpc_client *c = s->client;
	pbrpc_stream *prev = NULL;
	for (pbrpc_stream **pp = &c->calls; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			if (c->calls_tail == s)
				c->calls_tail = prev;
			break;
		}
	}
	s->listed = 0;
}

/* The connection is gone: every open call fails (lock held). */
static void break_client(pbrpc_client *c, const char *why)
{
	if (!c->broken) {
		c->broken = 1;
		snprintf(c->broken_why, sizeof c->broken_why, "%s", why);
	}
	for (pbrpc_stream *s = c->calls; s; s = s->next)
		set_done(s, PBRPC_UNAVAILABLE, "connection lost: %s", c->broken_why);
}

static pbrpc_status write_out(pbrpc_client *c, int64_t deadline, pbrpc_error *err);
static void flush_cancels(pbrpc_client *c);

/* Seals f and writes it (unless defer and there is room to wait), then any
 * CANCELs queued meanwhile. */
static pbrpc_status send_frame(pbrpc_stream *s, pbrpc_frame *f, const ProtobufCMessage *msg,
                               int defer, pbrpc_error *err)
{
	pbrpc_client *c = s->client;
	int64_t deadline = s->deadline_ns;
	pbrpc_status st = PBRPC_OK;

	pthread_mutex_lock(&c->send_lock);
	if (c->broken) {
		st = pbrpc_error_set(err, PBRPC_UNAVAILABLE, "connection lost: %s", c->broken_why);
		goto out;
	}
	if (f && pbrpc_frame_append_sealed(&c->out, &c->ch, f, msg, c->peer_max_record) != 0) {
		st = pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED,
		                     "message too large for the server's record limit (%u bytes)",
		                     c->peer_max_record);
		goto out;
	}
	if (!defer || pbrpc_buf_len(&c->out) >= DEFER_LIMIT)
		st = write_out(c, deadline, err);
	else
		c->deferred = 1;
out:
	flush_cancels(c);
	pthread_mutex_unlock(&c->send_lock);
	return st;
}

/* Writes c->out (send lock held). A failure breaks the connection. */
static pbrpc_status write_out(pbrpc_client *c, int64_t deadline, pbrpc_error *err)
{
	c->deferred = 0; /* all of c->out goes now, or the connection breaks */
	if (write_all(c->fd, pbrpc_buf_head(&c->out), pbrpc_buf_len(&c->out), deadline) != 0) {
		int timed_out = errno == ETIMEDOUT;
		pbrpc_buf_consume(&c->out, pbrpc_buf_len(&c->out));
		pthread_mutex_lock(&c->lock);
		/* A half-written record cannot be taken back: the connection is done. */
		break_client(c, timed_out ? "deadline passed while sending" : strerror(errno));
		pthread_mutex_unlock(&c->lock);
		shutdown(c->fd, SHUT_RDWR);
		return pbrpc_error_set(
		    err, timed_out ? PBRPC_DEADLINE_EXCEEDED : PBRPC_UNAVAILABLE, "%s",
		    timed_out ? "deadline exceeded while sending" : c->broken_why);
	}
	pbrpc_buf_consume(&c->out, pbrpc_buf_len(&c->out));
	pbrpc_buf_shrink(&c->out, 64u << 10);
	return PBRPC_OK;
}

/* Sends the CANCELs other threads queued while we held the send lock. */
static void flush_cancels(pbrpc_client *c)
{
	if (c->n_cancels == 0) /* the usual case: no lock taken */
		return;
	pthread_mutex_lock(&c->lock);
	while (c->n_cancels > 0 && !c->broken) {
		pbrpc_frame f = {.call_id = c->cancels[--c->n_cancels], .kind = PBRPC_FRAME_CANCEL};
		pthread_mutex_unlock(&c->lock);
		if (pbrpc_frame_append_sealed(&c->out, &c->ch, &f, NULL, c->peer_max_record) == 0)
			write_out(c, deadline_after_ms(1000),
			          NULL); /* a cancel must not block forever */
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
}

/* The open call with this id, or NULL (lock held). */
static pbrpc_stream *find_open(pbrpc_client *c, uint64_t id)
{
	pbrpc_stream *s = c->calls;
	while (s && s->id != id)
		s = s->next;
	return s && !s->done ? s : NULL;
}

static void cancel_locked(pbrpc_stream *s, pbrpc_status status, const char *why);

/* The reader: one record in, handed to its call. With locked, the caller
 * holds the lock throughout (a client only one thread uses: nobody waits
 * for it); otherwise it is taken only around the hand-over, and dropped while
 * a reply is unpacked. Returns -1 if the connection broke. */
static int deliver_record(pbrpc_client *c, uint8_t *rec, uint32_t body_len, int locked)
{
	size_t plain_len;
	pbrpc_frame f;
	const char *bad = NULL;

	if (pbrpc_channel_open(&c->ch, rec, body_len, &plain_len) != 0)
		bad = "a record from the server failed authentication";
	else if (pbrpc_frame_decode(rec + PBRPC_RECORD_HEADER, plain_len, &f) != 0)
		bad = "malformed frame from the server";
	if (!locked)
		pthread_mutex_lock(&c->lock);
	pbrpc_stream *s = bad ? NULL : find_open(c, f.call_id);
	if (bad)
		break_client(c, bad);
	if (!s) /* broken, or the call was cancelled or timed out here already */
		goto out;
	if (f.kind == PBRPC_FRAME_MESSAGE ||
	    (f.kind == PBRPC_FRAME_STATUS && (f.flags & PBRPC_FLAG_HAS_MESSAGE))) {
		/* Unpack outside the lock when other threads may want it; the call
		 * may end meanwhile, so look again. */
		const ProtobufCMessageDescriptor *type = s->method->output;
		ProtobufCMessage *msg;
		if (!locked) {
			pthread_mutex_unlock(&c->lock);
			msg = protobuf_c_message_unpack(type, NULL, f.payload_len, f.payload);
			pthread_mutex_lock(&c->lock);
			s = find_open(c, f.call_id);
		} else {
			msg = protobuf_c_message_unpack(type, NULL, f.payload_len, f.payload);
		}
		queued_msg *q = NULL;
		if (s && msg)
			q = s->first_in_use ? malloc(sizeof *q) : &s->first;
		if (!s || !q) {
			if (s && msg) /* the call cannot go on without its messages */
				cancel_locked(s, PBRPC_RESOURCE_EXHAUSTED,
				              "out of memory for a reply");
			else if (s)
				cancel_locked(s, PBRPC_INTERNAL,
				              "the server's reply is not a valid message");
			pbrpc_message_free(msg);
			goto out;
		}
		if (q == &s->first)
			s->first_in_use = 1;
		q->next = NULL;
		q->msg = msg;
		if (s->tail)
			s->tail->next = q;
		else
			s->head = q;
		s->tail = q;
		s->settled = 1;
	}
	if (f.kind == PBRPC_FRAME_STATUS) {
		unsigned code = f.status <= PBRPC_STATUS_MAX ? f.status : PBRPC_UNKNOWN;
		set_done_text(s, (pbrpc_status)code, f.message, f.message_len);
		unlist(s);
	} else if (f.kind != PBRPC_FRAME_MESSAGE) {
		break_client(c, "unexpected frame kind from the server");
	}
	pthread_cond_signal(&s->cond);
out:;
	int broken = c->broken;
	if (!locked)
		pthread_mutex_unlock(&c->lock);
	return broken ? -1 : 0;
}

/* The reader: hands over every whole record one read brought in, so a read
 * of many replies costs one pass (lock not held). Returns how many. */
static int deliver_buffered(pbrpc_client *c)
{
	uint32_t body_len;
	int n = 0;
	pthread_mutex_lock(&c->lock);
	/* One thread only: one lock for the whole batch. */
	int locked = !c->threaded;
	if (!locked)
		pthread_mutex_unlock(&c->lock);
	while (pbrpc_record_check(pbrpc_buf_head(&c->in), pbrpc_buf_len(&c->in), c->max_record,
	                          &body_len) == PBRPC_RECORD_READY) {
		int rc = deliver_record(c, pbrpc_buf_head(&c->in), body_len, locked);
		pbrpc_buf_consume(&c->in, PBRPC_RECORD_HEADER + body_len);
		n++;
		if (rc != 0)
			break;
	}
	if (locked)
		pthread_mutex_unlock(&c->lock);
	/* A busy reader (replies waiting whenever it reads) keeps its buffer;
	 * an idle client gives the memory back. */
	pbrpc_buf_shrink(&c->in, c->hint.recv_first ? READ_CHUNK : 0);
	return n;
}

/* Hands the reader's role to some other waiting thread (lock held). A
 * client driven by one thread has none, and pays nothing here. */
static void pass_reader_role(pbrpc_client *c)
{
	if (c->n_polling)
		pthread_cond_broadcast(&c->progress);
	if (c->n_waiting == 0)
		return;
	for (pbrpc_stream *s = c->calls; s; s = s->next)
		pthread_cond_signal(&s->cond);
}

/* Waits on cond until signalled or deadline (CLOCK_MONOTONIC; 0: none). */
static void cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline)
{
	if (!deadline) {
		pthread_cond_wait(cond, lock);
		return;
	}
	int64_t left = deadline - now_ns();
	if (left <= 0)
		return;
	struct timespec ts; /* the condition variables use the default, CLOCK_REALTIME */
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + left;
	ts.tv_sec = at / 1000000000;
	ts.tv_nsec = at % 1000000000;
	pthread_cond_timedwait(cond, lock, &ts);
}

/* Waits (lock held) until s has a message or has ended, reading for
 * everyone while no other thread does. */
static void wait_for(pbrpc_stream *s, int until_done)
{
	pbrpc_client *c = s->client;
	while (!s->done && (until_done || !s->head)) {
		if (c->broken) {
			set_done(s, PBRPC_UNAVAILABLE, "connection lost: %s", c->broken_why);
			break;
		}
		if (s->deadline_ns && now_ns() >= s->deadline_ns) {
			cancel_locked(s, PBRPC_DEADLINE_EXCEEDED, "deadline exceeded");
			break;
		}
		if (c->reader_active) {
			c->n_waiting++;
			cond_wait_until(&s->cond, &c->lock, s->deadline_ns);
			c->n_waiting--;
			continue;
		}
		c->reader_active = 1;
		pthread_mutex_unlock(&c->lock);
		const char *why = NULL;
		uint32_t body_len = 0;
		/* Without a wake fd, look up now and then: another thread may cancel. */
		int r =
		    read_record(c->fd, c->wake_fd, c->wake_fd < 0 ? UNWOKEN_SLICE_MS : 0, &c->in,
		                c->max_record, s->deadline_ns, &c->hint, &body_len, &why);
		if (r > 0)
			deliver_buffered(c);
		pthread_mutex_lock(&c->lock);
		c->reader_active = 0;
		if (r < 0)
			break_client(c, why);
		pass_reader_role(c);
	}
}

/* A second thread gets the reader a wake fd, so a cancel from one thread
 * wakes another blocked reading; a client used by one thread keeps one fd.
 * Lock held. */
static void note_thread(pbrpc_client *c)
{
	if (c->threaded || pthread_equal(c->owner, pthread_self()))
		return;
	c->threaded = 1;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); /* -1: readers poll in slices */
}

/* A new call; starting: its REQUEST is about to be queued (saves a lock). */
static pbrpc_stream *new_call(pbrpc_client *c, const pbrpc_method_desc *method,
                              const pbrpc_call_options *opts, int starting, pbrpc_error *err)
{
	int64_t deadline = opts && opts->timeout_ms > 0 ? deadline_after_ms(opts->timeout_ms) : 0;
	pthread_mutex_lock(&c->lock);
	pbrpc_stream *s = c->spare; /* zeroed but for its condition variable */
	if (s) {
		c->spare = s->next;
		c->n_spare--;
	} else {
		pthread_mutex_unlock(&c->lock);
		if (!(s = calloc(1, sizeof *s))) {
			pbrpc_error_set(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
			return NULL;
		}
		pthread_cond_init(&s->cond, NULL);
		pthread_mutex_lock(&c->lock);
	}
	s->client = c;
	s->method = method;
	if (deadline) {
		s->timeout_ms = (uint64_t)opts->timeout_ms;
		s->deadline_ns = deadline;
	}
	note_thread(c);
	s->id = ++c->next_id;
	/* Oldest first: replies mostly come in order, so the one a reply is
	 * for is found (and unlisted) at the head. */
	s->next = NULL;
	if (c->calls_tail)
		c->calls_tail->next = s;
	else
		c->calls = s;
	c->calls_tail = s;
	s->listed = 1;
	s->started = starting;
	pthread_mutex_unlock(&c->lock);
	return s;
}

static void free_node(pbrpc_stream *s, queued_msg *q)
{
	if (q == &s->first)
		s->first_in_use = 0;
	else
		free(q);
}

static void free_queue(pbrpc_stream *s)
{
	for (queued_msg *q = s->head, *next; q; q = next) {
		next = q->next;
		pbrpc_message_free(q->msg);
		free_node(s, q);
	}
	s->head = s->tail = NULL;
}

static pbrpc_status result(pbrpc_stream *s, pbrpc_error *err)
{
	if (s->status == PBRPC_OK)
		return PBRPC_OK;
	return pbrpc_error_set(err, s->status, "%s",
	                       s->message ? s->message : pbrpc_strerror(s->status));
}

/* Takes the next queued message (lock held); the caller owns it. */
static pbrpc_status take_message(pbrpc_stream *s, ProtobufCMessage **msg)
{
	queued_msg *q = s->head;
	s->head = q->next;
	if (!s->head) {
		s->tail = NULL;
		s->settled = s->done;
	}
	*msg = q->msg;
	free_node(s, q);
	return PBRPC_OK;
}

static pbrpc_status send_request(pbrpc_stream *s, const ProtobufCMessage *msg, uint32_t flags,
                                 int defer, pbrpc_error *err)
{
	pbrpc_frame f = {.call_id = s->id, .flags = flags};
	if (msg)
		f.flags |= PBRPC_FLAG_HAS_MESSAGE;
	if (!s->request_sent) {
		s->request_sent = 1;
		f.kind = PBRPC_FRAME_REQUEST;
		f.method = s->method->full_name;
		f.method_len = strlen(f.method);
		f.timeout_ms = s->timeout_ms;
		if (!s->started) { /* only this thread writes it */
			pthread_mutex_lock(
			    &s->client->lock); /* a cancel reads it to know whether to tell */
			s->started = 1;
			pthread_mutex_unlock(&s->client->lock);
		}
	} else {
		f.kind = msg ? PBRPC_FRAME_MESSAGE : PBRPC_FRAME_HALF_CLOSE;
	}
	if (flags & PBRPC_FLAG_HALF_CLOSE)
		s->half_closed = 1;
	return send_frame(s, &f, msg, defer, err);
}

/* Writes requests that were deferred, before anyone waits for replies. */
static pbrpc_status flush_deferred(pbrpc_stream *s, pbrpc_error *err)
{
	pbrpc_client *c = s->client;
	pbrpc_status st = PBRPC_OK;
	if (!c->deferred) /* the usual case once a batch went out: no lock taken */
		return PBRPC_OK;
	pthread_mutex_lock(&c->send_lock);
	if (pbrpc_buf_len(&c->out) > 0)
		st = write_out(c, s->deadline_ns, err);
	pthread_mutex_unlock(&c->send_lock);
	return st;
}

/* Waits for the reply and final status of a single-request call, then
 * frees s (under the same lock: one lock less per call). */
static pbrpc_status await_reply(pbrpc_stream *s, ProtobufCMessage **reply, pbrpc_error *err)
{
	pbrpc_client *c = s->client;
	pthread_mutex_lock(&c->lock);
	wait_for(s, 1);
	pbrpc_status st =
	    s->head && s->status == PBRPC_OK ? take_message(s, reply) : result(s, err);
	if (st == PBRPC_OK && !*reply)
		st = pbrpc_error_set(err, PBRPC_INTERNAL, "the server sent no reply");
	int kept = release_stream(s);
	pthread_mutex_unlock(&c->lock);
	if (!kept)
		destroy_stream(s);
	return st;
}

pbrpc_status pbrpc_client_call(pbrpc_client *c, const pbrpc_method_desc *method,
                               const ProtobufCMessage *request, ProtobufCMessage **reply,
                               const pbrpc_call_options *opts, pbrpc_error *err)
{
	*reply = NULL;
	pbrpc_stream *s = new_call(c, method, opts, 1, err);
	if (!s)
		return err ? err->code : PBRPC_RESOURCE_EXHAUSTED;
	pbrpc_status st = send_request(s, request, PBRPC_FLAG_HALF_CLOSE, 0, err);
	if (st != PBRPC_OK) {
		pbrpc_stream_free(s);
		return st;
	}
	return await_reply(s, reply, err);
}

pbrpc_stream *pbrpc_client_call_async(pbrpc_client *c, const pbrpc_method_desc *method,
                                      const ProtobufCMessage *request,
                                      const pbrpc_call_options *opts, pbrpc_error *err)
{
	if (method->kind != PBRPC_UNARY) {
		pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "%s is not a unary method",
		                method->full_name);
		return NULL;
	}
	pbrpc_stream *s = new_call(c, method, opts, 1, err);
	if (s && send_request(s, request, PBRPC_FLAG_HALF_CLOSE, 1, err) != PBRPC_OK) {
		pbrpc_stream_free(s);
		s = NULL;
	}
	return s;
}

pbrpc_status pbrpc_client_call_wait(pbrpc_stream *s, ProtobufCMessage **reply, pbrpc_error *err)
{
	*reply = NULL;
	pbrpc_status st = flush_deferred(s, err);
	if (st != PBRPC_OK) {
		pbrpc_stream_free(s);
		return st;
	}
	return await_reply(s, reply, err);
}

int pbrpc_stream_ready(pbrpc_stream *s)
{
	/* No lock: this is asked of every call in a window, over and over. */
	return s->settled || s->client->broken || (s->deadline_ns && now_ns() >= s->deadline_ns);
}

pbrpc_status pbrpc_client_flush(pbrpc_client *c, pbrpc_error *err)
{
	pbrpc_status st = PBRPC_OK;
	if (!c->deferred && c->n_cancels == 0)
		return PBRPC_OK;
	pthread_mutex_lock(&c->send_lock);
	if (pbrpc_buf_len(&c->out) > 0)
		st = write_out(c, 0, err);
	flush_cancels(c);
	pthread_mutex_unlock(&c->send_lock);
	return st;
}

int pbrpc_client_poll(pbrpc_client *c, int timeout_ms, pbrpc_error *err)
{
	/* now - 1: a deadline already passed, so the reader looks but never waits. */
	int64_t deadline = timeout_ms < 0    ? 0
	                   : timeout_ms == 0 ? now_ns() - 1
	                                     : deadline_after_ms(timeout_ms);
	if (pbrpc_client_flush(c, err) != PBRPC_OK)
		return -1;
	pthread_mutex_lock(&c->lock);
	note_thread(c);
	if (!c->broken && c->reader_active) {
		/* Another thread reads for everyone: wait until it gives up its
		 * role (having handed over what it read), then let the caller look. */
		c->n_polling++;
		/* At most a slice: a reader that handed over our reply before we
		 * got here may already be blocked again, for its own quiet call. */
		int64_t slice_end = deadline_after_ms(UNWOKEN_SLICE_MS);
		cond_wait_until(&c->progress, &c->lock,
		                deadline == 0 || deadline > slice_end ? slice_end : deadline);
		c->n_polling--;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	if (c->broken) {
		pbrpc_error_set(err, PBRPC_UNAVAILABLE, "connection lost: %s", c->broken_why);
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	c->reader_active = 1;
	pthread_mutex_unlock(&c->lock);
	const char *why = NULL;
	int r = 0, delivered;
	/* Records a waiting call's read brought in are handed over already;
	 * anything whole still buffered goes first, without a read. */
	delivered = deliver_buffered(c);
	if (delivered == 0) {
		uint32_t body_len;
		/* Without a wake fd, look up now and then: another thread may cancel. */
		int slice = c->threaded && c->wake_fd < 0 ? UNWOKEN_SLICE_MS : 0;
		r = read_record(c->fd, c->wake_fd, slice, &c->in, c->max_record, deadline, &c->hint,
		                &body_len, &why);
		if (r > 0)
			delivered = deliver_buffered(c);
	}
	pthread_mutex_lock(&c->lock);
	c->reader_active = 0;
	if (r < 0)
		break_client(c, why);
	pass_reader_role(c);
	int broken = c->broken;
	if (broken)
		pbrpc_error_set(err, PBRPC_UNAVAILABLE, "connection lost: %s", c->broken_why);
	pthread_mutex_unlock(&c->lock);
	return broken ? -1 : delivered;
}

pbrpc_stream *pbrpc_stream_open(pbrpc_client *c, const pbrpc_method_desc *method,
                                const pbrpc_call_options *opts, pbrpc_error *err)
{
	return new_call(c, method, opts, 0, err);
}

pbrpc_status pbrpc_stream_send(pbrpc_stream *s, const ProtobufCMessage *msg, pbrpc_error *err)
{
	if (s->half_closed)
		return pbrpc_error_set(err, PBRPC_FAILED_PRECONDITION, "send after close_send");
	pthread_mutex_lock(&s->client->lock);
	int done = s->done;
	pthread_mutex_unlock(&s->client->lock);
	if (done)
		return s->status != PBRPC_OK
		           ? result(s, err)
		           : pbrpc_error_set(err, PBRPC_FAILED_PRECONDITION, "the call has ended");
	/* A single-request kind half-closes with its one message. */
	int single = s->method->kind == PBRPC_UNARY || s->method->kind == PBRPC_SERVER_STREAMING;
	return send_request(s, msg, single ? PBRPC_FLAG_HALF_CLOSE : 0, single, err);
}

pbrpc_status pbrpc_stream_close_send(pbrpc_stream *s, pbrpc_error *err)
{
	if (s->half_closed)
		return PBRPC_OK;
	pthread_mutex_lock(&s->client->lock);
	int done = s->done;
	pthread_mutex_unlock(&s->client->lock);
	if (done)
		return PBRPC_OK;
	return send_request(s, NULL, PBRPC_FLAG_HALF_CLOSE, 0, err);
}

pbrpc_status pbrpc_stream_recv(pbrpc_stream *s, ProtobufCMessage **msg, pbrpc_error *err)
{
	pbrpc_client *c = s->client;
	pbrpc_status st;
	*msg = NULL;
	if (!s->request_sent && !s->done) {
		/* Client- and bidi-streaming calls may wait for the server first. */
		if (s->method->kind == PBRPC_UNARY || s->method->kind == PBRPC_SERVER_STREAMING)
			return pbrpc_error_set(err, PBRPC_FAILED_PRECONDITION,
			                       "recv before the request was sent");
		if ((st = send_request(s, NULL, 0, 0, err)) != PBRPC_OK)
			return st;
	}
	if ((st = flush_deferred(s, err)) != PBRPC_OK)
		return st;
	pthread_mutex_lock(&c->lock);
	wait_for(s, 0);
	if (s->head)
		st = take_message(s, msg);
	else
		st = result(s, err);
	pthread_mutex_unlock(&c->lock);
	return st;
}

/* Ends s with status and tells the server (lock held; takes the send lock). */
static void cancel_locked(pbrpc_stream *s, pbrpc_status status, const char *why)
{
	pbrpc_client *c = s->client;
	int tell = s->started && !s->done && !c->broken;
	set_done(s, status, "%s", why);
	free_queue(s);
	unlist(s);
	note_thread(c);
	if (c->reader_active && c->wake_fd >= 0) { /* the reader may be waiting for this call */
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			break_client(c, strerror(errno));
	}
	if (!tell)
		return;
	/* Queue the CANCEL; whoever holds the send lock sends it, so a cancel
	 * never waits behind a send stalled by back-pressure. */
	if (c->n_cancels == c->cancels_size) {
		size_t size = c->cancels_size ? c->cancels_size * 2 : 8;
		uint64_t *grown = realloc(c->cancels, size * sizeof *grown);
		if (!grown)
			return; /* the server ends the call at its deadline or when we close */
		c->cancels = grown;
		c->cancels_size = size;
	}
	c->cancels[c->n_cancels++] = s->id;
	if (pthread_mutex_trylock(&c->send_lock) == 0) {
		pthread_mutex_unlock(&c->lock);
		flush_cancels(c);
		pthread_mutex_unlock(&c->send_lock);
		pthread_mutex_lock(&c->lock);
	}
}

void pbrpc_stream_cancel(pbrpc_stream *s)
{
	pthread_mutex_lock(&s->client->lock);
	cancel_locked(s, PBRPC_CANCELLED, "cancelled");
	pthread_mutex_unlock(&s->client->lock);
}

/* Detaches s from its client (lock held), and keeps it for the next call
 * if there is room: returns 1 then, else 0 and destroy_stream() is due. */
static int release_stream(pbrpc_stream *s)
{
	pbrpc_client *c = s->client;
	if (!s->done)
		cancel_locked(s, PBRPC_CANCELLED, "cancelled");
	unlist(s);
	free_queue(s);
	if (c->n_spare >= SPARE_STREAMS)
		return 0;
	free(s->message);
	memset((char *)s + offsetof(pbrpc_stream, client), 0,
	       sizeof *s - offsetof(pbrpc_stream, client));
	s->next = c->spare;
	c->spare = s;
	c->n_spare++;
	return 1;
}

static void destroy_stream(pbrpc_stream *s)
{
	pthread_cond_destroy(&s->cond);
	free(s->message);
	free(s);
}

void pbrpc_stream_free(pbrpc_stream *s)
{
	if (!s)
		return;
	pbrpc_client *c = s->client;
	pthread_mutex_lock(&c->lock);
	int kept = release_stream(s);
	pthread_mutex_unlock(&c->lock);
	if (!kept)
		destroy_stream(s);
}
