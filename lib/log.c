/* log.c - see log.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "pstime.h"
#include "banned.h"

static const char *log_tool = "pulsestream";
static int log_level = PS_INFO;
static enum ps_log_format log_format = PS_LOG_LOGFMT;
static int log_ts = 1;
static void (*log_hook)(void);

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void ps_log_set_tool(const char *tool) { log_tool = tool; }
void ps_log_set_level(int level)
{
	log_level = level < PS_ERROR ? PS_ERROR
		  : level > PS_DEBUG ? PS_DEBUG : level;
}
int ps_log_get_level(void) { return log_level; }
void ps_log_set_format(enum ps_log_format f) { log_format = f; }
void ps_log_set_timestamps(int on) { log_ts = on; }
int ps_log_timestamps(void) { return log_ts; }
void ps_log_set_hook(void (*before_write)(void)) { log_hook = before_write; }
int ps_log_enabled(int level) { return level <= log_level; }

int ps_log_parse_format(const char *s, enum ps_log_format *f)
{
	if (!strcmp(s, "logfmt"))
		*f = PS_LOG_LOGFMT;
	else if (!strcmp(s, "json"))
		*f = PS_LOG_JSON;
	else
		return -1;
	return 0;
}

void ps_log_init_env(void)
{
	const char *ts = getenv("PS_LOG_TS");

	if (ts && !strcmp(ts, "0"))
		log_ts = 0;
}

/* logfmt: bare when safe, else a quoted string with JSON escapes. */
static void add_logfmt_value(struct ps_buf *b, const char *s)
{
	const unsigned char *p;
	int bare = *s != '\0';

	for (p = (const unsigned char *)s; *p && bare; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' ||
		    *p >= 0x7f)
			bare = 0;
	if (bare)
		ps_buf_adds(b, s);
	else
		ps_json_add_str(b, s, strlen(s));
}

static void add_double(struct ps_buf *b, double d)
{
	if (!isfinite(d))
		ps_buf_adds(b, log_format == PS_LOG_JSON ? "null" : "NaN");
	else
		ps_json_add_double(b, d);
}

void ps_log_kv(int level, const char *msg, const struct ps_kv *kv)
{
	struct ps_buf b = PS_BUF_INIT;
	char ts[PS_TIME_MAX];
	int json = log_format == PS_LOG_JSON;

	if (!ps_log_enabled(level))
		return;
	if (level < PS_ERROR)
		level = PS_ERROR;
	ps_buf_grow(&b, 256);
	if (log_ts)
		ps_time_format(ps_time_now(), ts, 3);
	if (json) {
		ps_buf_addc(&b, '{');
		if (log_ts) {
			ps_buf_adds(&b, "\"ts\":\"");
			ps_buf_adds(&b, ts);
			ps_buf_adds(&b, "\",");
		}
		ps_buf_adds(&b, "\"tool\":");
		ps_json_add_str(&b, log_tool, strlen(log_tool));
		ps_buf_adds(&b, ",\"level\":\"");
		ps_buf_adds(&b, level_names[level]);
		ps_buf_adds(&b, "\",\"msg\":");
		ps_json_add_str(&b, msg, strlen(msg));
	} else {
		if (log_ts) {
			ps_buf_adds(&b, "ts=");
			ps_buf_adds(&b, ts);
			ps_buf_addc(&b, ' ');
		}
		ps_buf_adds(&b, "tool=");
		add_logfmt_value(&b, log_tool);
		ps_buf_adds(&b, " level=");
		ps_buf_adds(&b, level_names[level]);
		ps_buf_adds(&b, " msg=");
		ps_json_add_str(&b, msg, strlen(msg));
	}
	for (; kv && kv->type != PS_KV_END; kv++) {
		if (json) {
			ps_buf_addc(&b, ',');
			ps_json_add_str(&b, kv->key, strlen(kv->key));
			ps_buf_addc(&b, ':');
		} else {
			ps_buf_addc(&b, ' ');
			ps_buf_adds(&b, kv->key);
			ps_buf_addc(&b, '=');
		}
		switch (kv->type) {
		case PS_KV_INT:
			ps_buf_add_i64(&b, kv->v.i);
			break;
		case PS_KV_DBL:
			add_double(&b, kv->v.d);
			break;
		case PS_KV_BOOL:
			ps_buf_adds(&b, kv->v.i ? "true" : "false");
			break;
		case PS_KV_STR:
		default:
			if (!kv->v.s)
				ps_buf_adds(&b, json ? "null" : "\"\"");
			else if (json)
				ps_json_add_str(&b, kv->v.s, strlen(kv->v.s));
			else
				add_logfmt_value(&b, kv->v.s);
			break;
		}
	}
	if (json)
		ps_buf_addc(&b, '}');
	ps_buf_addc(&b, '\n');
	if (log_hook)
		log_hook();
	/* One write(2) per event, so concurrent tools never interleave. */
	{
		const char *p = b.data;
		size_t n = b.len;

		while (n) {
			ssize_t w = write(2, p, n);

			if (w <= 0)
				break;
			p += w;
			n -= (size_t)w;
		}
	}
	ps_buf_release(&b);
}
