/* badclient.c - a file-service client that does what rpcc never does, for
 * tests/integration/file.sh. Built by that script against libpbrpc.a.
 *
 *   badclient ADDR KEYFILE corrupt REMOTE   put 3 chunks whose checksum is wrong
 *   badclient ADDR KEYFILE short REMOTE     put fewer bytes than the header says
 *   badclient ADDR KEYFILE nul              every method with a NUL in the path
 *   badclient ADDR KEYFILE chunks REMOTE MIB KIB
 *                   put MIB MiB in KIB KiB messages (16: many small records behind
 *                   each pause; 3072: records larger than a read)
 *
 * Prints one line per call: the status name the server answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <pbrpc.h>

#include "pbrpc/file.pbrpc.h"

#define CHUNK (1u << 20)

static pbrpc_status put_bytes(pbrpc_client *c, const char *remote, uint64_t announced,
                              size_t chunks, size_t chunk, int damage)
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
	header.mode = 0644;
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
		if (damage && i == 1)
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

int main(int argc, char **argv)
{
	pbrpc_client_options o;
	pbrpc_error err = {0};

	if (argc < 4) {
		fprintf(stderr, "usage: badclient ADDR KEYFILE corrupt|short REMOTE | nul\n");
		return 2;
	}
	pbrpc_client_options_init(&o);
	o.key_file = argv[2];
	pbrpc_client *c = pbrpc_client_connect(argv[1], &o, &err);
	if (!c) {
		fprintf(stderr, "badclient: %s\n", err.message);
		return 255;
	}
	if (strcmp(argv[3], "nul") == 0)
		nul_paths(c);
	else if (strcmp(argv[3], "corrupt") == 0 && argc == 5)
		printf("%s\n",
		       pbrpc_status_name(put_bytes(c, argv[4], 3 * (uint64_t)CHUNK, 3, CHUNK, 1)));
	else if (strcmp(argv[3], "short") == 0 && argc == 5)
		printf("%s\n",
		       pbrpc_status_name(put_bytes(c, argv[4], 5 * (uint64_t)CHUNK, 3, CHUNK, 0)));
	else if (strcmp(argv[3], "chunks") == 0 && argc == 7) {
		size_t chunk = (size_t)strtoul(argv[6], NULL, 10) << 10;
		size_t chunks = chunk ? ((size_t)strtoul(argv[5], NULL, 10) << 20) / chunk : 0;
		printf("%s\n", pbrpc_status_name(put_bytes(c, argv[4], chunks * (uint64_t)chunk,
		                                           chunks, chunk, 0)));
	} else
		fprintf(stderr, "badclient: unknown mode %s\n", argv[3]);
	pbrpc_client_close(c);
	return 0;
}
