/* runtime.h - the server runtime's shared structures: server.c owns the
 * loop, listeners and services; conn.c a connection's bytes, records and
 * frames; call.c a call as its handler sees it. */
#ifndef PBRPC_RUNTIME_H
#define PBRPC_RUNTIME_H

#include <uv.h>

#include "buf.h"
#include "channel.h"
#include "frame.h"
#include "handshake.h"
#include "pbrpc.h"

typedef struct pbrpc_conn pbrpc_conn;

typedef struct pbrpc_service_entry {
	const pbrpc_service_desc *desc;
	const void *handlers;
	void *data;
} pbrpc_service_entry;

typedef struct pbrpc_route {
	const pbrpc_method_desc *method; /* NULL: empty slot */
	const pbrpc_service_entry *service;
} pbrpc_route;

/* A TCP or Unix stream handle, seen as whichever libuv type a call needs. */
typedef union pbrpc_uv_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
} pbrpc_uv_stream;

typedef struct pbrpc_listener {
	pbrpc_uv_stream h;
	pbrpc_server *server;
	char address[128];
	char unix_path[108]; /* unlinked when the server stops */
} pbrpc_listener;

/* One client address's handshakes (sources.c). */
typedef struct pbrpc_source {
	uint8_t key[16];
	uint8_t len; /* 4, 16, or 0: a free slot */
	unsigned unauthenticated;
	unsigned failures; /* since window_start */
	unsigned refused;
	uint64_t window_start, penalty_until, last_seen; /* loop time, ms */
} pbrpc_source;
#define PBRPC_SOURCES 4096

/* A log line that floods (one per failed handshake) is kept to a few a
 * second per format; the rest are counted and said with the next one. */
typedef struct pbrpc_log_limit {
	uint64_t key; /* the format and the reason */
	uint64_t second;
	unsigned lines, suppressed;
	int level;
} pbrpc_log_limit;
#define PBRPC_LOG_LIMITS        8
#define PBRPC_LOG_LINES_PER_SEC 10

struct pbrpc_server {
	uv_loop_t *loop;
	uv_loop_t own_loop;
	pbrpc_server_options opt;
	uint8_t key[PBRPC_KEY_BYTES]; /* protocol 1, if has_key */
	int has_key, has_host_key;
	uint8_t host_key[32]; /* protocol 2: the host key's secret */

	pbrpc_listener **listeners;
	size_t n_listeners;
	pbrpc_service_entry **services;
	size_t n_services;
	pbrpc_route *routes; /* open addressing on the method's full name */
	size_t routes_size;  /* a power of two */

	pbrpc_conn *conns; /* doubly linked */
	size_t n_conns;
	uint64_t conn_serial;

	uint8_t *scratch; /* shared read buffer: the loop is single-threaded */
	size_t scratch_size;

	uv_async_t stop_async;
	uv_signal_t sigint, sigterm;
	uv_timer_t grace_timer;
	uv_idle_t drain_idle; /* handles input held back while reading was paused */
	int started, stopping, closed;

	pbrpc_source *sources; /* PBRPC_SOURCES slots, made on first use */
	size_t n_unauthenticated;
	pbrpc_log_limit log_limits[PBRPC_LOG_LIMITS];
	uv_timer_t log_timer; /* says what the limits held back */
};

struct pbrpc_conn {
	pbrpc_server *server;
	pbrpc_conn *prev, *next;
	pbrpc_uv_stream h;
	uv_timer_t timer; /* handshake limit, then idle limit */
	char name[160];   /* "c42", and the client once known: "c42 alice SHA256:..." */
	char peer[72];
	struct sockaddr_storage addr; /* the TCP peer (client.sockaddr points here) */
	pbrpc_peer client;            /* once authenticated */
	int authorized;               /* client.policy is set and must be released */
	int admitted;                 /* counted as unauthenticated (sources.c) */

	pbrpc_handshake *hs; /* until authenticated */
	pbrpc_channel ch;
	uint32_t peer_max_record;

	pbrpc_buf in;      /* a partial record carried between reads */
	pbrpc_buf out;     /* sealed records waiting to be written */
	pbrpc_buf sending; /* the bytes of the write in flight */
	uv_write_t write_req;

	pbrpc_call *calls; /* open streaming and asynchronous calls */
	unsigned n_calls;
	unsigned paused_calls;    /* handlers asking us to stop reading */
	int busy;                 /* nesting depth of callbacks into this connection */
	int draining;             /* close once output is written ... */
	const char *drain_reason; /* ... logging this */
	int torn_down, teardown_pending;
	int reading, writing, closing, handles_open, batching, output_blocked, drain_pending;
};

struct pbrpc_call {
	pbrpc_server *server;
	pbrpc_conn *conn; /* NULL once the client is gone (orphaned async call) */
	pbrpc_call *next;
	uint64_t id;
	const pbrpc_method_desc *method;
	const pbrpc_service_entry *service;
	void *data;
	ProtobufCMessage *request; /* kept for asynchronous unary calls */
	uv_timer_t *deadline;
	uint64_t deadline_at; /* loop time in ms; 0 = none */
	void *arena;          /* pbrpc_call_alloc() blocks */
	char *message;        /* pbrpc_call_set_message() */
	int in_event;
	unsigned finished : 1, want_writable : 1, paused : 1, listed : 1;
};

/* conn.c */
void pbrpc_conn_accept(pbrpc_server *s, uv_stream_t *listener);
void pbrpc_conn_close(pbrpc_conn *c, const char *why);
/* Closes and tears down at once: only where no handler is running. */
void pbrpc_conn_close_now(pbrpc_conn *c, const char *why);
/* Stops reading and closes once everything queued has been written. */
void pbrpc_conn_close_after_output(pbrpc_conn *c, const char *why);
/* Runs the server's authorize on c's client: PBRPC_OK (c->client updated,
 * the old policy released) or the refusal. */
pbrpc_status pbrpc_conn_authorize(pbrpc_conn *c, pbrpc_error *why);
/* Gives c's policy back to the server's release callback. */
void pbrpc_conn_release_client(pbrpc_conn *c);
/* Writes what is queued now, or at the end of the current read batch. */
void pbrpc_conn_flush(pbrpc_conn *c);
/* Recomputes whether the connection should be reading. */
void pbrpc_conn_update_reading(pbrpc_conn *c);
/* Queues one sealed frame; returns PBRPC_OK or why not. */
pbrpc_status pbrpc_conn_send(pbrpc_conn *c, const pbrpc_frame *f, const ProtobufCMessage *msg);
/* A call of c ended; a stopping server closes idle connections. */
void pbrpc_conn_call_done(pbrpc_conn *c);
void pbrpc_conn_on_drain(uv_idle_t *idle);

/* call.c */
void pbrpc_call_dispatch(pbrpc_conn *c, const pbrpc_frame *f);
/* The connection is going away: cancel or orphan every call. */
void pbrpc_call_abort_all(pbrpc_conn *c);
/* Delivers WRITABLE to calls that waited for it. */
void pbrpc_call_notify_writable(pbrpc_conn *c);

/* sources.c: NULL if a new connection from sa (NULL: a Unix socket) may
 * start a handshake (it is counted until pbrpc_sources_done), else why not. */
const char *pbrpc_sources_admit(pbrpc_server *s, const struct sockaddr *sa);
void pbrpc_sources_done(pbrpc_server *s, const struct sockaddr *sa, int authenticated);

/* server.c */
/* pbrpc_server_log, at most PBRPC_LOG_LINES_PER_SEC lines a second of one
 * fmt with one reason (why, which the line should contain too). */
void pbrpc_server_log_limited(pbrpc_server *s, int level, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const pbrpc_route *pbrpc_server_route(const pbrpc_server *s, const char *name, size_t len);
void pbrpc_server_conn_gone(pbrpc_server *s);

#endif
