/* mem_budget.h - the memory rpcd's calls hold, bounded for each connection
 * and for the whole daemon (--max-memory).
 *
 * Every buffer a call keeps (a Get's chunks, a Put's queued chunks, an exec
 * run's output buffer and queued stdin) is charged to the call's connection
 * (its account) before it is allocated and given back when it is freed. The
 * daemon's calls together never hold more than the total; one connection's
 * calls never more than its share (total / 8, at least 4 MiB), except for
 * one message already received, after which that connection is not read
 * until it is back under its share.
 *
 * What a call does when a charge is refused:
 *   MEM_OVER_SHARE  its own connection holds its share: the call waits until
 *                   the connection's other calls give memory back (a Get does
 *                   not start reading; a Put or exec stdin stops reading the
 *                   connection). A client that pipelines many calls is served
 *                   in turn; one that never reads waits only on itself.
 *   MEM_OVER_TOTAL  the daemon's budget is spent (by other connections): the
 *                   call ends at once with RESOURCE_EXHAUSTED and says so.
 *
 * Chunk buffers (MEM_CHUNK bytes) come from a small pool of mmap'ed buffers,
 * so a busy server reuses warm memory and an idle one gives it back: the pool
 * keeps at most MEM_POOL_MAX of them, and once every call has given its
 * memory back after a load of at least an eighth of the total, the pool is
 * emptied and malloc_trim returns the heap's free pages to the system.
 *
 * Everything here runs on the loop thread only. */
#ifndef RPCD_MEM_BUDGET_H
#define RPCD_MEM_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "pbrpc.h"

#define MEM_CHUNK         (1u << 20) /* the file service's chunk */
#define MEM_DEFAULT_MAX   ((size_t)256 << 20)
#define MEM_MIN_MAX       ((size_t)4 << 20)
#define MEM_MAX_MAX       ((size_t)1 << 40)
#define MEM_SHARE_DIVISOR 8
#define MEM_POOL_MAX      8

typedef struct mem_account mem_account;

typedef enum mem_answer {
	MEM_GRANTED = 0,
	MEM_OVER_SHARE, /* the connection holds its share: wait */
	MEM_OVER_TOTAL, /* the daemon's budget is spent: RESOURCE_EXHAUSTED */
} mem_answer;

typedef struct mem_waiter mem_waiter;
/* answer MEM_GRANTED: the bytes are charged; MEM_OVER_TOTAL: nothing is
 * (the budget was spent by others meanwhile). Called from mem_uncharge, on
 * the loop, never from inside mem_wait. */
typedef void (*mem_granted_fn)(mem_waiter *w, mem_answer answer);

struct mem_waiter {
	mem_waiter *next;
	mem_account *account;
	size_t bytes;
	mem_granted_fn granted;
	int waiting;
};

/* Sets the daemon-wide total (MEM_MIN_MAX..MEM_MAX_MAX; 0: the default) and
 * the server for log lines. Call before serving. */
void mem_budget_configure(pbrpc_server *s, size_t max_total);
size_t mem_budget_total(void);
size_t mem_budget_share(void);
/* Bytes charged now, by all connections. */
size_t mem_budget_used(void);

/* The account of call's connection, with a reference the caller gives back
 * with mem_account_release (it may outlive the call). NULL if out of memory. */
mem_account *mem_account_of(pbrpc_call *call);
void mem_account_release(mem_account *a);

/* Charges bytes if both the share and the total allow; else charges nothing. */
mem_answer mem_charge(mem_account *a, size_t bytes);
/* For bytes that have already arrived: only the total can refuse (nothing is
 * charged then). Returns MEM_OVER_SHARE, charged, if the account is now past
 * its share: the caller stops reading the connection and mem_wait()s for 0
 * bytes, which is granted once the account is back within its share. */
mem_answer mem_charge_past_share(mem_account *a, size_t bytes);
/* Gives bytes back and serves the account's waiters that now fit. */
void mem_uncharge(mem_account *a, size_t bytes);

/* Queues w (first come, first served) until bytes fit in a's share. */
void mem_wait(mem_account *a, mem_waiter *w, size_t bytes, mem_granted_fn granted);
/* Leaves the queue if w is in it; safe to call when it is not. */
void mem_wait_cancel(mem_waiter *w);

/* A MEM_CHUNK buffer, page-aligned, that the caller has already charged;
 * NULL if the system has no memory. Give it back with mem_chunk_free. */
uint8_t *mem_chunk_alloc(void);
void mem_chunk_free(uint8_t *chunk);

/* The status message for a refusal, e.g. "rpcd's memory budget is spent
 * (256 MiB held by calls); try again later". */
const char *mem_refusal_message(mem_answer answer, char *buf, size_t size);

#endif /* RPCD_MEM_BUDGET_H */
