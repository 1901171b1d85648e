/* alerts.c - see alerts.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "ndjson.h"
#include "json.h"
#include "pstime.h"
#include "banned.h"

static const char *metrics[] = {
	"occupancy_pct", "wait_p90_minutes", "inflow_per_hour",
};

const char *ps_alert_level_name(int level)
{
	return level == PS_ALERT_CRITICAL ? "critical" :
	       level == PS_ALERT_WARN ? "warn" : "ok";
}

static int get_num(yajl_val o, const char *k, int need, double *out,
		   char *why, size_t whylen)
{
	yajl_val v = ps_json_get(o, k);

	if (!v || YAJL_IS_NULL(v)) {
		if (need)
			snprintf(why, whylen, "\"%s\" is required", k);
		return need ? -1 : 1;
	}
	if (!YAJL_IS_NUMBER(v) || !isfinite(YAJL_GET_DOUBLE(v))) {
		snprintf(why, whylen, "\"%s\" must be a number", k);
		return -1;
	}
	*out = YAJL_GET_DOUBLE(v);
	return 0;
}

static int parse_rule(struct ps_alert_rule *r, const char *line, size_t n,
		      char *why, size_t whylen)
{
	char err[128];
	yajl_val o = ps_json_parse(line, n, err, sizeof(err)), v;
	double h = -1;
	const char *ms;
	size_t i;
	int rc = -1, k;

	memset(r, 0, sizeof(*r));
	r->hospital_id = -1;
	if (!o || !YAJL_IS_OBJECT(o)) {
		snprintf(why, whylen, "not a JSON object%s%s", o ? "" : ": ",
			 o ? "" : err);
		goto out;
	}
	v = ps_json_get(o, "metric");
	ms = v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
	if (!ms) {
		snprintf(why, whylen, "\"metric\" is required (a string)");
		goto out;
	}
	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (!strcmp(metrics[i], ms))
			break;
	if (i == sizeof(metrics) / sizeof(metrics[0])) {
		snprintf(why, whylen, "unknown metric \"%.40s\" (expected "
			 "occupancy_pct, wait_p90_minutes or "
			 "inflow_per_hour)", ms);
		goto out;
	}
	r->metric = ps_xstrdup(metrics[i]);
	v = ps_json_get(o, "department");
	if (v && !YAJL_IS_NULL(v)) {
		if (!YAJL_IS_STRING(v)) {
			snprintf(why, whylen, "\"department\" must be a string");
			goto out;
		}
		r->department = ps_xstrdup(YAJL_GET_STRING(v) ?
					   YAJL_GET_STRING(v) : "");
	}
	if ((k = get_num(o, "hospital_id", 0, &h, why, whylen)) < 0)
		goto out;
	if (!k) {
		if (h != floor(h) || h < 0 || h > 2147483647.0) {
			snprintf(why, whylen, "\"hospital_id\" must be a "
				 "whole number >= 0");
			goto out;
		}
		r->hospital_id = (int)h;
	}
	if (get_num(o, "warn", 1, &r->warn, why, whylen) < 0)
		goto out;
	r->critical = HUGE_VAL;
	if (get_num(o, "critical", 0, &r->critical, why, whylen) < 0)
		goto out;
	r->clear_below = r->warn;
	if (get_num(o, "clear_below", 0, &r->clear_below, why, whylen) < 0)
		goto out;
	if (r->critical < r->warn) {
		snprintf(why, whylen, "\"critical\" must be >= \"warn\"");
		goto out;
	}
	if (r->clear_below > r->warn) {
		snprintf(why, whylen, "\"clear_below\" must be <= \"warn\"");
		goto out;
	}
	rc = 0;
out:
	if (o)
		yajl_tree_free(o);
	if (rc) {
		free(r->metric);
		free(r->department);
		r->metric = r->department = NULL;
	}
	return rc;
}

static int add_rule(void *ctx, const char *line, size_t n, char *why,
		    size_t whylen)
{
	struct ps_alerts *a = ctx;

	a->r = ps_xrealloc(a->r, (a->nr + 1) * sizeof(*a->r));
	if (parse_rule(&a->r[a->nr], line, n, why, whylen) < 0)
		return -1;
	a->nr++;
	return 0;
}

int ps_alerts_load(struct ps_alerts *a, const char *path, struct ps_error *e)
{
	if (!path)
		return 0;
	if (ps_ndjson_config(path, add_rule, a, e) < 0) {
		ps_alerts_release(a);
		return -1;
	}
	return 0;
}

void ps_alerts_release(struct ps_alerts *a)
{
	size_t i;

	for (i = 0; i < a->nr; i++) {
		free(a->r[i].metric);
		free(a->r[i].department);
	}
	for (i = 0; i < a->ns; i++)
		free(a->s[i].key);
	free(a->r);
	free(a->s);
	memset(a, 0, sizeof(*a));
}

const struct ps_alert_rule *ps_alerts_match(const struct ps_alerts *a,
					    const char *metric,
					    const char *department,
					    int hospital_id)
{
	const struct ps_alert_rule *best = NULL;
	int best_score = -1;
	size_t i;

	for (i = 0; i < a->nr; i++) {
		const struct ps_alert_rule *r = &a->r[i];
		int score = 0;

		if (strcmp(r->metric, metric))
			continue;
		if (r->department) {
			if (!department || strcmp(r->department, department))
				continue;
			score += 2;
		}
		if (r->hospital_id >= 0) {
			if (r->hospital_id != hospital_id)
				continue;
			score += 1;
		}
		if (score > best_score) {
			best = r;
			best_score = score;
		}
	}
	return best;
}

static void make_key(struct ps_buf *k, const char *metric,
		     const char *department, int hospital_id)
{
	ps_buf_reset(k);
	ps_buf_adds(k, metric);
	ps_buf_addc(k, '\x1f');
	ps_buf_adds(k, department ? department : "");
	ps_buf_addc(k, '\x1f');
	ps_buf_add_i64(k, hospital_id);
}

/* Index of key in the sorted states, or where it would go (*found 0). */
static size_t find_state(const struct ps_alerts *a, const char *key,
			 int *found)
{
	size_t lo = 0, hi = a->ns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(a->s[mid].key, key);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static struct ps_alert_state *get_state(struct ps_alerts *a, const char *key)
{
	int found;
	size_t i = find_state(a, key, &found);

	if (found)
		return &a->s[i];
	if (a->ns == a->caps) {
		a->caps = a->caps ? a->caps * 2 : 16;
		a->s = ps_xrealloc(a->s, a->caps * sizeof(*a->s));
	}
	memmove(&a->s[i + 1], &a->s[i], (a->ns - i) * sizeof(*a->s));
	a->s[i].key = ps_xstrdup(key);
	a->s[i].level = PS_ALERT_OK;
	a->ns++;
	return &a->s[i];
}

int ps_alerts_eval(struct ps_alerts *a, const char *metric,
		   const char *department, int hospital_id, double value,
		   int64_t as_of, struct ps_buf *out)
{
	const struct ps_alert_rule *r;
	struct ps_buf k = PS_BUF_INIT;
	struct ps_alert_state *s;
	char ts[PS_TIME_MAX];
	int level, old;
	double thr;

	r = ps_alerts_match(a, metric, department, hospital_id);
	if (!r || !isfinite(value))
		return 0;
	make_key(&k, metric, department, hospital_id);
	s = get_state(a, k.data);
	ps_buf_release(&k);
	old = s->level;
	level = value >= r->critical ? PS_ALERT_CRITICAL :
		value >= r->warn ? PS_ALERT_WARN : PS_ALERT_OK;
	if (level < old && value >= r->clear_below)
		level = old;	/* hysteresis: hold until clear_below */
	if (level == old)
		return 0;
	s->level = level;
	thr = level == PS_ALERT_CRITICAL ? r->critical :
	      level == PS_ALERT_WARN ? r->warn : r->clear_below;
	ps_buf_adds(out, "{\"alert\":");
	ps_json_add_str(out, metric, strlen(metric));
	ps_buf_adds(out, level > old ? ",\"state\":\"firing\"" :
		    ",\"state\":\"resolved\"");
	ps_buf_adds(out, ",\"level\":\"");
	ps_buf_adds(out, ps_alert_level_name(level));
	ps_buf_adds(out, "\",\"previous\":\"");
	ps_buf_adds(out, ps_alert_level_name(old));
	ps_buf_adds(out, "\",\"department\":");
	if (department)
		ps_json_add_str(out, department, strlen(department));
	else
		ps_buf_adds(out, "null");
	ps_buf_adds(out, ",\"hospital_id\":");
	if (hospital_id >= 0)
		ps_buf_add_i64(out, hospital_id);
	else
		ps_buf_adds(out, "null");
	ps_buf_adds(out, ",\"value\":");
	ps_json_add_double(out, value);
	ps_buf_adds(out, ",\"threshold\":");
	ps_json_add_double(out, thr);
	ps_buf_adds(out, ",\"as_of\":\"");
	ps_buf_add(out, ts, ps_time_format(as_of, ts, -1));
	ps_buf_adds(out, "\"}\n");
	return 1;
}

void ps_alerts_save_state(const struct ps_alerts *a, struct ps_buf *b)
{
	size_t i;

	for (i = 0; i < a->ns; i++) {
		if (a->s[i].level == PS_ALERT_OK)
			continue;
		ps_buf_add_i64(b, a->s[i].level);
		ps_buf_addc(b, '\t');
		ps_buf_adds(b, a->s[i].key);
		ps_buf_addc(b, '\n');
	}
}

void ps_alerts_load_state(struct ps_alerts *a, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct ps_buf k = PS_BUF_INIT;

		if (!nl)
			break;
		if (nl - p > 2 && p[1] == '\t' && p[0] >= '0' && p[0] <= '2') {
			ps_buf_add(&k, p + 2, (size_t)(nl - p - 2));
			get_state(a, k.data)->level = p[0] - '0';
			ps_buf_release(&k);
		}
		p = nl + 1;
	}
}
