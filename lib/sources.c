/* sources.c - what each client address may cost before it authenticates,
 * as sshd's MaxStartups and PerSourcePenalties do: a cap on the handshakes
 * one address (and all together) may have open, and a time out for an
 * address whose handshakes keep failing. Unix-socket clients are local and
 * not counted per source (the socket's permissions guard it). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define PROBE 16

/* The address as a key: 4 bytes for IPv4 (and IPv4-mapped IPv6), else 16. */
static size_t source_key(const struct sockaddr *sa, uint8_t key[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, 12) == 0) {
		memcpy(key, a + 12, 4);
		return 4;
	}
	memcpy(key, a, 16);
	return 16;
}

static uint32_t hash(const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a: the table is small and probed */
	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

/* The entry of sa, made if need be; NULL if untracked (no room). */
static pbrpc_source *find(pbrpc_server *s, const struct sockaddr *sa, int create)
{
	uint8_t key[16];
	size_t len = source_key(sa, key);
	if (!len)
		return NULL;
	if (!s->sources && !(s->sources = calloc(PBRPC_SOURCES, sizeof *s->sources)))
		return NULL;
	uint64_t now = uv_now(s->loop);
	uint32_t h = hash(key, len);
	pbrpc_source *spare = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		pbrpc_source *e = &s->sources[(h + i) % PBRPC_SOURCES];
		if (e->len == len && memcmp(e->key, key, len) == 0)
			return e;
		/* An entry with nothing open, no penalty and a stale window is free. */
		int idle = e->len == 0 || (e->unauthenticated == 0 && e->penalty_until <= now &&
		                           now - e->window_start > s->opt.penalty_window_ms);
		if (idle && (!spare || e->last_seen < spare->last_seen))
			spare = e;
	}
	if (!create || !spare)
		return NULL;
	memset(spare, 0, sizeof *spare);
	memcpy(spare->key, key, len);
	spare->len = (uint8_t)len;
	spare->window_start = now;
	return spare;
}

const char *pbrpc_sources_admit(pbrpc_server *s, const struct sockaddr *sa)
{
	if (s->n_unauthenticated >= s->opt.max_unauthenticated)
		return "too many unauthenticated connections";
	if (sa) {
		pbrpc_source *e = find(s, sa, 1);
		if (e) {
			uint64_t now = uv_now(s->loop);
			e->last_seen = now;
			if (e->penalty_until > now) {
				e->refused++;
				return "penalized for failed handshakes";
			}
			if (e->unauthenticated >= s->opt.max_unauthenticated_per_source)
				return "too many unauthenticated connections from this address";
			e->unauthenticated++;
		}
	}
	s->n_unauthenticated++;
	return NULL;
}

void pbrpc_sources_done(pbrpc_server *s, const struct sockaddr *sa, int authenticated)
{
	if (s->n_unauthenticated > 0)
		s->n_unauthenticated--;
	pbrpc_source *e = sa ? find(s, sa, 0) : NULL;
	if (!e)
		return;
	if (e->unauthenticated > 0)
		e->unauthenticated--;
	if (authenticated || !s->opt.penalty_failures)
		return;
	uint64_t now = uv_now(s->loop);
	if (now - e->window_start > s->opt.penalty_window_ms) {
		e->window_start = now;
		e->failures = 0;
	}
	if (++e->failures < s->opt.penalty_failures)
		return;
	e->failures = 0;
	e->window_start = now;
	e->penalty_until = now + s->opt.penalty_ms;
	char addr[INET6_ADDRSTRLEN] = "?";
	inet_ntop(e->len == 4 ? AF_INET : AF_INET6, e->key, addr, sizeof addr);
	pbrpc_server_log(s, PBRPC_LOG_WARN,
	                 "%s: %u failed handshakes within %u ms: refusing its connections for "
	                 "%u ms",
	                 addr, s->opt.penalty_failures, s->opt.penalty_window_ms,
	                 s->opt.penalty_ms);
}
