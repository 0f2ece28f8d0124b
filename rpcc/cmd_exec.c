/* cmd_exec.c - 'rpcc exec [OPTIONS] [--] PROGRAM [ARG...]': runs a program on
 * the server through Exec.Run, like ssh: remote stdout and stderr to ours as
 * they arrive, our stdin to the program, and its exit status as ours.
 *
 * Stdin is sent by a second thread, so that a send blocked by a program that
 * reads slowly never stops the main thread from taking the program's output
 * (which could otherwise deadlock both). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbrpc.h>

#include "pbrpc/exec.h"
#include "pbrpc/exec.pbrpc.h"

#include "commands.h"
#include "connect.h"
#include "parse.h"
#include "report.h"

/* Exit codes beside the program's own, as timeout(1) and the shells use them. */
enum {
	EXEC_EXIT_TIMEOUT = 124,    /* --timeout fired */
	EXEC_EXIT_FAILED = 125,     /* the call failed for another reason */
	EXEC_EXIT_CANNOT_RUN = 126, /* PERMISSION_DENIED: not executable, not allowed, disabled */
	EXEC_EXIT_NOT_FOUND = 127,  /* NOT_FOUND: no such program (or directory) */
};

#define STDIN_CHUNK (64u << 10)
#define MAX_ENV     256

typedef struct exec_args {
	Pbrpc__Exec__Start start;
	ProtobufCBinaryData *argv;
	ProtobufCBinaryData env[MAX_ENV];
	char *command_line; /* --shell: the words joined by spaces */
	int no_stdin;
} exec_args;

/* The stdin thread's state. */
typedef struct stdin_pump {
	pbrpc_stream *stream;
	int stop_fd;     /* readable once the main thread wants the pump to stop */
	int read_errno;  /* set if reading stdin failed */
	int send_failed; /* set if the server's record limit refused our stdin */
	pthread_t thread;
} stdin_pump;

static ProtobufCBinaryData bytes_of(const char *s)
{
	ProtobufCBinaryData b = {.len = strlen(s), .data = (uint8_t *)s};
	return b;
}

/* Joins words with single spaces, as ssh does with a remote command. */
static char *join_words(int n, char **words)
{
	size_t total = 1;
	for (int i = 0; i < n; i++)
		total += strlen(words[i]) + 1;
	char *line = malloc(total), *p = line;
	if (!line)
		return NULL;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(words[i]);
		if (i > 0)
			*p++ = ' ';
		memcpy(p, words[i], len);
		p += len;
	}
	*p = '\0';
	return line;
}

/* Parses the command line into a; returns -1 after a usage message, 1 for
 * --help (printed), 0 to run. */
static int parse_args(const rpcc_context *ctx, int argc, char **argv, exec_args *a)
{
	static const struct option options[] = {
	    {"shell", no_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"env", required_argument, NULL, 'e'},
	    {"cwd", required_argument, NULL, 'C'},
	    {"no-stdin", no_argument, NULL, 'n'},
	    RPCC_HELP_OPTION,
	    {NULL, 0, NULL, 0},
	};
	const char *name = ctx->command->name;
	int opt;
	int64_t ms;

	/* '+': stop at PROGRAM, so its own options stay its own. */
	while ((opt = getopt_long(argc, argv, "+st:e:C:nh", options, NULL)) != -1) {
		switch (opt) {
		case 's': a->start.shell = 1; break;
		case 't':
			if (rpcc_parse_seconds(optarg, UINT32_MAX, &ms) != 0) {
				rpcc_usage_error(name, "--timeout: '%s' is not a number of seconds",
				                 optarg);
				return -1;
			}
			a->start.timeout_ms = (uint32_t)ms;
			break;
		case 'e':
			if (optarg[0] == '=' || strchr(optarg, '=') == NULL) {
				rpcc_usage_error(name, "--env: '%s' is not NAME=VALUE", optarg);
				return -1;
			}
			if (a->start.n_env == MAX_ENV) {
				rpcc_usage_error(name, "more than %d --env options", MAX_ENV);
				return -1;
			}
			a->env[a->start.n_env++] = bytes_of(optarg);
			break;
		case 'C': a->start.cwd = bytes_of(optarg); break;
		case 'n': a->no_stdin = 1; break;
		case 'h': rpcc_help(ctx->command); return 1;
		default: rpcc_usage_error(name, NULL); return -1;
		}
	}
	if (optind >= argc) {
		rpcc_usage_error(name, "no PROGRAM given");
		return -1;
	}
	argc -= optind;
	argv += optind;
	if (a->start.shell) {
		a->command_line = join_words(argc, argv);
		argc = 1;
		argv = &a->command_line;
	}
	a->argv = calloc((size_t)argc, sizeof *a->argv);
	if (!a->argv || (a->start.shell && !a->command_line)) {
		rpcc_reportf(name, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		return -1;
	}
	for (int i = 0; i < argc; i++)
		a->argv[i] = bytes_of(argv[i]);
	a->start.argv = a->argv;
	a->start.n_argv = (size_t)argc;
	a->start.env = a->env;
	return 0;
}

/* Whether to stream our stdin: not with -n, not from a terminal (like ssh
 * -n, and so an interactive rpcc does not hang waiting for input), and not
 * when there is no stdin at all. */
static int wants_stdin(const exec_args *a)
{
	return !a->no_stdin && fcntl(STDIN_FILENO, F_GETFD) >= 0 && !isatty(STDIN_FILENO);
}

static void *pump_stdin(void *arg)
{
	stdin_pump *p = arg;
	uint8_t *buf = malloc(STDIN_CHUNK);

	if (!buf) {
		p->read_errno = ENOMEM;
		pbrpc_stream_close_send(p->stream, NULL); /* the program must not wait for it */
		return NULL;
	}
	for (;;) {
		struct pollfd fds[2] = {
		    {.fd = STDIN_FILENO, .events = POLLIN},
		    {.fd = p->stop_fd, .events = POLLIN},
		};
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			p->read_errno = errno;
			pbrpc_stream_close_send(p->stream, NULL);
			break;
		}
		if (fds[1].revents)
			break; /* the call is over */
		ssize_t n = read(STDIN_FILENO, buf, STDIN_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			p->read_errno = errno;
			pbrpc_stream_close_send(p->stream, NULL);
			break;
		}
		if (n == 0) {
			pbrpc_stream_close_send(p->stream, NULL);
			break;
		}
		pbrpc_status st = pbrpc_exec_send_stdin(p->stream, buf, (size_t)n);
		if (st == PBRPC_RESOURCE_EXHAUSTED) {
			/* Not even a small piece fits: end the program's input. */
			p->send_failed = 1;
			pbrpc_stream_close_send(p->stream, NULL);
			break;
		}
		if (st != PBRPC_OK)
			break; /* the call ended; the main thread reports how */
	}
	free(buf);
	return NULL;
}

/* Writes all of data to fd; -1 with errno on failure. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The local descriptor for a remote stream, or -1 for one we do not know. */
static int local_fd(Pbrpc__Exec__Output__Stream stream)
{
	switch (stream) {
	case PBRPC__EXEC__OUTPUT__STREAM__STDOUT: return STDOUT_FILENO;
	case PBRPC__EXEC__OUTPUT__STREAM__STDERR: return STDERR_FILENO;
	default: return -1;
	}
}

/* The exit code for a call that ended without the program's own status. */
static int failure_exit(pbrpc_status code)
{
	switch (code) {
	case PBRPC_NOT_FOUND: return EXEC_EXIT_NOT_FOUND;
	case PBRPC_PERMISSION_DENIED: return EXEC_EXIT_CANNOT_RUN;
	case PBRPC_UNAVAILABLE:
	case PBRPC_UNAUTHENTICATED: return RPCC_EXIT_CONNECT;
	default: return EXEC_EXIT_FAILED;
	}
}

/* The exit code that tells how the program ended, as a shell would. */
static int program_exit(const Pbrpc__Exec__Exit *e)
{
	if (e->timed_out)
		return EXEC_EXIT_TIMEOUT;
	if (e->signal > 0 && e->signal < 128)
		return 128 + e->signal;
	return e->code & 0xff;
}

/* Writes one chunk of the program's output where it belongs; -1 after
 * reporting why not. */
static int write_output(const char *name, const Pbrpc__Exec__Output *out)
{
	int fd = local_fd(out->stream);
	if (fd < 0) {
		rpcc_reportf(name, PBRPC_INTERNAL, "output on unknown stream %d", (int)out->stream);
		return -1;
	}
	if (write_all(fd, out->data.data, out->data.len) != 0) {
		rpcc_reportf(name, PBRPC_OK, "writing %s: %s",
		             fd == STDOUT_FILENO ? "stdout" : "stderr", strerror(errno));
		return -1;
	}
	return 0;
}

/* Receives until the call ends, copying output out; returns the exit code.
 * *ended says whether the call is over (else a local failure stopped us). */
static int receive(const char *name, pbrpc_stream *stream, int *ended)
{
	Pbrpc__Exec__RunReply *reply;
	pbrpc_error err = {0};
	int exit_code = -1;

	for (;;) {
		pbrpc_status st = pbrpc_exec_exec_run_recv(stream, &reply, &err);
		if (st != PBRPC_OK || !reply)
			*ended = 1;
		if (st != PBRPC_OK) {
			rpcc_report(name, NULL, &err);
			return failure_exit(st);
		}
		if (!reply)
			break; /* status OK: the end */
		int failed = 0;
		if (reply->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_OUTPUT && reply->output)
			failed = write_output(name, reply->output) != 0;
		else if (reply->msg_case == PBRPC__EXEC__RUN_REPLY__MSG_EXIT && reply->exit)
			exit_code = program_exit(reply->exit);
		pbrpc_message_free(&reply->base);
		if (failed)
			return EXEC_EXIT_FAILED;
	}
	if (exit_code < 0) {
		rpcc_reportf(name, PBRPC_INTERNAL, "the server did not say how the program ended");
		return EXEC_EXIT_FAILED;
	}
	return exit_code;
}

static int start_pump(stdin_pump *p, pbrpc_stream *stream, int stop_pipe[2])
{
	if (pipe2(stop_pipe, O_CLOEXEC) != 0)
		return -1;
	p->stream = stream;
	p->stop_fd = stop_pipe[0];
	if (pthread_create(&p->thread, NULL, pump_stdin, p) != 0) {
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		return -1;
	}
	return 0;
}

static int run_exec(const rpcc_context *ctx, int argc, char **argv)
{
	const char *name = ctx->command->name;
	exec_args a = {.start = PBRPC__EXEC__START__INIT};
	Pbrpc__Exec__RunRequest req = PBRPC__EXEC__RUN_REQUEST__INIT;
	pbrpc_call_options call_opts = rpcc_call_options(ctx);
	pbrpc_error err = {0};
	pbrpc_client *client = NULL;
	pbrpc_stream *stream = NULL;
	stdin_pump pump = {0};
	int stop_pipe[2] = {-1, -1};
	int pumping = 0, ended = 0, status;

	int parsed = parse_args(ctx, argc, argv, &a);
	if (parsed != 0) {
		free(a.argv);
		free(a.command_line);
		return parsed > 0 ? RPCC_EXIT_OK : RPCC_EXIT_USAGE;
	}
	a.start.with_stdin = wants_stdin(&a);

	client = rpcc_connect(ctx);
	if (!client) {
		status = RPCC_EXIT_CONNECT;
		goto out;
	}
	stream = pbrpc_exec_exec_run_open(client, &call_opts, &err);
	req.msg_case = PBRPC__EXEC__RUN_REQUEST__MSG_START;
	req.start = &a.start;
	if (!stream || pbrpc_exec_exec_run_send(stream, &req, &err) != PBRPC_OK) {
		rpcc_report(name, NULL, &err);
		status = failure_exit(err.code);
		goto close;
	}
	if (a.start.with_stdin) {
		if (start_pump(&pump, stream, stop_pipe) != 0) {
			rpcc_reportf(name, PBRPC_OK, "cannot start the stdin thread: %s",
			             strerror(errno));
			status = EXEC_EXIT_FAILED;
			goto close;
		}
		pumping = 1;
	} else {
		pbrpc_stream_close_send(stream, NULL);
	}

	status = receive(name, stream, &ended);

	if (pumping && !ended) {
		/* We stopped reading while the program runs: the stdin thread may be
		 * stuck in a send the server will not take, holding the stream. Leave
		 * it; exiting closes the connection, and the server kills the program. */
		return status;
	}
	if (pumping) {
		/* The call is over: wake the pump from its wait on stdin, and wait for it. */
		(void)!write(stop_pipe[1], "x", 1);
		pthread_join(pump.thread, NULL);
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		if (pump.read_errno || pump.send_failed) {
			if (pump.read_errno)
				rpcc_reportf(name, PBRPC_OK, "reading standard input: %s",
				             strerror(pump.read_errno));
			else
				rpcc_reportf(name, PBRPC_RESOURCE_EXHAUSTED,
				             "stdin: the server's record limit is too small");
			if (status < EXEC_EXIT_TIMEOUT)
				status = EXEC_EXIT_FAILED; /* the program saw a cut-short input */
		}
	}
close:
	pbrpc_stream_free(stream);
	pbrpc_client_close(client);
out:
	free(a.argv);
	free(a.command_line);
	return status;
}

const rpcc_command rpcc_cmd_exec = {
    .name = "exec",
    .args = "[--shell] [--timeout SECONDS] [--env NAME=VALUE]... [--cwd DIR] [-n] [--] "
            "PROGRAM [ARG...]",
    .summary = "Run PROGRAM on the server, streaming stdin/stdout/stderr",
    .details = "PROGRAM runs without a shell (searched in the server's PATH unless it has a '/')\n"
               "in its own process group; its stdout and stderr arrive on ours as it writes\n"
               "them. Our stdin is sent to it unless -n is given or stdin is a terminal.\n"
               "With --shell, the words are joined by spaces and run by /bin/sh -c.\n"
               "\n"
               "Exit status: the program's exit code; 128+N if signal N killed it; 124 if\n"
               "--timeout fired; 127 no such program; 126 not executable, not allowed or exec\n"
               "disabled; 125 any other failure; 255 connection or authentication failure.",
    .options = "  -s, --shell        run the words as one command line with /bin/sh -c\n"
               "  -t, --timeout SECONDS\n"
               "                     kill the program (its whole process group) after\n"
               "                     SECONDS, decimals allowed (default 0: no limit)\n"
               "  -e, --env NAME=VALUE\n"
               "                     add to the program's environment (repeatable)\n"
               "  -C, --cwd DIR      run in DIR, relative to the server's root (default:\n"
               "                     the root)\n"
               "  -n, --no-stdin     send no stdin (the program reads /dev/null)\n",
    .run = run_exec,
};
