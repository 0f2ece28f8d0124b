/* authorized_keys.c - parses the authorized keys file (see
 * authorized_keys.h). A file with one bad line is refused whole: a
 * half-read policy would be a policy nobody wrote. */
#include "authorized_keys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define MAX_LINE  8192
#define MAX_ITEMS 256 /* services= and from= entries per key */

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._@-+", s[i]))
			return 0;
	return 1;
}

static int parse_cidr(const char *text, rpcd_cidr *c)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(c, 0, sizeof *c);
	unsigned max;
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->family = AF_INET6, max = 128;
	else
		return -1;
	c->bits = max;
	if (slash) {
		char *end;
		errno = 0;
		unsigned long bits = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || bits > max)
			return -1;
		c->bits = (unsigned)bits;
	}
	return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return 0;
	if (!rest)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int rpcd_client_key_from_ok(const rpcd_client_key *k, const struct sockaddr *sa)
{
	if (!k->from)
		return 1;
	if (!sa)
		return 0;
	uint8_t v4[4], v6[16];
	int has4 = 0, has6 = 0;
	if (sa->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		has4 = 1;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(v6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		has6 = 1;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(v6, mapped, 12) == 0) { /* an IPv4 client of a dual-stack socket */
			memcpy(v4, v6 + 12, 4);
			has4 = 1;
		}
	}
	for (size_t i = 0; i < k->n_from; i++) {
		const rpcd_cidr *c = &k->from[i];
		if ((c->family == AF_INET && has4 && prefix_match(v4, c->addr, c->bits)) ||
		    (c->family == AF_INET6 && has6 && prefix_match(v6, c->addr, c->bits)))
			return 1;
	}
	return 0;
}

/* Splits text at sep into at most MAX_ITEMS malloc'ed strings. */
static char **split(const char *text, char sep, size_t *n)
{
	char **items = calloc(MAX_ITEMS, sizeof *items);
	*n = 0;
	if (!items)
		return NULL;
	for (const char *p = text;;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || *n == MAX_ITEMS || !(items[*n] = strndup(p, len))) {
			while (*n)
				free(items[--*n]);
			free(items);
			return NULL;
		}
		(*n)++;
		if (!end)
			return items;
		p = end + 1;
	}
}

static void free_key(rpcd_client_key *k)
{
	rpcd_exec_policy_free(&k->exec);
	free(k->root);
	if (k->root_fd >= 0)
		close(k->root_fd);
	for (size_t i = 0; i < k->n_services; i++)
		free(k->services[i]);
	free(k->services);
	free(k->from);
}

/* Applies one option ("no-exec", "root=DIR" ...) to k. 0, or -1 with why. */
static int apply_option(rpcd_client_key *k, const char *opt, char *why, size_t why_size)
{
	const char *eq = strchr(opt, '=');
	size_t name_len = eq ? (size_t)(eq - opt) : strlen(opt);
	const char *value = eq ? eq + 1 : NULL;
#define IS(name) (name_len == strlen(name) && strncmp(opt, name, name_len) == 0)
	if (IS("no-exec") || IS("read-only")) {
		if (value) {
			snprintf(why, why_size, "%.*s takes no value", (int)name_len, opt);
			return -1;
		}
		if (IS("no-exec"))
			k->no_exec = 1;
		else
			k->read_only = 1;
		return 0;
	}
	if (!IS("exec-allow") && !IS("env") && !IS("root") && !IS("services") && !IS("max-calls") &&
	    !IS("from")) {
		snprintf(why, why_size,
		         "unknown option '%.*s' (known: no-exec, read-only, exec-allow=FILE, "
		         "env=NAME:NAME, root=DIR, services=SVC:SVC, max-calls=N, from=CIDR:CIDR)",
		         (int)(name_len > 40 ? 40 : name_len), opt);
		return -1;
	}
	if (!value || !*value) {
		snprintf(why, why_size, "%.*s needs a value", (int)name_len, opt);
		return -1;
	}
	if (IS("exec-allow")) {
		pbrpc_error err = {0};
		if (k->has_exec_allow) {
			snprintf(why, why_size, "exec-allow given twice");
			return -1;
		}
		k->has_exec_allow = 1;
		if (rpcd_exec_policy_load(&k->exec, value, &err) != 0) {
			snprintf(why, why_size, "exec-allow: %.400s", err.message);
			return -1;
		}
		k->exec.has_allow = 1;
	} else if (IS("env")) {
		pbrpc_error err = {0};
		if (rpcd_exec_policy_accept_env(&k->exec, value, ":", &err) != 0) {
			snprintf(why, why_size, "env: %.400s", err.message);
			return -1;
		}
	} else if (IS("root")) {
		if (k->root_fd >= 0) {
			snprintf(why, why_size, "root given twice");
			return -1;
		}
		k->root_fd = open(value, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (k->root_fd < 0) {
			snprintf(why, why_size, "root=%s: %s", value, strerror(errno));
			return -1;
		}
		k->root = strdup(value);
	} else if (IS("services")) {
		if (!(k->services = split(value, ':', &k->n_services))) {
			snprintf(why, why_size, "services: empty name or more than %d", MAX_ITEMS);
			return -1;
		}
		for (size_t i = 0; i < k->n_services; i++)
			for (const char *p = k->services[i]; *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.') {
					snprintf(why, why_size,
					         "services: '%s' is not a service name",
					         k->services[i]);
					return -1;
				}
	} else if (IS("max-calls")) {
		char *end;
		errno = 0;
		unsigned long n = strtoul(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno || n == 0 || n > 65536) {
			snprintf(why, why_size, "max-calls must be 1..65536");
			return -1;
		}
		k->max_calls = (unsigned)n;
	} else { /* from: IPv6 networks in brackets, since ':' separates */
		free(k->from);
		k->from = calloc(MAX_ITEMS, sizeof *k->from);
		k->n_from = 0;
		if (!k->from) {
			snprintf(why, why_size, "out of memory");
			return -1;
		}
		for (const char *p = value; *p;) {
			char item[64];
			size_t n = 0;
			if (*p == '[') {
				const char *close = strchr(p, ']');
				if (!close) {
					snprintf(why, why_size, "from: '[' without ']'");
					return -1;
				}
				n = (size_t)(close - p - 1);
				if (n >= sizeof item) {
					snprintf(why, why_size, "from: address too long");
					return -1;
				}
				memcpy(item, p + 1, n);
				p = close + 1;
			}
			size_t m = strcspn(p, ":");
			if (n + m >= sizeof item) {
				snprintf(why, why_size, "from: address too long");
				return -1;
			}
			memcpy(item + n, p, m);
			item[n + m] = '\0';
			p += m;
			if (k->n_from == MAX_ITEMS || parse_cidr(item, &k->from[k->n_from]) != 0) {
				snprintf(why, why_size,
				         "from: '%s' is not an address or CIDR network (write IPv6 "
				         "ones in brackets: [::1]/128)",
				         item);
				return -1;
			}
			k->n_from++;
			if (*p == ':' && *++p == '\0') {
				snprintf(why, why_size, "from: empty network");
				return -1;
			}
		}
	}
	return 0;
#undef IS
}

/* Parses one non-comment line into k. 0, or -1 with why. */
static int parse_line(char *line, rpcd_client_key *k, char *why, size_t why_size)
{
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	/* OPTIONS come first unless the line starts with the key type. */
	size_t first = strcspn(p, " \t");
	/* A first word without '=' or ',' that is no flag is a key type: say
	 * "unknown key type" for "ssh-ed25519 AAAA...", not "unknown option". */
	const char *second = p + first + strspn(p + first, " \t");
	size_t second_len = strcspn(second, " \t");
	int then_type = second_len == strlen(PBRPC_KEY_TYPE) &&
	                strncmp(second, PBRPC_KEY_TYPE, second_len) == 0;
	int looks_like_type = !then_type && !memchr(p, '=', first) && !memchr(p, ',', first);
	int is_type = first == strlen(PBRPC_KEY_TYPE) && strncmp(p, PBRPC_KEY_TYPE, first) == 0;
	if (!is_type && !looks_like_type) {
		char *opts = p;
		p += first;
		if (*p)
			*p++ = '\0';
		for (char *save = NULL, *o = strtok_r(opts, ",", &save); o;
		     o = strtok_r(NULL, ",", &save))
			if (apply_option(k, o, why, why_size) != 0)
				return -1;
	}
	const char *rest;
	pbrpc_error err = {0};
	if (pbrpc_public_key_parse(p, k->key, &rest, &err) != PBRPC_OK) {
		snprintf(why, why_size, "%.400s", err.message);
		return -1;
	}
	size_t n = strcspn(rest, " \t");
	const char *after = rest + n;
	while (*after == ' ' || *after == '\t')
		after++;
	if (!name_ok(rest, n) || *after) {
		snprintf(why, why_size,
		         "each key needs a NAME after it: one word of 1-63 letters, digits "
		         "and . _ @ - +");
		return -1;
	}
	memcpy(k->name, rest, n);
	k->name[n] = '\0';
	pbrpc_key_fingerprint(k->key, k->fingerprint);
	return 0;
}

rpcd_key_table *rpcd_key_table_load(const char *path, pbrpc_error *err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		err->code = errno == ENOENT ? PBRPC_NOT_FOUND : PBRPC_PERMISSION_DENIED;
		snprintf(err->message, sizeof err->message, "%s: %s", path, strerror(errno));
		return NULL;
	}
	rpcd_key_table *t = calloc(1, sizeof *t);
	char *line = malloc(MAX_LINE);
	size_t cap = 0;
	unsigned lineno = 0;
	char why[600] = "";
	if (!t || !line || !(t->path = strdup(path))) {
		snprintf(why, sizeof why, "out of memory");
		goto fail;
	}
	t->refs = 1;
	while (fgets(line, MAX_LINE, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == MAX_LINE - 1 && line[len - 1] != '\n') {
			snprintf(why, sizeof why, "line longer than %d bytes", MAX_LINE - 2);
			goto fail;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (t->n_keys == cap) {
			size_t next = cap ? cap * 2 : 16;
			rpcd_client_key *keys = realloc(t->keys, next * sizeof *keys);
			if (!keys) {
				snprintf(why, sizeof why, "out of memory");
				goto fail;
			}
			t->keys = keys;
			cap = next;
		}
		rpcd_client_key *k = &t->keys[t->n_keys];
		memset(k, 0, sizeof *k);
		k->root_fd = -1;
		k->line = lineno;
		t->n_keys++;
		if (parse_line(line, k, why, sizeof why) != 0)
			goto fail;
		for (size_t i = 0; i + 1 < t->n_keys; i++) {
			if (sodium_memcmp(t->keys[i].key, k->key, 32) == 0) {
				snprintf(why, sizeof why, "key listed twice (first on line %u)",
				         t->keys[i].line);
				goto fail;
			}
			if (strcmp(t->keys[i].name, k->name) == 0) {
				snprintf(why, sizeof why, "name '%s' used twice (first on line %u)",
				         k->name, t->keys[i].line);
				goto fail;
			}
		}
	}
	if (ferror(f)) {
		snprintf(why, sizeof why, "read error");
		lineno = 0;
		goto fail;
	}
	fclose(f);
	free(line);
	for (size_t i = 0; i < t->n_keys; i++)
		t->keys[i].table = t;
	return t;
fail:
	fclose(f);
	free(line);
	err->code = PBRPC_INVALID_ARGUMENT;
	if (lineno)
		snprintf(err->message, sizeof err->message, "%s:%u: %s", path, lineno, why);
	else
		snprintf(err->message, sizeof err->message, "%s: %s", path, why);
	if (t) {
		t->refs = 1;
		rpcd_key_table_unref(t);
	}
	return NULL;
}

rpcd_client_key *rpcd_key_table_find(rpcd_key_table *t, const uint8_t key[32])
{
	for (size_t i = 0; t && i < t->n_keys; i++)
		if (sodium_memcmp(t->keys[i].key, key, 32) == 0)
			return &t->keys[i];
	return NULL;
}

void rpcd_key_table_ref(rpcd_key_table *t)
{
	t->refs++;
}

void rpcd_key_table_unref(rpcd_key_table *t)
{
	if (!t || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->n_keys; i++)
		free_key(&t->keys[i]);
	free(t->keys);
	free(t->path);
	free(t);
}
