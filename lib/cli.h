/*
 * cli.h - what every PulseStream tool shares: start-up, option tables with
 * generated --help, the common options, number parsing, the stop flag and
 * the checked close of stdout.
 *
 * A tool declares its options once in a table; ps_cli_parse() builds the
 * getopt_long arrays from it, handles the common options itself and passes
 * the others to the tool's callback.  --help is generated from the table, so
 * help and the man page can be compared by a test.
 */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define PS_VERSION "0.1.0"

/* One option.  key: the short option character, or a value >= 256. */
struct ps_option {
	const char *name;	/* long name; NULL ends a table */
	int key;
	const char *arg;	/* argument name shown in help, NULL if none */
	const char *help;	/* one line */
};

/* Which common options a tool accepts besides -h -V -v -q --log-format. */
enum {
	PS_CLI_LAKE = 1 << 0,	/* -L/--lake DIR (PS_LAKE) */
	PS_CLI_STREAM = 1 << 1,	/* --stream NAME */
	PS_CLI_LOCK = 1 << 2,	/* --lock-wait SEC (writers of the lake) */
};

struct ps_tool {
	const char *name;	/* "ps-simulate" */
	const char *usage;	/* after the name: "[OPTIONS]"; '\n' separates
				   further usage lines */
	const char *summary;	/* one line */
	const struct ps_option *options;
	unsigned common;
	const char *epilog;	/* printed after the options, or NULL */
};

/* The common settings, filled by ps_cli_parse. */
struct ps_common {
	int verbosity;		/* -q: -1, default 0, -v: 1, -vv: 2 */
	const char *lake;	/* -L, else $PS_LAKE, else NULL */
	const char *stream;	/* --stream, default "admissions" */
	double lock_wait;	/* --lock-wait, default 30 (lib/lake.h) */
};

/*
 * Called for each tool option: return 0, or -1 with e filled (a usage
 * message; the code is ignored and 64 is used).
 */
typedef int (*ps_cli_fn)(void *ctx, int key, const char *arg,
			 struct ps_error *e);

/*
 * Parse argv.  Returns PS_CONTINUE with *argi set to the first operand, or
 * an exit status: 0 after printing help or version to stdout, 64 after a
 * usage message on stderr.
 */
int ps_cli_parse(const struct ps_tool *t, int argc, char **argv,
		 ps_cli_fn fn, void *ctx, struct ps_common *c, int *argi);

/* Print usage (help) to f. */
void ps_cli_usage(const struct ps_tool *t, FILE *f);

/* Print "tool: msg" and "Try 'tool --help'." to stderr; returns 64. */
int ps_cli_misuse(const struct ps_tool *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Start-up for every tool: program name for logs, fds 0-2 opened on
 * /dev/null when closed, SIGPIPE ignored (writes fail with EPIPE instead),
 * SIGINT/SIGTERM set ps_stop_requested, logging from the environment.
 */
void ps_init(const char *tool_name);

/* Set by SIGINT and SIGTERM; long-running loops check it. */
extern volatile sig_atomic_t ps_stop_requested;
/* The same flag for APIs that take a volatile int * (ps_ndjson). */
volatile int *ps_stop_flag(void);

/*
 * Block SIGINT and SIGTERM in the calling thread, the previous mask in
 * *old (restore it with pthread_sigmask(SIG_SETMASK, old, NULL)).  A
 * thread started meanwhile inherits the mask, so those signals go to the
 * threads that wait for input.  Cannot fail.
 */
void ps_stop_signals_block(sigset_t *old);

/*
 * poll(2) that a stop request always ends: SIGINT and SIGTERM are blocked
 * while ps_stop_requested is checked and unblocked only inside ppoll(2),
 * so a signal that came before the wait (caught by any thread) or comes
 * during it is never lost.  timeout_ms < 0 waits without a limit.
 * Returns poll's result: > 0 ready, 0 timed out, or -1 with errno; -1
 * with EINTR when a stop is requested (then ps_stop_requested is set) or
 * another signal's handler ran.  A thread that blocks both signals (its
 * mask at the call) is not woken by them.
 */
int ps_poll_stop(struct pollfd *fds, nfds_t n, int timeout_ms);

/*
 * Flush and close stdout.  Returns rc, or PS_EX_IOERR (logging why) when a
 * write failed and rc was 0.  A reader that went away (EPIPE) is not an
 * error: the tool ends quietly with rc.
 */
int ps_close_stdout(int rc);

/* True when a write to stdout failed with EPIPE (the reader went away). */
int ps_stdout_gone(void);

/*
 * Write n bytes of data to stdout (buffered).  Returns 0, or -1 when the
 * write failed; ps_stdout_gone() then tells whether the reader went away.
 */
int ps_write_stdout(const void *p, size_t n);

/* fflush(stdout), noting EPIPE like ps_write_stdout.  Returns 0 or -1. */
int ps_flush_stdout(void);

/*
 * The one rule for a reader that goes away (`| head`), for every tool:
 * the output callback of every stage writes n bytes at p to stdout, or
 * flushes when p is NULL, and returns 0; 1 when the reader went away
 * (EPIPE): the stage stops reading, everything it emitted was committed
 * first, and ps_close_stdout then ends the tool quietly with status 0;
 * -1 on another write error (ps_close_stdout: 74).  ctx is unused.
 */
int ps_stdout_out(void *ctx, const void *p, size_t n);

/*
 * strtonum-style parsing: the whole string must be a number within
 * [min, max].  Returns 0, or -1 with *errstr set to "invalid", "too small"
 * or "too large".
 */
int ps_parse_ll(const char *s, long long min, long long max, long long *out,
		const char **errstr);
int ps_parse_double(const char *s, double min, double max, double *out,
		    const char **errstr);
/* Like ps_parse_ll with an optional k/M/G suffix (powers of 1024). */
int ps_parse_size(const char *s, long long min, long long max,
		  long long *out, const char **errstr);

/*
 * Option values for ps_cli_fn callbacks: parse arg for option name (e.g.
 * "--count") into *out.  Return 0, or -1 with a usage message in e such as
 * "--count: too large: '9e99'", ready to be returned by the callback.
 */
int ps_opt_ll(const char *name, const char *arg, long long min,
	      long long max, long long *out, struct ps_error *e);
int ps_opt_int(const char *name, const char *arg, int min, int max,
	       int *out, struct ps_error *e);
int ps_opt_double(const char *name, const char *arg, double min, double max,
		  double *out, struct ps_error *e);
int ps_opt_size(const char *name, const char *arg, long long min,
		long long max, long long *out, struct ps_error *e);
/*
 * A duration: a number with an optional unit s, m, h or d (seconds when
 * none): "90", "90s", "30m", "1.5h", "2d", within [min_us, max_us]
 * microseconds.  Returns 0, or -1 with *errstr set.
 */
int ps_parse_duration(const char *s, int64_t min_us, int64_t max_us,
		      int64_t *out, const char **errstr);
int ps_opt_duration(const char *name, const char *arg, int64_t min_us,
		    int64_t max_us, int64_t *out, struct ps_error *e);
/* An ISO-8601 timestamp (lib/pstime.h) into microseconds. */
int ps_opt_time(const char *name, const char *arg, int64_t *out,
		struct ps_error *e);

#endif
