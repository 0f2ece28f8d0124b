/* handshake.h - mutual authentication from the pre-shared key and fresh
 * session keys (docs/protocol.md, "Handshake").
 *
 *   1 C->S ClientHello{version, suites, ephemeral_pk, max_record}
 *   2 S->C ServerHello{version, suite, ephemeral_pk, max_record}
 *   3 S->C Auth{proof_s}         proof_s = HMAC(K_sproof, th)
 *   4 C->S Auth{proof_c}         proof_c = HMAC(K_cproof, th)
 *   th = BLAKE2b-256(record 1 || record 2), headers included.
 *
 * The state machine works on whole records, so the same code serves the
 * blocking client and the event-loop server. */
#ifndef PBRPC_HANDSHAKE_H
#define PBRPC_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "buf.h"
#include "channel.h"
#include "pbrpc.h"

enum { PBRPC_HS_FAILED = -1, PBRPC_HS_CONTINUE = 0, PBRPC_HS_DONE = 1 };

typedef struct pbrpc_handshake {
	int is_server;
	int step; /* records received so far */
	int suite;
	uint32_t max_record;      /* what we accept */
	uint32_t peer_max_record; /* what the peer accepts */
	uint8_t psk[PBRPC_KEY_BYTES];
	uint8_t pk[crypto_kx_PUBLICKEYBYTES], sk[crypto_kx_SECRETKEYBYTES];
	uint8_t client_pk[32], server_pk[32];
	crypto_generichash_state transcript; /* records 1 and 2 */
	uint8_t th[32];                      /* its hash, which both proofs cover */
	uint8_t c2s[32], s2c[32], server_proof_key[32], client_proof_key[32];
	pbrpc_status status; /* why it failed */
	char error[160];
	char peer_software[64];
} pbrpc_handshake;

/* Both sides start here. max_record is what this side will accept. */
void pbrpc_handshake_init(pbrpc_handshake *hs, int is_server, const uint8_t psk[PBRPC_KEY_BYTES],
                          uint32_t max_record);
/* Client: appends record 1 to out. Returns 0 or -1. */
int pbrpc_handshake_client_hello(pbrpc_handshake *hs, pbrpc_buf *out);
/* Feeds one whole received record (header included); may append records to
 * out. Returns PBRPC_HS_CONTINUE, PBRPC_HS_DONE or PBRPC_HS_FAILED (then
 * hs->status and hs->error say why; out may hold a refusal to send). */
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
