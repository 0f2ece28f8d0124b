/* noise.c - see noise.h. HKDF is the one of the Noise specification (§4.3),
 * over libsodium's HMAC-SHA-256; nothing here is a primitive of our own. */
#include "noise.h"

#include <string.h>

#include <sodium.h>

static void hmac(uint8_t out[32], const uint8_t key[32], const uint8_t *a, size_t a_len,
                 const uint8_t *b, size_t b_len)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, a, a_len);
	if (b_len)
		crypto_auth_hmacsha256_update(&st, b, b_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

/* HKDF(chaining_key, ikm) with two outputs. */
static void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32],
                  uint8_t out2[32])
{
	uint8_t temp[32], one = 1, two = 2;
	hmac(temp, ck, ikm, ikm_len, NULL, 0);
	hmac(out1, temp, &one, 1, NULL, 0);
	hmac(out2, temp, out1, 32, &two, 1);
	sodium_memzero(temp, sizeof temp);
}

void pbrpc_noise_init(pbrpc_noise *ns, const uint8_t *prologue, size_t prologue_len)
{
	memset(ns, 0, sizeof *ns);
	/* The name is exactly HASHLEN (32) bytes, so h is the name itself. */
	memcpy(ns->h, PBRPC_NOISE_PROTOCOL, 32);
	memcpy(ns->ck, ns->h, 32);
	pbrpc_noise_mix_hash(ns, prologue, prologue_len);
}

void pbrpc_noise_mix_hash(pbrpc_noise *ns, const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, ns->h, 32);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, ns->h);
}

int pbrpc_noise_mix_dh(pbrpc_noise *ns, const uint8_t sk[32], const uint8_t pk[32])
{
	uint8_t shared[32], ck[32];
	/* libsodium refuses an all-zero result (a low-order point) with -1. */
	if (crypto_scalarmult(shared, sk, pk) != 0)
		return -1;
	hkdf2(ns->ck, shared, 32, ck, ns->k);
	memcpy(ns->ck, ck, 32);
	ns->has_key = 1;
	ns->n = 0;
	sodium_memzero(shared, sizeof shared);
	sodium_memzero(ck, sizeof ck);
	return 0;
}

/* Noise's ChaChaPoly nonce: 32 zero bits, then n little-endian. */
static void nonce_of(uint64_t n, uint8_t nonce[12])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

size_t pbrpc_noise_encrypt_and_hash(pbrpc_noise *ns, const uint8_t *plain, size_t len, uint8_t *out)
{
	size_t out_len = len;
	if (ns->has_key) {
		uint8_t nonce[12];
		unsigned long long clen;
		nonce_of(ns->n++, nonce);
		crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plain, len, ns->h, 32, NULL,
		                                          nonce, ns->k);
		out_len = (size_t)clen;
	} else if (len) {
		memmove(out, plain, len);
	}
	pbrpc_noise_mix_hash(ns, out, out_len);
	return out_len;
}

long pbrpc_noise_decrypt_and_hash(pbrpc_noise *ns, const uint8_t *cipher, size_t len, uint8_t *out)
{
	/* The next h covers the ciphertext; work it out first, since out may be
	 * cipher itself. */
	pbrpc_noise next = *ns;
	size_t plain_len = len;
	pbrpc_noise_mix_hash(&next, cipher, len);
	if (ns->has_key) {
		uint8_t nonce[12];
		unsigned long long plen;
		if (len < PBRPC_NOISE_TAG)
			return -1;
		nonce_of(ns->n, nonce);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, cipher, len, ns->h,
		                                              32, nonce, ns->k) != 0) {
			sodium_memzero(&next, sizeof next);
			return -1;
		}
		next.n++;
		plain_len = (size_t)plen;
	} else if (len) {
		memmove(out, cipher, len);
	}
	*ns = next;
	sodium_memzero(&next, sizeof next);
	return (long)plain_len;
}

void pbrpc_noise_split(const pbrpc_noise *ns, uint8_t initiator_tx[32], uint8_t responder_tx[32])
{
	hkdf2(ns->ck, NULL, 0, initiator_tx, responder_tx);
}

void pbrpc_noise_public_key(uint8_t pk[32], const uint8_t sk[32])
{
	crypto_scalarmult_base(pk, sk);
}

void pbrpc_noise_wipe(pbrpc_noise *ns)
{
	sodium_memzero(ns, sizeof *ns);
}
