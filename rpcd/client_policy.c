/* client_policy.c - see client_policy.h. A connection holds a reference to
 * the table its key came from, so a reload never frees a policy in use. */
#include "client_policy.h"

#include <stdio.h>
#include <string.h>

static rpcd_key_table *current; /* the loop thread's only */

int rpcd_policy_load(const char *path, pbrpc_error *err)
{
	rpcd_key_table *t = rpcd_key_table_load(path, err);
	if (!t)
		return -1;
	rpcd_key_table_unref(current);
	current = t;
	return 0;
}

long rpcd_policy_reload(pbrpc_server *s, pbrpc_error *err)
{
	if (!current) {
		snprintf(err->message, sizeof err->message, "no authorized keys file in use");
		return -1;
	}
	rpcd_key_table *t = rpcd_key_table_load(current->path, err);
	if (!t)
		return -1;
	rpcd_key_table_unref(current);
	current = t;
	pbrpc_server_reauthorize(s);
	return (long)t->n_keys;
}

static pbrpc_status authorize(void *data, pbrpc_peer *peer, pbrpc_error *why)
{
	(void)data;
	if (!peer->has_key)
		return PBRPC_OK; /* the shared key: the operator opted in with rpcd --key */
	rpcd_client_key *k = rpcd_key_table_find(current, peer->key);
	if (!k) {
		snprintf(why->message, sizeof why->message,
		         "not authorized: key %s is not in the server's authorized keys",
		         peer->fingerprint);
		return PBRPC_PERMISSION_DENIED;
	}
	if (!rpcd_client_key_from_ok(k, peer->sockaddr)) {
		snprintf(why->message, sizeof why->message,
		         "not authorized from %s: key %s is limited to other addresses (from=)",
		         peer->address, k->name);
		return PBRPC_PERMISSION_DENIED;
	}
	snprintf(peer->name, sizeof peer->name, "%s", k->name);
	peer->max_calls = k->max_calls;
	peer->policy = k;
	rpcd_key_table_ref(k->table);
	return PBRPC_OK;
}

static void release(void *data, void *policy)
{
	(void)data;
	if (policy)
		rpcd_key_table_unref(((rpcd_client_key *)policy)->table);
}

/* "pbrpc.file.File" of "pbrpc.file.File.Get": its length. */
static size_t service_len(const char *full_name)
{
	const char *dot = strrchr(full_name, '.');
	return dot ? (size_t)(dot - full_name) : strlen(full_name);
}

static int is_service(const char *full_name, const char *service)
{
	size_t n = service_len(full_name);
	return strlen(service) == n && strncmp(full_name, service, n) == 0;
}

static pbrpc_status check_call(void *data, const pbrpc_peer *peer, const pbrpc_method_desc *m,
                               pbrpc_error *why)
{
	(void)data;
	const rpcd_client_key *k = peer->policy;
	if (!k)
		return PBRPC_OK;
	size_t n = service_len(m->full_name);
	if (k->services) {
		int listed = 0;
		for (size_t i = 0; i < k->n_services && !listed; i++)
			listed = is_service(m->full_name, k->services[i]);
		if (!listed) {
			snprintf(why->message, sizeof why->message,
			         "key %s may not call %.*s (services=)", k->name, (int)n,
			         m->full_name);
			return PBRPC_PERMISSION_DENIED;
		}
	}
	int exec = is_service(m->full_name, "pbrpc.exec.Exec");
	if (exec && (k->no_exec || k->read_only)) {
		snprintf(why->message, sizeof why->message, "exec is off for key %s (%s)", k->name,
		         k->no_exec ? "no-exec" : "read-only");
		return PBRPC_PERMISSION_DENIED;
	}
	if (k->read_only && is_service(m->full_name, "pbrpc.file.File") &&
	    strcmp(m->name, "Get") != 0 && strcmp(m->name, "List") != 0 &&
	    strcmp(m->name, "Stat") != 0) {
		snprintf(why->message, sizeof why->message,
		         "key %s is read-only: %s refused (get, ls and stat only)", k->name,
		         m->name);
		return PBRPC_PERMISSION_DENIED;
	}
	return PBRPC_OK;
}

void rpcd_policy_attach(pbrpc_server_options *o)
{
	o->authorize = authorize;
	o->check_call = check_call;
	o->release = release;
}

const rpcd_client_key *rpcd_policy_of(const pbrpc_call *call)
{
	return pbrpc_call_client(call)->policy;
}

void rpcd_policy_free(void)
{
	rpcd_key_table_unref(current);
	current = NULL;
}
