/* svc_exec.c - pbrpc.exec.Exec: Run starts a program in a process group of
 * its own with pipes for its stdin, stdout and stderr, streams its output
 * back as it comes (with back-pressure both ways), and ends with how it
 * exited. A timeout, a cancel or a vanished client kills the whole group:
 * SIGTERM, then SIGKILL after a grace period.
 *
 * A run can outlive its call (the client goes away first), so the run, not
 * the call, owns the child and the handles; it is freed only when the child
 * has been reaped and every handle is closed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "exec_cgroup.h"
#include "exec_plan.h"
#include "client_policy.h"
#include "exec_policy.h"
#include "exec_reaper.h"
#include "exec_spawn.h"
#include "mem_budget.h"
#include "pbrpc/exec.pbrpc.h"
#include "services.h"

#define READ_CHUNK (64u << 10)
/* Output is split for clients with a smaller record limit, down to this. */
#define MIN_OUTPUT_SPLIT 256
#define KILL_GRACE_MS    2000
/* How often a finished run looks whether the rest of its group is gone. */
#define KILL_POLL_MS 50
/* Stdin queued for the program beyond this pauses the client's connection. */
#define STDIN_HIGH_WATER (1u << 20)
#define STDIN_LOW_WATER  (256u << 10)

/* How a run's processes are found and killed, best first. */
typedef enum containment {
	CONTAIN_GROUP,  /* its process group only: setsid escapes (neither below worked) */
	CONTAIN_REAPER, /* rpcd is a child subreaper and finds them in /proc */
	CONTAIN_CGROUP, /* a cgroup per run: cgroup.kill, pids.max, memory.max */
} containment;

typedef struct exec_run exec_run;

typedef struct exec_service {
	pbrpc_server *server;
	containment contain;
	rpcd_cgroup cgroup; /* with CONTAIN_CGROUP */
	exec_run *runs;     /* every run not yet freed */
	rpcd_exec_policy policy;
	const char *root;
	int root_fd; /* the root, for resolving --cwd beneath it */
	unsigned max_runs;
	unsigned n_runs; /* runs not yet freed, including ones still being killed */
} exec_service;

typedef enum kill_stage {
	KILL_NONE,      /* running undisturbed */
	KILL_TERM_SENT, /* SIGTERM sent to the group; SIGKILL after the grace */
	KILL_KILL_SENT, /* SIGKILL sent; pipes force-closed after another grace */
	KILL_GAVE_UP,   /* something outside the group holds the pipes: stop waiting */
} kill_stage;

struct exec_run {
	exec_service *svc;
	exec_run *prev, *next;   /* in svc->runs */
	rpcd_cgroup_run cgroup;  /* with CONTAIN_CGROUP: the run's leaf */
	uv_signal_t orphans;     /* with CONTAIN_REAPER: SIGCHLD, to reap adopted orphans */
	pbrpc_call *call;        /* NULL once the call is over (finished, cancelled, client gone) */
	rpcd_child child;        /* pid, and the pidfd exit_watch polls */
	union {                  /* what says the child has exited: */
		uv_poll_t pidfd; /* its pidfd became readable, or */
		uv_signal_t sigchld; /* SIGCHLD, without pidfd_open (old kernel, valgrind) */
	} exit_watch;
	uv_pipe_t in, out, err;
	uv_timer_t timer; /* the timeout, then the kill grace periods */
	int open_handles;
	unsigned exited : 1, out_done : 1, err_done : 1, in_closed : 1, in_eof : 1;
	unsigned reading : 1, in_paused : 1, with_stdin : 1, timed_out : 1, client_gone : 1;
	unsigned group_gone : 1; /* the group was seen empty after the reap: never signal it */
	unsigned call_failed : 1, logged : 1;
	kill_stage kill;
	uint64_t kill_at; /* loop time of the next step (SIGKILL, giving up) */
	int64_t exit_status;
	int term_signal;
	size_t in_queued; /* bytes written to the stdin pipe and not yet taken */
	uint64_t start_ns;
	uint64_t duration_ms;
	char conn[24];
	char name[64];           /* argv[0], printable, for the log */
	mem_account *mem;        /* the connection's: the run and its queued stdin are charged */
	mem_waiter mem_wait;     /* while mem_paused */
	unsigned mem_paused : 1; /* stdin took the connection past its share */
	char buf[READ_CHUNK];
};

typedef struct stdin_write {
	uv_write_t req;
	exec_run *run;
	size_t len;
	char data[];
} stdin_write;

static exec_service *the_service; /* rpcd serves one; freed by rpcd_exec_free() */

static void maybe_finish(exec_run *run);

/* Copies text into out as printable ASCII (for log lines), cut short if long. */
static void printable(char *out, size_t size, const char *text)
{
	size_t n = 0;
	for (; *text && n + 4 < size; text++, n++)
		out[n] = (*text >= 0x20 && *text < 0x7f) ? *text : '?';
	if (*text) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* The leaders of svc's runs other than except (NULL: all) whose processes
 * must be left alone; malloc'ed, *n set; NULL if none or out of memory. */
static pid_t *run_leaders(const exec_service *svc, const exec_run *except, int unreaped_only,
                          size_t *n)
{
	pid_t *pids = malloc((svc->n_runs + 1) * sizeof *pids);
	*n = 0;
	for (const exec_run *r = svc->runs; pids && r; r = r->next)
		if (r != except && r->child.pid > 0 && !(unreaped_only && r->exited))
			pids[(*n)++] = r->child.pid;
	return pids;
}

/* Reaps the orphans rpcd adopted as a subreaper that have exited. */
static void reap_orphans(const exec_service *svc)
{
	size_t n;
	pid_t *leaders = run_leaders(svc, NULL, 1, &n);
	if (leaders || svc->n_runs == 0)
		rpcd_reaper_reap_orphans(leaders, n); /* never without knowing the leaders */
	free(leaders);
}

static void on_orphan_exit(uv_signal_t *watch, int signum)
{
	exec_run *run = watch->data;
	(void)signum;
	reap_orphans(run->svc);
}

static void on_handle_closed(uv_handle_t *h)
{
	exec_run *run = h->data;
	exec_service *svc = run->svc;
	if (h == (uv_handle_t *)&run->exit_watch.pidfd)
		rpcd_child_close_fds(&run->child, 0); /* the pidfd, no longer polled */
	if (--run->open_handles > 0)
		return;
	if (svc->contain == CONTAIN_CGROUP)
		rpcd_cgroup_run_remove(&svc->cgroup, &run->cgroup);
	if (run->prev)
		run->prev->next = run->next;
	else
		svc->runs = run->next;
	if (run->next)
		run->next->prev = run->prev;
	svc->n_runs--;
	mem_wait_cancel(&run->mem_wait);
	mem_uncharge(run->mem, sizeof *run);
	mem_account_release(run->mem);
	if (svc->contain == CONTAIN_REAPER)
		reap_orphans(svc);
	free(run);
}

static void close_handle(exec_run *run, uv_handle_t *h)
{
	(void)run;
	if (!uv_is_closing(h))
		uv_close(h, on_handle_closed);
}

static void close_stdin(exec_run *run)
{
	run->in_closed = 1;
	close_handle(run, (uv_handle_t *)&run->in);
}

/* Stops reading an output pipe for good (EOF, error, or nobody to send to). */
static void close_output(exec_run *run, uv_pipe_t *pipe)
{
	if (pipe == &run->out)
		run->out_done = 1;
	else
		run->err_done = 1;
	close_handle(run, (uv_handle_t *)pipe);
}

static void log_end(exec_run *run)
{
	char how[96];
	if (run->term_signal)
		snprintf(how, sizeof how, "killed by signal %d (%s)", run->term_signal,
		         strsignal(run->term_signal));
	else
		snprintf(how, sizeof how, "exit %lld", (long long)run->exit_status);
	const char *why = run->timed_out     ? ", timeout"
	                  : run->call_failed ? ", call failed"
	                  : run->client_gone ? ", client gone"
	                                     : "";
	run->logged = 1;
	pbrpc_server_log(run->svc->server, PBRPC_LOG_INFO, "%s exec %s: %s%s after %llu ms",
	                 run->conn, run->name, how, why, (unsigned long long)run->duration_ms);
}

static int run_over(const exec_run *run)
{
	return run->exited && run->out_done && run->err_done;
}

static void on_kill_timer(uv_timer_t *t);

/* Signals what is left of the run (sig 0: is anyone left?): its cgroup, or
 * every process rpcd finds to be the run's as their subreaper, or at least
 * its process group. 0 if something was there, UV_ESRCH if nothing is. The
 * pid of a reaped leader stays reserved while its group has members; once
 * the run has been seen empty the number may be reused by anyone, so it is
 * never signalled again. */
static int signal_group(exec_run *run, int sig)
{
	exec_service *svc = run->svc;
	if (run->group_gone)
		return UV_ESRCH;
	int rc = UV_ESRCH;
	if (svc->contain == CONTAIN_CGROUP) {
		if (sig != 0)
			rpcd_cgroup_run_signal(&run->cgroup, sig);
		rc = rpcd_cgroup_run_populated(&run->cgroup) == 0 ? UV_ESRCH : 0;
	} else if (svc->contain == CONTAIN_REAPER) {
		size_t n;
		pid_t *others = run_leaders(svc, run, 0, &n);
		int found =
		    others ? rpcd_reaper_signal_run(run->child.pid, !run->exited, others, n, sig)
		           : -ENOMEM;
		free(others);
		if (found < 0) /* /proc unreadable, out of memory: the group at least */
			rc = uv_kill(-run->child.pid, sig);
		else
			rc = found > 0 ? 0 : UV_ESRCH;
		if (sig != 0)
			reap_orphans(svc);
	} else {
		rc = uv_kill(-run->child.pid, sig);
	}
	if (rc != 0 && run->exited)
		run->group_gone = 1;
	return rc;
}

/* Wakes at the end of the grace; once the run is over (only the rest of the
 * group is waited for), every KILL_POLL_MS to see whether it is gone. */
static void arm_kill_timer(exec_run *run)
{
	uint64_t now = uv_now(run->timer.loop);
	uint64_t left = run->kill_at > now ? run->kill_at - now : 0;
	if (run_over(run) && left > KILL_POLL_MS)
		left = KILL_POLL_MS;
	uv_timer_start(&run->timer, on_kill_timer, left, 0);
}

/* SIGTERM was sent to the group: SIGKILL after the grace, then give up. */
static void on_kill_timer(uv_timer_t *t)
{
	exec_run *run = t->data;
	if (run_over(run) && signal_group(run, 0) != 0) {
		maybe_finish(run); /* the group is empty */
		return;
	}
	if (uv_now(t->loop) < run->kill_at) {
		arm_kill_timer(run);
		return;
	}
	if (run->kill == KILL_TERM_SENT) {
		signal_group(run, SIGKILL);
		run->kill = KILL_KILL_SENT;
		run->kill_at = uv_now(t->loop) + KILL_GRACE_MS;
		arm_kill_timer(run);
		return;
	}
	/* Even SIGKILL left the pipes open, or the group not empty: a process that
	 * left the group (setsid) holds them, or one cannot die (stuck in the
	 * kernel). Stop waiting. */
	run->kill = KILL_GAVE_UP;
	if (!run->out_done)
		close_output(run, &run->out);
	if (!run->err_done)
		close_output(run, &run->err);
	maybe_finish(run);
}

/* Kills the whole process group: SIGTERM now, SIGKILL after the grace. The
 * child is its own group leader (POSIX_SPAWN_SETSID), so -pid
 * reaches its children and grandchildren too. */
static void terminate(exec_run *run)
{
	if (run->kill != KILL_NONE)
		return;
	if (signal_group(run, SIGTERM) != 0 && run_over(run))
		return; /* nothing left to kill */
	run->kill = KILL_TERM_SENT;
	run->kill_at = uv_now(run->timer.loop) + KILL_GRACE_MS;
	arm_kill_timer(run);
}

static void on_timeout(uv_timer_t *t)
{
	exec_run *run = t->data;
	run->timed_out = 1;
	terminate(run);
}

/* The run has nobody to report to any more: kill what is left and close. */
static void detach_call(exec_run *run)
{
	if (run->call)
		pbrpc_call_set_data(run->call, NULL);
	run->call = NULL;
	terminate(run);
	if (!run->in_closed)
		close_stdin(run);
	if (!run->out_done)
		close_output(run, &run->out);
	if (!run->err_done)
		close_output(run, &run->err);
	maybe_finish(run);
}

/* Ends the call with an error status and kills the program. */
static void fail_run(exec_run *run, pbrpc_status status, const char *message)
{
	pbrpc_call *call = run->call;
	run->call_failed = 1;
	detach_call(run);
	if (call)
		pbrpc_call_finish(call, status, "%s", message);
}

/* Once the child is reaped and its output fully read, the client gets Exit and
 * OK; once nothing is left of the program, the run's handles close. */
static void maybe_finish(exec_run *run)
{
	if (!run->exited || !run->out_done || !run->err_done)
		return;
	if (run->call) {
		Pbrpc__Exec__Exit exit_msg = PBRPC__EXEC__EXIT__INIT;
		Pbrpc__Exec__RunReply reply = PBRPC__EXEC__RUN_REPLY__INIT;
		exit_msg.code = run->term_signal ? 0 : (int32_t)run->exit_status;
		exit_msg.signal = run->term_signal;
		exit_msg.timed_out = run->timed_out;
		exit_msg.duration_ms = run->duration_ms;
		reply.msg_case = PBRPC__EXEC__RUN_REPLY__MSG_EXIT;
		reply.exit = &exit_msg;
		pbrpc_call *call = run->call;
		pbrpc_call_set_data(call, NULL);
		run->call = NULL;
		pbrpc_call_send_finish(call, &reply.base, PBRPC_OK, NULL); /* one write */
	}
	if (uv_is_closing((uv_handle_t *)&run->exit_watch.pidfd))
		return; /* already closing */
	if (!run->logged)
		log_end(run);
	/* Nothing outlives its run: what is left in the group (a background job
	 * with its output elsewhere) gets SIGTERM, then SIGKILL, like a timeout. */
	terminate(run);
	if (run->kill != KILL_NONE && run->kill != KILL_GAVE_UP && signal_group(run, 0) == 0) {
		arm_kill_timer(run); /* still there: look again soon */
		return;
	}
	uv_timer_stop(&run->timer);
	if (!run->in_closed)
		close_stdin(run);
	close_handle(run, (uv_handle_t *)&run->timer);
	if (run->svc->contain == CONTAIN_REAPER)
		close_handle(run, (uv_handle_t *)&run->orphans);
	close_handle(run, (uv_handle_t *)&run->exit_watch.pidfd);
}

/* Reaps the child if it has exited. */
static void check_exit(exec_run *run)
{
	int code = 0, sig = 0;
	if (run->exited)
		return;
	int rc = rpcd_child_reap(&run->child, &code, &sig);
	if (rc == 0)
		return; /* not yet */
	if (run->child.pidfd >= 0)
		uv_poll_stop(&run->exit_watch.pidfd);
	else
		uv_signal_stop(&run->exit_watch.sigchld);
	if (rc < 0) { /* cannot happen unless someone else reaped it */
		pbrpc_server_log(run->svc->server, PBRPC_LOG_WARN, "%s exec %s: cannot wait: %s",
		                 run->conn, run->name, strerror(-rc));
		code = 255;
	}
	run->exited = 1;
	run->exit_status = code;
	run->term_signal = sig;
	run->duration_ms = (uv_hrtime() - run->start_ns) / 1000000;
	signal_group(run, 0); /* at once: an empty group's number is free from now on */
	/* The timeout keeps running: what the child left behind in its group may
	 * still hold the output pipes open. */
	maybe_finish(run);
}

static void on_pidfd(uv_poll_t *watch, int status, int events)
{
	(void)status;
	(void)events;
	check_exit(watch->data);
}

static void on_sigchld(uv_signal_t *watch, int signum)
{
	(void)signum;
	check_exit(watch->data); /* one SIGCHLD may stand for several children */
}

/* ---- output: pipes -> client, paced by the connection ---------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	exec_run *run = h->data;
	(void)suggested;
	/* One buffer serves both pipes: libuv fills it and calls on_read at once. */
	*buf = uv_buf_init(run->buf, sizeof run->buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void set_reading(exec_run *run, int on)
{
	run->reading = on ? 1 : 0;
	if (!run->out_done) {
		if (on)
			uv_read_start((uv_stream_t *)&run->out, on_alloc, on_read);
		else
			uv_read_stop((uv_stream_t *)&run->out);
	}
	if (!run->err_done) {
		if (on)
			uv_read_start((uv_stream_t *)&run->err, on_alloc, on_read);
		else
			uv_read_stop((uv_stream_t *)&run->err);
	}
}

/* Sends len bytes of one stream; a client whose record limit is below our
 * read size gets the bytes in halves (RESOURCE_EXHAUSTED: too large for it). */
static pbrpc_status send_output(pbrpc_call *call, Pbrpc__Exec__Output__Stream stream, uint8_t *data,
                                size_t len)
{
	Pbrpc__Exec__Output output = PBRPC__EXEC__OUTPUT__INIT;
	Pbrpc__Exec__RunReply reply = PBRPC__EXEC__RUN_REPLY__INIT;
	output.stream = stream;
	output.data.data = data;
	output.data.len = len;
	reply.msg_case = PBRPC__EXEC__RUN_REPLY__MSG_OUTPUT;
	reply.output = &output;
	pbrpc_status st = pbrpc_call_send(call, &reply.base);
	if (st != PBRPC_RESOURCE_EXHAUSTED || len < MIN_OUTPUT_SPLIT)
		return st;
	st = send_output(call, stream, data, len / 2);
	if (st == PBRPC_OK)
		st = send_output(call, stream, data + len / 2, len - len / 2);
	return st;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	exec_run *run = stream->data;
	uv_pipe_t *pipe = (uv_pipe_t *)stream;
	if (nread == 0)
		return;
	if (nread < 0) { /* EOF, or an error that ends the stream just the same */
		close_output(run, pipe);
		maybe_finish(run);
		return;
	}
	if (!run->call)
		return;
	pbrpc_status st = send_output(run->call,
	                              pipe == &run->out ? PBRPC__EXEC__OUTPUT__STREAM__STDOUT
	                                                : PBRPC__EXEC__OUTPUT__STREAM__STDERR,
	                              (uint8_t *)buf->base, (size_t)nread);
	if (st != PBRPC_OK) {
		fail_run(run, st, "cannot send output");
		return;
	}
	/* A slow client: stop reading the pipes, so the program blocks on a full
	 * pipe, until the connection drains (PBRPC_EV_WRITABLE). */
	if (!pbrpc_call_writable(run->call))
		set_reading(run, 0);
}

/* ---- input: client -> stdin pipe, paced by the pipe -------------------------- */

static void on_stdin_written(uv_write_t *req, int status)
{
	stdin_write *w = req->data;
	exec_run *run = w->run;
	run->in_queued -= w->len;
	mem_uncharge(run->mem, sizeof *w + w->len);
	free(w);
	if (status < 0 && !run->in_closed)
		close_stdin(run); /* EPIPE: the program closed its stdin; drop the rest */
	if (run->in_paused && !run->mem_paused &&
	    (run->in_queued <= STDIN_LOW_WATER || run->in_closed)) {
		run->in_paused = 0;
		if (run->call)
			pbrpc_call_pause(run->call, 0);
	}
	if (run->in_eof && run->in_queued == 0 && !run->in_closed)
		close_stdin(run);
}

/* The connection is back within its memory share: read it again unless the
 * program's stdin is still full. */
static void on_share_back(mem_waiter *w, mem_answer answer)
{
	exec_run *run = (exec_run *)((char *)w - offsetof(exec_run, mem_wait));
	(void)answer; /* a wait for 0 bytes is always granted */
	run->mem_paused = 0;
	if (run->in_paused && (run->in_queued <= STDIN_HIGH_WATER || run->in_closed)) {
		run->in_paused = 0;
		if (run->call)
			pbrpc_call_pause(run->call, 0);
	}
}

static void write_stdin(exec_run *run, ProtobufCBinaryData data)
{
	if (!run->with_stdin) {
		fail_run(run, PBRPC_INVALID_ARGUMENT, "stdin data sent without Start.with_stdin");
		return;
	}
	if (run->in_closed || data.len == 0)
		return; /* the program stopped reading: what it will never read is dropped */
	char why[160];
	mem_answer charged = mem_charge_past_share(run->mem, sizeof(stdin_write) + data.len);
	if (charged == MEM_OVER_TOTAL) {
		fail_run(run, PBRPC_RESOURCE_EXHAUSTED,
		         mem_refusal_message(charged, why, sizeof why));
		return;
	}
	stdin_write *w = malloc(sizeof *w + data.len);
	if (!w) {
		mem_uncharge(run->mem, sizeof(stdin_write) + data.len);
		fail_run(run, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->run = run;
	w->len = data.len;
	w->req.data = w;
	memcpy(w->data, data.data, data.len);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)data.len);
	int rc = uv_write(&w->req, (uv_stream_t *)&run->in, &b, 1, on_stdin_written);
	if (rc != 0) {
		mem_uncharge(run->mem, sizeof *w + w->len);
		free(w);
		close_stdin(run);
		return;
	}
	run->in_queued += data.len;
	if (run->in_queued > STDIN_HIGH_WATER && !run->in_paused) {
		run->in_paused = 1;
		pbrpc_call_pause(run->call, 1);
	}
	/* Past the connection's memory share: no more from it until it is back. */
	if (charged == MEM_OVER_SHARE && !run->mem_paused) {
		run->mem_paused = 1;
		if (!run->in_paused) {
			run->in_paused = 1;
			pbrpc_call_pause(run->call, 1);
		}
		mem_wait(run->mem, &run->mem_wait, 0, on_share_back);
	}
}

/* ---- starting a run ---------------------------------------------------------- */

/* rc: a negative errno from rpcd_spawn (or libuv, which uses the same). */
static pbrpc_status spawn_error(int rc, const char *name, pbrpc_error *err)
{
	pbrpc_status code;
	const char *what;
	switch (-rc) {
	case ENOENT:
	case ENOTDIR: code = PBRPC_NOT_FOUND, what = "no such program"; break;
	case EACCES:
	case EPERM:
	case EISDIR: code = PBRPC_PERMISSION_DENIED, what = "cannot execute"; break;
	case EMFILE:
	case ENFILE:
	case EAGAIN:
	case ENOMEM: code = PBRPC_RESOURCE_EXHAUSTED, what = "cannot start"; break;
	default: code = PBRPC_INTERNAL, what = "cannot start"; break;
	}
	err->code = code;
	if (code == PBRPC_NOT_FOUND)
		snprintf(err->message, sizeof err->message, "%s: %.200s", what, name);
	else
		snprintf(err->message, sizeof err->message, "%s %.200s: %s", what, name,
		         uv_strerror(rc));
	return code;
}

/* Hands one of our pipe ends to libuv; on failure the descriptor is closed
 * here (the handle is open either way and counted). */
static int open_pipe(exec_run *run, uv_loop_t *loop, uv_pipe_t *pipe, int *fd)
{
	uv_pipe_init(loop, pipe, 0);
	pipe->data = run;
	run->open_handles++;
	int rc = uv_pipe_open(pipe, *fd);
	if (rc != 0)
		close(*fd);
	*fd = -1;
	return rc;
}

/* Spawns plan's program for call; on failure returns why, the run closing. */
static pbrpc_status spawn_run(exec_service *svc, pbrpc_call *call, const rpcd_exec_plan *plan,
                              pbrpc_error *err)
{
	uv_loop_t *loop = pbrpc_call_loop(call);
	exec_run *run = calloc(1, sizeof *run);
	if (!run || !(run->mem = mem_account_of(call))) {
		free(run);
		err->code = PBRPC_RESOURCE_EXHAUSTED;
		snprintf(err->message, sizeof err->message, "out of memory");
		return err->code;
	}
	/* The run's output buffer: refused only when the daemon's budget is
	 * spent (runs are few: --max-exec). */
	if (mem_charge_past_share(run->mem, sizeof *run) == MEM_OVER_TOTAL) {
		mem_account_release(run->mem);
		free(run);
		err->code = PBRPC_RESOURCE_EXHAUSTED;
		mem_refusal_message(MEM_OVER_TOTAL, err->message, sizeof err->message);
		return err->code;
	}
	run->start_ns = uv_hrtime();
	run->cgroup.fd = -1;
	int rc = 0;
	if (svc->contain == CONTAIN_CGROUP &&
	    (rc = rpcd_cgroup_run_create(&svc->cgroup, &run->cgroup)) != 0) {
		mem_uncharge(run->mem, sizeof *run);
		mem_account_release(run->mem);
		free(run);
		err->code = rc == -ENOMEM || rc == -ENOSPC || rc == -EAGAIN
		                ? PBRPC_RESOURCE_EXHAUSTED
		                : PBRPC_INTERNAL;
		snprintf(err->message, sizeof err->message, "cannot make the program's cgroup: %s",
		         strerror(-rc));
		return err->code;
	}
	rc = rpcd_spawn(plan, run->cgroup.fd, &run->child);
	if (rc != 0) { /* nothing was started, nothing is open */
		if (svc->contain == CONTAIN_CGROUP)
			rpcd_cgroup_run_remove(&svc->cgroup, &run->cgroup);
		mem_uncharge(run->mem, sizeof *run);
		mem_account_release(run->mem);
		free(run);
		return spawn_error(rc, plan->name, err);
	}
	run->svc = svc;
	svc->n_runs++;
	run->next = svc->runs;
	if (svc->runs)
		svc->runs->prev = run;
	svc->runs = run;
	run->with_stdin = plan->with_stdin;
	snprintf(run->conn, sizeof run->conn, "%s", pbrpc_call_conn_name(call));
	printable(run->name, sizeof run->name, plan->name);
	uv_timer_init(loop, &run->timer);
	run->timer.data = run;
	run->open_handles = 1;
	if (svc->contain == CONTAIN_REAPER) {
		uv_signal_init(loop, &run->orphans);
		run->orphans.data = run;
		run->open_handles++;
		uv_signal_start(&run->orphans, on_orphan_exit, SIGCHLD);
	}
	/* Every descriptor is close-on-exec (rpcd_spawn's, libuv's, and the
	 * inherited ones since rpcd_exec_register): the next child gets none. */
	if (plan->with_stdin)
		rc = open_pipe(run, loop, &run->in, &run->child.stdin_fd);
	else
		run->in_closed = 1;
	int rc_out = open_pipe(run, loop, &run->out, &run->child.stdout_fd);
	int rc_err = open_pipe(run, loop, &run->err, &run->child.stderr_fd);
	if (rc == 0)
		rc = rc_out ? rc_out : rc_err;
	int watching = 0;
	if (rc == 0 && run->child.pidfd >= 0 &&
	    (rc = uv_poll_init(loop, &run->exit_watch.pidfd, run->child.pidfd)) == 0) {
		run->exit_watch.pidfd.data = run;
		run->open_handles++;
		watching = 1; /* from now on, closing exit_watch closes the pidfd */
		rc = uv_poll_start(&run->exit_watch.pidfd, UV_READABLE, on_pidfd);
	} else if (rc == 0 && (rc = uv_signal_init(loop, &run->exit_watch.sigchld)) == 0) {
		run->exit_watch.sigchld.data = run;
		run->open_handles++;
		watching = 1;
		rc = uv_signal_start(&run->exit_watch.sigchld, on_sigchld, SIGCHLD);
		if (rc == 0)
			check_exit(run); /* it may have exited before SIGCHLD was watched */
	}
	if (rc != 0) {
		/* libuv refused a descriptor (short of memory, say): undo the
		 * start, waiting here for the killed child. */
		kill(-run->child.pid, SIGKILL);
		if (svc->contain == CONTAIN_CGROUP)
			rpcd_cgroup_run_signal(&run->cgroup, SIGKILL);
		waitpid(run->child.pid, NULL, 0);
		run->exited = run->out_done = run->err_done = run->in_closed = run->logged = 1;
		if (svc->contain == CONTAIN_REAPER)
			close_handle(run, (uv_handle_t *)&run->orphans);
		if (plan->with_stdin)
			close_handle(run, (uv_handle_t *)&run->in);
		close_handle(run, (uv_handle_t *)&run->out);
		close_handle(run, (uv_handle_t *)&run->err);
		close_handle(run, (uv_handle_t *)&run->timer);
		if (watching)
			close_handle(run, (uv_handle_t *)&run->exit_watch.pidfd);
		else
			rpcd_child_close_fds(&run->child, 0);
		return spawn_error(rc, plan->name, err);
	}
	run->call = call;
	pbrpc_call_set_data(call, run);
	set_reading(run, 1);
	if (plan->timeout_ms > 0)
		uv_timer_start(&run->timer, on_timeout, plan->timeout_ms, 0);
	pbrpc_server_log(svc->server, PBRPC_LOG_DEBUG, "%s exec %s: started, pid %d", run->conn,
	                 run->name, run->child.pid);
	return PBRPC_OK;
}

static void start_run(pbrpc_call *call, const Pbrpc__Exec__Start *start)
{
	exec_service *svc = pbrpc_call_service_data(call);
	pbrpc_error err = {0};
	rpcd_exec_plan plan;
	pbrpc_status st;

	if (svc->policy.disabled) { /* said before anything else is looked at */
		st = err.code = PBRPC_PERMISSION_DENIED;
		snprintf(err.message, sizeof err.message, "exec is disabled on this server");
		goto refused;
	}
	/* A client key with root= runs its programs there; its exec-allow= and
	 * env= narrow what the server's policy permits (both must agree). */
	const rpcd_client_key *key = rpcd_policy_of(call);
	const char *root = key && key->root ? key->root : svc->root;
	int root_fd = key && key->root_fd >= 0 ? key->root_fd : svc->root_fd;
	st = rpcd_exec_plan_build(&plan, start, root, root_fd, &err);
	if (st == PBRPC_OK)
		st = rpcd_exec_policy_permit(&svc->policy, &plan, &err);
	if (st == PBRPC_OK && key && (key->has_exec_allow || key->exec.has_env))
		st = rpcd_exec_policy_permit(&key->exec, &plan, &err);
	if (st == PBRPC_OK)
		st = rpcd_exec_plan_check_cwd(&plan, &err);
	if (st == PBRPC_OK && svc->n_runs >= svc->max_runs) {
		st = err.code = PBRPC_RESOURCE_EXHAUSTED;
		snprintf(err.message, sizeof err.message,
		         "too many programs running on this server (limit %u)", svc->max_runs);
	}
	if (st == PBRPC_OK)
		st = spawn_run(svc, call, &plan, &err);
	rpcd_exec_plan_free(&plan);
refused:
	if (st == PBRPC_OK)
		return;
	pbrpc_server_log(svc->server, PBRPC_LOG_INFO, "%s exec refused: %s (%s)",
	                 pbrpc_call_conn_name(call), err.message, pbrpc_status_name(st));
	pbrpc_call_finish(call, st, "%s", err.message);
}

static void exec_run_handler(pbrpc_call *call, pbrpc_event event,
                             const Pbrpc__Exec__RunRequest *msg)
{
	exec_run *run = pbrpc_call_data(call);
	switch (event) {
	case PBRPC_EV_START: break;
	case PBRPC_EV_MESSAGE:
		if (!run && msg->msg_case == PBRPC__EXEC__RUN_REQUEST__MSG_START && msg->start)
			start_run(call, msg->start);
		else if (!run)
			pbrpc_call_finish(call, PBRPC_INVALID_ARGUMENT,
			                  "the first message must be a Start");
		else if (msg->msg_case == PBRPC__EXEC__RUN_REQUEST__MSG_STDIN_DATA)
			write_stdin(run, msg->stdin_data);
		else
			fail_run(run, PBRPC_INVALID_ARGUMENT, "only stdin data may follow Start");
		break;
	case PBRPC_EV_HALF_CLOSE:
		if (!run) {
			pbrpc_call_finish(call, PBRPC_INVALID_ARGUMENT, "no Start message");
			break;
		}
		run->in_eof = 1;
		if (run->in_queued == 0 && !run->in_closed)
			close_stdin(run);
		break;
	case PBRPC_EV_WRITABLE:
		if (run && !run->reading)
			set_reading(run, 1);
		break;
	case PBRPC_EV_CANCEL:
		if (run) {
			run->call = NULL; /* freed when this returns */
			run->client_gone = 1;
			detach_call(run);
		}
		break;
	}
}

static const pbrpc_exec_exec_handlers exec_handlers = {
    .run = exec_run_handler,
};

/* Descriptors rpcd inherited (from a shell, a supervisor) must not reach the
 * programs it runs; libuv's own are close-on-exec already. */
static void inherited_fds_cloexec(void)
{
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX); /* kernels before 5.11: one at a time */
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++) {
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	}
}

/* A cgroup per run if rpcd can make one (unless --no-cgroup), else rpcd as a
 * child subreaper. A limit the operator asked for that cannot be applied
 * stops rpcd; the default process cap only gets a warning. */
static int set_up_containment(exec_service *svc, const rpcd_options *o, pbrpc_error *err)
{
	pbrpc_error why = {0};
	unsigned max_pids = o->exec_max_pids ? o->exec_max_pids : RPCD_DEFAULT_EXEC_MAX_PIDS;
	int dropped = 0;
	if (o->no_cgroup)
		snprintf(why.message, sizeof why.message, "--no-cgroup");
	else if (rpcd_cgroup_init(&svc->cgroup, max_pids, !o->exec_max_pids_given, &dropped,
	                          o->exec_max_memory, &why) == 0) {
		svc->contain = CONTAIN_CGROUP;
		char pids[32] = "none", memory[32] = "none";
		if (!dropped)
			snprintf(pids, sizeof pids, "%u", max_pids);
		if (o->exec_max_memory)
			snprintf(memory, sizeof memory, "%llu",
			         (unsigned long long)o->exec_max_memory);
		pbrpc_server_log(svc->server, PBRPC_LOG_INFO,
		                 "exec: each program runs in a cgroup of its own beneath %s "
		                 "(pids.max %s, memory.max %s)",
		                 svc->cgroup.path, pids, memory);
		if (dropped)
			pbrpc_server_log(
			    svc->server, PBRPC_LOG_WARN,
			    "exec: no pids controller for %s: programs have no process cap "
			    "(delegate it, e.g. systemd's Delegate=yes)",
			    svc->cgroup.home);
		return 0;
	}
	if (o->exec_max_pids_given || o->exec_max_memory) {
		err->code = PBRPC_FAILED_PRECONDITION;
		snprintf(
		    err->message, sizeof err->message,
		    "--exec-max-pids and --exec-max-memory need a cgroup for each program, and "
		    "there is none: %.800s",
		    why.message);
		return -1;
	}
	if (rpcd_reaper_init(err) != 0)
		return -1;
	svc->contain = CONTAIN_REAPER;
	pbrpc_server_log(svc->server, PBRPC_LOG_INFO,
	                 "exec: no cgroup for programs (%s); rpcd is their child subreaper and "
	                 "kills every process a program leaves; no per-program process cap",
	                 why.message);
	return 0;
}

static void warn_to_log(void *ctx, const char *message)
{
	exec_service *svc = ctx;
	pbrpc_server_log(svc->server, PBRPC_LOG_WARN, "%s", message);
}

pbrpc_status rpcd_exec_register(pbrpc_server *s, const rpcd_options *o, pbrpc_error *err)
{
	exec_service *svc = calloc(1, sizeof *svc);
	if (!svc) {
		err->code = PBRPC_RESOURCE_EXHAUSTED;
		snprintf(err->message, sizeof err->message, "out of memory");
		return err->code;
	}
	the_service = svc;
	svc->server = s;
	svc->root_fd = -1;
	svc->root = o->root;
	svc->max_runs = o->max_exec ? o->max_exec : RPCD_DEFAULT_MAX_EXEC;
	svc->policy.disabled = o->no_exec;
	svc->policy.root = o->root;
	svc->policy.warn = warn_to_log;
	svc->policy.warn_ctx = svc;
	svc->root_fd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (svc->root_fd < 0) {
		err->code = PBRPC_FAILED_PRECONDITION;
		snprintf(err->message, sizeof err->message, "--root %s: %s", o->root,
		         strerror(errno));
		return err->code;
	}
	if (o->exec_allow && rpcd_exec_policy_load(&svc->policy, o->exec_allow, err) != 0)
		return err->code;
	for (size_t i = 0; i < o->n_exec_env; i++) {
		if (rpcd_exec_policy_accept_env(&svc->policy, o->exec_env[i], ",", err) != 0) {
			char why[sizeof err->message];
			snprintf(why, sizeof why, "%s", err->message);
			snprintf(err->message, sizeof err->message, "--exec-env %.900s", why);
			return err->code;
		}
	}
	if (!svc->policy.disabled && set_up_containment(svc, o, err) != 0)
		return err->code;
	inherited_fds_cloexec();
	return pbrpc_exec_exec_register(s, &exec_handlers, svc, err);
}

void rpcd_exec_free(void)
{
	if (!the_service)
		return;
	rpcd_exec_policy_free(&the_service->policy);
	if (the_service->root_fd >= 0)
		close(the_service->root_fd);
	if (the_service->contain == CONTAIN_CGROUP)
		rpcd_cgroup_free(&the_service->cgroup);
	free(the_service);
	the_service = NULL;
}
