/* fuzz_handshake_client.c - the client's handshake (handshake.c) fed the
 * records of a hostile server: its ServerHello, then its proof.
 *
 * Input: byte 0 holds flags, the rest is the server's byte stream. With flag
 * 1, once the client has accepted a ServerHello the harness sends the
 * server's correct proof (taken from the client's own key schedule), and the
 * client must then finish and answer with its own correct proof. The
 * client's ephemeral key and the PSK are the fixed ones of protocol.md 10.2,
 * so the committed seeds (records 2 and 3 of those sessions) finish too.
 * With flag 2 the client speaks version 2 with the fixed identity and
 * ephemeral key of protocol.md 10.4 (the seeds are that section's record 2),
 * trusting any server key; with flag 4 it refuses every server key, and must
 * then send nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"
#include "handshake.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { FLAG_HONEST_PROOF = 1, FLAG_IDENTITY = 2, FLAG_DISTRUST = 4 };

static int distrust(void *data, const uint8_t key[32], pbrpc_error *why)
{
	(void)data;
	(void)key;
	why->code = PBRPC_UNAUTHENTICATED;
	snprintf(why->message, sizeof why->message, "server key changed");
	return -1;
}

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

static int feed(pbrpc_handshake *hs, const uint8_t *rec, size_t len, pbrpc_buf *out)
{
	uint8_t *copy = malloc(len); /* its own allocation: ASan sees reads past it */
	check(copy != NULL);
	memcpy(copy, rec, len);
	int rc = pbrpc_handshake_recv(hs, copy, len, out);
	free(copy);
	return rc;
}

/* After success the client sent exactly one record: its correct proof. */
static void check_client_proof(const pbrpc_handshake *hs, const pbrpc_buf *out)
{
	uint8_t want[38];
	size_t n = fuzz_auth_record(hs->th, hs->client_proof_key, want);
	check(pbrpc_buf_len(out) == n && memcmp(pbrpc_buf_head(out), want, n) == 0);
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
	int v2 = (flags & FLAG_IDENTITY) != 0;
	pbrpc_handshake_init(&hs, 0, v2 ? NULL : fuzz_psk, PBRPC_DEFAULT_MAX_RECORD);
	if (v2) {
		uint8_t id[32], eph[32];
		fuzz_fill(id, 0x20);
		fuzz_fill(eph, 0x40);
		pbrpc_handshake_set_static(&hs, id);
		fuzz_fixed_ephemeral(&hs, eph);
		if (flags & FLAG_DISTRUST)
			pbrpc_handshake_set_verify(&hs, distrust, NULL);
	} else {
		fuzz_fixed_ephemeral(&hs, fuzz_client_sk);
	}
	pbrpc_buf_init(&out, 1 << 16);
	check(pbrpc_handshake_client_hello(&hs, &out) == 0);
	pbrpc_buf_consume(&out, pbrpc_buf_len(&out)); /* "sent" */

	int rc = PBRPC_HS_CONTINUE;
	while (rc == PBRPC_HS_CONTINUE) {
		uint32_t body_len;
		if (pbrpc_record_check(stream + used, n - used, PBRPC_HANDSHAKE_MAX_RECORD,
		                       &body_len) != PBRPC_RECORD_READY)
			break;
		size_t len = PBRPC_RECORD_HEADER + body_len;
		rc = feed(&hs, stream + used, len, &out);
		used += len;
		if (rc == PBRPC_HS_CONTINUE) {
			check(!v2); /* version 2 ends with the client's one record in */
			check(pbrpc_buf_len(&out) == 0); /* nothing before the server's proof */
			if (flags & FLAG_HONEST_PROOF) {
				uint8_t proof[38];
				size_t plen = fuzz_auth_record(hs.th, hs.server_proof_key, proof);
				rc = feed(&hs, proof, plen, &out);
				check(rc == PBRPC_HS_DONE);
			}
		}
	}
	check(memchr(hs.error, '\0', sizeof hs.error) != NULL);
	check(memchr(hs.peer_software, '\0', sizeof hs.peer_software) != NULL);
	for (const char *p = hs.peer_software; *p; p++)
		check(*p >= 0x20 && *p < 0x7f);
	if (rc == PBRPC_HS_FAILED) {
		check(hs.status != PBRPC_OK && hs.error[0] != '\0');
		if (v2) /* a failed version 2 client never sends its identity */
			check(pbrpc_buf_len(&out) == 0);
		for (const char *p = hs.error; *p; p++)
			check(*p >= 0x20 && *p != 0x7f); /* the server's refusal is printed */
	}
	if (rc == PBRPC_HS_DONE) {
		check(!v2 || !(flags & FLAG_DISTRUST));
		if (v2) /* exactly record 3: Auth{noise: 48 + 16 bytes} */
			check(pbrpc_buf_len(&out) == 4 + 2 + 64);
		else
			check_client_proof(&hs, &out);
		check(hs.suite == PBRPC_SUITE_CHACHA20_POLY1305 ||
		      hs.suite == PBRPC_SUITE_AES256_GCM);
		check(hs.peer_max_record >= PBRPC_MIN_MAX_RECORD &&
		      hs.peer_max_record <= PBRPC_MAX_MAX_RECORD);
	}
	pbrpc_buf_free(&out);
	pbrpc_handshake_wipe(&hs);
	return 0;
}
