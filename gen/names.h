/* names.h - the C names of things: protoc-c's (which we must match exactly)
 * and pbrpc's own. Every function returns a new string the caller frees. */
#ifndef PBRPC_GEN_NAMES_H
#define PBRPC_GEN_NAMES_H

/* protoc-c's type name of a message: package (or c_package) pieces and the
 * message's nesting, each "to camel" (drop '_', upper-case the letter after
 * it and the first), joined by "__". ("my_pkg.v1", "Outer.In_x") ->
 * "MyPkg__V1__Outer__InX". package may be "". */
char *pbc_type_name(const char *package, const char *rel_name);
/* protoc-c's descriptor symbol: the same pieces "camel to lower" (an
 * upper-case letter after a non-upper-case one gets a '_' before it),
 * plus "__descriptor". ("pbrpc.echo", "EchoRequest") ->
 * "pbrpc__echo__echo_request__descriptor". */
char *pbc_descriptor_name(const char *package, const char *rel_name);

/* "SayHello" -> "say_hello", "GetURL" -> "get_url", "GetURLRequest" ->
 * "get_url_request", "Chat" -> "chat". */
char *snake_case(const char *name);
/* ASCII upper-case copy. */
char *upper_case(const char *s);
/* The service prefix: "pbrpc.echo" + "Echo" -> "pbrpc_echo_echo"; "" + "Echo" -> "echo". */
char *service_prefix(const char *package, const char *service);
/* "pbrpc/echo.proto" -> "pbrpc/echo" (what protoc-c names its outputs after). */
char *proto_base(const char *proto_name);
/* An include guard for the stubs of proto_name, escaped like protoc-c's:
 * "pbrpc/echo.proto" -> "PBRPC_STUBS_pbrpc_2fecho_2eproto__INCLUDED". */
char *include_guard(const char *proto_name);
/* 1 if s is a C keyword (or a macro of <stdbool.h>), which cannot name a struct member. */
int is_c_keyword(const char *s);

#endif /* PBRPC_GEN_NAMES_H */
