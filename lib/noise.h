/* noise.h - the symmetric state of a Noise handshake
 * (Noise_XX_25519_ChaChaPoly_SHA256, noiseprotocol.org revision 34), built
 * only from libsodium: X25519 (crypto_scalarmult), ChaCha20-Poly1305 IETF,
 * SHA-256 and HMAC-SHA-256. handshake.c writes the XX message pattern with
 * it; docs/protocol.md §3 says every step in Noise's own terms. */
#ifndef PBRPC_NOISE_H
#define PBRPC_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define PBRPC_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_SHA256"
#define PBRPC_NOISE_KEY      32
#define PBRPC_NOISE_TAG      16

typedef struct pbrpc_noise {
	uint8_t ck[32]; /* chaining key */
	uint8_t h[32];  /* handshake hash */
	uint8_t k[32];  /* cipher key, once has_key */
	int has_key;
	uint64_t n; /* the cipher's nonce */
} pbrpc_noise;

/* InitializeSymmetric(protocol name) then MixHash(prologue). */
void pbrpc_noise_init(pbrpc_noise *ns, const uint8_t *prologue, size_t prologue_len);
void pbrpc_noise_mix_hash(pbrpc_noise *ns, const uint8_t *data, size_t len);
/* MixKey(DH(sk, pk)). -1 if the DH result is all zeros (a low-order key). */
int pbrpc_noise_mix_dh(pbrpc_noise *ns, const uint8_t sk[32], const uint8_t pk[32]);
/* EncryptAndHash: out gets len bytes (no key yet) or len + 16. Returns the
 * bytes written. */
size_t pbrpc_noise_encrypt_and_hash(pbrpc_noise *ns, const uint8_t *plain, size_t len,
                                    uint8_t *out);
/* DecryptAndHash: out gets the plaintext (len - 16 bytes once keyed).
 * Returns its length, or -1 if the tag does not verify or len is short. */
long pbrpc_noise_decrypt_and_hash(pbrpc_noise *ns, const uint8_t *cipher, size_t len, uint8_t *out);
/* Split: the initiator's sending key and the responder's sending key. */
void pbrpc_noise_split(const pbrpc_noise *ns, uint8_t initiator_tx[32], uint8_t responder_tx[32]);
/* X25519 key pair from a secret (the public key = X25519(sk, 9)). */
void pbrpc_noise_public_key(uint8_t pk[32], const uint8_t sk[32]);
void pbrpc_noise_wipe(pbrpc_noise *ns);

#endif
