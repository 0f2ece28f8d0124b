/* hoard.c - a key holder that makes rpcd hold memory for it (issue 12, part 2).
 *
 *   fault_hoard ADDR KEYFILE MODE PATH CONNS CALLS [SIZE]
 *
 * MODE get:  opens CONNS connections and starts CALLS File.Get calls of PATH
 *            on each, then never reads a byte: every Get rpcd starts holds
 *            its chunk buffers until the client reads or goes away.
 * MODE put:  the same with File.Put calls to PATH.N that each send the header
 *            and one 1 MiB chunk of a SIZE-byte upload, then nothing more.
 * MODE read: an honest pipelining client: CALLS Gets of PATH (SIZE bytes) on
 *            each connection, all sent before any is read, then each read to
 *            its end; prints PASS if every one brought SIZE bytes and ended
 *            OK, else FAIL with what went wrong.
 *
 * get and put print "ready" once every call is sent, then hold on until
 * stdin reaches its end (or says "close") and close every connection at once,
 * as a client that vanishes would. tests/integration/memory.sh drives it and
 * reads rpcd's memory from /proc. Nothing here waits for a fixed time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pbrpc.h"
#include "pbrpc/file.pbrpc.h"

#define CHUNK (1u << 20)

static int fail(const char *what, const pbrpc_error *err)
{
	printf("FAIL %s: %s (%s)\n", what, err->message, pbrpc_status_name(err->code));
	return 1;
}

static pbrpc_stream *start_get(pbrpc_client *c, const char *path, pbrpc_error *err)
{
	Pbrpc__File__GetRequest req = PBRPC__FILE__GET_REQUEST__INIT;
	req.path.data = (uint8_t *)path;
	req.path.len = strlen(path);
	return pbrpc_file_file_get(c, &req, NULL, err);
}

/* A put of size bytes that sends its header and first chunk only. */
static pbrpc_stream *start_put(pbrpc_client *c, const char *path, uint64_t size,
                               const uint8_t *chunk, pbrpc_error *err)
{
	pbrpc_stream *s = pbrpc_file_file_put_open(c, NULL, err);
	if (!s)
		return NULL;
	Pbrpc__File__PutHeader h = PBRPC__FILE__PUT_HEADER__INIT;
	Pbrpc__File__PutRequest req = PBRPC__FILE__PUT_REQUEST__INIT;
	h.path.data = (uint8_t *)path;
	h.path.len = strlen(path);
	h.size = size;
	h.mode = 0600;
	req.part_case = PBRPC__FILE__PUT_REQUEST__PART_HEADER;
	req.header = &h;
	if (pbrpc_file_file_put_send(s, &req, err) != PBRPC_OK)
		goto fail;
	req.part_case = PBRPC__FILE__PUT_REQUEST__PART_DATA;
	req.data.data = (uint8_t *)chunk;
	req.data.len = size < CHUNK ? (size_t)size : CHUNK;
	if (pbrpc_file_file_put_send(s, &req, err) != PBRPC_OK)
		goto fail;
	return s;
fail:
	pbrpc_stream_free(s);
	return NULL;
}

/* Reads one Get to its end; returns the data bytes, or -1 with err set. */
static long long read_get(pbrpc_stream *s, pbrpc_error *err)
{
	long long bytes = 0;
	for (;;) {
		Pbrpc__File__GetReply *m = NULL;
		if (pbrpc_file_file_get_recv(s, &m, err) != PBRPC_OK)
			return -1;
		if (!m)
			return bytes;
		if (m->part_case == PBRPC__FILE__GET_REPLY__PART_DATA)
			bytes += (long long)m->data.len;
		pbrpc_message_free(&m->base);
	}
}

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: fault_hoard ADDR KEYFILE get|put|read PATH CONNS CALLS "
		                "[SIZE]\n");
		return 2;
	}
	const char *addr = argv[1], *mode = argv[3], *path = argv[4];
	int conns = atoi(argv[5]), calls = atoi(argv[6]);
	long long size = argc == 8 ? atoll(argv[7]) : 0;
	if (conns < 1 || calls < 1 || size < 0 ||
	    (strcmp(mode, "get") && strcmp(mode, "put") && strcmp(mode, "read")))
		return 2;
	pbrpc_client_options o;
	pbrpc_client_options_init(&o);
	o.key_file = argv[2];
	pbrpc_error err = {0};
	pbrpc_client **c = calloc((size_t)conns, sizeof *c);
	pbrpc_stream **s = calloc((size_t)conns * (size_t)calls, sizeof *s);
	uint8_t *chunk = calloc(1, CHUNK);
	if (!c || !s || !chunk)
		return 2;
	int rc = 0;
	for (int i = 0; i < conns && rc == 0; i++) {
		if (!(c[i] = pbrpc_client_connect(addr, &o, &err))) {
			rc = fail("connect", &err);
			break;
		}
		for (int j = 0; j < calls && rc == 0; j++) {
			pbrpc_stream **at = &s[i * calls + j];
			char name[4096];
			if (strcmp(mode, "put") == 0) {
				snprintf(name, sizeof name, "%s.%d.%d", path, i, j);
				*at = start_put(c[i], name, (uint64_t)size, chunk, &err);
			} else {
				*at = start_get(c[i], path, &err);
			}
			if (!*at)
				rc = fail("start a call", &err);
		}
		/* The requests wait for a reader; this client never reads, so send now. */
		if (rc == 0 && pbrpc_client_flush(c[i], &err) != PBRPC_OK)
			rc = fail("flush", &err);
	}
	if (rc == 0 && strcmp(mode, "read") == 0) {
		int bad = 0;
		for (int k = 0; k < conns * calls; k++) {
			long long got = read_get(s[k], &err);
			if (got != size && !bad++)
				printf(
				    "FAIL %d pipelined gets: call %d brought %lld bytes of %lld: "
				    "%s (%s)\n",
				    conns * calls, k, got, size, err.message,
				    pbrpc_status_name(err.code));
		}
		if (!bad)
			printf("PASS %d pipelined gets of %lld bytes all ended OK\n", conns * calls,
			       size);
		rc = bad != 0;
	} else if (rc == 0) {
		char line[64];
		printf("ready\n");
		fflush(stdout);
		while (fgets(line, sizeof line, stdin) && strcmp(line, "close\n") != 0)
			;
	}
	if (strcmp(mode, "read") != 0) {
		/* Vanish as a killed client would: the kernel closes the sockets,
		 * and no call is cancelled politely first. */
		fflush(stdout);
		_exit(rc);
	}
	for (int k = 0; k < conns * calls; k++)
		pbrpc_stream_free(s[k]);
	for (int i = 0; i < conns; i++)
		pbrpc_client_close(c[i]);
	free(chunk);
	free(s);
	free(c);
	return rc;
}
