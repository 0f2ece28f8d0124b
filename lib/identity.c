/* identity.c - X25519 identities: the secret file, its .pub line
 * ("x25519 BASE64 COMMENT", like ssh-keygen's), and SHA256 fingerprints. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "keyfile.h"
#include "noise.h"

#define SECRET_TYPE "x25519-secret"

void pbrpc_public_key_of(const uint8_t secret[32], uint8_t pub[32])
{
	pbrpc_noise_public_key(pub, secret);
}

void pbrpc_key_fingerprint(const uint8_t key[32], char out[PBRPC_FINGERPRINT_SIZE])
{
	uint8_t digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, key, 32);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, PBRPC_FINGERPRINT_SIZE - 7, digest, sizeof digest,
	                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

int pbrpc_public_key_format(const uint8_t key[32], char *buf, size_t size)
{
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, key, 32, sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(buf, size, "%s %s", PBRPC_KEY_TYPE, b64);
	return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* The next blank-separated word of *p: its start and length; *p moves past it. */
static size_t next_word(const char **p, const char **word)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	*word = s;
	while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
		s++;
	*p = s;
	return (size_t)(s - *word);
}

/* Decodes exactly 32 bytes of standard base64 (padding required). */
static int decode_key(const char *b64, size_t len, uint8_t key[32])
{
	size_t bin_len = 0;
	const char *end = NULL;
	if (len != sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL) - 1)
		return -1;
	if (sodium_base642bin(key, 32, b64, len, NULL, &bin_len, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != 32 || end != b64 + len)
		return -1;
	return sodium_is_zero(key, 32) ? -1 : 0;
}

pbrpc_status pbrpc_public_key_parse(const char *text, uint8_t key[32], const char **rest,
                                    pbrpc_error *err)
{
	const char *p = text, *type, *b64;
	size_t type_len = next_word(&p, &type);
	size_t b64_len = next_word(&p, &b64);
	if (type_len == 0)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "no key");
	if (type_len != strlen(PBRPC_KEY_TYPE) || memcmp(type, PBRPC_KEY_TYPE, type_len) != 0)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
		                       "unknown key type '%.*s' (expected %s)",
		                       (int)(type_len > 40 ? 40 : type_len), type, PBRPC_KEY_TYPE);
	if (decode_key(b64, b64_len, key) != 0)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
		                       "bad %s key: want 44 characters of base64 encoding 32 bytes",
		                       PBRPC_KEY_TYPE);
	while (*p == ' ' || *p == '\t')
		p++;
	if (rest)
		*rest = p;
	return PBRPC_OK;
}

pbrpc_status pbrpc_identity_parse(const char *text, uint8_t secret[32], const char *where,
                                  pbrpc_error *err)
{
	const char *p = text, *type, *b64;
	size_t type_len = next_word(&p, &type);
	size_t b64_len = next_word(&p, &b64);
	if (type_len != strlen(SECRET_TYPE) || memcmp(type, SECRET_TYPE, type_len) != 0 ||
	    decode_key(b64, b64_len, secret) != 0)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT,
		                       "%s is neither an identity ('" SECRET_TYPE
		                       " BASE64 ...', from rpcc keygen) nor a shared key "
		                       "(64 hexadecimal digits)",
		                       where);
	return PBRPC_OK;
}

pbrpc_status pbrpc_identity_load(const char *path, uint8_t secret[32], pbrpc_error *err)
{
	char text[512];
	long len = pbrpc_private_file_read(path, text, sizeof text, err);
	if (len < 0)
		return err ? err->code : PBRPC_INVALID_ARGUMENT;
	pbrpc_status st = pbrpc_identity_parse(text, secret, path, err);
	sodium_memzero(text, sizeof text);
	return st;
}

/* A comment goes on one line, printable, without surprises. */
static void clean_comment(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (; in && in[n] && n + 1 < size; n++)
		out[n] = isgraph((unsigned char)in[n]) || in[n] == ' ' ? in[n] : '_';
	out[n] = '\0';
}

pbrpc_status pbrpc_identity_generate(const char *path, const char *comment, pbrpc_error *err)
{
	uint8_t sk[32], pk[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	char text[256], pub[512], line[128], pub_path[4096], note[128];

	if (sodium_init() < 0)
		return pbrpc_error_set(err, PBRPC_INTERNAL, "libsodium failed to initialise");
	if (snprintf(pub_path, sizeof pub_path, "%s.pub", path) >= (int)sizeof pub_path)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "%s: name too long", path);
	clean_comment(comment, note, sizeof note);
	randombytes_buf(sk, sizeof sk);
	pbrpc_public_key_of(sk, pk);
	sodium_bin2base64(b64, sizeof b64, sk, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof text, SECRET_TYPE " %s %s\n", b64, note);
	pbrpc_public_key_format(pk, line, sizeof line);
	snprintf(pub, sizeof pub, "%s %s\n", line, note);
	pbrpc_status st = pbrpc_private_file_write(path, text, 0600, err);
	if (st == PBRPC_OK && (st = pbrpc_private_file_write(pub_path, pub, 0644, err)) != PBRPC_OK)
		unlink(path);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(b64, sizeof b64);
	sodium_memzero(text, sizeof text);
	return st;
}

pbrpc_status pbrpc_public_key_load(const char *path, uint8_t key[32], pbrpc_error *err)
{
	char text[1024];
	FILE *f = fopen(path, "re");
	if (!f)
		return pbrpc_error_set(err,
		                       errno == ENOENT ? PBRPC_NOT_FOUND : PBRPC_PERMISSION_DENIED,
		                       "cannot open %s: %s", path, strerror(errno));
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	pbrpc_error why;
	if (pbrpc_public_key_parse(text, key, NULL, &why) != PBRPC_OK)
		return pbrpc_error_set(err, PBRPC_INVALID_ARGUMENT, "%s: %s", path, why.message);
	return PBRPC_OK;
}
