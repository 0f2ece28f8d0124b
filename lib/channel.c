/* channel.c - per-direction AEAD with counter nonces. The nonce is never
 * sent: both ends count, so a dropped, replayed or reordered record fails to
 * open, and so does any change to its bytes or its length header. */
#include "channel.h"

#include <string.h>

#include "record.h"

static void nonce_for(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

void pbrpc_channel_init(pbrpc_channel *ch, int suite, const uint8_t tx_key[32],
                        const uint8_t rx_key[32])
{
	memset(ch, 0, sizeof *ch);
	ch->suite = suite;
	memcpy(ch->tx.key, tx_key, 32);
	memcpy(ch->rx.key, rx_key, 32);
	if (suite == PBRPC_SUITE_AES256_GCM) {
		crypto_aead_aes256gcm_beforenm(&ch->tx.aes, tx_key);
		crypto_aead_aes256gcm_beforenm(&ch->rx.aes, rx_key);
	}
}

size_t pbrpc_channel_seal(pbrpc_channel *ch, uint8_t *rec, size_t plain_len)
{
	uint8_t nonce[12];
	uint8_t *body = rec + PBRPC_RECORD_HEADER;

	pbrpc_put_be32(rec, (uint32_t)(plain_len + PBRPC_SEAL_OVERHEAD));
	nonce_for(nonce, ch->tx.counter++);
	if (ch->suite == PBRPC_SUITE_AES256_GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(body, body + plain_len, NULL, body,
		                                               plain_len, rec, PBRPC_RECORD_HEADER,
		                                               NULL, nonce, &ch->tx.aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    body, body + plain_len, NULL, body, plain_len, rec, PBRPC_RECORD_HEADER, NULL,
		    nonce, ch->tx.key);
	return PBRPC_RECORD_HEADER + plain_len + PBRPC_SEAL_OVERHEAD;
}

int pbrpc_channel_open(pbrpc_channel *ch, uint8_t *rec, size_t body_len, size_t *plain_len)
{
	uint8_t nonce[12];
	uint8_t *body = rec + PBRPC_RECORD_HEADER;
	int rc;

	if (body_len < PBRPC_SEAL_OVERHEAD)
		return -1;
	size_t len = body_len - PBRPC_SEAL_OVERHEAD;
	nonce_for(nonce, ch->rx.counter);
	if (ch->suite == PBRPC_SUITE_AES256_GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(
		    body, NULL, body, len, body + len, rec, PBRPC_RECORD_HEADER, nonce,
		    &ch->rx.aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    body, NULL, body, len, body + len, rec, PBRPC_RECORD_HEADER, nonce, ch->rx.key);
	if (rc != 0)
		return -1;
	ch->rx.counter++;
	*plain_len = len;
	return 0;
}

int pbrpc_channel_aes_available(void)
{
	return crypto_aead_aes256gcm_is_available();
}

const char *pbrpc_suite_name(int suite)
{
	switch (suite) {
	case PBRPC_SUITE_CHACHA20_POLY1305: return "chacha20-poly1305";
	case PBRPC_SUITE_AES256_GCM: return "aes256-gcm";
	}
	return "none";
}

void pbrpc_channel_wipe(pbrpc_channel *ch)
{
	sodium_memzero(ch, sizeof *ch);
}
