/* fuzz_plugin.c - protoc-gen-pbrpc in process: a CodeGeneratorRequest
 * decoded with protobuf-c, the model built for each file to generate
 * (gen/model.c, names.c) and the text of both outputs written (emit.c), as
 * gen/protoc-gen-pbrpc.c's generate() does, without stdin, stdout or files.
 * The output must be the same when made twice (it is deterministic).
 *
 * Input: the request's bytes, as protoc writes them to the plugin's stdin. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "model.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static const gen_proto_file *file_named(const gen_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_proto_file; i++)
		if (req->proto_file[i]->name && strcmp(req->proto_file[i]->name, name) == 0)
			return req->proto_file[i];
	return NULL;
}

/* Builds and emits one file's stubs; 0, or -1 with a message in err. */
static int generate_file(const gen_request *req, const gen_proto_file *fd, strbuf *err)
{
	gen_file f;
	if (gen_file_build(&f, req, fd, err) < 0) {
		check(f.n_services == 0 && f.services == NULL); /* "f is then empty" */
		gen_file_free(&f);
		return -1;
	}
	char *header = emit_header(&f), *source = emit_source(&f);
	char *header2 = emit_header(&f), *source2 = emit_source(&f);
	check(header && source && strcmp(header, header2) == 0 && strcmp(source, source2) == 0);
	free(header);
	free(source);
	free(header2);
	free(source2);
	gen_file_free(&f);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gen_request *req =
	    google__protobuf__compiler__code_generator_request__unpack(NULL, size, data);
	if (!req)
		return 0;
	strbuf err = STRBUF_INIT;
	/* generate() refuses parameters before looking at any file; go on anyway. */
	for (size_t i = 0; i < req->n_file_to_generate; i++) {
		const gen_proto_file *fd = file_named(req, req->file_to_generate[i]);
		if (!fd || fd->n_service == 0)
			continue;
		if (generate_file(req, fd, &err) < 0)
			check(err.len > 0 && strlen(sb_str(&err)) == err.len);
		sb_free(&err);
	}
	sb_free(&err);
	google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
	return 0;
}
