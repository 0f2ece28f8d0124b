/* model.h - what the stubs of one .proto file are made of: its services and
 * methods with every C name already worked out, and the headers to include. */
#ifndef PBRPC_GEN_MODEL_H
#define PBRPC_GEN_MODEL_H

#include <stddef.h>

#include "google/protobuf/compiler/plugin.pb-c.h"
#include "strbuf.h"

typedef Google__Protobuf__Compiler__CodeGeneratorRequest gen_request;
typedef Google__Protobuf__FileDescriptorProto gen_proto_file;

/* The same numbers as pbrpc_kind. */
typedef enum gen_kind {
	GEN_UNARY = 0,
	GEN_SERVER_STREAMING = 1,
	GEN_CLIENT_STREAMING = 2,
	GEN_BIDI_STREAMING = 3,
} gen_kind;

typedef struct gen_method {
	char *name;      /* "Say" */
	char *full_name; /* "pbrpc.echo.Echo.Say" */
	char *snake;     /* "say": names P_say, P_say_fn, ... */
	char *member;    /* the handlers struct member: snake, or "default_" for a C keyword */
	char *macro;     /* "PBRPC_ECHO_ECHO_SAY_METHOD" */
	gen_kind kind;
	char *in_type; /* "Pbrpc__Echo__EchoRequest" */
	char *in_desc; /* "pbrpc__echo__echo_request__descriptor" */
	char *out_type;
	char *out_desc;
} gen_method;

typedef struct gen_service {
	char *name;      /* "Echo" */
	char *full_name; /* "pbrpc.echo.Echo" */
	char *prefix;    /* "pbrpc_echo_echo" */
	size_t n_methods;
	gen_method *methods;
} gen_service;

typedef struct gen_file {
	char *proto;       /* "pbrpc/echo.proto" */
	char *base;        /* "pbrpc/echo": outputs are base.pbrpc.h and base.pbrpc.c */
	size_t n_includes; /* "pbrpc/echo.pb-c.h" first, then those of imported */
	char **includes;   /* files that define a request or reply type, sorted */
	size_t n_services;
	gen_service *services;
	int needs_fail; /* a client-streaming stub uses the error helper */
} gen_file;

/* The static error helper in the generated .c files. */
#define GEN_FAIL_FN "pbrpc_stub_fail_"

/* Builds f for file fd of req. Returns 0, or -1 with a message added to
 * err (f is then empty). Free f with gen_file_free() either way. */
int gen_file_build(gen_file *f, const gen_request *req, const gen_proto_file *fd, strbuf *err);
void gen_file_free(gen_file *f);

#endif /* PBRPC_GEN_MODEL_H */
