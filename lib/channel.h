/* channel.h - sealing and opening records after the handshake: an AEAD per
 * direction with a 64-bit counter nonce, the record header as associated data. */
#ifndef PBRPC_CHANNEL_H
#define PBRPC_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define PBRPC_SEAL_OVERHEAD 16 /* the AEAD tag */

enum { PBRPC_SUITE_NONE = 0, PBRPC_SUITE_CHACHA20_POLY1305 = 1, PBRPC_SUITE_AES256_GCM = 2 };

typedef struct pbrpc_aead_dir {
	crypto_aead_aes256gcm_state aes; /* precomputed AES key schedule */
	uint8_t key[32];
	uint64_t counter; /* the next record's nonce */
} pbrpc_aead_dir;

typedef struct pbrpc_channel {
	int suite;
	pbrpc_aead_dir tx, rx;
} pbrpc_channel;

void pbrpc_channel_init(pbrpc_channel *ch, int suite, const uint8_t tx_key[32],
                        const uint8_t rx_key[32]);
/* rec holds 4 free header bytes, plain_len bytes of plaintext, then 16 free
 * bytes. Writes the header and seals in place; returns the record's length. */
size_t pbrpc_channel_seal(pbrpc_channel *ch, uint8_t *rec, size_t plain_len);
/* rec is a whole received record (header + body_len bytes). Opens it in
 * place: the plaintext is at rec + 4. Returns 0, or -1 if it was forged,
 * replayed, reordered or corrupted. */
int pbrpc_channel_open(pbrpc_channel *ch, uint8_t *rec, size_t body_len, size_t *plain_len);
/* 1 if this machine can run AES-256-GCM (AES-NI + PCLMUL). */
int pbrpc_channel_aes_available(void);
const char *pbrpc_suite_name(int suite);
void pbrpc_channel_wipe(pbrpc_channel *ch);

#endif
