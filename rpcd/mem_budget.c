/* mem_budget.c - per-connection and daemon-wide accounting of the memory
 * rpcd's calls hold, the waiting queues, and the pool of chunk buffers.
 * See mem_budget.h for the rules. */
#include "mem_budget.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1024 * 1024)

/* One per connection that holds or waits for memory; found by the
 * connection's name, which the library never reuses. */
struct mem_account {
	mem_account *next;
	unsigned refs;
	size_t used;
	mem_waiter *head, *tail;
	char name[32];
};

static struct {
	pbrpc_server *server;
	size_t total, share;
	size_t used;      /* charged by all accounts */
	size_t peak;      /* the most charged since the last trim */
	int spent_logged; /* a refusal was logged; cleared once use falls back */
	mem_account *accounts;
	uint8_t *pool[MEM_POOL_MAX];
	int pooled;
} budget = {.total = MEM_DEFAULT_MAX, .share = MEM_DEFAULT_MAX / MEM_SHARE_DIVISOR};

void mem_budget_configure(pbrpc_server *s, size_t max_total)
{
	if (max_total == 0)
		max_total = MEM_DEFAULT_MAX;
	if (max_total < MEM_MIN_MAX)
		max_total = MEM_MIN_MAX;
	budget.server = s;
	budget.total = max_total;
	/* A share of an eighth lets a few connections that never read hold
	 * their all without shutting everyone else out; 4 MiB is one Get with
	 * its read-ahead plus one more call. */
	budget.share = max_total / MEM_SHARE_DIVISOR;
	if (budget.share < MEM_MIN_MAX)
		budget.share = MEM_MIN_MAX;
}

size_t mem_budget_total(void)
{
	return budget.total;
}

size_t mem_budget_share(void)
{
	return budget.share;
}

size_t mem_budget_used(void)
{
	return budget.used;
}

mem_account *mem_account_of(pbrpc_call *call)
{
	const char *name = pbrpc_call_conn_name(call);
	mem_account *a;
	for (a = budget.accounts; a; a = a->next) {
		if (strcmp(a->name, name) == 0) {
			a->refs++;
			return a;
		}
	}
	if (!(a = calloc(1, sizeof *a)))
		return NULL;
	snprintf(a->name, sizeof a->name, "%s", name);
	a->refs = 1;
	a->next = budget.accounts;
	budget.accounts = a;
	return a;
}

void mem_account_release(mem_account *a)
{
	if (!a || --a->refs > 0)
		return;
	for (mem_account **pp = &budget.accounts; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
}

/* ---- the pool ------------------------------------------------------------- */

static size_t pooled_bytes(void)
{
	return (size_t)budget.pooled * MEM_CHUNK;
}

static void pool_drop_one(void)
{
	munmap(budget.pool[--budget.pooled], MEM_CHUNK);
}

uint8_t *mem_chunk_alloc(void)
{
	if (budget.pooled > 0)
		return budget.pool[--budget.pooled];
	/* mmap, not malloc: a freed chunk goes straight back to the system, and
	 * does not raise glibc's mmap threshold so that later ones land in the
	 * heap, where a free in the middle returns nothing. */
	void *p = mmap(NULL, MEM_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void mem_chunk_free(uint8_t *chunk)
{
	if (!chunk)
		return;
	/* Pooled buffers count against the total too: keep one only while the
	 * calls' memory and the pool together stay within it. */
	if (budget.pooled < MEM_POOL_MAX &&
	    budget.used + pooled_bytes() + MEM_CHUNK <= budget.total) {
		budget.pool[budget.pooled++] = chunk;
		return;
	}
	munmap(chunk, MEM_CHUNK);
}

/* ---- charging ------------------------------------------------------------- */

/* Whether bytes more fit in the total, emptying the pool to make room. */
static int total_allows(size_t bytes)
{
	while (budget.pooled > 0 && budget.used + pooled_bytes() + bytes > budget.total)
		pool_drop_one();
	return budget.used + bytes <= budget.total;
}

static void add(mem_account *a, size_t bytes)
{
	a->used += bytes;
	budget.used += bytes;
	if (budget.used > budget.peak)
		budget.peak = budget.used;
}

static mem_answer refuse_total(void)
{
	if (!budget.spent_logged && budget.server) {
		budget.spent_logged = 1;
		pbrpc_server_log(budget.server, PBRPC_LOG_WARN,
		                 "memory budget spent: calls hold %zu MiB of --max-memory %zu MiB; "
		                 "calls that need more get RESOURCE_EXHAUSTED",
		                 budget.used / MIB, budget.total / MIB);
	}
	return MEM_OVER_TOTAL;
}

mem_answer mem_charge(mem_account *a, size_t bytes)
{
	if (a->used + bytes > budget.share || a->head)
		return MEM_OVER_SHARE; /* behind its own waiters, too: first come first served */
	if (!total_allows(bytes))
		return refuse_total();
	add(a, bytes);
	return MEM_GRANTED;
}

mem_answer mem_charge_past_share(mem_account *a, size_t bytes)
{
	if (!total_allows(bytes))
		return refuse_total();
	add(a, bytes);
	return a->used > budget.share ? MEM_OVER_SHARE : MEM_GRANTED;
}

/* Once the load is over, the pool and the heap's free pages go back. */
static void trim_if_idle(void)
{
	if (budget.used != 0 || budget.peak < budget.share)
		return;
	while (budget.pooled > 0)
		pool_drop_one();
	malloc_trim(0);
	budget.peak = 0;
}

/* Serves a's waiters from the head while they fit in its share. */
static void serve_waiters(mem_account *a)
{
	a->refs++; /* a granted call may give its last reference back */
	while (a->head && a->used + a->head->bytes <= budget.share) {
		mem_waiter *w = a->head;
		a->head = w->next;
		if (!a->head)
			a->tail = NULL;
		w->next = NULL;
		w->waiting = 0;
		mem_answer answer = MEM_GRANTED;
		if (total_allows(w->bytes))
			add(a, w->bytes);
		else
			answer = refuse_total();
		w->granted(w, answer);
	}
	mem_account_release(a);
}

void mem_uncharge(mem_account *a, size_t bytes)
{
	if (!a || bytes == 0)
		return;
	a->used -= bytes < a->used ? bytes : a->used;
	budget.used -= bytes < budget.used ? bytes : budget.used;
	if (budget.spent_logged && budget.used <= budget.total / 2 && budget.server) {
		budget.spent_logged = 0;
		pbrpc_server_log(budget.server, PBRPC_LOG_INFO,
		                 "memory budget available again: calls hold %zu MiB",
		                 budget.used / MIB);
	}
	serve_waiters(a);
	trim_if_idle();
}

void mem_wait(mem_account *a, mem_waiter *w, size_t bytes, mem_granted_fn granted)
{
	w->account = a;
	w->bytes = bytes;
	w->granted = granted;
	w->next = NULL;
	w->waiting = 1;
	if (a->tail)
		a->tail->next = w;
	else
		a->head = w;
	a->tail = w;
}

void mem_wait_cancel(mem_waiter *w)
{
	if (!w->waiting)
		return;
	mem_account *a = w->account;
	mem_waiter *prev = NULL;
	for (mem_waiter *it = a->head; it; prev = it, it = it->next) {
		if (it != w)
			continue;
		if (prev)
			prev->next = w->next;
		else
			a->head = w->next;
		if (a->tail == w)
			a->tail = prev;
		break;
	}
	w->waiting = 0;
	w->next = NULL;
	/* The head may have been what held the others back. */
	if (a->head && a->head != w)
		serve_waiters(a);
}

const char *mem_refusal_message(mem_answer answer, char *buf, size_t size)
{
	if (answer == MEM_OVER_SHARE)
		snprintf(buf, size,
		         "this connection's calls hold its memory share (%zu MiB); "
		         "read their replies or wait",
		         budget.share / MIB);
	else
		snprintf(buf, size,
		         "rpcd's memory budget is spent (calls hold %zu of %zu MiB); "
		         "try again later",
		         budget.used / MIB, budget.total / MIB);
	return buf;
}
