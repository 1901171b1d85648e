/* error.c - see error.h. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

int ps_error_set(struct ps_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	one_line(e->msg);
	return -1;
}

int ps_error_prefix(struct ps_error *e, int code, const char *what)
{
	char msg[sizeof(e->msg)];

	if (!e)
		return -1;
	memcpy(msg, e->msg, sizeof(msg));
	return ps_error_set(e, e->code ? e->code : code, "%s: %s", what, msg);
}

int ps_error_errno(struct ps_error *e, int code, int errno_value,
		   const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errno_value));
	one_line(e->msg);
	return -1;
}

const char *ps_exit_name(int code)
{
	switch (code) {
	case PS_EX_OK: return "ok";
	case PS_EX_USAGE: return "usage";
	case PS_EX_DATAERR: return "dataerr";
	case PS_EX_NOINPUT: return "noinput";
	case PS_EX_UNAVAILABLE: return "unavailable";
	case PS_EX_SOFTWARE: return "software";
	case PS_EX_CANTCREAT: return "cantcreat";
	case PS_EX_IOERR: return "ioerr";
	case PS_EX_TEMPFAIL: return "tempfail";
	case PS_EX_CONFIG: return "config";
	default: return "unknown";
	}
}
