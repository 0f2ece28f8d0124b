/* cmd_list.c - 'rpcc list' and 'rpcc describe SERVICE': what a server
 * offers, from its Reflection service. */
#include <getopt.h>
#include <stdio.h>

#include <pbrpc.h>

#include "pbrpc/reflection.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "report.h"

static const char *kind_name(Pbrpc__Reflection__StreamingKind kind)
{
	switch (kind) {
	case PBRPC__REFLECTION__STREAMING_KIND__UNARY: return pbrpc_kind_name(PBRPC_UNARY);
	case PBRPC__REFLECTION__STREAMING_KIND__SERVER_STREAMING:
		return pbrpc_kind_name(PBRPC_SERVER_STREAMING);
	case PBRPC__REFLECTION__STREAMING_KIND__CLIENT_STREAMING:
		return pbrpc_kind_name(PBRPC_CLIENT_STREAMING);
	case PBRPC__REFLECTION__STREAMING_KIND__BIDI_STREAMING:
		return pbrpc_kind_name(PBRPC_BIDI_STREAMING);
	default: return "unknown kind"; /* a newer server */
	}
}

/* "pbrpc.echo.Echo", then "  Say (unary) pbrpc.echo.EchoRequest -> ..." per method. */
static void print_service(const Pbrpc__Reflection__Service *service)
{
	rpcc_put_safe(stdout, service->full_name);
	putchar('\n');
	for (size_t i = 0; i < service->n_methods; i++) {
		const Pbrpc__Reflection__Method *m = service->methods[i];

		fputs("  ", stdout);
		rpcc_put_safe(stdout, m->name);
		printf(" (%s) ", kind_name(m->kind));
		rpcc_put_safe(stdout, m->request_type);
		fputs(" -> ", stdout);
		rpcc_put_safe(stdout, m->response_type);
		putchar('\n');
	}
}

/* "message pbrpc.echo.EchoRequest {", "  bytes data = 1;" per field, "}". */
static void print_message_type(const Pbrpc__Reflection__MessageType *type)
{
	fputs("message ", stdout);
	rpcc_put_safe(stdout, type->full_name);
	fputs(" {\n", stdout);
	for (size_t i = 0; i < type->n_fields; i++) {
		const Pbrpc__Reflection__Field *f = type->fields[i];

		fputs(f->repeated ? "  repeated " : "  ", stdout);
		rpcc_put_safe(stdout, f->type);
		putchar(' ');
		rpcc_put_safe(stdout, f->name);
		printf(" = %u;\n", (unsigned)f->number);
	}
	fputs("}\n", stdout);
}

/* Calls Reflection.List for service ("" = all). Returns an exit code; on
 * RPCC_EXIT_OK *reply is the caller's to free. */
static int call_list(const rpcc_context *ctx, const char *service,
                     Pbrpc__Reflection__ListReply **reply)
{
	Pbrpc__Reflection__ListRequest request = PBRPC__REFLECTION__LIST_REQUEST__INIT;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	pbrpc_client *client;
	int status = RPCC_EXIT_OK;

	request.service = (char *)service;
	client = rpcc_connect(ctx);
	if (client == NULL)
		return RPCC_EXIT_CONNECT;
	if (pbrpc_reflection_reflection_list(client, &request, reply, &call_opts, &err) !=
	    PBRPC_OK) {
		rpcc_report(ctx->command->name, NULL, &err);
		status = RPCC_EXIT_FAILED;
	}
	pbrpc_client_close(client);
	return status;
}

static int run_list(const rpcc_context *ctx, int argc, char **argv)
{
	Pbrpc__Reflection__ListReply *reply = NULL;
	int status = rpcc_parse_no_options(ctx, argc, argv);

	if (status >= 0)
		return status;
	if (optind != argc)
		return rpcc_usage_error(ctx->command->name,
		                        "unexpected argument '%s' "
		                        "(use 'rpcc describe SERVICE' for one service)",
		                        argv[optind]);
	status = call_list(ctx, "", &reply);
	if (status != RPCC_EXIT_OK)
		return status;
	for (size_t i = 0; i < reply->n_services; i++)
		print_service(reply->services[i]);
	pbrpc_message_free(&reply->base);
	return RPCC_EXIT_OK;
}

static int run_describe(const rpcc_context *ctx, int argc, char **argv)
{
	Pbrpc__Reflection__ListReply *reply = NULL;
	int status = rpcc_parse_no_options(ctx, argc, argv);
	const char *service;

	if (status >= 0)
		return status;
	if (argc - optind != 1)
		return rpcc_usage_error(ctx->command->name, "expected one SERVICE");
	service = argv[optind];
	if (service[0] == '\0')
		return rpcc_usage_error(ctx->command->name, "SERVICE is empty");
	status = call_list(ctx, service, &reply);
	if (status != RPCC_EXIT_OK)
		return status;
	if (reply->n_services == 0) {
		/* The server should have said NOT_FOUND; say it for it. */
		rpcc_reportf(ctx->command->name, PBRPC_NOT_FOUND,
		             "no service '%s' on the server "
		             "(see 'rpcc list')",
		             service);
		status = RPCC_EXIT_FAILED;
	}
	for (size_t i = 0; i < reply->n_services; i++)
		print_service(reply->services[i]);
	for (size_t i = 0; i < reply->n_messages; i++) {
		putchar('\n');
		print_message_type(reply->messages[i]);
	}
	pbrpc_message_free(&reply->base);
	return status;
}

const rpcc_command rpcc_cmd_list = {
    .name = "list",
    .args = "",
    .summary = "List the server's services and methods",
    .options = NULL,
    .run = run_list,
};

const rpcc_command rpcc_cmd_describe = {
    .name = "describe",
    .args = "SERVICE",
    .summary = "Show a service's methods and their messages' fields",
    .details = "SERVICE is a full name as 'rpcc list' prints it, e.g. pbrpc.echo.Echo.",
    .options = NULL,
    .run = run_describe,
};
