/* fuzz_handshake_server.c - the server's handshake (handshake.c) fed the
 * records of a hostile client, split from the input as conn.c splits a
 * socket's bytes.
 *
 * Input: byte 0 holds flags, the rest is the client's byte stream. With flag
 * 1, once the server has accepted a ClientHello the harness sends the
 * client's correct proof (taken from the server's own key schedule), so the
 * fuzzer reaches a finished handshake from any hello it invents. The
 * server's ephemeral key and the PSK are the fixed ones of protocol.md 10.2,
 * so the committed seed (records 1 and 4 of that session) finishes too.
 * With flag 2 the server has the fixed host key of protocol.md 10.4 as well
 * and its ephemeral key is that section's, so the seeds made of records 1
 * and 3 of those version 2 sessions finish. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"
#include "handshake.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { FLAG_HONEST_PROOF = 1, FLAG_HOST_KEY = 2 };

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	check(sodium_init() >= 0);
	return 0;
}

/* Everything the server wrote must be whole handshake records. */
static void check_output(const pbrpc_buf *out)
{
	const uint8_t *p = pbrpc_buf_head(out);
	size_t n = pbrpc_buf_len(out);
	while (n > 0) {
		uint32_t body_len = 0;
		check(pbrpc_record_check(p, n, PBRPC_HANDSHAKE_MAX_RECORD, &body_len) ==
		      PBRPC_RECORD_READY);
		p += PBRPC_RECORD_HEADER + body_len;
		n -= PBRPC_RECORD_HEADER + body_len;
	}
}

/* Feeds one record in a heap copy of its own, so ASan sees any read past it. */
static int feed(pbrpc_handshake *hs, const uint8_t *rec, size_t len, pbrpc_buf *out)
{
	uint8_t *copy = malloc(len);
	check(copy != NULL);
	memcpy(copy, rec, len);
	int rc = pbrpc_handshake_recv(hs, copy, len, out);
	free(copy);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int flags = data[0];
	const uint8_t *stream = data + 1;
	size_t n = size - 1, used = 0;

	pbrpc_handshake hs;
	pbrpc_buf out;
	pbrpc_handshake_init(&hs, 1, fuzz_psk, PBRPC_DEFAULT_MAX_RECORD);
	if (flags & FLAG_HOST_KEY) {
		uint8_t host[32], eph[32];
		fuzz_fill(host, 0x60);
		fuzz_fill(eph, 0x80);
		pbrpc_handshake_set_static(&hs, host);
		fuzz_fixed_ephemeral(&hs, eph);
	} else {
		fuzz_fixed_ephemeral(&hs, fuzz_server_sk);
	}
	pbrpc_buf_init(&out, 1 << 16);

	int rc = PBRPC_HS_CONTINUE;
	while (rc == PBRPC_HS_CONTINUE) {
		uint32_t body_len;
		if (pbrpc_record_check(stream + used, n - used, PBRPC_HANDSHAKE_MAX_RECORD,
		                       &body_len) != PBRPC_RECORD_READY)
			break; /* conn.c waits, or closes on a bad length */
		size_t len = PBRPC_RECORD_HEADER + body_len;
		rc = feed(&hs, stream + used, len, &out);
		used += len;
		if (rc == PBRPC_HS_CONTINUE && (flags & FLAG_HONEST_PROOF) &&
		    hs.version == PBRPC_PROTOCOL_V1) {
			uint8_t proof[38];
			size_t plen = fuzz_auth_record(hs.th, hs.client_proof_key, proof);
			rc = feed(&hs, proof, plen, &out);
			check(rc == PBRPC_HS_DONE); /* a correct proof must be accepted */
		}
	}
	check_output(&out);
	check(memchr(hs.error, '\0', sizeof hs.error) != NULL);
	check(memchr(hs.peer_software, '\0', sizeof hs.peer_software) != NULL);
	for (const char *p = hs.peer_software; *p; p++)
		check(*p >= 0x20 && *p < 0x7f); /* it goes into log lines */
	if (rc == PBRPC_HS_FAILED)
		check(hs.status != PBRPC_OK && hs.error[0] != '\0');
	if (rc == PBRPC_HS_DONE) {
		check(hs.suite == PBRPC_SUITE_CHACHA20_POLY1305 ||
		      hs.suite == PBRPC_SUITE_AES256_GCM);
		check(hs.peer_max_record >= PBRPC_MIN_MAX_RECORD &&
		      hs.peer_max_record <= PBRPC_MAX_MAX_RECORD);
		pbrpc_channel ch;
		pbrpc_handshake_channel(&hs, &ch);
		pbrpc_channel_wipe(&ch);
		if (hs.version == PBRPC_PROTOCOL_V2) /* the client proved a real key */
			check(!sodium_is_zero(hs.peer_static, 32));
		/* Once done, no further record may be taken. */
		uint8_t extra[5] = {0, 0, 0, 1, 0};
		check(feed(&hs, extra, sizeof extra, &out) == PBRPC_HS_FAILED);
	}
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&hs);
	return 0;
}
