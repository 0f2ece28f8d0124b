/* fuzz_keys.c - see fuzz_keys.h. */
#include "fuzz_keys.h"

#include <string.h>

#include "record.h"

#define SEQ32(b)                                                                                   \
	{                                                                                          \
		b + 0, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10,      \
		    b + 11, b + 12, b + 13, b + 14, b + 15, b + 16, b + 17, b + 18, b + 19,        \
		    b + 20, b + 21, b + 22, b + 23, b + 24, b + 25, b + 26, b + 27, b + 28,        \
		    b + 29, b + 30, b + 31                                                         \
	}

const uint8_t fuzz_psk[32] = SEQ32(0x00);
const uint8_t fuzz_client_sk[32] = SEQ32(0x20);
const uint8_t fuzz_server_sk[32] = SEQ32(0x40);
const uint8_t fuzz_key_c2s[32] = {0x65, 0x7d, 0xd3, 0x98, 0xd9, 0x54, 0x8e, 0xb7, 0x45, 0x72, 0x48,
                                  0x64, 0x13, 0x75, 0xe5, 0x23, 0x6a, 0x23, 0xc0, 0xe3, 0x72, 0x94,
                                  0xa2, 0xb6, 0xfd, 0x2d, 0xdb, 0x33, 0xa5, 0x93, 0x82, 0xad};
const uint8_t fuzz_key_s2c[32] = {0x2e, 0x36, 0x5d, 0x92, 0xde, 0x7a, 0xdb, 0x50, 0x69, 0x6a, 0x2e,
                                  0xdd, 0x32, 0x68, 0x5c, 0xc1, 0x92, 0xbf, 0x9e, 0x45, 0x3e, 0x18,
                                  0xc2, 0x23, 0x52, 0x95, 0x9b, 0x17, 0xb6, 0x0b, 0x63, 0xe3};

void fuzz_fill(uint8_t k[32], uint8_t start)
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(start + i);
}

void fuzz_fixed_ephemeral(pbrpc_handshake *hs, const uint8_t sk[32])
{
	memcpy(hs->sk, sk, 32);
	crypto_scalarmult_base(hs->pk, hs->sk);
	hs->have_ephemeral = 1;
}

size_t fuzz_auth_record(const uint8_t th[32], const uint8_t key[32], uint8_t rec[38])
{
	pbrpc_put_be32(rec, 34);
	rec[4] = 0x0a; /* field 1, length-delimited */
	rec[5] = 32;
	crypto_auth(rec + 6, th, 32, key);
	return 38;
}
