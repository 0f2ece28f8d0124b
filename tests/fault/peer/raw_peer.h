/* raw_peer: the byte-level client shared by the fault programs that talk to a
 * live rpcd below the library (badinput.c, hostile.c).
 *
 * It speaks the protocol with the library's internals over a plain blocking
 * socket; every wait is bounded by poll(). What it needs from the program
 * (rpcd's address and log, the key, where a failure reason goes) is handed
 * over once by raw_peer_init(). */
#ifndef PBRPC_TESTS_RAW_PEER_H
#define PBRPC_TESTS_RAW_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "channel.h"
#include "frame.h"
#include "pbrpc.h"
#include "pbrpc/echo.pbrpc.h"

/* The longest any single wait may take: a safety net for a stuck case, never
 * a speed asserted (a busy machine stretches every step). */
#define WAIT_MS 30000

typedef struct raw_peer_ctx {
	const char *addr;   /* rpcd's address */
	const char *log;    /* rpcd's log file */
	const uint8_t *key; /* the right key, PBRPC_KEY_BYTES */
	char *why;          /* the failure-reason sink: the first reason wins */
	size_t why_size;
} raw_peer_ctx;

/* Keeps a copy of *ctx (the strings and buffers it points to must outlive
 * every call below). */
void raw_peer_init(const raw_peer_ctx *ctx);
/* raw_peer_init, then loads keyfile into key (ctx->key's buffer) and checks
 * that rpcd serves an echo call; on failure prints "FAIL setup: why" and
 * returns -1. */
int raw_peer_setup(const raw_peer_ctx *ctx, const char *keyfile, uint8_t key[PBRPC_KEY_BYTES]);

/* Records why the current case fails (the first reason wins). Returns -1. */
int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t now_ms(void);
off_t log_size(void); /* of rpcd's log */

/* xorshift64 on a program's own state: fixed seeds, the same run every time. */
uint32_t raw_rnd(uint64_t *state);

typedef struct raw {
	int fd;
	int dribble; /* raw_send writes one byte at a time (set after raw_connect) */
	pbrpc_channel ch;
	uint32_t peer_max;
	pbrpc_buf in;
	uint8_t *rec; /* the last record received (a copy), for frames pointing into it */
} raw;

int raw_connect(raw *r);
void raw_close(raw *r);
/* Closes with an RST instead of a FIN: a client that vanishes. */
void raw_abort(raw *r);
int raw_send(raw *r, const void *p, size_t n);
/* Reads more bytes into r->in. 1: got some, 0: EOF or reset, -1: timeout. */
int raw_fill(raw *r, int64_t until);
/* Reads one whole record into r->rec. 1: got it; 0: closed; -1: timeout. */
int raw_record_within(raw *r, uint32_t *body_len, int wait_ms);
int raw_record(raw *r, uint32_t *body_len); /* within WAIT_MS */
/* Waits until the server closes. Returns its delay in ms, or -1 on timeout. */
int64_t raw_wait_closed(raw *r, int timeout_ms);
/* A real handshake with key; r->ch is ready after it. If rec1 is set, the
 * client's hello record is copied there (its length in *rec1_len); if rec4 is
 * set, the client's proof record (34 bytes plus header). */
int raw_handshake(raw *r, const uint8_t key[PBRPC_KEY_BYTES], uint8_t *rec1, size_t *rec1_len,
                  uint8_t rec4[38]);
/* Sends the ClientHello of a fresh handshake with key, all but its last
 * `short_by` bytes, and forgets the handshake. raw_send's result. */
int raw_send_hello(raw *r, const uint8_t key[PBRPC_KEY_BYTES], size_t short_by);
/* raw_connect and raw_handshake with the right key; closed again on failure. */
int raw_open(raw *r);

/* Seals a frame: a malloc'd record in *out, its length returned (0: failed). */
size_t seal_frame(raw *r, const pbrpc_frame *f, const ProtobufCMessage *msg, uint8_t **out);
int send_frame(raw *r, const pbrpc_frame *f, const ProtobufCMessage *msg);
/* Opens one received record (header + len) and decodes its frame. */
int open_frame(raw *r, uint8_t *rec, uint32_t len, pbrpc_frame *f);
/* Receives the next frame. 1: got it; 0: closed; -1: timeout or forged. */
int recv_frame_within(raw *r, pbrpc_frame *f, int wait_ms);
int recv_frame(raw *r, pbrpc_frame *f); /* within WAIT_MS */
/* Receives frames until the STATUS of call id. */
int recv_status(raw *r, uint64_t id, pbrpc_frame *f);

pbrpc_frame request(uint64_t id, const pbrpc_method_desc *m, uint32_t flags);
Pbrpc__Echo__EchoRequest echo_req(const char *text);

/* The library client: is rpcd still serving? */
pbrpc_client *library_connect(const uint8_t *key, pbrpc_error *err);
int echo_ok(void);

#endif
