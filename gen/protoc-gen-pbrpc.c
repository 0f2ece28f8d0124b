/* protoc-gen-pbrpc - the protoc plugin that writes pbrpc service stubs.
 *
 *   protoc --plugin=protoc-gen-pbrpc=PATH -Iproto --pbrpc_out=DIR pbrpc/echo.proto
 *
 * protoc sends a CodeGeneratorRequest on stdin; we answer with a
 * CodeGeneratorResponse on stdout holding pbrpc/echo.pbrpc.h and
 * pbrpc/echo.pbrpc.c for each file to generate that has a service. Errors
 * in the .proto files go back in the response's error field (protoc prints
 * them); only I/O and decoding failures make us exit non-zero. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbrpc.h>

#include "generate.h"
#include "strbuf.h"

static void usage(FILE *out)
{
	fputs("usage: protoc --plugin=protoc-gen-pbrpc=PATH --pbrpc_out=DIR [-IDIR] FILE.proto...\n"
	      "\n"
	      "A protoc plugin: reads a CodeGeneratorRequest on stdin and writes FILE.pbrpc.h and\n"
	      "FILE.pbrpc.c (pbrpc client stubs, handler types and service tables) beside the\n"
	      "FILE.pb-c.h and FILE.pb-c.c of protoc-c's --c_out, for each FILE with a service.\n"
	      "\n"
	      "  -h, --help     print this and exit\n"
	      "  --version      print the version and exit\n",
	      out);
}

/* Reads all of in into *data (free it). Returns -1 on a read error. */
static int read_all(FILE *in, uint8_t **data, size_t *len)
{
	size_t cap = 1 << 16;
	*data = xmalloc(cap);
	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap *= 2;
			*data = xrealloc(*data, cap);
		}
		size_t n = fread(*data + *len, 1, cap - *len, in);
		*len += n;
		if (n == 0)
			return ferror(in) ? -1 : 0;
	}
}

/* Packs resp to stdout. */
static int write_response(const gen_response *resp)
{
	size_t len = google__protobuf__compiler__code_generator_response__get_packed_size(resp);
	uint8_t *buf = xmalloc(len);
	google__protobuf__compiler__code_generator_response__pack(resp, buf);
	int ok = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0;
	free(buf);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[1], "--version") == 0) {
			printf("protoc-gen-pbrpc %s\n", PBRPC_VERSION);
			return 0;
		}
		fprintf(stderr, "protoc-gen-pbrpc: unknown argument '%s'\n\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (isatty(STDIN_FILENO)) {
		fputs("protoc-gen-pbrpc: protoc runs this plugin; see --help\n", stderr);
		return 2;
	}

	uint8_t *data;
	size_t len;
	if (read_all(stdin, &data, &len) < 0) {
		perror("protoc-gen-pbrpc: reading stdin");
		free(data);
		return 1;
	}
	gen_request *req =
	    google__protobuf__compiler__code_generator_request__unpack(NULL, len, data);
	free(data);
	if (!req) {
		fputs("protoc-gen-pbrpc: stdin is not a CodeGeneratorRequest\n", stderr);
		return 1;
	}

	gen_response resp = GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
	strbuf err = STRBUF_INIT;
	if (gen_generate(req, &resp, &err) < 0) {
		gen_response_free_files(&resp);
		resp.error = (char *)sb_str(&err);
	}
	int rc = write_response(&resp);
	if (rc < 0)
		perror("protoc-gen-pbrpc: writing stdout");
	gen_response_free_files(&resp);
	sb_free(&err);
	google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
	return rc < 0 ? 1 : 0;
}
