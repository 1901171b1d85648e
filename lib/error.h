/*
 * error.h - exit codes and the error record every library call fills.
 *
 * Library code never exits and never prints to stdout: a call that fails
 * returns -1 (or NULL) and, when the caller passed a struct ps_error, stores
 * an exit code and a one-line message there.  Tools map e.code to their exit
 * status.  Messages never contain secrets.
 */
#ifndef PS_ERROR_H
#define PS_ERROR_H

#include <stdarg.h>

/* Exit codes (sysexits), shared by every tool and listed in every man page. */
enum ps_exit {
	PS_EX_OK = 0,
	PS_EX_USAGE = 64,	/* bad command line */
	PS_EX_DATAERR = 65,	/* bad data, only under --strict */
	PS_EX_NOINPUT = 66,	/* cannot open input */
	PS_EX_UNAVAILABLE = 69,	/* a service is unavailable */
	PS_EX_SOFTWARE = 70,	/* internal error */
	PS_EX_CANTCREAT = 73,	/* cannot create output */
	PS_EX_IOERR = 74,	/* I/O error (disk full, write error) */
	PS_EX_TEMPFAIL = 75,	/* temporary failure, safe to re-run */
	PS_EX_CONFIG = 78,	/* configuration error */
};

/* Returned by option parsing when the tool should go on running. */
#define PS_CONTINUE (-1)

struct ps_error {
	int code;		/* one of enum ps_exit, 0 when unset */
	char msg[256];		/* one line, no trailing newline */
};

/*
 * Store code and a formatted message in e (which may be NULL).  Newlines in
 * the message are replaced by spaces so that it stays one line.  Always
 * returns -1 so that callers can write "return ps_error_set(...)".
 */
int ps_error_set(struct ps_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like ps_error_set, appending ": strerror(errno_value)". Returns -1. */
int ps_error_errno(struct ps_error *e, int code, int errno_value,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Prefix the message in e with "what: " (a file name, say), and set code
 * when e has none yet.  Returns -1.
 */
int ps_error_prefix(struct ps_error *e, int code, const char *what);

/* The symbolic name of an exit code ("usage", "ioerr"...), never NULL. */
const char *ps_exit_name(int code);

#endif
