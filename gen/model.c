/* model.c - works out the services, C names and includes of one file. */
#include "model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

typedef Google__Protobuf__DescriptorProto gen_message;

/* ---- protoc-c's c_package option -------------------------------------------
 * protobuf-c.proto: extend FileOptions { ProtobufCFileOptions pb_c_file = 1019; }
 * and ProtobufCFileOptions { string c_package = 6; }. We do not link its
 * generated code, so the option arrives as an unknown field to decode here. */

#define PB_C_FILE_FIELD 1019
#define C_PACKAGE_FIELD 6

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return -1;
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Finds c_package in an encoded ProtobufCFileOptions; replaces *out (the
 * last occurrence wins, as in protobuf). Returns -1 if data is malformed. */
static int scan_c_package(const uint8_t *p, size_t len, char **out)
{
	const uint8_t *end = p + len;
	while (p < end) {
		uint64_t key, v;
		if (read_varint(&p, end, &key) < 0)
			return -1;
		switch (key & 7) {
		case 0: /* varint */
			if (read_varint(&p, end, &v) < 0)
				return -1;
			break;
		case 1: /* 64-bit */
		case 5: /* 32-bit */
			v = (key & 7) == 1 ? 8 : 4;
			if ((uint64_t)(end - p) < v)
				return -1;
			p += v;
			break;
		case 2: /* length-delimited */
			if (read_varint(&p, end, &v) < 0 || (uint64_t)(end - p) < v)
				return -1;
			if (key >> 3 == C_PACKAGE_FIELD) {
				free(*out);
				*out = xmalloc((size_t)v + 1);
				memcpy(*out, p, (size_t)v);
				(*out)[v] = '\0';
			}
			p += v;
			break;
		default: return -1;
		}
	}
	return 0;
}

/* The package protoc-c names fd's C types after: (pb_c_file).c_package if
 * set, else the package. */
static char *c_package(const gen_proto_file *fd)
{
	char *pkg = NULL;
	const ProtobufCMessage *opts = fd->options ? &fd->options->base : NULL;
	for (unsigned i = 0; opts && i < opts->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &opts->unknown_fields[i];
		if (u->tag != PB_C_FILE_FIELD ||
		    u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
			continue;
		/* protobuf-c keeps the length prefix in data. If the option is
		 * malformed, protoc-c fails on it before our output matters. */
		const uint8_t *p = u->data, *end = u->data + u->len;
		uint64_t len;
		if (read_varint(&p, end, &len) == 0 && len == (uint64_t)(end - p))
			scan_c_package(p, (size_t)len, &pkg);
	}
	return pkg ? pkg : xstrdup(fd->package ? fd->package : "");
}

/* ---- finding the file and C names of a message ----------------------------- */

/* The message type_name (".pkg.Outer.Inner") of fd, or NULL if fd has none.
 * Sets *rel to the part after the package ("Outer.Inner"). */
static const gen_message *find_message(const gen_proto_file *fd, const char *type_name,
                                       const char **rel)
{
	const char *pkg = fd->package ? fd->package : "";
	const char *p = type_name;
	if (*p++ != '.')
		return NULL;
	if (*pkg) {
		size_t n = strlen(pkg);
		if (strncmp(p, pkg, n) != 0 || p[n] != '.')
			return NULL;
		p += n + 1;
	}
	*rel = p;
	size_t n_msgs = fd->n_message_type;
	gen_message **msgs = fd->message_type;
	const gen_message *m = NULL;
	while (*p) {
		size_t len = strcspn(p, ".");
		m = NULL;
		for (size_t i = 0; i < n_msgs && !m; i++) {
			const char *name = msgs[i]->name ? msgs[i]->name : "";
			if (strlen(name) == len && strncmp(name, p, len) == 0)
				m = msgs[i];
		}
		if (!m)
			return NULL;
		n_msgs = m->n_nested_type;
		msgs = m->nested_type;
		p += len;
		if (*p == '.' && *++p == '\0')
			return NULL;
	}
	return m;
}

static void add_include(gen_file *f, const char *proto_name)
{
	char *base = proto_base(proto_name);
	strbuf sb = STRBUF_INIT;
	sb_addf(&sb, "%s.pb-c.h", base);
	free(base);
	for (size_t i = 0; i < f->n_includes; i++) {
		if (strcmp(f->includes[i], sb_str(&sb)) == 0) {
			sb_free(&sb);
			return;
		}
	}
	f->includes = xrealloc(f->includes, (f->n_includes + 1) * sizeof *f->includes);
	f->includes[f->n_includes++] = sb_take(&sb);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sets the C type and descriptor names of type_name and includes its header. */
static int resolve_type(gen_file *f, const gen_request *req, const char *type_name, char **type,
                        char **desc, strbuf *err)
{
	for (size_t i = 0; i < req->n_proto_file; i++) {
		const gen_proto_file *fd = req->proto_file[i];
		const char *rel;
		if (!find_message(fd, type_name, &rel))
			continue;
		char *pkg = c_package(fd);
		*type = pbc_type_name(pkg, rel);
		*desc = pbc_descriptor_name(pkg, rel);
		free(pkg);
		add_include(f, fd->name ? fd->name : "");
		return 0;
	}
	sb_addf(err, "%s: message type %s is not defined in any file of the request", f->proto,
	        type_name);
	return -1;
}

/* ---- names we define: they must not clash ---------------------------------- */

typedef struct name_set {
	size_t n;
	char **names;  /* n names */
	char **owners; /* the full name of the service or method that defines each */
} name_set;

/* Records that owner defines the name a followed by b; fails if another
 * owner did already. */
static int claim(name_set *set, const char *proto, const char *owner, const char *a, const char *b,
                 strbuf *err)
{
	strbuf sb = STRBUF_INIT;
	sb_addf(&sb, "%s%s", a, b);
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->names[i], sb_str(&sb)) == 0) {
			sb_addf(err, "%s: %s and %s would both define %s; rename one", proto,
			        set->owners[i], owner, sb_str(&sb));
			sb_free(&sb);
			return -1;
		}
	}
	set->names = xrealloc(set->names, (set->n + 1) * sizeof *set->names);
	set->owners = xrealloc(set->owners, (set->n + 1) * sizeof *set->owners);
	set->names[set->n] = sb_take(&sb);
	set->owners[set->n++] = xstrdup(owner);
	return 0;
}

static void name_set_free(name_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->names[i]);
		free(set->owners[i]);
	}
	free(set->names);
	free(set->owners);
}

/* The suffixes of the functions generated for a method of each kind. */
static const char *const stub_suffixes[4][4] = {
    [GEN_UNARY] = {"", NULL},
    [GEN_SERVER_STREAMING] = {"", "_recv", NULL},
    [GEN_CLIENT_STREAMING] = {"_open", "_send", "_finish", NULL},
    [GEN_BIDI_STREAMING] = {"_open", "_send", "_recv", NULL},
};

static int claim_service(name_set *set, const char *proto, const gen_service *s, strbuf *err)
{
	static const char *const service_suffixes[] = {"_methods", "_service", "_handlers",
	                                               "_register"};
	for (size_t i = 0; i < sizeof service_suffixes / sizeof *service_suffixes; i++)
		if (claim(set, proto, s->full_name, s->prefix, service_suffixes[i], err) < 0)
			return -1;
	for (size_t i = 0; i < s->n_methods; i++) {
		const gen_method *m = &s->methods[i];
		const char *who = m->full_name;
		strbuf pm = STRBUF_INIT;
		sb_addf(&pm, "%s_%s", s->prefix, m->snake);
		int rc = claim(set, proto, who, sb_str(&pm), "_fn", err) < 0 ||
		         claim(set, proto, who, sb_str(&pm), "_thunk", err) < 0 ||
		         claim(set, proto, who, m->macro, "", err) < 0;
		for (const char *const *suf = stub_suffixes[m->kind]; !rc && *suf; suf++)
			rc = claim(set, proto, who, sb_str(&pm), *suf, err) < 0;
		sb_free(&pm);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- building ------------------------------------------------------------------ */

static char *join_name(const char *scope, const char *name)
{
	strbuf sb = STRBUF_INIT;
	if (*scope)
		sb_addf(&sb, "%s.", scope);
	sb_add(&sb, name);
	return sb_take(&sb);
}

static int build_method(gen_file *f, const gen_request *req, const gen_service *s, gen_method *m,
                        const Google__Protobuf__MethodDescriptorProto *md, strbuf *err)
{
	if (!md->name || !*md->name || !md->input_type || !md->output_type) {
		sb_addf(err, "%s: service %s has a method without a name or types", f->proto,
		        s->full_name);
		return -1;
	}
	m->name = xstrdup(md->name);
	m->full_name = join_name(s->full_name, md->name);
	m->snake = snake_case(md->name);
	strbuf member = STRBUF_INIT;
	sb_add(&member, m->snake);
	if (is_c_keyword(m->snake))
		sb_addc(&member, '_');
	m->member = sb_take(&member);
	strbuf macro = STRBUF_INIT;
	sb_addf(&macro, "%s_%s_METHOD", s->prefix, m->snake);
	m->macro = upper_case(sb_str(&macro));
	sb_free(&macro);
	m->kind = (md->client_streaming ? GEN_CLIENT_STREAMING : GEN_UNARY) |
	          (md->server_streaming ? GEN_SERVER_STREAMING : GEN_UNARY);
	if (m->kind == GEN_CLIENT_STREAMING)
		f->needs_fail = 1;
	if (resolve_type(f, req, md->input_type, &m->in_type, &m->in_desc, err) < 0 ||
	    resolve_type(f, req, md->output_type, &m->out_type, &m->out_desc, err) < 0)
		return -1;
	return 0;
}

static int build_service(gen_file *f, const gen_request *req, const gen_proto_file *fd,
                         gen_service *s, const Google__Protobuf__ServiceDescriptorProto *sd,
                         strbuf *err)
{
	const char *pkg = fd->package ? fd->package : "";
	if (!sd->name || !*sd->name) {
		sb_addf(err, "%s: a service has no name", f->proto);
		return -1;
	}
	s->name = xstrdup(sd->name);
	s->full_name = join_name(pkg, sd->name);
	s->prefix = service_prefix(pkg, sd->name);
	if (sd->n_method == 0) {
		sb_addf(err, "%s: service %s has no methods; pbrpc needs at least one", f->proto,
		        s->full_name);
		return -1;
	}
	s->methods = xcalloc(sd->n_method, sizeof *s->methods);
	s->n_methods = sd->n_method;
	for (size_t i = 0; i < sd->n_method; i++)
		if (build_method(f, req, s, &s->methods[i], sd->method[i], err) < 0)
			return -1;
	return 0;
}

int gen_file_build(gen_file *f, const gen_request *req, const gen_proto_file *fd, strbuf *err)
{
	memset(f, 0, sizeof *f);
	f->proto = xstrdup(fd->name ? fd->name : "");
	f->base = proto_base(f->proto);
	add_include(f, f->proto);
	f->services = xcalloc(fd->n_service, sizeof *f->services);
	f->n_services = fd->n_service;

	name_set names = {0, NULL, NULL};
	int rc = claim(&names, f->proto, "protoc-gen-pbrpc", GEN_FAIL_FN, "", err);
	for (size_t i = 0; rc == 0 && i < fd->n_service; i++) {
		rc = build_service(f, req, fd, &f->services[i], fd->service[i], err);
		if (rc == 0)
			rc = claim_service(&names, f->proto, &f->services[i], err);
	}
	name_set_free(&names);
	if (rc < 0) {
		gen_file_free(f);
		return -1;
	}
	qsort(f->includes + 1, f->n_includes - 1, sizeof *f->includes, cmp_str);
	return 0;
}

static void method_free(gen_method *m)
{
	free(m->name);
	free(m->full_name);
	free(m->snake);
	free(m->member);
	free(m->macro);
	free(m->in_type);
	free(m->in_desc);
	free(m->out_type);
	free(m->out_desc);
}

void gen_file_free(gen_file *f)
{
	for (size_t i = 0; i < f->n_services; i++) {
		gen_service *s = &f->services[i];
		for (size_t j = 0; j < s->n_methods; j++)
			method_free(&s->methods[j]);
		free(s->methods);
		free(s->name);
		free(s->full_name);
		free(s->prefix);
	}
	free(f->services);
	for (size_t i = 0; i < f->n_includes; i++)
		free(f->includes[i]);
	free(f->includes);
	free(f->proto);
	free(f->base);
	memset(f, 0, sizeof *f);
}
