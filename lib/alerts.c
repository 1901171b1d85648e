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
	"occupancy_pct", "occupancy_pct_2h", "free_beds", "free_beds_2h",
	"inflow_per_hour", "census_stale", "wait_p90_minutes",
	"ed_within_4h_pct", "boarding_now_over_4h", "boarding_p90_minutes",
	"lwbs_pct", "ecat_pct",
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

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
	for (i = 0; i < NMETRICS; i++)
		if (!strcmp(metrics[i], ms))
			break;
	if (i == NMETRICS) {
		snprintf(why, whylen, "unknown metric \"%.40s\" (see "
			 "ps-gold(1), ALERTS)", ms);
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
	v = ps_json_get(o, "off");
	if (v && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
		snprintf(why, whylen, "\"off\" must be true or false");
		goto out;
	}
	if (v && YAJL_IS_TRUE(v)) {
		/* matches like any rule, and silences its series */
		r->off = 1;
		r->min_beds = r->max_beds = -1;
		rc = 0;
		goto out;
	}
	v = ps_json_get(o, "below");
	if (v && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
		snprintf(why, whylen, "\"below\" must be true or false");
		goto out;
	}
	r->below = v && YAJL_IS_TRUE(v);
	if (get_num(o, "warn", 1, &r->warn, why, whylen) < 0)
		goto out;
	r->critical = r->below ? -HUGE_VAL : HUGE_VAL;
	if (get_num(o, "critical", 0, &r->critical, why, whylen) < 0)
		goto out;
	r->clear = r->warn;
	if (get_num(o, r->below ? "clear_above" : "clear_below", 0, &r->clear,
		    why, whylen) < 0)
		goto out;
	if (ps_json_get(o, r->below ? "clear_below" : "clear_above")) {
		snprintf(why, whylen, "\"%s\" is for %s rules", r->below ?
			 "clear_below" : "clear_above", r->below ? "above" :
			 "below");
		goto out;
	}
	if (get_num(o, "for_minutes", 0, &r->for_minutes, why, whylen) < 0)
		goto out;
	r->min_beds = r->max_beds = -1;
	h = -1;
	if ((k = get_num(o, "min_beds", 0, &h, why, whylen)) < 0)
		goto out;
	if (!k)
		r->min_beds = (int)h;
	h = -1;
	if ((k = get_num(o, "max_beds", 0, &h, why, whylen)) < 0)
		goto out;
	if (!k)
		r->max_beds = (int)h;
	if (r->for_minutes < 0 || (r->below ? r->critical > r->warn :
				    r->critical < r->warn)) {
		snprintf(why, whylen, r->for_minutes < 0 ?
			 "\"for_minutes\" must be >= 0" : r->below ?
			 "\"critical\" must be <= \"warn\" (below)" :
			 "\"critical\" must be >= \"warn\"");
		goto out;
	}
	if (r->below ? r->clear < r->warn : r->clear > r->warn) {
		snprintf(why, whylen, r->below ?
			 "\"clear_above\" must be >= \"warn\"" :
			 "\"clear_below\" must be <= \"warn\"");
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
					    int hospital_id, int beds)
{
	const struct ps_alert_rule *best = NULL;
	int best_score = -1;
	size_t i;

	for (i = 0; i < a->nr; i++) {
		const struct ps_alert_rule *r = &a->r[i];
		int score = 0;

		if (strcmp(r->metric, metric))
			continue;
		if ((r->min_beds >= 0 && (beds < 0 || beds < r->min_beds)) ||
		    (r->max_beds >= 0 && (beds < 0 || beds > r->max_beds)))
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
	a->s[i].since = INT64_MIN;
	a->s[i].round = 0;
	a->s[i].value = NAN;
	a->ns++;
	return &a->s[i];
}

void ps_alerts_begin(struct ps_alerts *a)
{
	a->round++;
}

/* The alert line of a transition; value NaN: not reported. */
static void alert_line(struct ps_buf *out, const char *key, int level,
		       int old, double value, double thr, int64_t as_of)
{
	const char *dep = strchr(key, '\x1f'), *hosp;
	char ts[PS_TIME_MAX];

	hosp = dep ? strchr(dep + 1, '\x1f') : NULL;
	ps_buf_adds(out, "{\"alert\":");
	ps_json_add_str(out, key, dep ? (size_t)(dep - key) : strlen(key));
	ps_buf_adds(out, level > old ? ",\"state\":\"firing\"" :
		    ",\"state\":\"resolved\"");
	ps_buf_adds(out, ",\"level\":\"");
	ps_buf_adds(out, ps_alert_level_name(level));
	ps_buf_adds(out, "\",\"previous\":\"");
	ps_buf_adds(out, ps_alert_level_name(old));
	ps_buf_adds(out, "\",\"department\":");
	if (dep && hosp && hosp > dep + 1)
		ps_json_add_str(out, dep + 1, (size_t)(hosp - dep - 1));
	else
		ps_buf_adds(out, "null");
	ps_buf_adds(out, ",\"hospital_id\":");
	if (hosp && hosp[1] && hosp[1] != '-')
		ps_buf_adds(out, hosp + 1);
	else
		ps_buf_adds(out, "null");
	ps_buf_adds(out, ",\"value\":");
	if (isfinite(value))
		ps_json_add_double(out, value);
	else
		ps_buf_adds(out, "null");
	if (isfinite(thr)) {
		ps_buf_adds(out, ",\"threshold\":");
		ps_json_add_double(out, thr);
	} else {
		ps_buf_adds(out, ",\"reason\":\"not reported\"");
	}
	ps_buf_adds(out, ",\"as_of\":\"");
	ps_buf_add(out, ts, ps_time_format(as_of, ts, -1));
	ps_buf_adds(out, "\"}\n");
}

int ps_alerts_eval(struct ps_alerts *a, const char *metric,
		   const char *department, int hospital_id, int beds,
		   double value, int64_t as_of, struct ps_buf *out)
{
	const struct ps_alert_rule *r;
	struct ps_buf k = PS_BUF_INIT;
	struct ps_alert_state *s;
	int level, old, cleared;
	double thr;

	r = ps_alerts_match(a, metric, department, hospital_id, beds);
	if (!r || r->off || !isfinite(value))
		return 0;
	make_key(&k, metric, department, hospital_id);
	s = get_state(a, k.data);
	s->round = a->round;
	s->value = value;
	old = s->level;
	if (r->below) {
		level = value <= r->critical ? PS_ALERT_CRITICAL :
			value <= r->warn ? PS_ALERT_WARN : PS_ALERT_OK;
		cleared = value > r->clear;
	} else {
		level = value >= r->critical ? PS_ALERT_CRITICAL :
			value >= r->warn ? PS_ALERT_WARN : PS_ALERT_OK;
		cleared = value < r->clear;
	}
	if (level == PS_ALERT_OK)
		s->since = INT64_MIN;
	else if (s->since == INT64_MIN)
		s->since = as_of;
	if (level < old && !cleared)
		level = old;	/* hysteresis: hold until cleared */
	if (level > old && r->for_minutes > 0 &&
	    (double)(as_of - s->since) < r->for_minutes * 60e6)
		level = old;	/* not for long enough yet */
	if (level == old) {
		ps_buf_release(&k);
		return 0;
	}
	s->level = level;
	thr = level == PS_ALERT_CRITICAL ? r->critical :
	      level == PS_ALERT_WARN ? r->warn : r->clear;
	alert_line(out, k.data, level, old, value, thr, as_of);
	ps_buf_release(&k);
	return 1;
}

int ps_alerts_sweep(struct ps_alerts *a, int64_t as_of, struct ps_buf *out)
{
	size_t i;
	int n = 0;

	for (i = 0; i < a->ns; i++) {
		struct ps_alert_state *s = &a->s[i];

		if (s->round == a->round)
			continue;
		s->since = INT64_MIN;
		if (s->level == PS_ALERT_OK)
			continue;
		alert_line(out, s->key, PS_ALERT_OK, s->level, NAN, NAN,
			   as_of);
		s->level = PS_ALERT_OK;
		n++;
	}
	return n;
}

void ps_alerts_save_state(const struct ps_alerts *a, struct ps_buf *b)
{
	size_t i;

	/* "LEVEL\tKEY", then "P\tSINCE\tKEY" for a pending breach */
	for (i = 0; i < a->ns; i++) {
		if (a->s[i].level != PS_ALERT_OK) {
			ps_buf_add_i64(b, a->s[i].level);
			ps_buf_addc(b, '\t');
			ps_buf_adds(b, a->s[i].key);
			ps_buf_addc(b, '\n');
		}
		if (a->s[i].since != INT64_MIN) {
			ps_buf_adds(b, "P\t");
			ps_buf_add_i64(b, a->s[i].since);
			ps_buf_addc(b, '\t');
			ps_buf_adds(b, a->s[i].key);
			ps_buf_addc(b, '\n');
		}
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
		} else if (nl - p > 2 && p[0] == 'P' && p[1] == '\t') {
			const char *t = memchr(p + 2, '\t',
					       (size_t)(nl - p - 2));
			long long since = 0;
			const char *q;
			int neg = p[2] == '-';

			for (q = p + 2 + neg; t && q < t && *q >= '0' &&
			     *q <= '9'; q++)
				since = since * 10 + (*q - '0');
			if (t && q == t && t + 1 < nl) {
				ps_buf_add(&k, t + 1, (size_t)(nl - t - 1));
				get_state(a, k.data)->since = neg ? -since :
							      since;
				ps_buf_release(&k);
			}
		}
		p = nl + 1;
	}
}
