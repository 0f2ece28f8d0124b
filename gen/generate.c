/* generate.c - the stubs of every file a CodeGeneratorRequest names, as the
 * files of a CodeGeneratorResponse. */
#include "generate.h"

#include <stdlib.h>
#include <string.h>

#include "emit.h"

typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File gen_out_file;

static const gen_proto_file *find_file(const gen_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_proto_file; i++)
		if (req->proto_file[i]->name && strcmp(req->proto_file[i]->name, name) == 0)
			return req->proto_file[i];
	return NULL;
}

static void add_output(gen_response *resp, const char *base, const char *suffix, char *content)
{
	strbuf name = STRBUF_INIT;
	sb_addf(&name, "%s%s", base, suffix);
	gen_out_file *out = xmalloc(sizeof *out);
	google__protobuf__compiler__code_generator_response__file__init(out);
	out->name = sb_take(&name);
	out->content = content;
	resp->file = xrealloc(resp->file, (resp->n_file + 1) * sizeof *resp->file);
	resp->file[resp->n_file++] = out;
}

int gen_generate(const gen_request *req, gen_response *resp, strbuf *err)
{
	if (req->parameter && *req->parameter) {
		sb_addf(err, "protoc-gen-pbrpc takes no options (got \"%s\")", req->parameter);
		return -1;
	}
	for (size_t i = 0; i < req->n_file_to_generate; i++) {
		const gen_proto_file *fd = find_file(req, req->file_to_generate[i]);
		if (!fd) {
			sb_addf(err, "%s: not among the request's files", req->file_to_generate[i]);
			return -1;
		}
		if (fd->n_service == 0)
			continue;
		gen_file f;
		if (gen_file_build(&f, req, fd, err) < 0) {
			gen_file_free(&f);
			return -1;
		}
		add_output(resp, f.base, ".pbrpc.h", emit_header(&f));
		add_output(resp, f.base, ".pbrpc.c", emit_source(&f));
		gen_file_free(&f);
	}
	return 0;
}

void gen_response_free_files(gen_response *resp)
{
	for (size_t i = 0; i < resp->n_file; i++) {
		free(resp->file[i]->name);
		free(resp->file[i]->content);
		free(resp->file[i]);
	}
	free(resp->file);
	resp->file = NULL;
	resp->n_file = 0;
}
