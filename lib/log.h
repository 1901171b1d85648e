/*
 * log.h - structured logs on stderr, one event per line.
 *
 *   ts=2026-11-24T06:12:22.123Z tool=ps-silver level=warn msg="bad record" line=7
 *
 * or, with --log-format json, the same as one JSON object per line.  The
 * level is checked before anything is formatted.  PS_LOG_TS=0 in the
 * environment drops the timestamp (for golden tests).  Values are escaped so
 * that an event never spans two lines.  Logging cannot fail: a write error
 * on stderr is ignored.
 *
 *   ps_log(PS_WARN, "bad record", PS_I("line", n), PS_S("reason", why));
 */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stddef.h>

enum ps_log_level {
	PS_ERROR = 0,
	PS_WARN = 1,
	PS_INFO = 2,
	PS_DEBUG = 3,
};

enum ps_log_format {
	PS_LOG_LOGFMT = 0,
	PS_LOG_JSON = 1,
};

enum ps_kv_type { PS_KV_END = 0, PS_KV_INT, PS_KV_DBL, PS_KV_STR, PS_KV_BOOL };

struct ps_kv {
	const char *key;
	enum ps_kv_type type;
	union {
		long long i;
		double d;
		const char *s;
	} v;
};

#define PS_I(k, x) ((struct ps_kv){ (k), PS_KV_INT, { .i = (long long)(x) } })
#define PS_D(k, x) ((struct ps_kv){ (k), PS_KV_DBL, { .d = (double)(x) } })
#define PS_S(k, x) ((struct ps_kv){ (k), PS_KV_STR, { .s = (x) } })
#define PS_B(k, x) ((struct ps_kv){ (k), PS_KV_BOOL, { .i = !!(x) } })

#define ps_log(lv, msg, ...)						\
	do {								\
		if (ps_log_enabled(lv))					\
			ps_log_kv((lv), (msg), (const struct ps_kv[]){	\
				__VA_ARGS__ __VA_OPT__(,)		\
				{ NULL, PS_KV_END, { 0 } } });		\
	} while (0)

/* Set the tool name shown in every event (not copied: keep it alive). */
void ps_log_set_tool(const char *tool);
/* PS_ERROR..PS_DEBUG; the default is PS_INFO. */
void ps_log_set_level(int level);
int ps_log_get_level(void);
void ps_log_set_format(enum ps_log_format f);
/* Parse "logfmt" or "json"; returns 0, or -1 for anything else. */
int ps_log_parse_format(const char *s, enum ps_log_format *f);
/* Timestamps on (default) or off; ps_log_init_env reads PS_LOG_TS. */
void ps_log_set_timestamps(int on);
/* Are timestamps on?  When off, summaries also leave out durations. */
int ps_log_timestamps(void);
void ps_log_init_env(void);

int ps_log_enabled(int level);
/* Write one event; kv ends with an entry of type PS_KV_END. */
void ps_log_kv(int level, const char *msg, const struct ps_kv *kv);

/* Called before a log line is written, e.g. to clear a progress line. */
void ps_log_set_hook(void (*before_write)(void));

#endif
