/* handshake.c - see handshake.h and docs/protocol.md. Only libsodium's
 * high-level primitives: crypto_kx (X25519 + BLAKE2b), crypto_generichash,
 * crypto_kdf and crypto_auth (HMAC-SHA-512-256, verified in constant time). */
#include "handshake.h"

#include <string.h>

#include "pbrpc/wire.pb-c.h"
#include "record.h"

#define KDF_CONTEXT  "pbrpc-v1"
#define MASTER_LABEL "pbrpc handshake v1"

enum { KDF_C2S = 1, KDF_S2C = 2, KDF_SERVER_PROOF = 3, KDF_CLIENT_PROOF = 4 };

static int fail(pbrpc_handshake *hs, pbrpc_status status, const char *msg)
{
	hs->status = status;
	snprintf(hs->error, sizeof hs->error, "%s", msg);
	return PBRPC_HS_FAILED;
}

void pbrpc_handshake_init(pbrpc_handshake *hs, int is_server, const uint8_t psk[PBRPC_KEY_BYTES],
                          uint32_t max_record)
{
	memset(hs, 0, sizeof *hs);
	hs->is_server = is_server;
	hs->max_record = max_record;
	memcpy(hs->psk, psk, PBRPC_KEY_BYTES);
	crypto_kx_keypair(hs->pk, hs->sk);
	crypto_generichash_init(&hs->transcript, NULL, 0, 32);
}

/* Packs msg as one record at the tail of out and hashes it into the transcript. */
static int put_record(pbrpc_handshake *hs, const ProtobufCMessage *msg, pbrpc_buf *out, int hashed)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (len == 0 || len > PBRPC_HANDSHAKE_MAX_RECORD ||
	    pbrpc_buf_reserve(out, PBRPC_RECORD_HEADER + len) != 0)
		return -1;
	uint8_t *rec = pbrpc_buf_tail(out);
	pbrpc_put_be32(rec, (uint32_t)len);
	protobuf_c_message_pack(msg, rec + PBRPC_RECORD_HEADER);
	if (hashed)
		crypto_generichash_update(&hs->transcript, rec, PBRPC_RECORD_HEADER + len);
	pbrpc_buf_commit(out, PBRPC_RECORD_HEADER + len);
	return 0;
}

int pbrpc_handshake_client_hello(pbrpc_handshake *hs, pbrpc_buf *out)
{
	Pbrpc__Wire__ClientHello hello = PBRPC__WIRE__CLIENT_HELLO__INIT;
	Pbrpc__Wire__Suite suites[2];

	hello.version = PBRPC_PROTOCOL_VERSION;
	/* AES-GCM first where the CPU has it: it is the faster suite there. */
	if (pbrpc_channel_aes_available())
		suites[hello.n_suites++] = PBRPC__WIRE__SUITE__SUITE_AES256_GCM;
	suites[hello.n_suites++] = PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305;
	hello.suites = suites;
	hello.ephemeral_pk.data = hs->pk;
	hello.ephemeral_pk.len = sizeof hs->pk;
	hello.max_record = hs->max_record;
	hello.software = "pbrpc/" PBRPC_VERSION;
	memcpy(hs->client_pk, hs->pk, 32);
	return put_record(hs, &hello.base, out, 1);
}

/* Mixes the X25519 result, the pre-shared key and the transcript into the
 * session keys; both proofs and both directions get keys of their own. */
static int derive_keys(pbrpc_handshake *hs)
{
	uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	uint8_t master[32];
	crypto_generichash_state st;
	int rc;

	/* kx = BLAKE2b-512(X25519 || client_pk || server_pk); s2c = kx[0..32], c2s = kx[32..64]. */
	if (hs->is_server)
		rc = crypto_kx_server_session_keys(rx, tx, hs->pk, hs->sk, hs->client_pk);
	else
		rc = crypto_kx_client_session_keys(rx, tx, hs->pk, hs->sk, hs->server_pk);
	if (rc != 0)
		return -1;
	const uint8_t *kx_s2c = hs->is_server ? tx : rx;
	const uint8_t *kx_c2s = hs->is_server ? rx : tx;

	crypto_generichash_final(&hs->transcript, hs->th, sizeof hs->th);
	crypto_generichash_init(&st, hs->psk, PBRPC_KEY_BYTES, sizeof master);
	crypto_generichash_update(&st, (const uint8_t *)MASTER_LABEL, strlen(MASTER_LABEL));
	crypto_generichash_update(&st, kx_s2c, 32);
	crypto_generichash_update(&st, kx_c2s, 32);
	crypto_generichash_update(&st, hs->th, sizeof hs->th);
	crypto_generichash_final(&st, master, sizeof master);

	crypto_kdf_derive_from_key(hs->c2s, 32, KDF_C2S, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hs->s2c, 32, KDF_S2C, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hs->server_proof_key, 32, KDF_SERVER_PROOF, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hs->client_proof_key, 32, KDF_CLIENT_PROOF, KDF_CONTEXT, master);
	sodium_memzero(rx, sizeof rx);
	sodium_memzero(tx, sizeof tx);
	sodium_memzero(hs->sk, sizeof hs->sk);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(master, sizeof master);
	return 0;
}

static int send_proof(pbrpc_handshake *hs, const uint8_t key[32], pbrpc_buf *out)
{
	Pbrpc__Wire__Auth auth = PBRPC__WIRE__AUTH__INIT;
	uint8_t tag[crypto_auth_BYTES];

	crypto_auth(tag, hs->th, sizeof hs->th, key);
	auth.proof.data = tag;
	auth.proof.len = sizeof tag;
	return put_record(hs, &auth.base, out, 0);
}

static int check_proof(pbrpc_handshake *hs, const uint8_t *body, size_t len, const uint8_t key[32])
{
	Pbrpc__Wire__Auth *auth = pbrpc__wire__auth__unpack(NULL, len, body);
	if (!auth)
		return -1;
	int ok = auth->proof.len == crypto_auth_BYTES &&
	         crypto_auth_verify(auth->proof.data, hs->th, sizeof hs->th, key) == 0;
	pbrpc__wire__auth__free_unpacked(auth, NULL);
	return ok ? 0 : -1;
}

static void copy_software(pbrpc_handshake *hs, const char *software)
{
	size_t n = 0;
	/* Printable ASCII only: this string ends up in logs. */
	for (; software && software[n] && n + 1 < sizeof hs->peer_software; n++)
		hs->peer_software[n] =
		    software[n] >= 0x20 && software[n] < 0x7f ? software[n] : '?';
	hs->peer_software[n] = '\0';
}

/* The peer's limit: 0 (field left out) means the default. */
static uint32_t clamp_max_record(uint32_t v)
{
	if (v == 0)
		return PBRPC_DEFAULT_MAX_RECORD;
	if (v < PBRPC_MIN_MAX_RECORD)
		return PBRPC_MIN_MAX_RECORD;
	return v > PBRPC_MAX_MAX_RECORD ? PBRPC_MAX_MAX_RECORD : v;
}

int pbrpc_handshake_refusal(pbrpc_buf *out, const char *why)
{
	Pbrpc__Wire__ServerHello hello = PBRPC__WIRE__SERVER_HELLO__INIT;
	hello.version = PBRPC_PROTOCOL_VERSION;
	hello.software = "pbrpc/" PBRPC_VERSION;
	hello.error = (char *)why;
	return put_record(NULL, &hello.base, out, 0);
}

static int refuse(pbrpc_handshake *hs, pbrpc_buf *out, const char *why)
{
	pbrpc_handshake_refusal(out, why);
	return fail(hs, PBRPC_FAILED_PRECONDITION, why);
}

static int server_recv(pbrpc_handshake *hs, const uint8_t *rec, size_t rec_len, pbrpc_buf *out)
{
	const uint8_t *body = rec + PBRPC_RECORD_HEADER;
	size_t len = rec_len - PBRPC_RECORD_HEADER;

	if (hs->step == 1) {
		Pbrpc__Wire__ClientHello *hello =
		    pbrpc__wire__client_hello__unpack(NULL, len, body);
		if (!hello)
			return fail(hs, PBRPC_INVALID_ARGUMENT,
			            "first record is not a ClientHello");
		if (hello->version != PBRPC_PROTOCOL_VERSION) {
			pbrpc__wire__client_hello__free_unpacked(hello, NULL);
			return refuse(hs, out,
			              "unsupported protocol version (this server speaks 1)");
		}
		if (hello->ephemeral_pk.len != 32) {
			pbrpc__wire__client_hello__free_unpacked(hello, NULL);
			return refuse(hs, out, "ephemeral_pk must be 32 bytes");
		}
		for (size_t i = 0; i < hello->n_suites && !hs->suite; i++) {
			if (hello->suites[i] == PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305 ||
			    (hello->suites[i] == PBRPC__WIRE__SUITE__SUITE_AES256_GCM &&
			     pbrpc_channel_aes_available()))
				hs->suite = (int)hello->suites[i];
		}
		memcpy(hs->client_pk, hello->ephemeral_pk.data, 32);
		hs->peer_max_record = clamp_max_record(hello->max_record);
		copy_software(hs, hello->software);
		pbrpc__wire__client_hello__free_unpacked(hello, NULL);
		if (!hs->suite)
			return refuse(hs, out, "no common AEAD suite");
		crypto_generichash_update(&hs->transcript, rec, rec_len);

		Pbrpc__Wire__ServerHello reply = PBRPC__WIRE__SERVER_HELLO__INIT;
		reply.version = PBRPC_PROTOCOL_VERSION;
		reply.suite = (Pbrpc__Wire__Suite)hs->suite;
		reply.ephemeral_pk.data = hs->pk;
		reply.ephemeral_pk.len = 32;
		reply.max_record = hs->max_record;
		reply.software = "pbrpc/" PBRPC_VERSION;
		memcpy(hs->server_pk, hs->pk, 32);
		if (put_record(hs, &reply.base, out, 1) != 0 || derive_keys(hs) != 0 ||
		    send_proof(hs, hs->server_proof_key, out) != 0)
			return fail(hs, PBRPC_INTERNAL, "cannot build the server's reply");
		return PBRPC_HS_CONTINUE;
	}
	if (check_proof(hs, body, len, hs->client_proof_key) != 0)
		return fail(hs, PBRPC_UNAUTHENTICATED, "client did not prove the key");
	return PBRPC_HS_DONE;
}

static int client_recv(pbrpc_handshake *hs, const uint8_t *rec, size_t rec_len, pbrpc_buf *out)
{
	const uint8_t *body = rec + PBRPC_RECORD_HEADER;
	size_t len = rec_len - PBRPC_RECORD_HEADER;

	if (hs->step == 1) {
		Pbrpc__Wire__ServerHello *hello =
		    pbrpc__wire__server_hello__unpack(NULL, len, body);
		if (!hello)
			return fail(hs, PBRPC_UNAVAILABLE,
			            "the server's reply is not a pbrpc ServerHello");
		copy_software(hs, hello->software);
		if (hello->error && *hello->error) {
			/* A server at its connection limit is busy, not incompatible. */
			pbrpc_status status =
			    strcmp(hello->error, PBRPC_REFUSAL_TOO_MANY_CONNECTIONS) == 0
			        ? PBRPC_RESOURCE_EXHAUSTED
			        : PBRPC_FAILED_PRECONDITION;
			char why[128];
			snprintf(why, sizeof why, "server refused: %.100s", hello->error);
			for (char *p = why; *p; p++)
				if (*p < 0x20 || *p == 0x7f)
					*p = '?';
			pbrpc__wire__server_hello__free_unpacked(hello, NULL);
			return fail(hs, status, why);
		}
		int ok = hello->version == PBRPC_PROTOCOL_VERSION &&
		         hello->ephemeral_pk.len == 32 &&
		         (hello->suite == PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305 ||
		          (hello->suite == PBRPC__WIRE__SUITE__SUITE_AES256_GCM &&
		           pbrpc_channel_aes_available()));
		if (ok) {
			hs->suite = (int)hello->suite;
			memcpy(hs->server_pk, hello->ephemeral_pk.data, 32);
			hs->peer_max_record = clamp_max_record(hello->max_record);
		}
		pbrpc__wire__server_hello__free_unpacked(hello, NULL);
		if (!ok)
			return fail(hs, PBRPC_UNAVAILABLE,
			            "server chose a version or suite we did not offer");
		crypto_generichash_update(&hs->transcript, rec, rec_len);
		if (derive_keys(hs) != 0)
			return fail(hs, PBRPC_UNAVAILABLE, "bad server ephemeral key");
		return PBRPC_HS_CONTINUE;
	}
	if (check_proof(hs, body, len, hs->server_proof_key) != 0)
		return fail(hs, PBRPC_UNAUTHENTICATED,
		            "authentication failed: the server does not hold our key");
	if (send_proof(hs, hs->client_proof_key, out) != 0)
		return fail(hs, PBRPC_INTERNAL, "cannot build the client's proof");
	return PBRPC_HS_DONE;
}

int pbrpc_handshake_recv(pbrpc_handshake *hs, const uint8_t *rec, size_t rec_len, pbrpc_buf *out)
{
	if (rec_len < PBRPC_RECORD_HEADER || hs->step >= 2)
		return fail(hs, PBRPC_INTERNAL, "handshake already over");
	hs->step++;
	return hs->is_server ? server_recv(hs, rec, rec_len, out)
	                     : client_recv(hs, rec, rec_len, out);
}

void pbrpc_handshake_channel(const pbrpc_handshake *hs, pbrpc_channel *ch)
{
	if (hs->is_server)
		pbrpc_channel_init(ch, hs->suite, hs->s2c, hs->c2s);
	else
		pbrpc_channel_init(ch, hs->suite, hs->c2s, hs->s2c);
}

void pbrpc_handshake_wipe(pbrpc_handshake *hs)
{
	sodium_memzero(hs, sizeof *hs);
}
