/* handshake.h - who is on the other end, and fresh session keys
 * (docs/protocol.md §3). Two versions:
 *
 * Version 2, client and host keys: Noise XX over three records.
 *   1 C->S ClientHello{version 2, noise = e, payload{suites, max_record, software}}
 *   2 S->C ServerHello{version 2, noise = e, ee, s, es, payload{suite, max_record, software}}
 *   3 C->S Auth{noise = s, se}
 *   The client checks the server's static key (verify) before it sends
 *   record 3; the server's caller decides on the client's key after it.
 *
 * Version 1, the pre-shared key (opt-in, for existing deployments):
 *   1 C->S ClientHello{version, suites, ephemeral_pk, max_record}
 *   2 S->C ServerHello{version, suite, ephemeral_pk, max_record}
 *   3 S->C Auth{proof_s}         proof_s = HMAC(K_sproof, th)
 *   4 C->S Auth{proof_c}         proof_c = HMAC(K_cproof, th)
 *   th = BLAKE2b-256(record 1 || record 2), headers included.
 *
 * The state machine works on whole records, so the same code serves the
 * blocking client and the event-loop server. A server makes its ephemeral
 * key only once a well-formed hello has arrived. */
#ifndef PBRPC_HANDSHAKE_H
#define PBRPC_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "buf.h"
#include "channel.h"
#include "noise.h"
#include "pbrpc.h"

enum { PBRPC_HS_FAILED = -1, PBRPC_HS_CONTINUE = 0, PBRPC_HS_DONE = 1 };

#define PBRPC_PROTOCOL_V1 1 /* the pre-shared key */
#define PBRPC_PROTOCOL_V2 2 /* client keys and a host key (Noise XX) */
/* Version 2's Noise prologue: 18 ASCII bytes. */
#define PBRPC_NOISE_PROLOGUE "pbrpc handshake v2"

/* The client's check of the server's static key, before anything that
 * reveals the client is sent. 0: go on; else fill why (a refusal). */
typedef int (*pbrpc_hs_verify_fn)(void *data, const uint8_t server_key[32], pbrpc_error *why);

typedef struct pbrpc_handshake {
	int is_server;
	int step;    /* records received so far */
	int version; /* the one in use, once known */
	int suite;
	uint32_t max_record;      /* what we accept */
	uint32_t peer_max_record; /* what the peer accepts */
	int have_psk, have_static, have_ephemeral;
	uint8_t psk[PBRPC_KEY_BYTES];
	uint8_t pk[32], sk[32];               /* ephemeral */
	uint8_t static_pk[32], static_sk[32]; /* version 2: ours */
	uint8_t peer_static[32];              /* version 2: theirs, once proven */
	pbrpc_hs_verify_fn verify;
	void *verify_data;
	/* version 1 */
	uint8_t client_pk[32], server_pk[32];
	crypto_generichash_state transcript; /* records 1 and 2 */
	uint8_t th[32];                      /* its hash, which both proofs cover */
	uint8_t kx_s2c[32], kx_c2s[32];      /* crypto_kx's two halves */
	uint8_t server_proof_key[32], client_proof_key[32];
	/* version 2 */
	pbrpc_noise noise;
	/* both */
	uint8_t c2s[32], s2c[32];
	pbrpc_status status; /* why it failed */
	char error[400];
	char peer_software[64];
} pbrpc_handshake;

/* Both sides start here. psk (NULL: none) enables version 1; max_record is
 * what this side will accept. A client with a static key (below) speaks
 * version 2, else version 1. */
void pbrpc_handshake_init(pbrpc_handshake *hs, int is_server, const uint8_t psk[PBRPC_KEY_BYTES],
                          uint32_t max_record);
/* Version 2: this side's static X25519 secret (the host key on a server, the
 * client's identity on a client). */
void pbrpc_handshake_set_static(pbrpc_handshake *hs, const uint8_t sk[32]);
/* Client, version 2: verify is called with the server's static key. */
void pbrpc_handshake_set_verify(pbrpc_handshake *hs, pbrpc_hs_verify_fn verify, void *data);
/* Client: appends record 1 to out. Returns 0 or -1. */
int pbrpc_handshake_client_hello(pbrpc_handshake *hs, pbrpc_buf *out);
/* Feeds one whole received record (header included); may append records to
 * out. Returns PBRPC_HS_CONTINUE, PBRPC_HS_DONE or PBRPC_HS_FAILED (then
 * hs->status and hs->error say why; out may hold a refusal to send). After
 * PBRPC_HS_DONE in version 2, hs->peer_static is the peer's proven key. */
int pbrpc_handshake_recv(pbrpc_handshake *hs, const uint8_t *rec, size_t rec_len, pbrpc_buf *out);
/* After PBRPC_HS_DONE: the keys for this side's channel. */
void pbrpc_handshake_channel(const pbrpc_handshake *hs, pbrpc_channel *ch);
/* The refusal a server sends when it is at its connection limit; a client
 * reports it as PBRPC_RESOURCE_EXHAUSTED (every other refusal is
 * PBRPC_FAILED_PRECONDITION). */
#define PBRPC_REFUSAL_TOO_MANY_CONNECTIONS "too many connections"

/* Appends a refusal record (a ServerHello carrying only version, software and
 * error = why) to out, outside any handshake. Returns 0 or -1. */
int pbrpc_handshake_refusal(pbrpc_buf *out, const char *why);
/* Forgets every secret. */
void pbrpc_handshake_wipe(pbrpc_handshake *hs);

#endif
