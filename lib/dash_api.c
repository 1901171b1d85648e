/*
 * dash_api.c - the dashboard's model as JSON (/api/kpis.json) and in the
 * Prometheus text exposition format 0.0.4 (/metrics).  See dash.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dash.h"
#include "json.h"
#include "pstime.h"
#include "banned.h"

static void jtime(struct ps_buf *b, int64_t us)
{
	char t[PS_TIME_MAX];
	size_t n;

	if (us == PS_DASH_NOW_WALL) {
		ps_buf_adds(b, "null");
		return;
	}
	n = ps_time_format(us, t, -1);
	ps_json_add_str(b, t, n);
}

static void jcount(struct ps_buf *b, const struct ps_dash_count *c, size_t n)
{
	size_t i;

	ps_buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, c[i].name, strlen(c[i].name));
		ps_buf_addc(b, ':');
		ps_buf_add_i64(b, c[i].n);
	}
	ps_buf_addc(b, '}');
}

void ps_dash_json(const struct ps_dash_model *m, struct ps_buf *b)
{
	size_t i, j, k;
	int first = 1;

	ps_buf_addc(b, '{');
	ps_json_key(b, &first, "stream");
	ps_json_add_str(b, m->stream, strlen(m->stream));
	ps_json_key(b, &first, "now");
	jtime(b, m->now);
	ps_json_key(b, &first, "as_of");
	jtime(b, m->as_of);
	ps_json_key(b, &first, "seq");
	ps_buf_add_i64(b, m->seq);
	ps_json_key(b, &first, "tables");
	ps_buf_addc(b, '{');
	for (i = 0; i < PS_DASH_NTABLES; i++) {
		const struct ps_dash_tab *t = &m->t[i];

		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, ps_dash_table_names[i],
				strlen(ps_dash_table_names[i]));
		if (!t->present) {
			ps_buf_adds(b, ":null");
			continue;
		}
		ps_buf_adds(b, ":[");
		for (j = 0; j < t->nrows; j++) {
			if (j)
				ps_buf_addc(b, ',');
			ps_buf_addc(b, '{');
			for (k = 0; k < t->ncols; k++) {
				if (k)
					ps_buf_addc(b, ',');
				ps_json_add_str(b, t->cols[k],
						strlen(t->cols[k]));
				ps_buf_addc(b, ':');
				ps_pq_value_json(&t->v[j * t->ncols + k], b);
			}
			ps_buf_addc(b, '}');
		}
		ps_buf_addc(b, ']');
	}
	ps_buf_addc(b, '}');
	ps_json_key(b, &first, "alerts");
	ps_buf_addc(b, '[');
	for (i = 0; i < m->nalerts; i++) {
		const struct ps_dash_alert *a = &m->alerts[i];
		int f = 1;

		if (i)
			ps_buf_addc(b, ',');
		ps_buf_addc(b, '{');
		ps_json_key(b, &f, "metric");
		ps_json_add_str(b, a->metric, strlen(a->metric));
		ps_json_key(b, &f, "department");
		ps_json_add_str(b, a->department, strlen(a->department));
		ps_json_key(b, &f, "hospital_id");
		if (a->hospital_id >= 0)
			ps_buf_add_i64(b, a->hospital_id);
		else
			ps_buf_adds(b, "null");
		ps_json_key(b, &f, "state");
		ps_buf_adds(b, a->firing ? "\"firing\"" : "\"resolved\"");
		ps_json_key(b, &f, "level");
		ps_buf_adds(b, a->level == PS_ALERT_CRITICAL ? "\"critical\"" :
			    "\"warn\"");
		ps_json_key(b, &f, "value");
		ps_json_add_double(b, a->value);
		ps_json_key(b, &f, "threshold");
		ps_json_add_double(b, a->threshold);
		ps_json_key(b, &f, "since");
		jtime(b, a->since);
		ps_buf_addc(b, '}');
	}
	ps_buf_addc(b, ']');
	ps_json_key(b, &first, "quality");
	ps_buf_adds(b, "{\"records_in\":");
	ps_buf_add_i64(b, m->records_in);
	ps_buf_adds(b, ",\"kept\":");
	ps_buf_add_i64(b, m->kept);
	ps_buf_adds(b, ",\"flagged\":");
	ps_buf_add_i64(b, m->flagged);
	ps_buf_adds(b, ",\"late\":");
	ps_buf_add_i64(b, m->late);
	ps_buf_adds(b, ",\"quarantined\":");
	ps_buf_add_i64(b, m->quarantined);
	ps_buf_adds(b, ",\"quarantined_by_rule\":");
	jcount(b, m->quarantine, m->nquarantine);
	ps_buf_addc(b, '}');
	ps_json_key(b, &first, "stages");
	ps_buf_addc(b, '[');
	for (i = 0; i < 3; i++) {
		const struct ps_dash_stage *s = &m->stages[i];

		ps_buf_addf(b, "%s{\"tool\":\"%s\",\"records\":%lld,"
			    "\"last_commit\":", i ? "," : "", s->tool,
			    s->records);
		jtime(b, s->present ? s->commit_time : PS_DASH_NOW_WALL);
		ps_buf_addc(b, '}');
	}
	ps_buf_adds(b, "]}\n");
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void label(struct ps_buf *b, const char *name, const char *v, int more)
{
	ps_buf_adds(b, name);
	ps_buf_adds(b, "=\"");
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			ps_buf_addc(b, '\\');
		if (*v == '\n') {
			ps_buf_adds(b, "\\n");
			continue;
		}
		ps_buf_addc(b, *v);
	}
	ps_buf_addc(b, '"');
	if (more)
		ps_buf_addc(b, ',');
}

static void family(struct ps_buf *b, const char *name, const char *type,
		   const char *help)
{
	ps_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void value(struct ps_buf *b, double v)
{
	if (isnan(v))
		ps_buf_adds(b, " NaN\n");
	else if (v == floor(v) && fabs(v) < 1e15)
		ps_buf_addf(b, " %.0f\n", v);
	else
		ps_buf_addf(b, " %.17g\n", v);
}

/* One gauge per row of a KPI table, labelled by department and hospital. */
static void per_department(struct ps_buf *b, const struct ps_dash_model *m,
			   const char *name, const char *col,
			   const char *help)
{
	const struct ps_dash_tab *t = &m->t[PS_DASH_OCCUPANCY];
	int cd = ps_dash_col(t, "department"), ch = ps_dash_col(t, "hospital_id"),
	    cv = ps_dash_col(t, col);
	size_t i;
	char h[24];

	family(b, name, "gauge", help);
	if (cd < 0 || ch < 0 || cv < 0)
		return;
	for (i = 0; i < t->nrows; i++) {
		ps_buf_adds(b, name);
		ps_buf_addc(b, '{');
		label(b, "department", ps_dash_str(t, i, cd), 1);
		snprintf(h, sizeof(h), "%.0f", ps_dash_num(t, i, ch));
		label(b, "hospital_id", h, 0);
		ps_buf_addc(b, '}');
		value(b, ps_dash_num(t, i, cv));
	}
}

void ps_dash_metrics(const struct ps_dash_model *m, struct ps_buf *b)
{
	size_t i;
	long long firing[3] = { 0, 0, 0 };

	family(b, "pulsestream_stage_records", "gauge",
	       "Records committed by a stage (positions + 1, summed over "
	       "sources).");
	for (i = 0; i < 3; i++) {
		ps_buf_adds(b, "pulsestream_stage_records{");
		label(b, "stage", m->stages[i].tool, 0);
		ps_buf_addc(b, '}');
		value(b, (double)m->stages[i].records);
	}
	family(b, "pulsestream_stage_last_commit_timestamp_seconds", "gauge",
	       "When a stage last committed (its checkpoint's mtime).");
	for (i = 0; i < 3; i++) {
		if (!m->stages[i].present)
			continue;
		ps_buf_adds(b, "pulsestream_stage_last_commit_timestamp_seconds{");
		label(b, "stage", m->stages[i].tool, 0);
		ps_buf_addc(b, '}');
		value(b, (double)m->stages[i].commit_time / 1e6);
	}
	family(b, "pulsestream_stage_lag_records", "gauge",
	       "Records the previous stage committed that this one has not.");
	for (i = 1; i < 3; i++) {
		ps_buf_adds(b, "pulsestream_stage_lag_records{");
		label(b, "stage", m->stages[i].tool, 0);
		ps_buf_addc(b, '}');
		value(b, (double)(m->stages[i - 1].records -
				  m->stages[i].records));
	}
	family(b, "pulsestream_stage_lag_seconds", "gauge",
	       "Age of a stage's last commit at the time of the update.");
	for (i = 0; i < 3; i++) {
		if (!m->stages[i].present)
			continue;
		ps_buf_adds(b, "pulsestream_stage_lag_seconds{");
		label(b, "stage", m->stages[i].tool, 0);
		ps_buf_addc(b, '}');
		value(b, (double)(m->now - m->stages[i].commit_time) / 1e6);
	}
	family(b, "pulsestream_silver_records", "gauge",
	       "Records of silver by outcome (in, kept, flagged, late, "
	       "quarantined).");
	{
		static const char *const k[5] = { "in", "kept", "flagged",
						   "late", "quarantined" };
		const long long v[5] = { m->records_in, m->kept, m->flagged,
					 m->late, m->quarantined };

		for (i = 0; i < 5; i++) {
			ps_buf_adds(b, "pulsestream_silver_records{");
			label(b, "outcome", k[i], 0);
			ps_buf_addc(b, '}');
			value(b, (double)v[i]);
		}
	}
	family(b, "pulsestream_quarantined_records", "gauge",
	       "Quarantined records by rule broken.");
	for (i = 0; i < m->nquarantine; i++) {
		ps_buf_adds(b, "pulsestream_quarantined_records{");
		label(b, "rule", m->quarantine[i].name, 0);
		ps_buf_addc(b, '}');
		value(b, (double)m->quarantine[i].n);
	}
	for (i = 0; i < m->nalerts; i++)
		if (m->alerts[i].firing && m->alerts[i].level > 0 &&
		    m->alerts[i].level < 3)
			firing[m->alerts[i].level]++;
	family(b, "pulsestream_alerts_firing", "gauge",
	       "Alerts firing by severity.");
	ps_buf_adds(b, "pulsestream_alerts_firing{severity=\"warn\"}");
	value(b, (double)firing[PS_ALERT_WARN]);
	ps_buf_adds(b, "pulsestream_alerts_firing{severity=\"critical\"}");
	value(b, (double)firing[PS_ALERT_CRITICAL]);
	per_department(b, m, "pulsestream_census", "census",
		       "Patients currently admitted (kpi_occupancy).");
	per_department(b, m, "pulsestream_beds", "beds",
		       "Staffed beds (kpi_occupancy).");
	per_department(b, m, "pulsestream_occupancy_percent", "occupancy_pct",
		       "Census / staffed beds x 100 (kpi_occupancy).");
	family(b, "pulsestream_gold_as_of_timestamp_seconds", "gauge",
	       "The as_of of the newest gold KPI rows.");
	if (m->as_of != PS_DASH_NOW_WALL) {
		ps_buf_adds(b, "pulsestream_gold_as_of_timestamp_seconds");
		value(b, (double)m->as_of / 1e6);
	}
	family(b, "pulsestream_dashboard_updates", "gauge",
	       "Dashboard updates since ps-dash started (the SSE id).");
	ps_buf_adds(b, "pulsestream_dashboard_updates");
	value(b, (double)m->seq);
}
