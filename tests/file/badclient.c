/* badclient.c - a file-service client that does what rpcc never does, for
 * tests/integration/file.sh. Built by that script against libpbrpc.a.
 *
 *   badclient ADDR KEYFILE corrupt REMOTE   put 3 chunks whose checksum is wrong
 *   badclient ADDR KEYFILE short REMOTE     put fewer bytes than the header says
 *   badclient ADDR KEYFILE nul              every method with a NUL in the path
 *   badclient ADDR KEYFILE chunks REMOTE MIB KIB
 *                   put MIB MiB in KIB KiB messages (16: many small records behind
 *                   each pause; 1024: the largest allowed; 3072: too large)
 *   badclient ADDR KEYFILE meta0 REMOTE     put 5 bytes with mode 0 and mtime 0
 *   badclient ADDR KEYFILE nosum REMOTE     put data and half-close, no checksum
 *   badclient ADDR KEYFILE abandon LOCAL REMOTE
 *                   put LOCAL's header (size, mode, mtime) and its first 64 KiB,
 *                   then cancel, as a client that died: the server keeps a part file
 *   badclient ADDR KEYFILE get REMOTE MAX_RECORD OFFSET OUT
 *                   get REMOTE from OFFSET into OUT, announcing MAX_RECORD
 *   badclient ADDR KEYFILE list DIR MAX_RECORD
 *                   list DIR page by page (after = next), announcing MAX_RECORD:
 *                   one name a line, then "pages N" on stderr
 *
 * Prints one line per call: the status name the server answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include <pbrpc.h>

#include "pbrpc/file.pbrpc.h"

#define CHUNK (1u << 20)

/* How put_bytes misbehaves. */
enum put_way { PUT_PLAIN, PUT_DAMAGED, PUT_ZERO_META, PUT_NO_CHECKSUM };

static pbrpc_status put_bytes(pbrpc_client *c, const char *remote, uint64_t announced,
                              size_t chunks, size_t chunk, enum put_way way)
{
	Pbrpc__File__PutHeader header = PBRPC__FILE__PUT_HEADER__INIT;
	Pbrpc__File__PutRequest m = PBRPC__FILE__PUT_REQUEST__INIT;
	Pbrpc__File__PutReply *reply = NULL;
	crypto_generichash_state st;
	uint8_t sum[32];
	pbrpc_error err = {0};
	uint8_t *buf = malloc(chunk);

	if (!buf)
		return PBRPC_RESOURCE_EXHAUSTED;
	header.path.data = (uint8_t *)remote;
	header.path.len = strlen(remote);
	header.size = announced;
	if (way != PUT_ZERO_META) {
		header.mode = 0644;
		header.mtime_seconds = 1000000000;
	}
	pbrpc_stream *s = pbrpc_file_file_put_open(c, NULL, &err);
	if (!s) {
		free(buf);
		return err.code;
	}
	m.part_case = PBRPC__FILE__PUT_REQUEST__PART_HEADER;
	m.header = &header;
	pbrpc_file_file_put_send(s, &m, &err);
	crypto_generichash_init(&st, NULL, 0, sizeof sum);
	for (size_t i = 0; i < chunks; i++) {
		randombytes_buf(buf, chunk);
		crypto_generichash_update(&st, buf, chunk);
		if (way == PUT_DAMAGED && i == 1)
			buf[12345] ^= 0x40; /* one bit flipped on the way */
		m = (Pbrpc__File__PutRequest)PBRPC__FILE__PUT_REQUEST__INIT;
		m.part_case = PBRPC__FILE__PUT_REQUEST__PART_DATA;
		m.data.data = buf;
		m.data.len = chunk;
		pbrpc_file_file_put_send(s, &m, &err);
	}
	crypto_generichash_final(&st, sum, sizeof sum);
	m = (Pbrpc__File__PutRequest)PBRPC__FILE__PUT_REQUEST__INIT;
	m.part_case = PBRPC__FILE__PUT_REQUEST__PART_CHECKSUM;
	m.checksum.data = sum;
	m.checksum.len = sizeof sum;
	if (way != PUT_NO_CHECKSUM)
		pbrpc_file_file_put_send(s, &m, &err);
	pbrpc_status status = pbrpc_file_file_put_finish(s, &reply, &err);
	if (status != PBRPC_OK)
		fprintf(stderr, "badclient: %s\n", err.message);
	pbrpc_message_free(reply ? &reply->base : NULL);
	pbrpc_stream_free(s);
	free(buf);
	return status;
}

static void nul_paths(pbrpc_client *c)
{
	static const uint8_t path[] = "ok\0/../../../etc/passwd";
	const ProtobufCBinaryData bad = {sizeof path - 1, (uint8_t *)path};
	pbrpc_error err = {0};

	Pbrpc__File__StatRequest sreq = PBRPC__FILE__STAT_REQUEST__INIT;
	Pbrpc__File__Entry *entry = NULL;
	sreq.path = bad;
	printf("stat %s\n", pbrpc_status_name(pbrpc_file_file_stat(c, &sreq, &entry, NULL, &err)));
	pbrpc_message_free(entry ? &entry->base : NULL);

	Pbrpc__File__ListRequest lreq = PBRPC__FILE__LIST_REQUEST__INIT;
	Pbrpc__File__ListReply *list = NULL;
	lreq.path = bad;
	printf("list %s\n", pbrpc_status_name(pbrpc_file_file_list(c, &lreq, &list, NULL, &err)));
	pbrpc_message_free(list ? &list->base : NULL);

	Pbrpc__File__GetRequest greq = PBRPC__FILE__GET_REQUEST__INIT;
	Pbrpc__File__GetReply *got = NULL;
	greq.path = bad;
	pbrpc_stream *s = pbrpc_file_file_get(c, &greq, NULL, &err);
	pbrpc_status st = s ? pbrpc_file_file_get_recv(s, &got, &err) : err.code;
	printf("get %s\n", pbrpc_status_name(st == PBRPC_OK && got ? PBRPC_OK : st));
	pbrpc_message_free(got ? &got->base : NULL);
	pbrpc_stream_free(s);

	Pbrpc__File__PutHeader header = PBRPC__FILE__PUT_HEADER__INIT;
	Pbrpc__File__PutRequest m = PBRPC__FILE__PUT_REQUEST__INIT;
	Pbrpc__File__PutReply *reply = NULL;
	header.path = bad;
	m.part_case = PBRPC__FILE__PUT_REQUEST__PART_HEADER;
	m.header = &header;
	s = pbrpc_file_file_put_open(c, NULL, &err);
	pbrpc_file_file_put_send(s, &m, &err);
	printf("put %s\n", pbrpc_status_name(pbrpc_file_file_put_finish(s, &reply, &err)));
	pbrpc_message_free(reply ? &reply->base : NULL);
	pbrpc_stream_free(s);
}

/* Sends LOCAL's header and first bytes, then cancels the call, which the
 * server sees as it sees a client that died (PBRPC_EV_CANCEL). */
static pbrpc_status abandon_put(pbrpc_client *c, const char *local, const char *remote)
{
	Pbrpc__File__PutHeader header = PBRPC__FILE__PUT_HEADER__INIT;
	Pbrpc__File__PutRequest m = PBRPC__FILE__PUT_REQUEST__INIT;
	pbrpc_error err = {0};
	static uint8_t buf[64 << 10];
	struct stat st;
	FILE *f = fopen(local, "rb");
	if (!f || fstat(fileno(f), &st) != 0) {
		perror(local);
		if (f)
			fclose(f);
		return PBRPC_INVALID_ARGUMENT;
	}
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	header.path.data = (uint8_t *)remote;
	header.path.len = strlen(remote);
	header.size = (uint64_t)st.st_size;
	header.mode = st.st_mode & 0777;
	header.mtime_seconds = st.st_mtim.tv_sec;
	header.mtime_nanos = (uint32_t)st.st_mtim.tv_nsec;
	pbrpc_stream *s = pbrpc_file_file_put_open(c, NULL, &err);
	if (!s)
		return err.code;
	m.part_case = PBRPC__FILE__PUT_REQUEST__PART_HEADER;
	m.header = &header;
	pbrpc_status status = pbrpc_file_file_put_send(s, &m, &err);
	m = (Pbrpc__File__PutRequest)PBRPC__FILE__PUT_REQUEST__INIT;
	m.part_case = PBRPC__FILE__PUT_REQUEST__PART_DATA;
	m.data.data = buf;
	m.data.len = n < (size_t)st.st_size ? n : (size_t)st.st_size;
	if (status == PBRPC_OK)
		status = pbrpc_file_file_put_send(s, &m, &err);
	pbrpc_stream_free(s); /* cancels the call: to the server, the client is gone */
	return status;
}

/* Gets remote from offset into out; checks the checksum when offset is 0. */
static pbrpc_status get_file(pbrpc_client *c, const char *remote, uint64_t offset, const char *out)
{
	Pbrpc__File__GetRequest req = PBRPC__FILE__GET_REQUEST__INIT;
	pbrpc_error err = {0};
	crypto_generichash_state st;
	uint8_t sum[32];
	size_t largest = 0, messages = 0;
	FILE *f = fopen(out, "wb");
	if (!f) {
		perror(out);
		return PBRPC_INVALID_ARGUMENT;
	}
	req.path.data = (uint8_t *)remote;
	req.path.len = strlen(remote);
	req.offset = offset;
	crypto_generichash_init(&st, NULL, 0, sizeof sum);
	pbrpc_stream *s = pbrpc_file_file_get(c, &req, NULL, &err);
	pbrpc_status status = s ? PBRPC_OK : err.code;
	int verified = 0;
	while (status == PBRPC_OK) {
		Pbrpc__File__GetReply *r = NULL;
		status = pbrpc_file_file_get_recv(s, &r, &err);
		if (status != PBRPC_OK || !r)
			break;
		if (r->part_case == PBRPC__FILE__GET_REPLY__PART_DATA) {
			fwrite(r->data.data, 1, r->data.len, f);
			crypto_generichash_update(&st, r->data.data, r->data.len);
			largest = r->data.len > largest ? r->data.len : largest;
			messages++;
		} else if (r->part_case == PBRPC__FILE__GET_REPLY__PART_CHECKSUM) {
			crypto_generichash_final(&st, sum, sizeof sum);
			verified = offset != 0 || (r->checksum.len == sizeof sum &&
			                           memcmp(sum, r->checksum.data, sizeof sum) == 0);
			if (!verified)
				status = PBRPC_DATA_LOSS;
		}
		pbrpc_message_free(&r->base);
	}
	if (status == PBRPC_OK && !verified)
		status = PBRPC_DATA_LOSS;
	if (status != PBRPC_OK && err.message[0])
		fprintf(stderr, "badclient: %s\n", err.message);
	fprintf(stderr, "data messages %zu, largest %zu\n", messages, largest);
	pbrpc_stream_free(s);
	fclose(f);
	return status;
}

/* Lists dir page by page, following next. */
static pbrpc_status list_pages(pbrpc_client *c, const char *dir)
{
	Pbrpc__File__ListRequest req = PBRPC__FILE__LIST_REQUEST__INIT;
	pbrpc_error err = {0};
	uint8_t after[256];
	size_t pages = 0;
	pbrpc_status status;
	req.path.data = (uint8_t *)dir;
	req.path.len = strlen(dir);
	for (;;) {
		Pbrpc__File__ListReply *reply = NULL;
		status = pbrpc_file_file_list(c, &req, &reply, NULL, &err);
		if (status != PBRPC_OK)
			break;
		pages++;
		for (size_t i = 0; i < reply->n_entries; i++)
			printf("%.*s\n", (int)reply->entries[i]->name.len,
			       (const char *)reply->entries[i]->name.data);
		int more =
		    reply->truncated && reply->next.len > 0 && reply->next.len <= sizeof after;
		if (more) {
			memcpy(after, reply->next.data, reply->next.len);
			req.after.data = after;
			req.after.len = reply->next.len;
		} else if (reply->truncated) {
			status = PBRPC_INTERNAL; /* truncated without a usable cursor */
		}
		pbrpc_message_free(&reply->base);
		if (!more)
			break;
	}
	if (status != PBRPC_OK)
		fprintf(stderr, "badclient: %s\n", err.message);
	fprintf(stderr, "pages %zu\n", pages);
	return status;
}

int main(int argc, char **argv)
{
	pbrpc_client_options o;
	pbrpc_error err = {0};

	if (argc < 4) {
		fprintf(
		    stderr,
		    "usage: badclient ADDR KEYFILE MODE ARGS... (see the top of badclient.c)\n");
		return 2;
	}
	pbrpc_client_options_init(&o);
	o.key_file = argv[2];
	if (strcmp(argv[3], "get") == 0 && argc == 8)
		o.max_record = (uint32_t)strtoul(argv[5], NULL, 10);
	else if (strcmp(argv[3], "list") == 0 && argc == 6)
		o.max_record = (uint32_t)strtoul(argv[5], NULL, 10);
	pbrpc_client *c = pbrpc_client_connect(argv[1], &o, &err);
	if (!c) {
		fprintf(stderr, "badclient: %s\n", err.message);
		return 255;
	}
	if (strcmp(argv[3], "nul") == 0)
		nul_paths(c);
	else if (strcmp(argv[3], "corrupt") == 0 && argc == 5)
		printf("%s\n", pbrpc_status_name(put_bytes(c, argv[4], 3 * (uint64_t)CHUNK, 3,
		                                           CHUNK, PUT_DAMAGED)));
	else if (strcmp(argv[3], "short") == 0 && argc == 5)
		printf("%s\n", pbrpc_status_name(put_bytes(c, argv[4], 5 * (uint64_t)CHUNK, 3,
		                                           CHUNK, PUT_PLAIN)));
	else if (strcmp(argv[3], "meta0") == 0 && argc == 5)
		printf("%s\n", pbrpc_status_name(put_bytes(c, argv[4], 5, 1, 5, PUT_ZERO_META)));
	else if (strcmp(argv[3], "nosum") == 0 && argc == 5)
		printf("%s\n", pbrpc_status_name(put_bytes(c, argv[4], 5, 1, 5, PUT_NO_CHECKSUM)));
	else if (strcmp(argv[3], "abandon") == 0 && argc == 6)
		printf("%s\n", pbrpc_status_name(abandon_put(c, argv[4], argv[5])));
	else if (strcmp(argv[3], "get") == 0 && argc == 8)
		printf("%s\n", pbrpc_status_name(
		                   get_file(c, argv[4], strtoull(argv[6], NULL, 10), argv[7])));
	else if (strcmp(argv[3], "list") == 0 && argc == 6)
		printf("%s\n", pbrpc_status_name(list_pages(c, argv[4])));
	else if (strcmp(argv[3], "chunks") == 0 && argc == 7) {
		size_t chunk = (size_t)strtoul(argv[6], NULL, 10) << 10;
		size_t chunks = chunk ? ((size_t)strtoul(argv[5], NULL, 10) << 20) / chunk : 0;
		printf("%s\n", pbrpc_status_name(put_bytes(c, argv[4], chunks * (uint64_t)chunk,
		                                           chunks, chunk, PUT_PLAIN)));
	} else
		fprintf(stderr, "badclient: unknown mode %s\n", argv[3]);
	pbrpc_client_close(c);
	return 0;
}
