/* reflection.c - pbrpc.reflection.Reflection.List: what this server offers.
 *
 * Built only from the server's registered service descriptions (the
 * generated dispatch tables) and the protobuf-c descriptors they point at.
 * Every string in the reply points at those static tables; every array is
 * pbrpc_call_alloc memory, freed when the call ends. */
#include "reflection.h"

#include <stdint.h>
#include <string.h>

#include "pbrpc/reflection.pbrpc.h"

/* Reply structs hold char *; the packer only reads through them. */
static char *borrow(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

/* n objects of size bytes from the call's memory; NULL on overflow or
 * exhaustion. Callers never ask for n = 0. */
static void *call_alloc_array(pbrpc_call *call, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return pbrpc_call_alloc(call, n * size);
}

static Pbrpc__Reflection__StreamingKind streaming_kind(pbrpc_kind kind)
{
	switch (kind) {
	case PBRPC_SERVER_STREAMING: return PBRPC__REFLECTION__STREAMING_KIND__SERVER_STREAMING;
	case PBRPC_CLIENT_STREAMING: return PBRPC__REFLECTION__STREAMING_KIND__CLIENT_STREAMING;
	case PBRPC_BIDI_STREAMING: return PBRPC__REFLECTION__STREAMING_KIND__BIDI_STREAMING;
	case PBRPC_UNARY: break;
	}
	return PBRPC__REFLECTION__STREAMING_KIND__UNARY;
}

/* The .proto spelling of a field's type: the scalar's keyword, or the full
 * name of the message or enum. */
static const char *field_type_name(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: return "int32";
	case PROTOBUF_C_TYPE_SINT32: return "sint32";
	case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
	case PROTOBUF_C_TYPE_INT64: return "int64";
	case PROTOBUF_C_TYPE_SINT64: return "sint64";
	case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
	case PROTOBUF_C_TYPE_UINT32: return "uint32";
	case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
	case PROTOBUF_C_TYPE_UINT64: return "uint64";
	case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
	case PROTOBUF_C_TYPE_FLOAT: return "float";
	case PROTOBUF_C_TYPE_DOUBLE: return "double";
	case PROTOBUF_C_TYPE_BOOL: return "bool";
	case PROTOBUF_C_TYPE_STRING: return "string";
	case PROTOBUF_C_TYPE_BYTES: return "bytes";
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		return e ? e->name : "enum";
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *m = f->descriptor;
		return m ? m->name : "message";
	}
	}
	return "unknown";
}

static Pbrpc__Reflection__Service *describe_service(pbrpc_call *call,
                                                    const pbrpc_service_desc *desc)
{
	Pbrpc__Reflection__Service *out = pbrpc_call_alloc(call, sizeof(*out));
	if (!out)
		return NULL;
	pbrpc__reflection__service__init(out);
	out->full_name = borrow(desc->full_name);
	if (desc->n_methods == 0)
		return out;

	Pbrpc__Reflection__Method *methods =
	    call_alloc_array(call, desc->n_methods, sizeof(*methods));
	Pbrpc__Reflection__Method **list = call_alloc_array(call, desc->n_methods, sizeof(*list));
	if (!methods || !list)
		return NULL;
	for (size_t i = 0; i < desc->n_methods; i++) {
		const pbrpc_method_desc *m = &desc->methods[i];
		pbrpc__reflection__method__init(&methods[i]);
		methods[i].name = borrow(m->name);
		methods[i].full_name = borrow(m->full_name);
		methods[i].kind = streaming_kind(m->kind);
		methods[i].request_type = borrow(m->input ? m->input->name : NULL);
		methods[i].response_type = borrow(m->output ? m->output->name : NULL);
		list[i] = &methods[i];
	}
	out->methods = list;
	out->n_methods = desc->n_methods;
	return out;
}

static Pbrpc__Reflection__MessageType *describe_message(pbrpc_call *call,
                                                        const ProtobufCMessageDescriptor *desc)
{
	Pbrpc__Reflection__MessageType *out = pbrpc_call_alloc(call, sizeof(*out));
	if (!out)
		return NULL;
	pbrpc__reflection__message_type__init(out);
	out->full_name = borrow(desc->name);
	if (desc->n_fields == 0)
		return out;

	Pbrpc__Reflection__Field *fields = call_alloc_array(call, desc->n_fields, sizeof(*fields));
	Pbrpc__Reflection__Field **list = call_alloc_array(call, desc->n_fields, sizeof(*list));
	if (!fields || !list)
		return NULL;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		pbrpc__reflection__field__init(&fields[i]);
		fields[i].name = borrow(f->name);
		fields[i].number = f->id;
		fields[i].type = borrow(field_type_name(f));
		fields[i].repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
		list[i] = &fields[i];
	}
	out->fields = list;
	out->n_fields = desc->n_fields;
	return out;
}

/* Adds desc to seen[0..*n) unless a type of that name is already there, so
 * that each message type is described once, in order of first use. */
static void add_distinct(const ProtobufCMessageDescriptor **seen, size_t *n,
                         const ProtobufCMessageDescriptor *desc)
{
	if (!desc || !desc->name)
		return;
	for (size_t i = 0; i < *n; i++)
		if (seen[i] == desc || strcmp(seen[i]->name, desc->name) == 0)
			return;
	seen[(*n)++] = desc;
}

/* Fills reply->messages with the input and output types of the listed services. */
static int describe_messages(pbrpc_call *call, const pbrpc_service_desc **services,
                             size_t n_services, Pbrpc__Reflection__ListReply *reply)
{
	size_t n_methods = 0;
	for (size_t i = 0; i < n_services; i++) {
		if (services[i]->n_methods > (SIZE_MAX / 2) - n_methods)
			return -1;
		n_methods += services[i]->n_methods;
	}
	if (n_methods == 0)
		return 0;

	const ProtobufCMessageDescriptor **types =
	    call_alloc_array(call, 2 * n_methods, sizeof(*types));
	if (!types)
		return -1;
	size_t n_types = 0;
	for (size_t i = 0; i < n_services; i++) {
		for (size_t j = 0; j < services[i]->n_methods; j++) {
			add_distinct(types, &n_types, services[i]->methods[j].input);
			add_distinct(types, &n_types, services[i]->methods[j].output);
		}
	}
	if (n_types == 0)
		return 0;

	reply->messages = call_alloc_array(call, n_types, sizeof(*reply->messages));
	if (!reply->messages)
		return -1;
	for (size_t i = 0; i < n_types; i++) {
		reply->messages[i] = describe_message(call, types[i]);
		if (!reply->messages[i])
			return -1;
	}
	reply->n_messages = n_types;
	return 0;
}

static int reflection_list(pbrpc_call *call, const Pbrpc__Reflection__ListRequest *request,
                           Pbrpc__Reflection__ListReply *reply)
{
	const pbrpc_server *server = pbrpc_call_server(call);
	size_t n_registered = pbrpc_server_service_count(server);
	const char *wanted = request->service ? request->service : "";

	const pbrpc_service_desc *only = NULL;
	const pbrpc_service_desc **selected;
	size_t n_selected;
	if (wanted[0] != '\0') {
		for (size_t i = 0; i < n_registered && !only; i++) {
			const pbrpc_service_desc *desc = pbrpc_server_service(server, i);
			if (desc && desc->full_name && strcmp(desc->full_name, wanted) == 0)
				only = desc;
		}
		if (!only) {
			/* The name is the client's: cap what we echo back. */
			pbrpc_call_set_message(call, "no service %.200s", wanted);
			return PBRPC_NOT_FOUND;
		}
		selected = &only;
		n_selected = 1;
	} else {
		if (n_registered == 0)
			return PBRPC_OK;
		selected = call_alloc_array(call, n_registered, sizeof(*selected));
		if (!selected)
			goto out_of_memory;
		n_selected = 0;
		for (size_t i = 0; i < n_registered; i++) {
			const pbrpc_service_desc *desc = pbrpc_server_service(server, i);
			if (desc)
				selected[n_selected++] = desc;
		}
		if (n_selected == 0)
			return PBRPC_OK;
	}

	reply->services = call_alloc_array(call, n_selected, sizeof(*reply->services));
	if (!reply->services)
		goto out_of_memory;
	for (size_t i = 0; i < n_selected; i++) {
		reply->services[i] = describe_service(call, selected[i]);
		if (!reply->services[i])
			goto out_of_memory;
	}
	reply->n_services = n_selected;
	if (describe_messages(call, selected, n_selected, reply) != 0)
		goto out_of_memory;
	return PBRPC_OK;

out_of_memory:
	/* Leave no half-built arrays for the packer to walk. */
	reply->n_services = 0;
	reply->n_messages = 0;
	pbrpc_call_set_message(call, "out of memory");
	return PBRPC_RESOURCE_EXHAUSTED;
}

static const pbrpc_reflection_reflection_handlers reflection_handlers = {
    .list = reflection_list,
};

pbrpc_status pbrpc_reflection_register(pbrpc_server *s, pbrpc_error *err)
{
	return pbrpc_reflection_reflection_register(s, &reflection_handlers, NULL, err);
}
