/* pbrpc.h - the public API of libpbrpc.
 *
 * A client and server for protobuf-c messages over a mutually authenticated,
 * encrypted connection. See docs/library.md for a guide and docs/protocol.md
 * for the wire.
 *
 * Conventions: functions that can fail return a pbrpc_status (PBRPC_OK = 0)
 * or NULL, and fill a caller-provided pbrpc_error (which may be NULL).
 * Every function that returns memory says who frees it. */
#ifndef PBRPC_H
#define PBRPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PBRPC_VERSION            "0.1.0"
#define PBRPC_PROTOCOL_VERSION   2 /* 1 (shared key) is still spoken on request */
#define PBRPC_KEY_BYTES          32
#define PBRPC_DEFAULT_PORT       7420
#define PBRPC_DEFAULT_ADDRESS    "127.0.0.1:7420"
#define PBRPC_DEFAULT_MAX_RECORD (4u << 20)
#define PBRPC_MIN_MAX_RECORD     1024u
#define PBRPC_MAX_MAX_RECORD     (64u << 20)

/* The canonical status codes (same numbers as gRPC's). */
typedef enum pbrpc_status {
	PBRPC_OK = 0,
	PBRPC_CANCELLED = 1,
	PBRPC_UNKNOWN = 2,
	PBRPC_INVALID_ARGUMENT = 3,
	PBRPC_DEADLINE_EXCEEDED = 4,
	PBRPC_NOT_FOUND = 5,
	PBRPC_ALREADY_EXISTS = 6,
	PBRPC_PERMISSION_DENIED = 7,
	PBRPC_RESOURCE_EXHAUSTED = 8,
	PBRPC_FAILED_PRECONDITION = 9,
	PBRPC_ABORTED = 10,
	PBRPC_OUT_OF_RANGE = 11,
	PBRPC_UNIMPLEMENTED = 12,
	PBRPC_INTERNAL = 13,
	PBRPC_UNAVAILABLE = 14,
	PBRPC_DATA_LOSS = 15,
	PBRPC_UNAUTHENTICATED = 16,
} pbrpc_status;

#define PBRPC_STATUS_MAX PBRPC_UNAUTHENTICATED

/* A unary handler returns this instead of a status when it will answer
 * later with pbrpc_call_reply() or pbrpc_call_finish(). */
#define PBRPC_ASYNC (-1)

/* "NOT_FOUND" for PBRPC_NOT_FOUND; "UNKNOWN" for anything out of range.
 * Static strings. */
const char *pbrpc_status_name(int status);
/* "not found": a short lower-case description. Static strings. */
const char *pbrpc_strerror(int status);

/* A status with its detail, filled by functions that can fail. */
typedef struct pbrpc_error {
	pbrpc_status code;
	char message[1024]; /* holds the longest status message a server may send */
} pbrpc_error;

/* ---- Keys --------------------------------------------------------------
 * A key file holds 64 hexadecimal digits (32 bytes) and a newline. It must
 * not be readable or writable by group or others. */

/* Writes a new random key to path with mode 0600; refuses to overwrite. */
pbrpc_status pbrpc_key_generate(const char *path, pbrpc_error *err);
/* Reads a key file into key. Refuses files open to group/others. */
pbrpc_status pbrpc_key_load(const char *path, uint8_t key[PBRPC_KEY_BYTES], pbrpc_error *err);
/* The default key file: $PBRPC_KEY, else $XDG_CONFIG_HOME/pbrpc/key, else
 * $HOME/.config/pbrpc/key. Writes it into buf; returns buf, or NULL if it
 * does not fit or no home is known. */
char *pbrpc_key_default_path(char *buf, size_t size);

/* ---- Identities (protocol 2) --------------------------------------------
 * An identity is an X25519 key pair. Its secret file (mode 0600) holds
 * "x25519-secret BASE64 COMMENT"; FILE.pub holds the public line
 * "x25519 BASE64 COMMENT", the form authorized_keys and known_servers use.
 * Servers have one too: the host key. */

#define PBRPC_KEY_TYPE         "x25519"
#define PBRPC_FINGERPRINT_SIZE 52 /* "SHA256:" + 43 base64 digits + NUL */

/* Writes a new identity to path (0600) and path.pub (0644); refuses to
 * overwrite either. comment (may be NULL) ends the .pub line. */
pbrpc_status pbrpc_identity_generate(const char *path, const char *comment, pbrpc_error *err);
/* Reads an identity's secret. Refuses files open to group/others. */
pbrpc_status pbrpc_identity_load(const char *path, uint8_t secret[32], pbrpc_error *err);
/* The public key of a secret. */
void pbrpc_public_key_of(const uint8_t secret[32], uint8_t pub[32]);
/* Parses "x25519 BASE64" at the start of text (blanks first are skipped);
 * *rest (if rest is not NULL) points past it and the blanks after it. */
pbrpc_status pbrpc_public_key_parse(const char *text, uint8_t key[32], const char **rest,
                                    pbrpc_error *err);
/* Reads a .pub file. */
pbrpc_status pbrpc_public_key_load(const char *path, uint8_t key[32], pbrpc_error *err);
/* Writes "x25519 BASE64" into buf. Returns 0, or -1 if it does not fit. */
int pbrpc_public_key_format(const uint8_t key[32], char *buf, size_t size);
/* "SHA256:" and the unpadded base64 of SHA-256(key), as ssh shows keys. */
void pbrpc_key_fingerprint(const uint8_t key[32], char out[PBRPC_FINGERPRINT_SIZE]);
/* $XDG_CONFIG_HOME/pbrpc/NAME, else $HOME/.config/pbrpc/NAME, in buf;
 * NULL if it does not fit or no home is known. */
char *pbrpc_config_path(const char *name, char *buf, size_t size);

/* The credential a client uses when it is given none: $PBRPC_KEY, else
 * pbrpc_config_path("id_x25519"), unless that does not exist and the
 * shared key pbrpc_config_path("key") does. Written into buf (the file may
 * not exist); NULL if it does not fit or no home is known. */
char *pbrpc_credential_default_path(char *buf, size_t size);

/* Known servers: "ADDRESS x25519 BASE64" lines, # comments. PBRPC_OK if a
 * line for address holds key, or if there is no line for address and
 * address is this machine (127.0.0.0/8, [::1], unix:) and key is the host
 * key in pbrpc_config_path("host_key.pub") (the user's own rpcd). No line
 * for address: with accept_new the line is appended (*added = 1), else
 * UNAUTHENTICATED "unknown server". A line for address with another key:
 * UNAUTHENTICATED "server key changed". file NULL: the default,
 * pbrpc_config_path("known_servers"). */
pbrpc_status pbrpc_known_servers_check(const char *file, const char *address, const uint8_t key[32],
                                       int accept_new, int *added, pbrpc_error *err);

/* ---- Service descriptions (written by protoc-gen-pbrpc) ---------------- */

typedef enum pbrpc_kind {
	PBRPC_UNARY = 0,
	PBRPC_SERVER_STREAMING = 1,
	PBRPC_CLIENT_STREAMING = 2,
	PBRPC_BIDI_STREAMING = 3,
} pbrpc_kind;

/* "unary", "server-streaming", "client-streaming", "bidi-streaming". */
const char *pbrpc_kind_name(pbrpc_kind kind);

typedef struct pbrpc_call pbrpc_call;

/* What happens to a streaming call on the server. */
typedef enum pbrpc_event {
	PBRPC_EV_START = 0,  /* call opened; msg = the request for server-streaming, else NULL */
	PBRPC_EV_MESSAGE,    /* msg = the next client message (client/bidi streaming) */
	PBRPC_EV_HALF_CLOSE, /* the client will send nothing more */
	PBRPC_EV_WRITABLE,   /* buffered output drained below the low-water mark */
	PBRPC_EV_CANCEL,     /* cancelled, past deadline, or peer gone: the call is freed
	                        when this returns; do not use it again */
} pbrpc_event;

/* Thunks cast the generic message pointers to the method's types and call
 * the service author's handler; generated per method. */
typedef int (*pbrpc_unary_thunk)(const void *handlers, pbrpc_call *call,
                                 const ProtobufCMessage *request, ProtobufCMessage *reply);
typedef int (*pbrpc_stream_thunk)(const void *handlers, pbrpc_call *call, pbrpc_event event,
                                  const ProtobufCMessage *msg);

/* One row of a service's dispatch table. */
typedef struct pbrpc_method_desc {
	const char *name;      /* "Say" */
	const char *full_name; /* "pbrpc.echo.Echo.Say": the name on the wire */
	pbrpc_kind kind;
	const ProtobufCMessageDescriptor *input;
	const ProtobufCMessageDescriptor *output;
	pbrpc_unary_thunk unary;   /* set for PBRPC_UNARY; returns -2 if no handler */
	pbrpc_stream_thunk stream; /* set for the streaming kinds; returns -2 if no handler */
} pbrpc_method_desc;

#define PBRPC_NO_HANDLER (-2)

typedef struct pbrpc_service_desc {
	const char *name;      /* "Echo" */
	const char *full_name; /* "pbrpc.echo.Echo" */
	size_t n_methods;
	const pbrpc_method_desc *methods;
} pbrpc_service_desc;

/* ---- Client ------------------------------------------------------------
 * A blocking client. One pbrpc_client may be used by many threads at once;
 * each call waits only for its own replies. */

typedef struct pbrpc_client pbrpc_client;
typedef struct pbrpc_stream pbrpc_stream;

typedef struct pbrpc_client_options {
	/* The credential: an identity file (protocol 2) or a shared key file
	 * (protocol 1), told apart by their contents. NULL: $PBRPC_KEY, else
	 * pbrpc_config_path("id_x25519") if it exists, else the shared key at
	 * pbrpc_config_path("key"). */
	const char *key_file;
	const uint8_t *key;      /* a shared key (PBRPC_KEY_BYTES); overrides key_file */
	const uint8_t *identity; /* an identity's 32-byte secret; overrides both */
	/* Which server keys to trust (protocol 2). server_key (32 bytes): that
	 * key only. Else the known_servers file (NULL: the default; see
	 * pbrpc_known_servers_check), adding an unknown server if accept_new. */
	const uint8_t *server_key;
	const char *known_servers;
	int accept_new;
	uint32_t max_record;    /* 0: PBRPC_DEFAULT_MAX_RECORD */
	int connect_timeout_ms; /* 0: 10000 (connect + handshake) */
} pbrpc_client_options;

typedef struct pbrpc_call_options {
	int64_t timeout_ms; /* 0: no deadline */
} pbrpc_call_options;

/* Zero-fills o (all defaults). */
void pbrpc_client_options_init(pbrpc_client_options *o);

/* Connects to address ("host:port", "[v6]:port", "unix:/path"), runs the
 * handshake and returns the client, or NULL with err set (UNAVAILABLE for
 * connection failures, UNAUTHENTICATED when the key does not match).
 * Free with pbrpc_client_close(). */
pbrpc_client *pbrpc_client_connect(const char *address, const pbrpc_client_options *opts,
                                   pbrpc_error *err);
/* Closes the connection and frees c. No call may be in progress. */
void pbrpc_client_close(pbrpc_client *c);
/* The protocol/software string the server announced. Owned by c. */
const char *pbrpc_client_server_software(const pbrpc_client *c);
/* The AEAD suite in use: "chacha20-poly1305" or "aes256-gcm". Static. */
const char *pbrpc_client_suite(const pbrpc_client *c);
/* The protocol version in use: 2 (keys) or 1 (shared key). */
int pbrpc_client_protocol(const pbrpc_client *c);
/* Protocol 2: copies the server's host key to key and returns 0; -1 under
 * protocol 1. */
int pbrpc_client_server_key(const pbrpc_client *c, uint8_t key[32]);
/* 1 if this connection added the server to known_servers (accept_new). */
int pbrpc_client_server_key_added(const pbrpc_client *c);

/* Calls a unary method. On PBRPC_OK *reply is a new message that the caller
 * frees with pbrpc_message_free(); otherwise *reply is NULL and err says why. */
pbrpc_status pbrpc_client_call(pbrpc_client *c, const pbrpc_method_desc *method,
                               const ProtobufCMessage *request, ProtobufCMessage **reply,
                               const pbrpc_call_options *opts, pbrpc_error *err);

/* Opens a streaming call. Free with pbrpc_stream_free(). */
pbrpc_stream *pbrpc_stream_open(pbrpc_client *c, const pbrpc_method_desc *method,
                                const pbrpc_call_options *opts, pbrpc_error *err);
/* Sends one message (client- and bidi-streaming, or the one request of a
 * server-streaming or unary call). The one request of a server-streaming or
 * unary call may wait (up to 64 KiB of them) until a thread next waits in
 * pbrpc_stream_recv() on this client, so pipelined calls share one write. */
pbrpc_status pbrpc_stream_send(pbrpc_stream *s, const ProtobufCMessage *msg, pbrpc_error *err);
/* Tells the server no more messages follow. */
pbrpc_status pbrpc_stream_close_send(pbrpc_stream *s, pbrpc_error *err);
/* Waits for the next message. PBRPC_OK with *msg set: a message the caller
 * frees with pbrpc_message_free(). PBRPC_OK with *msg NULL: the call ended
 * successfully. Any other status: the call ended with that error. */
pbrpc_status pbrpc_stream_recv(pbrpc_stream *s, ProtobufCMessage **msg, pbrpc_error *err);
/* Abandons the call; the server sees PBRPC_EV_CANCEL. */
void pbrpc_stream_cancel(pbrpc_stream *s);
/* Frees s, cancelling the call if it has not ended. */
void pbrpc_stream_free(pbrpc_stream *s);

/* Many unary calls in flight from one thread, without a thread per call.
 *
 * Starts a unary call and returns at once. The request is serialized and
 * sealed before the call returns (it stays the caller's); its bytes wait, so
 * that calls started together share one write, until pbrpc_client_flush(),
 * a wait on this client (pbrpc_client_call_wait(), pbrpc_stream_recv(),
 * pbrpc_client_poll()), or 64 KiB are queued. Returns a handle the caller
 * owns and passes to pbrpc_client_call_wait() (or pbrpc_stream_free() to
 * abandon the call), or NULL with err set (INVALID_ARGUMENT if the method is
 * not unary). */
pbrpc_stream *pbrpc_client_call_async(pbrpc_client *c, const pbrpc_method_desc *method,
                                      const ProtobufCMessage *request,
                                      const pbrpc_call_options *opts, pbrpc_error *err);
/* Writes queued requests (and cancels) now. */
pbrpc_status pbrpc_client_flush(pbrpc_client *c, pbrpc_error *err);
/* Waits for the reply of a call from pbrpc_client_call_async() and frees s
 * (always). On PBRPC_OK *reply is a new message the caller frees with
 * pbrpc_message_free(); otherwise *reply is NULL and err says why. */
pbrpc_status pbrpc_client_call_wait(pbrpc_stream *s, ProtobufCMessage **reply, pbrpc_error *err);
/* 1 if the call's next wait (pbrpc_client_call_wait(), pbrpc_stream_recv())
 * returns without waiting: a message has arrived, or the call has ended or
 * passed its deadline. Never blocks and never reads. */
int pbrpc_stream_ready(pbrpc_stream *s);
/* Writes queued requests, then reads what the server has sent and hands
 * every reply to its call, waiting up to timeout_ms (0: not at all, -1: no
 * limit) for one to arrive. Returns how many frames this thread handed
 * over; 0 if none came in time, or if another thread was reading (it hands
 * them over; this returns once it stops); -1 with err set if the
 * connection is lost. */
int pbrpc_client_poll(pbrpc_client *c, int timeout_ms, pbrpc_error *err);

/* Frees a message returned by the client API. NULL is fine. */
void pbrpc_message_free(ProtobufCMessage *msg);

/* ---- Server ------------------------------------------------------------
 * A libuv event-loop server. Handlers run on the loop thread and must not
 * block: long work goes to the thread pool or a child process. */

typedef struct pbrpc_server pbrpc_server;
struct uv_loop_s;

enum { PBRPC_LOG_ERROR = 0, PBRPC_LOG_WARN = 1, PBRPC_LOG_INFO = 2, PBRPC_LOG_DEBUG = 3 };
typedef void (*pbrpc_log_fn)(void *data, int level, const char *line);

/* Who is on the other end of a server connection, once the handshake is
 * over: what the handshake proved, and what the server's authorize
 * callback made of it. */
struct sockaddr;
typedef struct pbrpc_peer {
	const char *address;                      /* "127.0.0.1:50123", "[::1]:50123" or "unix" */
	const struct sockaddr *sockaddr;          /* the TCP peer; NULL for a Unix socket */
	int has_key;                              /* 1: protocol 2; 0: a shared-key client */
	uint8_t key[32];                          /* the client's public key (has_key) */
	char fingerprint[PBRPC_FINGERPRINT_SIZE]; /* of key; "" without one */
	char name[64];      /* set by authorize; "shared-key" for protocol 1 */
	void *policy;       /* set by authorize; handed back to release */
	unsigned max_calls; /* set by authorize; 0: the server's max_calls */
} pbrpc_peer;

/* Decides on a client right after its handshake (and again on
 * pbrpc_server_reauthorize()): fill peer->name (and policy, max_calls) and
 * return PBRPC_OK, or a status (PERMISSION_DENIED) with why; the client is
 * told and the connection closed. */
typedef pbrpc_status (*pbrpc_authorize_fn)(void *data, pbrpc_peer *peer, pbrpc_error *why);
/* Decides on each call before its handler runs; a refusal ends the call
 * with that status and why's message. */
typedef pbrpc_status (*pbrpc_check_call_fn)(void *data, const pbrpc_peer *peer,
                                            const pbrpc_method_desc *method, pbrpc_error *why);
/* A policy authorize attached is no longer used by a connection. */
typedef void (*pbrpc_release_fn)(void *data, void *policy);

typedef struct pbrpc_server_options {
	uint32_t max_record;           /* 0: PBRPC_DEFAULT_MAX_RECORD */
	unsigned max_connections;      /* 0: 1024 */
	unsigned max_calls;            /* per connection; 0: 128 */
	unsigned handshake_timeout_ms; /* 0: 10000 */
	unsigned idle_timeout_ms;      /* 0: never */
	unsigned grace_ms;             /* on stop, wait this long for calls; 0: 5000 */
	size_t max_output;             /* per-connection output high-water; 0: 1 MiB */
	/* Before authentication (like sshd's MaxStartups, PerSourcePenalties):
	 * handshakes open at once in all and from one address; and an address
	 * with penalty_failures failed handshakes within penalty_window_ms is
	 * refused for penalty_ms (UINT_MAX failures: never). */
	unsigned max_unauthenticated;            /* 0: 256 */
	unsigned max_unauthenticated_per_source; /* 0: 32 */
	unsigned penalty_failures;               /* 0: 64 */
	unsigned penalty_window_ms;              /* 0: 10000 */
	unsigned penalty_ms;                     /* 0: 10000 */
	int handle_signals;                      /* pbrpc_server_run() stops on SIGINT/SIGTERM */
	struct uv_loop_s *loop;                  /* NULL: a loop of the server's own */
	pbrpc_log_fn log;                        /* NULL: lines to stderr */
	void *log_data;
	int log_level; /* lines above this level are dropped */
	/* Protocol 2: the host key's 32-byte secret; needs authorize. */
	const uint8_t *host_key;
	pbrpc_authorize_fn authorize;   /* NULL: every client (protocol 1 only) */
	pbrpc_check_call_fn check_call; /* NULL: every call */
	pbrpc_release_fn release;       /* NULL: nothing to release */
	void *auth_data;
} pbrpc_server_options;

void pbrpc_server_options_init(pbrpc_server_options *o);

/* Creates a server that accepts clients holding key (protocol 1; NULL: no
 * shared-key clients) and, with opts->host_key, clients with keys of their
 * own that opts->authorize accepts (protocol 2). Free with
 * pbrpc_server_free(). */
pbrpc_server *pbrpc_server_new(const uint8_t key[PBRPC_KEY_BYTES], const pbrpc_server_options *opts,
                               pbrpc_error *err);
/* Routes the methods of desc to handlers (a generated *_handlers struct,
 * which must outlive the server). service_data is given to handlers through
 * pbrpc_call_service_data(). */
pbrpc_status pbrpc_server_add_service(pbrpc_server *s, const pbrpc_service_desc *desc,
                                      const void *handlers, void *service_data, pbrpc_error *err);
/* Starts listening on address; may be called for several addresses. */
pbrpc_status pbrpc_server_listen(pbrpc_server *s, const char *address, pbrpc_error *err);
/* The address actually bound by the n-th listen (useful with port 0), or
 * NULL. Owned by s. */
const char *pbrpc_server_address(const pbrpc_server *s, size_t n);
/* Runs the loop until the server stops. Returns 0 after a clean stop. */
int pbrpc_server_run(pbrpc_server *s);
/* Stops accepting, lets calls finish up to grace_ms, then closes. Safe to
 * call from any thread and from signal-free contexts. */
void pbrpc_server_stop(pbrpc_server *s);
/* Frees the server. The loop must not be running it. */
void pbrpc_server_free(pbrpc_server *s);
/* Services registered so far, for reflection. */
size_t pbrpc_server_service_count(const pbrpc_server *s);
const pbrpc_service_desc *pbrpc_server_service(const pbrpc_server *s, size_t n);
/* Runs authorize again for every authenticated connection (say after the
 * authorized keys changed): a refused client is disconnected at once; the
 * others get the new policy for their next calls. Loop thread only. */
void pbrpc_server_reauthorize(pbrpc_server *s);
/* The loop the server runs on. */
struct uv_loop_s *pbrpc_server_loop(pbrpc_server *s);
/* Logs a line through the server's log function (printf-style). */
void pbrpc_server_log(pbrpc_server *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- A call on the server, as its handler sees it ---------------------- */

void *pbrpc_call_service_data(const pbrpc_call *call);
void *pbrpc_call_data(const pbrpc_call *call);
void pbrpc_call_set_data(pbrpc_call *call, void *data);
const pbrpc_method_desc *pbrpc_call_method(const pbrpc_call *call);
pbrpc_server *pbrpc_call_server(const pbrpc_call *call);
struct uv_loop_s *pbrpc_call_loop(const pbrpc_call *call);
/* "127.0.0.1:50123", "[::1]:50123" or "unix". Owned by the connection. */
const char *pbrpc_call_peer(const pbrpc_call *call);
/* The connection and its client for log lines, e.g. "c42 alice
 * SHA256:..." ("c42 shared-key" for protocol 1). Owned by the connection. */
const char *pbrpc_call_conn_name(const pbrpc_call *call);
/* The client of the call: its name, key and the policy authorize gave it.
 * Valid while the call is; the policy may change between calls. */
const pbrpc_peer *pbrpc_call_client(const pbrpc_call *call);
/* Milliseconds left before the client's deadline, or -1 if it set none. */
int64_t pbrpc_call_remaining_ms(const pbrpc_call *call);
/* The largest record body the client accepts (its handshake's max_record,
 * at least PBRPC_MIN_MAX_RECORD). A message sent to it must pack, in its
 * frame and seal, within this: split data to fit (docs/protocol.md §8). */
uint32_t pbrpc_call_peer_max_record(const pbrpc_call *call);
/* Memory that lives until the call ends (for filling a unary reply). */
void *pbrpc_call_alloc(pbrpc_call *call, size_t size);
/* Sets the status message sent with a non-OK return from a unary handler. */
void pbrpc_call_set_message(pbrpc_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends one message to the client (streaming kinds). */
pbrpc_status pbrpc_call_send(pbrpc_call *call, const ProtobufCMessage *msg);
/* 1 if the connection can take more output now; 0 means wait for
 * PBRPC_EV_WRITABLE before sending more. */
int pbrpc_call_writable(const pbrpc_call *call);
/* Stops (paused = 1) or resumes reading the call's connection: back-pressure
 * from a handler whose sink is slower than the network. */
void pbrpc_call_pause(pbrpc_call *call, int paused);
/* Ends the call with a status (and optional printf-style message). The call
 * is freed; the handler gets no more events. */
void pbrpc_call_finish(pbrpc_call *call, pbrpc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends a last message and ends the call with status, both in one write (a
 * streaming call ending outside a read, from a timer or a child's exit, would
 * otherwise wake the client twice). As pbrpc_call_send then pbrpc_call_finish;
 * if the message cannot be sent the call ends with that error instead. */
void pbrpc_call_send_finish(pbrpc_call *call, const ProtobufCMessage *msg, pbrpc_status status,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Ends a call with its one reply and PBRPC_OK: a unary call that returned
 * PBRPC_ASYNC, or a client-streaming call. The call is freed. */
void pbrpc_call_reply(pbrpc_call *call, const ProtobufCMessage *reply);

#ifdef __cplusplus
}
#endif
#endif /* PBRPC_H */
