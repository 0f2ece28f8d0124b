/* generate.h - the plugin without its I/O: a CodeGeneratorRequest in, the
 * response's files out. protoc-gen-pbrpc.c reads and writes; the fuzzer
 * (tests/fuzz/fuzz_plugin.c) calls this directly. */
#ifndef PBRPC_GEN_GENERATE_H
#define PBRPC_GEN_GENERATE_H

#include "model.h"
#include "strbuf.h"

typedef Google__Protobuf__Compiler__CodeGeneratorResponse gen_response;

/* Adds to resp the stubs of every file to generate that has a service.
 * Returns 0, or -1 with a message in err on an error in the request (resp may
 * then hold some files). Free what it added with gen_response_free_files(). */
int gen_generate(const gen_request *req, gen_response *resp, strbuf *err);

/* Frees the files gen_generate() added to resp and empties its list. */
void gen_response_free_files(gen_response *resp);

#endif /* PBRPC_GEN_GENERATE_H */
