/* handshake.c - see handshake.h and docs/protocol.md. Only libsodium's
 * primitives: version 2 is Noise XX (noise.c: X25519, ChaCha20-Poly1305,
 * SHA-256, HMAC-SHA-256); version 1 crypto_kx (X25519 + BLAKE2b),
 * crypto_generichash, crypto_kdf and crypto_auth (HMAC-SHA-512-256, verified
 * in constant time). */
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
	snprintf(hs->error, sizeof hs->error, "%.*s", (int)sizeof hs->error - 1, msg);
	return PBRPC_HS_FAILED;
}

static void ensure_ephemeral(pbrpc_handshake *hs);

void pbrpc_handshake_init(pbrpc_handshake *hs, int is_server, const uint8_t psk[PBRPC_KEY_BYTES],
                          uint32_t max_record)
{
	memset(hs, 0, sizeof *hs);
	hs->is_server = is_server;
	hs->max_record = max_record;
	if (psk) {
		memcpy(hs->psk, psk, PBRPC_KEY_BYTES);
		hs->have_psk = 1;
	}
	crypto_generichash_init(&hs->transcript, NULL, 0, 32);
	/* A client's ephemeral key is made now; a server's waits for a hello. */
	if (!is_server)
		ensure_ephemeral(hs);
}

void pbrpc_handshake_set_static(pbrpc_handshake *hs, const uint8_t sk[32])
{
	memcpy(hs->static_sk, sk, 32);
	pbrpc_noise_public_key(hs->static_pk, sk);
	hs->have_static = 1;
}

void pbrpc_handshake_set_verify(pbrpc_handshake *hs, pbrpc_hs_verify_fn verify, void *data)
{
	hs->verify = verify;
	hs->verify_data = data;
}

/* The ephemeral key pair, made when first needed: a server spends nothing on
 * a connection until its hello has decoded. */
static void ensure_ephemeral(pbrpc_handshake *hs)
{
	if (hs->have_ephemeral)
		return;
	crypto_kx_keypair(hs->pk, hs->sk);
	hs->have_ephemeral = 1;
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

/* The suites this side offers, most preferred first. */
static size_t our_suites(Pbrpc__Wire__Suite suites[2])
{
	size_t n = 0;
	/* AES-GCM first where the CPU has it: it is the faster suite there. */
	if (pbrpc_channel_aes_available())
		suites[n++] = PBRPC__WIRE__SUITE__SUITE_AES256_GCM;
	suites[n++] = PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305;
	return n;
}

static int client_hello_v2(pbrpc_handshake *hs, pbrpc_buf *out);

int pbrpc_handshake_client_hello(pbrpc_handshake *hs, pbrpc_buf *out)
{
	Pbrpc__Wire__ClientHello hello = PBRPC__WIRE__CLIENT_HELLO__INIT;
	Pbrpc__Wire__Suite suites[2];

	ensure_ephemeral(hs);
	if (hs->have_static)
		return client_hello_v2(hs, out);
	hs->version = PBRPC_PROTOCOL_V1;
	hello.version = PBRPC_PROTOCOL_V1;
	hello.n_suites = our_suites(suites);
	hello.suites = suites;
	hello.ephemeral_pk.data = hs->pk;
	hello.ephemeral_pk.len = sizeof hs->pk;
	hello.max_record = hs->max_record;
	hello.software = "pbrpc/" PBRPC_VERSION;
	memcpy(hs->client_pk, hs->pk, 32);
	return put_record(hs, &hello.base, out, 1);
}

/* The X25519 exchange (crypto_kx): -1 for a low-order peer key. Done before
 * a server answers, so a bad key gets a refusal rather than a hello. */
static int exchange(pbrpc_handshake *hs)
{
	uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	int rc;
	/* kx = BLAKE2b-512(X25519 || client_pk || server_pk); s2c = kx[0..32], c2s = kx[32..64]. */
	if (hs->is_server)
		rc = crypto_kx_server_session_keys(rx, tx, hs->pk, hs->sk, hs->client_pk);
	else
		rc = crypto_kx_client_session_keys(rx, tx, hs->pk, hs->sk, hs->server_pk);
	if (rc == 0) {
		memcpy(hs->kx_s2c, hs->is_server ? tx : rx, 32);
		memcpy(hs->kx_c2s, hs->is_server ? rx : tx, 32);
	}
	sodium_memzero(rx, sizeof rx);
	sodium_memzero(tx, sizeof tx);
	sodium_memzero(hs->sk, sizeof hs->sk);
	return rc;
}

/* Mixes the exchange, the pre-shared key and the transcript into the
 * session keys; both proofs and both directions get keys of their own. */
static void derive_keys(pbrpc_handshake *hs)
{
	uint8_t master[32];
	crypto_generichash_state st;

	crypto_generichash_final(&hs->transcript, hs->th, sizeof hs->th);
	crypto_generichash_init(&st, hs->psk, PBRPC_KEY_BYTES, sizeof master);
	crypto_generichash_update(&st, (const uint8_t *)MASTER_LABEL, strlen(MASTER_LABEL));
	crypto_generichash_update(&st, hs->kx_s2c, 32);
	crypto_generichash_update(&st, hs->kx_c2s, 32);
	crypto_generichash_update(&st, hs->th, sizeof hs->th);
	crypto_generichash_final(&st, master, sizeof master);

	crypto_kdf_derive_from_key(hs->c2s, 32, KDF_C2S, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hs->s2c, 32, KDF_S2C, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hs->server_proof_key, 32, KDF_SERVER_PROOF, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hs->client_proof_key, 32, KDF_CLIENT_PROOF, KDF_CONTEXT, master);
	sodium_memzero(hs->kx_s2c, sizeof hs->kx_s2c);
	sodium_memzero(hs->kx_c2s, sizeof hs->kx_c2s);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(master, sizeof master);
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

/* The server's pick: the first suite of the client's list that it has. */
static int choose_suite(const Pbrpc__Wire__Suite *suites, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (suites[i] == PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305 ||
		    (suites[i] == PBRPC__WIRE__SUITE__SUITE_AES256_GCM &&
		     pbrpc_channel_aes_available()))
			return (int)suites[i];
	return 0;
}

/* A client accepts only a suite it offered. */
static int suite_offered(int suite)
{
	return suite == PBRPC__WIRE__SUITE__SUITE_CHACHA20_POLY1305 ||
	       (suite == PBRPC__WIRE__SUITE__SUITE_AES256_GCM && pbrpc_channel_aes_available());
}

static int server_hello_v1(pbrpc_handshake *hs, const Pbrpc__Wire__ClientHello *hello,
                           const uint8_t *rec, size_t rec_len, pbrpc_buf *out)
{
	if (!hs->have_psk)
		return refuse(hs, out,
		              "this server does not accept the shared key (protocol 1); "
		              "connect with a client key");
	if (hello->ephemeral_pk.len != 32)
		return refuse(hs, out, "ephemeral_pk must be 32 bytes");
	hs->version = PBRPC_PROTOCOL_V1;
	hs->suite = choose_suite(hello->suites, hello->n_suites);
	memcpy(hs->client_pk, hello->ephemeral_pk.data, 32);
	hs->peer_max_record = clamp_max_record(hello->max_record);
	copy_software(hs, hello->software);
	if (!hs->suite)
		return refuse(hs, out, "no common AEAD suite");
	/* A low-order key gives an all-zero X25519 result: refused before any
	 * reply, with a reason, instead of a ServerHello and then silence. */
	ensure_ephemeral(hs);
	if (exchange(hs) != 0)
		return refuse(hs, out, "bad ephemeral key (a low-order point)");
	crypto_generichash_update(&hs->transcript, rec, rec_len);

	Pbrpc__Wire__ServerHello reply = PBRPC__WIRE__SERVER_HELLO__INIT;
	reply.version = PBRPC_PROTOCOL_V1;
	reply.suite = (Pbrpc__Wire__Suite)hs->suite;
	reply.ephemeral_pk.data = hs->pk;
	reply.ephemeral_pk.len = 32;
	reply.max_record = hs->max_record;
	reply.software = "pbrpc/" PBRPC_VERSION;
	memcpy(hs->server_pk, hs->pk, 32);
	if (put_record(hs, &reply.base, out, 1) != 0)
		return fail(hs, PBRPC_INTERNAL, "cannot build the server's reply");
	derive_keys(hs);
	if (send_proof(hs, hs->server_proof_key, out) != 0)
		return fail(hs, PBRPC_INTERNAL, "cannot build the server's reply");
	return PBRPC_HS_CONTINUE;
}

/* ---- version 2: Noise XX ------------------------------------------------ */

/* Room for any Noise message that fits a handshake record. */
#define NOISE_MAX PBRPC_HANDSHAKE_MAX_RECORD

static int client_hello_v2(pbrpc_handshake *hs, pbrpc_buf *out)
{
	Pbrpc__Wire__ClientHello params = PBRPC__WIRE__CLIENT_HELLO__INIT;
	Pbrpc__Wire__ClientHello hello = PBRPC__WIRE__CLIENT_HELLO__INIT;
	Pbrpc__Wire__Suite suites[2];
	uint8_t msg[NOISE_MAX];

	hs->version = PBRPC_PROTOCOL_V2;
	params.n_suites = our_suites(suites);
	params.suites = suites;
	params.max_record = hs->max_record;
	params.software = "pbrpc/" PBRPC_VERSION;
	size_t plen = protobuf_c_message_get_packed_size(&params.base);
	if (32 + plen > sizeof msg)
		return -1;
	/* -> e, with the hello's parameters as payload (in the clear, but hashed). */
	pbrpc_noise_init(&hs->noise, (const uint8_t *)PBRPC_NOISE_PROLOGUE,
	                 strlen(PBRPC_NOISE_PROLOGUE));
	memcpy(msg, hs->pk, 32);
	pbrpc_noise_mix_hash(&hs->noise, hs->pk, 32);
	protobuf_c_message_pack(&params.base, msg + 32);
	size_t n = 32 + pbrpc_noise_encrypt_and_hash(&hs->noise, msg + 32, plen, msg + 32);
	hello.version = PBRPC_PROTOCOL_V2;
	hello.noise.data = msg;
	hello.noise.len = n;
	return put_record(hs, &hello.base, out, 0);
}

static int server_hello_v2(pbrpc_handshake *hs, const Pbrpc__Wire__ClientHello *hello,
                           pbrpc_buf *out)
{
	uint8_t payload[NOISE_MAX], msg[NOISE_MAX];

	if (!hs->have_static)
		return refuse(hs, out, "this server does not accept client keys (protocol 2)");
	if (hello->noise.len < 32 || hello->noise.len > sizeof payload)
		return refuse(hs, out, "noise message 1 must hold a 32-byte ephemeral key");
	hs->version = PBRPC_PROTOCOL_V2;
	pbrpc_noise_init(&hs->noise, (const uint8_t *)PBRPC_NOISE_PROLOGUE,
	                 strlen(PBRPC_NOISE_PROLOGUE));
	uint8_t re[32];
	memcpy(re, hello->noise.data, 32);
	pbrpc_noise_mix_hash(&hs->noise, re, 32);
	long plen = pbrpc_noise_decrypt_and_hash(&hs->noise, hello->noise.data + 32,
	                                         hello->noise.len - 32, payload);
	Pbrpc__Wire__ClientHello *params =
	    plen < 0 ? NULL : pbrpc__wire__client_hello__unpack(NULL, (size_t)plen, payload);
	if (!params)
		return refuse(hs, out, "noise message 1's payload is not a ClientHello");
	hs->suite = choose_suite(params->suites, params->n_suites);
	hs->peer_max_record = clamp_max_record(params->max_record);
	copy_software(hs, params->software);
	pbrpc__wire__client_hello__free_unpacked(params, NULL);
	if (!hs->suite)
		return refuse(hs, out, "no common AEAD suite");

	/* <- e, ee, s, es, with our parameters as payload. */
	ensure_ephemeral(hs);
	memcpy(msg, hs->pk, 32);
	pbrpc_noise_mix_hash(&hs->noise, hs->pk, 32);
	if (pbrpc_noise_mix_dh(&hs->noise, hs->sk, re) != 0)
		return refuse(hs, out, "bad ephemeral key (a low-order point)");
	size_t n = 32 + pbrpc_noise_encrypt_and_hash(&hs->noise, hs->static_pk, 32, msg + 32);
	if (pbrpc_noise_mix_dh(&hs->noise, hs->static_sk, re) != 0)
		return refuse(hs, out, "bad ephemeral key (a low-order point)");
	memcpy(hs->client_pk, re, 32); /* the peer's ephemeral, for se */

	Pbrpc__Wire__ServerHello mine = PBRPC__WIRE__SERVER_HELLO__INIT;
	mine.suite = (Pbrpc__Wire__Suite)hs->suite;
	mine.max_record = hs->max_record;
	mine.software = "pbrpc/" PBRPC_VERSION;
	size_t mlen = protobuf_c_message_get_packed_size(&mine.base);
	if (n + mlen + PBRPC_NOISE_TAG > sizeof msg)
		return fail(hs, PBRPC_INTERNAL, "cannot build the server's reply");
	protobuf_c_message_pack(&mine.base, payload);
	n += pbrpc_noise_encrypt_and_hash(&hs->noise, payload, mlen, msg + n);

	Pbrpc__Wire__ServerHello reply = PBRPC__WIRE__SERVER_HELLO__INIT;
	reply.version = PBRPC_PROTOCOL_V2;
	reply.noise.data = msg;
	reply.noise.len = n;
	if (put_record(hs, &reply.base, out, 0) != 0)
		return fail(hs, PBRPC_INTERNAL, "cannot build the server's reply");
	return PBRPC_HS_CONTINUE;
}

/* The server's last step: -> s, se. */
static int server_auth_v2(pbrpc_handshake *hs, const uint8_t *body, size_t len)
{
	uint8_t plain[NOISE_MAX];
	Pbrpc__Wire__Auth *auth = pbrpc__wire__auth__unpack(NULL, len, body);
	int ok = auth && auth->noise.len >= 48 + PBRPC_NOISE_TAG && auth->noise.len <= sizeof plain;
	ok = ok && pbrpc_noise_decrypt_and_hash(&hs->noise, auth->noise.data, 48, plain) == 32;
	if (ok)
		memcpy(hs->peer_static, plain, 32);
	ok = ok && pbrpc_noise_mix_dh(&hs->noise, hs->sk, hs->peer_static) == 0 &&
	     pbrpc_noise_decrypt_and_hash(&hs->noise, auth->noise.data + 48, auth->noise.len - 48,
	                                  plain) >= 0;
	if (auth)
		pbrpc__wire__auth__free_unpacked(auth, NULL);
	if (!ok)
		return fail(hs, PBRPC_UNAUTHENTICATED, "client did not prove a key");
	pbrpc_noise_split(&hs->noise, hs->c2s, hs->s2c);
	return PBRPC_HS_DONE;
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
		int rc;
		if (hello->version == PBRPC_PROTOCOL_V2)
			rc = server_hello_v2(hs, hello, out);
		else if (hello->version == PBRPC_PROTOCOL_V1)
			rc = server_hello_v1(hs, hello, rec, rec_len, out);
		else
			rc = refuse(hs, out,
			            "unsupported protocol version (this server speaks 1 and 2)");
		pbrpc__wire__client_hello__free_unpacked(hello, NULL);
		return rc;
	}
	if (hs->version == PBRPC_PROTOCOL_V2)
		return server_auth_v2(hs, body, len);
	if (check_proof(hs, body, len, hs->client_proof_key) != 0)
		return fail(hs, PBRPC_UNAUTHENTICATED, "client did not prove the key");
	return PBRPC_HS_DONE;
}

/* A ServerHello with error set: the server refused; say what it said. */
static int refused(pbrpc_handshake *hs, const char *error)
{
	/* A server at its connection limit is busy, not incompatible. */
	pbrpc_status status = strcmp(error, PBRPC_REFUSAL_TOO_MANY_CONNECTIONS) == 0
	                          ? PBRPC_RESOURCE_EXHAUSTED
	                          : PBRPC_FAILED_PRECONDITION;
	char why[128];
	snprintf(why, sizeof why, "server refused: %.100s", error);
	for (char *p = why; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return fail(hs, status, why);
}

/* The client's one step in version 2: record 2 in, record 3 out. */
static int client_recv_v2(pbrpc_handshake *hs, const Pbrpc__Wire__ServerHello *hello,
                          pbrpc_buf *out)
{
	uint8_t plain[NOISE_MAX], msg[48 + PBRPC_NOISE_TAG];
	const uint8_t *m = hello->noise.data;
	size_t len = hello->noise.len;
	uint8_t re[32];

	if (hello->version != PBRPC_PROTOCOL_V2 || len < 32 + 48 + PBRPC_NOISE_TAG ||
	    len > sizeof plain)
		return fail(hs, PBRPC_UNAVAILABLE, "the server did not answer in protocol 2");
	memcpy(re, m, 32);
	pbrpc_noise_mix_hash(&hs->noise, re, 32);
	if (pbrpc_noise_mix_dh(&hs->noise, hs->sk, re) != 0)
		return fail(hs, PBRPC_UNAVAILABLE, "bad server ephemeral key");
	if (pbrpc_noise_decrypt_and_hash(&hs->noise, m + 32, 48, plain) != 32)
		return fail(hs, PBRPC_UNAUTHENTICATED,
		            "the server's handshake does not authenticate");
	memcpy(hs->peer_static, plain, 32);
	if (pbrpc_noise_mix_dh(&hs->noise, hs->sk, hs->peer_static) != 0)
		return fail(hs, PBRPC_UNAUTHENTICATED, "bad server host key");
	long plen = pbrpc_noise_decrypt_and_hash(&hs->noise, m + 80, len - 80, plain);
	if (plen < 0)
		return fail(hs, PBRPC_UNAUTHENTICATED,
		            "the server's handshake does not authenticate");
	Pbrpc__Wire__ServerHello *params =
	    pbrpc__wire__server_hello__unpack(NULL, (size_t)plen, plain);
	if (!params)
		return fail(hs, PBRPC_UNAVAILABLE, "the server's parameters do not decode");
	int ok = suite_offered((int)params->suite);
	hs->suite = (int)params->suite;
	hs->peer_max_record = clamp_max_record(params->max_record);
	copy_software(hs, params->software);
	pbrpc__wire__server_hello__free_unpacked(params, NULL);
	if (!ok)
		return fail(hs, PBRPC_UNAVAILABLE, "server chose a suite we did not offer");
	/* The server has proven its key; is it the one we expect? Nothing that
	 * names us has been sent yet. */
	if (hs->verify) {
		pbrpc_error why = {0};
		if (hs->verify(hs->verify_data, hs->peer_static, &why) != 0)
			return fail(hs, why.code ? why.code : PBRPC_UNAUTHENTICATED, why.message);
	}

	/* -> s, se */
	size_t n = pbrpc_noise_encrypt_and_hash(&hs->noise, hs->static_pk, 32, msg);
	if (pbrpc_noise_mix_dh(&hs->noise, hs->static_sk, re) != 0)
		return fail(hs, PBRPC_UNAVAILABLE, "bad server ephemeral key");
	n += pbrpc_noise_encrypt_and_hash(&hs->noise, NULL, 0, msg + n);
	Pbrpc__Wire__Auth auth = PBRPC__WIRE__AUTH__INIT;
	auth.noise.data = msg;
	auth.noise.len = n;
	if (put_record(hs, &auth.base, out, 0) != 0)
		return fail(hs, PBRPC_INTERNAL, "cannot build the client's last message");
	pbrpc_noise_split(&hs->noise, hs->c2s, hs->s2c);
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
		int rc;
		if (hello->error && *hello->error)
			rc = refused(hs, hello->error);
		else if (hs->version == PBRPC_PROTOCOL_V2)
			rc = client_recv_v2(hs, hello, out);
		else
			rc = PBRPC_HS_CONTINUE;
		if (rc != PBRPC_HS_CONTINUE || hs->version == PBRPC_PROTOCOL_V2) {
			pbrpc__wire__server_hello__free_unpacked(hello, NULL);
			return rc;
		}
		int ok = hello->version == PBRPC_PROTOCOL_V1 && hello->ephemeral_pk.len == 32 &&
		         suite_offered((int)hello->suite);
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
		if (exchange(hs) != 0)
			return fail(hs, PBRPC_UNAVAILABLE, "bad server ephemeral key");
		derive_keys(hs);
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
	/* Version 1 takes two records each way, version 2 two in for the
	 * server and one for the client. */
	int last = hs->version == PBRPC_PROTOCOL_V2 && !hs->is_server ? 1 : 2;
	if (rec_len < PBRPC_RECORD_HEADER || hs->step >= last || hs->status != PBRPC_OK)
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
