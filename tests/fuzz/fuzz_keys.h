/* fuzz_keys.h - the fixed secrets of docs/protocol.md section 10.2, so that the
 * handshake and frame fuzzers are deterministic and the committed seeds (real
 * records made with these secrets) get past the proofs and the AEAD. */
#ifndef PBRPC_FUZZ_KEYS_H
#define PBRPC_FUZZ_KEYS_H

#include <stdint.h>

#include "handshake.h"

extern const uint8_t fuzz_psk[32];
extern const uint8_t fuzz_client_sk[32];
extern const uint8_t fuzz_server_sk[32];
/* key_c2s of the ChaCha20-Poly1305 session of section 10.2. */
extern const uint8_t fuzz_key_c2s[32];
extern const uint8_t fuzz_key_s2c[32];

/* The fixed static and ephemeral secrets of protocol.md 10.4 (version 2):
 * 32 bytes counting up from 0x20 (client static), 0x40 (client ephemeral),
 * 0x60 (server static), 0x80 (server ephemeral). */
void fuzz_fill(uint8_t k[32], uint8_t start);

/* Replaces the random ephemeral key pair pbrpc_handshake_init() made. */
void fuzz_fixed_ephemeral(pbrpc_handshake *hs, const uint8_t sk[32]);

/* Builds the Auth record {proof = HMAC(key, th)} into rec (4 + 34 bytes):
 * what an honest peer would send. Returns its length. */
size_t fuzz_auth_record(const uint8_t th[32], const uint8_t key[32], uint8_t rec[38]);

#endif
