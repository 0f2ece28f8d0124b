/* fuzz_plugin.c - protoc-gen-pbrpc in process: a CodeGeneratorRequest
 * decoded with protobuf-c and handed to the plugin's own gen_generate()
 * (gen/generate.c: model.c, names.c, emit.c), without stdin, stdout or files.
 * The output must be the same when made twice (it is deterministic), and a
 * refused request must say why.
 *
 * Input: the request's bytes, as protoc writes them to the plugin's stdin. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Runs the plugin on req; returns its result, with resp and err filled. */
static int run(const gen_request *req, gen_response *resp, strbuf *err)
{
	gen_response empty = GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
	*resp = empty;
	int rc = gen_generate(req, resp, err);
	if (rc < 0)
		check(err->len > 0 && strlen(sb_str(err)) == err->len);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gen_request *req =
	    google__protobuf__compiler__code_generator_request__unpack(NULL, size, data);
	if (!req)
		return 0;
	gen_response a, b;
	strbuf err_a = STRBUF_INIT, err_b = STRBUF_INIT;
	int rc_a = run(req, &a, &err_a);
	int rc_b = run(req, &b, &err_b);
	check(rc_a == rc_b && a.n_file == b.n_file && strcmp(sb_str(&err_a), sb_str(&err_b)) == 0);
	for (size_t i = 0; i < a.n_file; i++)
		check(strcmp(a.file[i]->name, b.file[i]->name) == 0 &&
		      strcmp(a.file[i]->content, b.file[i]->content) == 0);
	gen_response_free_files(&a);
	gen_response_free_files(&b);
	sb_free(&err_a);
	sb_free(&err_b);
	google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
	return 0;
}
