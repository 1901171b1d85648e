/*
 * dash_html.c - the dashboard page: one self-contained HTML file with
 * inline CSS and SVG charts, readable without JavaScript (see dash.h).
 *
 * Every number taken from a gold table carries data-k="TABLE|KEY|COLUMN"
 * so that a test can compare the page with the table; colours come from
 * the Okabe-Ito palette (safe for colour-blind readers) and levels are
 * always written out as words too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dash.h"
#include "pstime.h"
#include "banned.h"

#define HOUR_US (3600LL * 1000000)

/* Okabe-Ito */
#define C_BLUE "#0072B2"
#define C_ORANGE "#E69F00"
#define C_SKY "#56B4E9"
#define C_GREEN "#009E73"
#define C_VERMILLION "#D55E00"
#define C_PURPLE "#CC79A7"
#define C_YELLOW "#F0E442"
static const char *const series_colour[] = { C_BLUE, C_ORANGE, C_GREEN,
					      C_PURPLE, C_SKY, C_VERMILLION };

void ps_dash_html_escape(struct ps_buf *b, const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		const char *r;

		switch (s[i]) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '"': r = "&quot;"; break;
		case '\'': r = "&#39;"; break;
		default: continue;
		}
		ps_buf_add(b, s + start, i - start);
		ps_buf_adds(b, r);
		start = i + 1;
	}
	ps_buf_add(b, s + start, n - start);
}

static void esc(struct ps_buf *b, const char *s)
{
	ps_dash_html_escape(b, s, strlen(s));
}

/* A number as text: NAN is "–" (no data); dec decimals. */
static void num(struct ps_buf *b, double v, int dec)
{
	if (isnan(v))
		ps_buf_adds(b, "\xe2\x80\x93");
	else
		ps_buf_addf(b, "%.*f", dec, v);
}

static void ts(struct ps_buf *b, int64_t us)
{
	char t[PS_TIME_MAX];

	if (us == PS_DASH_NOW_WALL) {
		ps_buf_adds(b, "unknown");
		return;
	}
	ps_time_format(us - us % 1000000, t, 0);
	ps_buf_adds(b, t);
}

/* <td data-k="key">value</td>, key parts escaped. */
static void cell(struct ps_buf *b, const char *tag, const char *table,
		 const char *key, const char *col, double v, int dec)
{
	ps_buf_addf(b, "<%s class=\"n\" data-k=\"", tag);
	esc(b, table);
	ps_buf_addc(b, '|');
	esc(b, key);
	ps_buf_addc(b, '|');
	esc(b, col);
	ps_buf_adds(b, "\">");
	num(b, v, dec);
	ps_buf_addf(b, "</%s>", tag);
}

static const char *level_name(int level)
{
	return level == PS_ALERT_CRITICAL ? "critical" :
	       level == PS_ALERT_WARN ? "warn" : "ok";
}

/* ------------------------------------------------------------------ */
/* SVG charts                                                          */
/* ------------------------------------------------------------------ */

static int chart_id;

/* A round upper bound for an axis. */
static double nice_max(double v)
{
	double p, f;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	f = v / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static void svg_open(struct ps_buf *b, int w, int h, const char *title,
		     const char *desc)
{
	int id = ++chart_id;

	ps_buf_addf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
		    "aria-labelledby=\"c%dt c%dd\"><title id=\"c%dt\">", w, h,
		    id, id, id);
	esc(b, title);
	ps_buf_addf(b, "</title><desc id=\"c%dd\">", id);
	esc(b, desc);
	ps_buf_adds(b, "</desc>");
}

static void legend(struct ps_buf *b, const char *const *names, size_t n,
		   int x, int y)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ps_buf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
			    "fill=\"%s\"/><text x=\"%d\" y=\"%d\">", x, y - 9,
			    series_colour[i % 6], x + 14, y);
		esc(b, names[i]);
		ps_buf_adds(b, "</text>");
		x += 24 + 7 * (int)strlen(names[i]);
	}
}

/*
 * A line chart of n points per series (x labels every step points,
 * labels[i] may be NULL).
 */
static void svg_lines(struct ps_buf *b, const char *title, const char *unit,
		      const char *const *names, const double *const *ys,
		      size_t nseries, size_t n, const char *const *labels)
{
	const int w = 600, h = 200, l = 48, r = 10, t = 22, bt = 24;
	double max = 0, ymax;
	size_t s, i;
	struct ps_buf desc = PS_BUF_INIT;

	for (s = 0; s < nseries; s++)
		for (i = 0; i < n; i++)
			if (ys[s][i] > max)
				max = ys[s][i];
	ymax = nice_max(max);
	for (s = 0; s < nseries; s++) {
		double last = n ? ys[s][n - 1] : NAN, sum = 0;

		for (i = 0; i < n; i++)
			sum += ys[s][i];
		ps_buf_addf(&desc, "%s%s: last %.0f %s, peak %.0f, total %.0f "
			    "over %zu points.", s ? " " : "", names[s], last,
			    unit, max, sum, n);
	}
	svg_open(b, w, h, title, desc.data ? desc.data : "");
	ps_buf_release(&desc);
	/* axes and grid */
	for (i = 0; i <= 2; i++) {
		int y = t + (int)((h - t - bt) * (2 - (int)i) / 2);

		ps_buf_addf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%d\" "
			    "y2=\"%d\"/><text class=\"ax\" x=\"%d\" y=\"%d\" "
			    "text-anchor=\"end\">%.0f</text>", l, w - r, y, y,
			    l - 4, y + 4, ymax * (double)i / 2);
	}
	for (i = 0; i < n; i++)
		if (labels[i])
			ps_buf_addf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%d\" "
				    "text-anchor=\"middle\">%s</text>",
				    l + (w - l - r) * (n > 1 ? (double)i /
						       (double)(n - 1) : 0.5),
				    h - 6, labels[i]);
	for (s = 0; s < nseries; s++) {
		ps_buf_addf(b, "<polyline fill=\"none\" stroke=\"%s\" "
			    "stroke-width=\"2\" points=\"", series_colour[s % 6]);
		for (i = 0; i < n; i++)
			ps_buf_addf(b, "%s%.1f,%.1f", i ? " " : "",
				    l + (w - l - r) * (n > 1 ? (double)i /
						       (double)(n - 1) : 0.5),
				    t + (h - t - bt) * (1 - ys[s][i] / ymax));
		ps_buf_adds(b, "\"/>");
	}
	legend(b, names, nseries, l, 14);
	ps_buf_addf(b, "<text class=\"ax\" x=\"%d\" y=\"14\" "
		    "text-anchor=\"end\">", w - r);
	esc(b, unit);
	ps_buf_adds(b, "</text></svg>\n");
}

/*
 * Horizontal grouped bars: ncat categories, nseries bars each, values
 * v[cat * nseries + s] (NAN: none).
 */
static void svg_hbars(struct ps_buf *b, const char *title, const char *unit,
		      const char *const *cats, size_t ncat,
		      const char *const *names, size_t nseries,
		      const double *v, int dec)
{
	const int w = 600, l = 110, r = 60, bar = 12, gap = 8, t = 24;
	int h = t + (int)ncat * ((int)nseries * bar + gap) + 8;
	double max = 0;
	size_t c, s;
	struct ps_buf desc = PS_BUF_INIT;

	for (c = 0; c < ncat * nseries; c++)
		if (v[c] > max)
			max = v[c];
	for (c = 0; c < ncat; c++) {
		ps_buf_addf(&desc, "%s%s:", c ? "; " : "", cats[c]);
		for (s = 0; s < nseries; s++)
			ps_buf_addf(&desc, " %s %.*f", names[s], dec,
				    isnan(v[c * nseries + s]) ? 0 :
				    v[c * nseries + s]);
	}
	if (ncat)
		ps_buf_addf(&desc, " (%s).", unit);
	svg_open(b, w, h, title, desc.data ? desc.data : "no data");
	ps_buf_release(&desc);
	if (nseries > 1)
		legend(b, names, nseries, l, 14);
	ps_buf_addf(b, "<text class=\"ax\" x=\"%d\" y=\"14\" "
		    "text-anchor=\"end\">", w - 4);
	esc(b, unit);
	ps_buf_adds(b, "</text>");
	for (c = 0; c < ncat; c++) {
		int y0 = t + (int)c * ((int)nseries * bar + gap);

		ps_buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
			    l - 6, y0 + (int)nseries * bar / 2 + 4);
		esc(b, cats[c]);
		ps_buf_adds(b, "</text>");
		for (s = 0; s < nseries; s++) {
			double x = v[c * nseries + s];
			double bw = isnan(x) || max <= 0 ? 0 :
				    (w - l - r) * x / max;

			ps_buf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
				    "height=\"%d\" fill=\"%s\"/><text "
				    "class=\"ax\" x=\"%.1f\" y=\"%d\">", l,
				    y0 + (int)s * bar, bw, bar - 2,
				    series_colour[s % 6], l + bw + 4,
				    y0 + (int)s * bar + 9);
			num(b, x, dec);
			ps_buf_adds(b, "</text>");
		}
	}
	ps_buf_adds(b, "</svg>\n");
}

/* An age pyramid: bands (youngest first), left series 0, right series 1. */
static void svg_pyramid(struct ps_buf *b, const char *const *bands,
			size_t nb, const char *left, const char *right,
			const double *lv, const double *rv)
{
	const int w = 600, mid = 300, bar = 14, t = 24;
	int h = t + (int)nb * (bar + 3) + 8;
	double max = 0;
	size_t i;
	struct ps_buf desc = PS_BUF_INIT;

	for (i = 0; i < nb; i++) {
		if (lv[i] > max)
			max = lv[i];
		if (rv[i] > max)
			max = rv[i];
		ps_buf_addf(&desc, "%s%s: %s %.0f, %s %.0f", i ? "; " : "",
			    bands[i], left, lv[i], right, rv[i]);
	}
	svg_open(b, w, h, "Currently admitted by age band and gender",
		 desc.data ? desc.data : "no data");
	ps_buf_release(&desc);
	{
		const char *names[2] = { left, right };

		legend(b, names, 2, 10, 14);
	}
	for (i = 0; i < nb; i++) {
		size_t k = nb - 1 - i;	/* oldest at the top */
		int y = t + (int)i * (bar + 3);
		double wl = max > 0 ? (mid - 50) * lv[k] / max : 0,
		       wr = max > 0 ? (mid - 50) * rv[k] / max : 0;

		ps_buf_addf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
			    "height=\"%d\" fill=\"%s\"/><rect x=\"%d\" y=\"%d\" "
			    "width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
			    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
			    mid - 22 - wl, y, wl, bar, C_BLUE, mid + 22, y, wr,
			    bar, C_ORANGE, mid, y + 11);
		esc(b, bands[k]);
		ps_buf_addf(b, "</text><text class=\"ax\" x=\"%.1f\" y=\"%d\" "
			    "text-anchor=\"end\">%.0f</text><text class=\"ax\" "
			    "x=\"%.1f\" y=\"%d\">%.0f</text>", mid - 26 - wl,
			    y + 11, lv[k], mid + 26 + wr, y + 11, rv[k]);
	}
	ps_buf_adds(b, "</svg>\n");
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

static void no_data(struct ps_buf *b, const char *what)
{
	ps_buf_adds(b, "<p class=\"nodata\">No data: ");
	esc(b, what);
	ps_buf_adds(b, "</p>");
}

/* The highest firing level of a department at a hospital (any metric). */
static int row_level(const struct ps_dash_model *m, const char *dept,
		     int hosp, const char *metric)
{
	size_t i;
	int lv = PS_ALERT_OK;

	for (i = 0; i < m->nalerts; i++) {
		const struct ps_dash_alert *a = &m->alerts[i];

		if (a->firing && a->hospital_id == hosp &&
		    !strcmp(a->department, dept) &&
		    (!metric || !strcmp(a->metric, metric)) && a->level > lv)
			lv = a->level;
	}
	return lv;
}

static void tiles(struct ps_buf *b, const struct ps_dash_model *m)
{
	const struct ps_dash_tab *h = &m->t[PS_DASH_OCC_HOSPITAL],
				 *o = &m->t[PS_DASH_OCCUPANCY];
	double census = NAN, beds = NAN, ed = NAN;
	int cc = ps_dash_col(h, "census"), cb = ps_dash_col(h, "beds");
	int od = ps_dash_col(o, "department"),
	    oi = ps_dash_col(o, "inflow_last_hour"),
	    ow = ps_dash_col(o, "waiting");
	long long crit = 0, warn = 0;
	size_t i;

	if (h->present && cc >= 0 && cb >= 0) {
		census = beds = 0;
		for (i = 0; i < h->nrows; i++) {
			double c = ps_dash_num(h, i, cc), d = ps_dash_num(h, i, cb);

			census += isnan(c) ? 0 : c;
			beds += isnan(d) ? 0 : d;
		}
	}
	if (o->present && od >= 0 && oi >= 0) {
		ed = 0;
		for (i = 0; i < o->nrows; i++)
			if (!strcmp(ps_dash_str(o, i, od), "Emergency")) {
				double x = ps_dash_num(o, i, oi);

				ed += isnan(x) ? 0 : x;
			}
	}
	for (i = 0; i < m->nalerts; i++)
		if (m->alerts[i].firing) {
			crit += m->alerts[i].level == PS_ALERT_CRITICAL;
			warn += m->alerts[i].level == PS_ALERT_WARN;
		}
	ps_buf_adds(b, "<section id=\"tiles\" aria-label=\"Network summary\">");
	ps_buf_adds(b, "<div class=\"tile\"><h3>Census / staffed beds</h3>"
		    "<p class=\"big\">");
	cell(b, "span", "tile", "network", "census", census, 0);
	ps_buf_adds(b, " / ");
	cell(b, "span", "tile", "network", "beds", beds, 0);
	ps_buf_adds(b, "</p><p>occupancy ");
	cell(b, "span", "tile", "network", "occupancy_pct",
	     beds > 0 ? 100.0 * census / beds : NAN, 1);
	ps_buf_adds(b, " %</p></div>");

	ps_buf_adds(b, "<div class=\"tile\"><h3>Waiting for a bed</h3>"
		    "<p class=\"big\">");
	if (ow >= 0) {		/* gold counts them: kpi_occupancy.waiting */
		double w = 0;

		for (i = 0; i < o->nrows; i++) {
			double x = ps_dash_num(o, i, ow);

			w += isnan(x) ? 0 : x;
		}
		cell(b, "span", "tile", "network", "waiting_for_bed", w, 0);
	} else {
		cell(b, "span", "tile", "network", "waiting_for_bed",
		     m->has_fact ? (double)m->waiting_for_bed : NAN, 0);
	}
	ps_buf_adds(b, "</p><p>patients arrived, not yet admitted</p></div>");

	ps_buf_adds(b, "<div class=\"tile\"><h3>ED arrivals, last hour</h3>"
		    "<p class=\"big\">");
	cell(b, "span", "tile", "network", "ed_arrivals_last_hour", ed, 0);
	ps_buf_adds(b, "</p><p>admissions to Emergency</p></div>");

	ps_buf_addf(b, "<div class=\"tile%s\"><h3>Alerts firing</h3>"
		    "<p class=\"big\">", crit ? " critical" : warn ? " warn" :
		    "");
	if (m->alerts_known) {
		cell(b, "span", "tile", "network", "alerts_critical",
		     (double)crit, 0);
		ps_buf_adds(b, " critical, ");
		cell(b, "span", "tile", "network", "alerts_warn", (double)warn,
		     0);
		ps_buf_adds(b, " warn</p><p>thresholds of ps-gold</p></div>");
	} else {
		ps_buf_adds(b, "\xe2\x80\x93</p><p>no alert state in the lake"
			    "</p></div>");
	}

	ps_buf_adds(b, "<div class=\"tile\"><h3>Data freshness</h3>"
		    "<p class=\"big\">");
	if (m->as_of != PS_DASH_NOW_WALL) {
		double age = (double)(m->now - m->as_of) / 1e6;

		if (age < 0)
			age = 0;
		if (age < 120)
			ps_buf_addf(b, "%.0f s", age);
		else if (age < 7200)
			ps_buf_addf(b, "%.0f min", age / 60);
		else
			ps_buf_addf(b, "%.1f h", age / 3600);
		ps_buf_adds(b, "</p><p>last gold commit ");
		ts(b, m->as_of);
		ps_buf_adds(b, "</p></div>");
	} else {
		ps_buf_adds(b, "\xe2\x80\x93</p><p>no gold commit</p></div>");
	}
	ps_buf_adds(b, "</section>\n");
}

struct grid_row {
	size_t i;		/* row of kpi_occupancy */
	int level;
	double occ;
	int wrow;		/* row of kpi_waiting, or -1 */
};

static int cmp_grid(const void *a, const void *b)
{
	const struct grid_row *x = a, *y = b;

	if (x->level != y->level)
		return y->level - x->level;
	if (x->occ != y->occ)
		return isnan(x->occ) ? 1 : isnan(y->occ) ? -1 :
		       x->occ < y->occ ? 1 : -1;
	return (x->i > y->i) - (x->i < y->i);
}

static void grid(struct ps_buf *b, const struct ps_dash_model *m)
{
	const struct ps_dash_tab *o = &m->t[PS_DASH_OCCUPANCY],
				 *w = &m->t[PS_DASH_WAITING];
	int od = ps_dash_col(o, "department"), oh = ps_dash_col(o, "hospital_id");
	int wd = ps_dash_col(w, "department"), wh = ps_dash_col(w, "hospital_id");
	static const struct {
		const char *col, *head;
		int dec, wait;
	} cols[] = {
		{ "census", "Census", 0, 0 },
		{ "beds", "Beds", 0, 0 },
		{ "occupancy_pct", "Occupancy %", 1, 0 },
		{ "inflow_last_hour", "In, last h", 0, 0 },
		{ "discharges_last_hour", "Out, last h", 0, 0 },
		{ "waits", "Waits (n)", 0, 1 },
		{ "wait_median_minutes", "Wait median, min", 0, 1 },
		{ "wait_p90_minutes", "Wait p90, min", 0, 1 },
	};
	struct grid_row *rows;
	size_t i, j, k;

	ps_buf_adds(b, "<section id=\"grid\"><h2>Occupancy by department and "
		    "hospital</h2>");
	if (!o->present || od < 0 || oh < 0) {
		no_data(b, "kpi_occupancy");
		ps_buf_adds(b, "</section>\n");
		return;
	}
	ps_buf_adds(b, "<p class=\"note\">Bottlenecks first: rows with a "
		    "critical alert, then warn, then by occupancy.  Waiting is "
		    "over ps-gold's window.</p><table class=\"grid\"><thead><tr>"
		    "<th scope=\"col\">Department</th><th scope=\"col\">"
		    "Hospital</th><th scope=\"col\">Level</th>");
	for (k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
		ps_buf_addf(b, "<th scope=\"col\">%s</th>", cols[k].head);
	ps_buf_adds(b, "</tr>\n</thead><tbody>");
	rows = ps_xcalloc(o->nrows + 1, sizeof(*rows));
	for (i = 0; i < o->nrows; i++) {
		const char *d = ps_dash_str(o, i, od);
		int h = (int)ps_dash_num(o, i, oh);

		rows[i].i = i;
		rows[i].level = row_level(m, d, h, NULL);
		rows[i].occ = ps_dash_num(o, i, ps_dash_col(o, "occupancy_pct"));
		rows[i].wrow = -1;
		for (j = 0; wd >= 0 && wh >= 0 && j < w->nrows; j++)
			if (ps_dash_num(w, j, wh) == h &&
			    !strcmp(ps_dash_str(w, j, wd), d)) {
				rows[i].wrow = (int)j;
				break;
			}
	}
	qsort(rows, o->nrows, sizeof(*rows), cmp_grid);
	for (i = 0; i < o->nrows; i++) {
		const char *d = ps_dash_str(o, rows[i].i, od);
		int h = (int)ps_dash_num(o, rows[i].i, oh);
		char key[256];
		int occ_level = row_level(m, d, h, "occupancy_pct");

		snprintf(key, sizeof(key), "%s|%d", d, h);
		ps_buf_addf(b, "<tr class=\"%s\"><th scope=\"row\">",
			    level_name(rows[i].level));
		esc(b, d);
		ps_buf_addf(b, "</th><td>%d</td><td class=\"lv\">%s</td>", h,
			    level_name(rows[i].level));
		for (k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
			const struct ps_dash_tab *t = cols[k].wait ? w : o;
			int r = cols[k].wait ? rows[i].wrow : (int)rows[i].i;
			double v = r < 0 ? NAN :
				   ps_dash_num(t, (size_t)r,
					       ps_dash_col(t, cols[k].col));

			if (!strcmp(cols[k].col, "occupancy_pct")) {
				double f = isnan(v) ? 0 : v > 100 ? 100 : v;

				ps_buf_addf(b, "<td class=\"occ %s\"><span class="
					    "\"bar\" style=\"width:%.0f%%\">"
					    "</span>",
					    level_name(occ_level), f);
				cell(b, "span", t->name, key, cols[k].col, v,
				     cols[k].dec);
				ps_buf_adds(b, "</td>");
				continue;
			}
			if (r < 0)	/* no kpi_waiting row (too few waits) */
				ps_buf_adds(b, "<td class=\"n\">\xe2\x80\x93</td>");
			else
				cell(b, "td", t->name, key, cols[k].col, v,
				     cols[k].dec);
		}
		ps_buf_adds(b, "</tr>\n");
	}
	free(rows);
	ps_buf_adds(b, "</tbody></table></section>\n");
}

static const char *metric_unit(const char *metric)
{
	return !strcmp(metric, "occupancy_pct") ? "%" :
	       !strcmp(metric, "wait_p90_minutes") ? "min" :
	       !strcmp(metric, "inflow_per_hour") ? "/h" : "";
}

static void alert_rows(struct ps_buf *b, const struct ps_dash_model *m,
		       int firing)
{
	size_t i, n = 0;

	for (i = 0; i < m->nalerts; i++) {
		const struct ps_dash_alert *a = &m->alerts[i];
		const char *u = metric_unit(a->metric);

		if (a->firing != firing)
			continue;
		if (!firing && (a->since == PS_DASH_NOW_WALL ||
				a->since < m->now - 24 * HOUR_US))
			continue;	/* resolved: the last 24 h only */
		if (!n++)
			ps_buf_addf(b, "<table class=\"alerts\"><thead><tr><th "
				    "scope=\"col\">Severity</th><th scope=\"col\">"
				    "Metric</th><th scope=\"col\">Department"
				    "</th><th scope=\"col\">Hospital</th><th "
				    "scope=\"col\">Value</th><th scope=\"col\">"
				    "Threshold</th><th scope=\"col\">%s</th>"
				    "</tr>\n</thead><tbody>",
				    firing ? "Since" : "Resolved at");
		ps_buf_addf(b, "<tr class=\"%s\"><td class=\"lv\">%s</td><td>",
			    firing ? level_name(a->level) : "ok",
			    level_name(a->level));
		esc(b, a->metric);
		ps_buf_adds(b, "</td><td>");
		esc(b, a->department);
		ps_buf_adds(b, "</td><td>");
		if (a->hospital_id >= 0)
			ps_buf_addf(b, "%d", a->hospital_id);
		ps_buf_adds(b, "</td><td class=\"n\">");
		num(b, a->value, 1);
		ps_buf_addf(b, " %s</td><td class=\"n\">", u);
		num(b, a->threshold, 1);
		ps_buf_addf(b, " %s</td><td>", u);
		ts(b, a->since);
		ps_buf_adds(b, "</td></tr>\n");
	}
	if (n)
		ps_buf_adds(b, "</tbody></table>");
	else
		ps_buf_addf(b, "<p class=\"nodata\">%s</p>",
			    firing ? "No alert firing." :
			    "None resolved in the last 24 h.");
}

static void alerts(struct ps_buf *b, const struct ps_dash_model *m)
{
	ps_buf_adds(b, "<section id=\"alerts\"><h2>Alerts</h2>");
	if (!m->alerts_known) {
		no_data(b, "no alert state (run ps-gold with --thresholds)");
		ps_buf_adds(b, "</section>\n");
		return;
	}
	ps_buf_adds(b, "<h3>Firing</h3>");
	alert_rows(b, m, 1);
	ps_buf_adds(b, "<h3>Recently resolved</h3>");
	alert_rows(b, m, 0);
	ps_buf_adds(b, "</section>\n");
}

static void hour_labels(const struct ps_dash_model *m, size_t first,
			size_t n, size_t step, int days, char (*buf)[16],
			const char **labels)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int64_t t = m->hour0 + (int64_t)(first + i + 1) * HOUR_US;
		char s[PS_TIME_MAX];

		labels[i] = NULL;
		if ((n - 1 - i) % step)
			continue;
		ps_time_format(t, s, 0);
		/* "MM-DD" for days, "HH:MM" for hours */
		if (days)
			snprintf(buf[i], 16, "%.5s", s + 5);
		else
			snprintf(buf[i], 16, "%.5s", s + 11);
		labels[i] = buf[i];
	}
}

static void trends(struct ps_buf *b, const struct ps_dash_model *m)
{
	double adm[PS_DASH_HOURS], cen[PS_DASH_HOURS];
	char lb[PS_DASH_HOURS][16];
	const char *labels[PS_DASH_HOURS];
	size_t i;

	ps_buf_adds(b, "<section id=\"trends\"><h2>Trends</h2>");
	if (!m->has_fact) {
		no_data(b, "fact_patient_flow");
	} else {
		const double *ys[1];
		const char *na[1] = { "admissions" }, *nc[1] = { "census" };

		for (i = 0; i < PS_DASH_HOURS; i++) {
			adm[i] = (double)m->admissions_hour[i];
			cen[i] = (double)m->census_hour[i];
		}
		ps_buf_adds(b, "<div class=\"charts\"><figure>");
		hour_labels(m, PS_DASH_HOURS - 24, 24, 4, 0, lb, labels);
		ys[0] = adm + PS_DASH_HOURS - 24;
		svg_lines(b, "Admissions per hour, last 24 h", "admissions/h",
			  na, ys, 1, 24, labels);
		ps_buf_adds(b, "<figcaption>Admissions per hour, last 24 h"
			    "</figcaption></figure><figure>");
		ys[0] = cen + PS_DASH_HOURS - 24;
		svg_lines(b, "Census, last 24 h", "patients", nc, ys, 1, 24,
			  labels);
		ps_buf_adds(b, "<figcaption>Census at the end of each hour, "
			    "last 24 h</figcaption></figure><figure>");
		hour_labels(m, 0, PS_DASH_HOURS, 24, 1, lb, labels);
		ys[0] = adm;
		svg_lines(b, "Admissions per hour, last 7 days",
			  "admissions/h", na, ys, 1, PS_DASH_HOURS, labels);
		ps_buf_adds(b, "<figcaption>Admissions per hour, last 7 days"
			    "</figcaption></figure><figure>");
		ys[0] = cen;
		svg_lines(b, "Census, last 7 days", "patients", nc, ys, 1,
			  PS_DASH_HOURS, labels);
		ps_buf_adds(b, "<figcaption>Census at the end of each hour, "
			    "last 7 days</figcaption></figure></div>");

		ps_buf_addf(b, "<h3>Waiting and length of stay by department"
			    "</h3><p class=\"note\">Waiting: door to bed of "
			    "admissions in the last 7 days; length of stay: "
			    "discharges in the last 7 days.  Fewer than %d "
			    "samples: no median.</p><table><thead><tr><th "
			    "scope=\"col\">Department</th><th scope=\"col\">"
			    "Waits (n)</th><th scope=\"col\">Wait median, min"
			    "</th><th scope=\"col\">Wait p90, min</th><th "
			    "scope=\"col\">Discharges (n)</th><th scope=\"col\">"
			    "LOS median, h</th><th scope=\"col\">LOS p90, h"
			    "</th></tr>\n</thead><tbody>", PS_DASH_MIN_SAMPLES);
		for (i = 0; i < m->ndepts; i++) {
			const struct ps_dash_dept *d = &m->depts[i];

			ps_buf_adds(b, "<tr><th scope=\"row\">");
			esc(b, d->department);
			ps_buf_adds(b, "</th>");
			cell(b, "td", "fact", d->department, "waits",
			     (double)d->nwait, 0);
			cell(b, "td", "fact", d->department, "wait_median",
			     d->wait_median, 0);
			cell(b, "td", "fact", d->department, "wait_p90",
			     d->wait_p90, 0);
			cell(b, "td", "fact", d->department, "discharges",
			     (double)d->nlos, 0);
			cell(b, "td", "fact", d->department, "los_median",
			     d->los_median, 1);
			cell(b, "td", "fact", d->department, "los_p90",
			     d->los_p90, 1);
			ps_buf_adds(b, "</tr>\n");
		}
		ps_buf_adds(b, "</tbody></table>");
	}
	ps_buf_adds(b, "</section>\n");
}

/* Distinct values of a column as text (malloc'd copies, free with
 * ps_dash_free_strs), in order of first appearance. */
static size_t distinct(const struct ps_dash_tab *t, int col, char ***out)
{
	size_t i, j, n = 0;
	char **v = ps_xcalloc(t->nrows + 1, sizeof(*v)), tb[PS_TIME_MAX];

	for (i = 0; i < t->nrows; i++) {
		const char *s = ps_dash_text(t, i, col, tb, sizeof(tb));

		for (j = 0; j < n && strcmp(v[j], s); j++)
			;
		if (j == n)
			v[n++] = ps_xstrdup(s);
	}
	*out = v;
	return n;
}

static size_t index_of(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return i;
	return n;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A table of t by (category column, gender) with value column val:
 * a chart (horizontal bars, categories sorted) and the numbers.
 */
static void by_gender_chart(struct ps_buf *b, const struct ps_dash_tab *t,
			    const char *catcol, const char *valcol,
			    const char *title, const char *unit, int dec,
			    size_t last)
{
	int cc = ps_dash_col(t, catcol), cg = ps_dash_col(t, "gender"),
	    cv = ps_dash_col(t, valcol);
	char **cats, **gs, tb[PS_TIME_MAX];
	size_t nc, ng, i, first = 0;
	double *v;

	if (!t->present || cc < 0 || cg < 0 || cv < 0) {
		no_data(b, t->name);
		return;
	}
	nc = distinct(t, cc, &cats);
	ng = distinct(t, cg, &gs);
	qsort(cats, nc, sizeof(*cats), cmp_cstr);
	qsort(gs, ng, sizeof(*gs), cmp_cstr);
	if (last && nc > last)
		first = nc - last;
	v = ps_xcalloc(nc * ng + 1, sizeof(*v));
	for (i = 0; i < nc * ng; i++)
		v[i] = NAN;
	for (i = 0; i < t->nrows; i++)
		v[index_of(cats, nc, ps_dash_text(t, i, cc, tb, sizeof(tb))) *
		  ng + index_of(gs, ng, ps_dash_str(t, i, cg))] =
			ps_dash_num(t, i, cv);
	svg_hbars(b, title, unit, (const char *const *)cats + first,
		  nc - first, (const char *const *)gs, ng, v + first * ng,
		  dec);
	/* the numbers, as a table */
	ps_buf_addf(b, "<details><summary>Numbers</summary><table><thead><tr>"
		    "<th scope=\"col\">%s</th>", catcol);
	for (i = 0; i < ng; i++) {
		ps_buf_adds(b, "<th scope=\"col\">");
		esc(b, gs[i]);
		ps_buf_adds(b, "</th>");
	}
	ps_buf_adds(b, "</tr>\n</thead><tbody>");
	for (i = first; i < nc; i++) {
		size_t g;

		ps_buf_adds(b, "<tr><th scope=\"row\">");
		esc(b, cats[i]);
		ps_buf_adds(b, "</th>");
		for (g = 0; g < ng; g++) {
			char key[256];

			if (isnan(v[i * ng + g])) {	/* no such row */
				ps_buf_adds(b, "<td class=\"n\">\xe2\x80\x93</td>");
				continue;
			}
			snprintf(key, sizeof(key), "%s|%s", cats[i], gs[g]);
			cell(b, "td", t->name, key, valcol, v[i * ng + g], dec);
		}
		ps_buf_adds(b, "</tr>\n");
	}
	ps_buf_adds(b, "</tbody></table></details>");
	free(v);
	ps_dash_free_strs(cats, nc);
	ps_dash_free_strs(gs, ng);
}

static void people(struct ps_buf *b, const struct ps_dash_model *m)
{
	const struct ps_dash_tab *d = &m->t[PS_DASH_DEMOGRAPHICS];
	int ca = ps_dash_col(d, "age_band"), cg = ps_dash_col(d, "gender"),
	    cv = ps_dash_col(d, "currently_admitted");

	ps_buf_adds(b, "<section id=\"people\"><h2>Stays, volume and "
		    "patients</h2><div class=\"charts\"><figure>");
	by_gender_chart(b, &m->t[PS_DASH_LOS], "department", "avg_los_hours",
			"Average length of stay by department and gender",
			"hours", 1, 0);
	ps_buf_adds(b, "<figcaption>Average length of stay of discharged "
		    "patients (kpi_los)</figcaption></figure><figure>");
	by_gender_chart(b, &m->t[PS_DASH_VOLUME], "admission_date",
			"encounters", "Admissions by day and gender, last 14 "
			"days", "encounters", 0, 14);
	ps_buf_adds(b, "<figcaption>Volume by admission day and gender "
		    "(kpi_volume)</figcaption></figure><figure>");
	if (!d->present || ca < 0 || cg < 0 || cv < 0) {
		no_data(b, "kpi_demographics");
	} else {
		char **bands, **gs;
		size_t nb = distinct(d, ca, &bands), ng = distinct(d, cg, &gs),
		       i;
		double *lv, *rv;
		const char *left, *right;
		size_t li, ri;

		qsort(bands, nb, sizeof(*bands), cmp_cstr);
		/* "90+" sorts before "0-9" bytewise only if it starts with
		 * a digit greater; numeric order of the first number: */
		for (i = 1; i < nb; i++) {
			size_t j = i;

			while (j > 0 && strtol(bands[j - 1], NULL, 10) >
					strtol(bands[j], NULL, 10)) {
				char *x = bands[j];

				bands[j] = bands[j - 1];
				bands[j - 1] = x;
				j--;
			}
		}
		li = index_of(gs, ng, "Female");
		ri = index_of(gs, ng, "Male");
		left = li < ng ? gs[li] : ng ? gs[0] : "Female";
		right = ri < ng ? gs[ri] : ng > 1 ? gs[1] : "Male";
		lv = ps_xcalloc(nb + 1, sizeof(*lv));
		rv = ps_xcalloc(nb + 1, sizeof(*rv));
		for (i = 0; i < d->nrows; i++) {
			size_t k = index_of(bands, nb, ps_dash_str(d, i, ca));
			const char *g = ps_dash_str(d, i, cg);
			double x = ps_dash_num(d, i, cv);

			if (isnan(x))
				continue;
			if (!strcmp(g, left))
				lv[k] += x;
			else if (!strcmp(g, right))
				rv[k] += x;
		}
		svg_pyramid(b, (const char *const *)bands, nb, left, right,
			    lv, rv);
		free(lv);
		free(rv);
		ps_dash_free_strs(bands, nb);
		ps_dash_free_strs(gs, ng);
	}
	ps_buf_adds(b, "<figcaption>Age-band by gender pyramid of patients "
		    "currently admitted (kpi_demographics; 90+ is the top "
		    "band)</figcaption></figure></div></section>\n");
}

/*
 * A KPI table by department and hospital, every column shown by name (a
 * column gold adds appears by itself).
 */
static void by_department(struct ps_buf *b, const struct ps_dash_tab *t)
{
	int cd = ps_dash_col(t, "department"), ch = ps_dash_col(t, "hospital_id");
	size_t i, k;

	if (!t->present || cd < 0 || ch < 0) {
		no_data(b, t->name);
		return;
	}
	ps_buf_adds(b, "<div class=\"wide\"><table><thead><tr><th scope="
		    "\"col\">department</th><th scope=\"col\">hospital</th>");
	for (k = 0; k < t->ncols; k++) {
		if ((int)k == cd || (int)k == ch ||
		    !strcmp(t->cols[k], "as_of") ||
		    t->types[k] == PS_PQ_STRING)
			continue;
		ps_buf_adds(b, "<th scope=\"col\">");
		esc(b, t->cols[k]);
		ps_buf_adds(b, "</th>");
	}
	ps_buf_adds(b, "</tr></thead><tbody>");
	for (i = 0; i < t->nrows; i++) {
		char key[256];

		snprintf(key, sizeof(key), "%s|%.0f", ps_dash_str(t, i, cd),
			 ps_dash_num(t, i, ch));
		ps_buf_adds(b, "<tr><th scope=\"row\">");
		esc(b, ps_dash_str(t, i, cd));
		ps_buf_addf(b, "</th><td>%.0f</td>", ps_dash_num(t, i, ch));
		for (k = 0; k < t->ncols; k++) {
			if ((int)k == cd || (int)k == ch ||
			    !strcmp(t->cols[k], "as_of") ||
			    t->types[k] == PS_PQ_STRING)
				continue;
			cell(b, "td", t->name, key, t->cols[k],
			     ps_dash_num(t, i, (int)k),
			     t->types[k] == PS_PQ_DOUBLE ? 1 : 0);
		}
		ps_buf_adds(b, "</tr>\n");
	}
	ps_buf_adds(b, "</tbody></table></div>");
}

static void emergency(struct ps_buf *b, const struct ps_dash_model *m)
{
	ps_buf_adds(b, "<section id=\"ed\"><h2>Emergency department</h2>"
		    "<p class=\"note\">CMS and NHS measures over ps-gold's "
		    "window (kpi_ed): door to room, ED length of stay of "
		    "discharged (OP-18) and admitted patients, boarding, share "
		    "within 4 h, over 12 h, left without being seen; minutes "
		    "and percent.</p>");
	by_department(b, &m->t[PS_DASH_ED]);
	ps_buf_adds(b, "</section>\n");
}

static void quality(struct ps_buf *b, const struct ps_dash_model *m)
{
	size_t i;

	ps_buf_adds(b, "<section id=\"quality\"><h2>Data quality</h2>");
	if (!m->has_quality) {
		no_data(b, "silver and quarantine");
		ps_buf_adds(b, "</section>\n");
		return;
	}
	ps_buf_adds(b, "<table class=\"kv\"><tbody>");
	ps_buf_adds(b, "<tr><th scope=\"row\">Records read by silver</th>");
	cell(b, "td", "quality", "silver", "records_in",
	     (double)m->records_in, 0);
	ps_buf_adds(b, "</tr>\n<tr><th scope=\"row\">Kept in silver</th>");
	cell(b, "td", "quality", "silver", "kept", (double)m->kept, 0);
	ps_buf_adds(b, "</tr>\n<tr><th scope=\"row\">Kept with a flag</th>");
	cell(b, "td", "quality", "silver", "flagged", (double)m->flagged, 0);
	ps_buf_adds(b, "</tr>\n<tr><th scope=\"row\">Late events (over 5 min "
		    "older than one delivered before)</th>");
	cell(b, "td", "quality", "silver", "late", (double)m->late, 0);
	ps_buf_adds(b, "</tr>\n<tr><th scope=\"row\">Quarantined</th>");
	cell(b, "td", "quality", "silver", "quarantined",
	     (double)m->quarantined, 0);
	ps_buf_adds(b, "</tr>\n<tr><th scope=\"row\">Duplicates dropped "
		    "(read − kept − quarantined)</th>");
	cell(b, "td", "quality", "silver", "duplicates",
	     m->records_in >= m->kept + m->quarantined ?
	     (double)(m->records_in - m->kept - m->quarantined) : NAN, 0);
	ps_buf_adds(b, "</tr>\n</tbody></table>");
	if (m->nquarantine) {
		const char **cats = ps_xcalloc(m->nquarantine, sizeof(*cats));
		double *v = ps_xcalloc(m->nquarantine, sizeof(*v));
		const char *names[1] = { "records" };

		for (i = 0; i < m->nquarantine; i++) {
			cats[i] = m->quarantine[i].name;
			v[i] = (double)m->quarantine[i].n;
		}
		ps_buf_adds(b, "<figure>");
		svg_hbars(b, "Records quarantined by rule", "records", cats,
			  m->nquarantine, names, 1, v, 0);
		ps_buf_adds(b, "<figcaption>Quarantined by rule (a record "
			    "may break several)</figcaption></figure>");
		ps_buf_adds(b, "<details><summary>Numbers</summary><table>"
			    "<tbody>");
		for (i = 0; i < m->nquarantine; i++) {
			ps_buf_adds(b, "<tr><th scope=\"row\">");
			esc(b, cats[i]);
			ps_buf_adds(b, "</th>");
			cell(b, "td", "quarantine", cats[i], "records", v[i], 0);
			ps_buf_adds(b, "</tr>\n");
		}
		ps_buf_adds(b, "</tbody></table></details>");
		free(cats);
		free(v);
	}
	ps_buf_adds(b, "</section>\n");
}

/* The original lab's seven views. */
static void views(struct ps_buf *b, const struct ps_dash_model *m)
{
	size_t i;

	ps_buf_adds(b, "<section id=\"views\"><h2>The original seven views"
		    "</h2>");
	if (!m->has_fact || !m->has_gender) {
		no_data(b, "fact_patient_flow joined with dim_patient");
		ps_buf_adds(b, "</section>\n");
		return;
	}
	ps_buf_adds(b, "<p class=\"note\">Over fact_patient_flow joined with "
		    "the current dim_patient version, with the original "
		    "definitions (examples/sql/duckdb/02_original_views.sql)."
		    "</p><div class=\"charts\"><div><h3>By gender</h3><table>"
		    "<thead><tr><th scope=\"col\">Gender</th><th scope=\"col\">"
		    "1. Bed occupancy %</th><th scope=\"col\">2. Bed turnover"
		    "</th><th scope=\"col\">3. Currently admitted</th></tr>\n"
		    "</thead><tbody>");
	for (i = 0; i < m->nby_gender; i++) {
		const struct ps_dash_view *v = &m->by_gender[i];

		ps_buf_adds(b, "<tr><th scope=\"row\">");
		esc(b, v->gender);
		ps_buf_adds(b, "</th>");
		cell(b, "td", "bed_occupancy", v->gender,
		     "bed_occupancy_percent", v->rows_with_bed ?
		     100.0 * (double)v->admitted_with_bed /
		     (double)v->rows_with_bed : NAN, 1);
		cell(b, "td", "bed_turnover_rate", v->gender,
		     "bed_turnover_rate", v->distinct_beds ?
		     (double)v->rows / (double)v->distinct_beds : NAN, 2);
		cell(b, "td", "patient_demographics", v->gender,
		     "current_patients", (double)v->admitted, 0);
		ps_buf_adds(b, "</tr>\n");
	}
	ps_buf_adds(b, "</tbody></table></div><div><h3>By department and "
		    "gender</h3><table><thead><tr><th scope=\"col\">Department"
		    "</th><th scope=\"col\">Gender</th><th scope=\"col\">4. Avg "
		    "treatment, h</th><th scope=\"col\">6. Currently admitted"
		    "</th><th scope=\"col\">7. Overstay (&gt; 50 h)</th></tr>\n"
		    "</thead><tbody>");
	for (i = 0; i < m->nby_dept_gender; i++) {
		const struct ps_dash_view *v = &m->by_dept_gender[i];
		char key[256];

		snprintf(key, sizeof(key), "%s|%s", v->department, v->gender);
		ps_buf_adds(b, "<tr><th scope=\"row\">");
		esc(b, v->department);
		ps_buf_adds(b, "</th><td>");
		esc(b, v->gender);
		ps_buf_adds(b, "</td>");
		cell(b, "td", "avg_treatment_duration", key,
		     "avg_length_of_stay_hours", v->los_n ?
		     v->los_sum / (double)v->los_n : NAN, 1);
		cell(b, "td", "department_inflow", key, "current_patients",
		     (double)v->admitted, 0);
		cell(b, "td", "overstay_patients", key, "overstay_patients",
		     (double)v->overstay, 0);
		ps_buf_adds(b, "</tr>\n");
	}
	ps_buf_adds(b, "</tbody></table></div></div><p class=\"note\">5. "
		    "Patient volume trend: the admissions by day and gender "
		    "chart above.</p></section>\n");
}

static const char css[] =
	":root{--fg:#1b1b1b;--muted:#555;--bg:#fff;--line:#ddd;"
	"--warn:" C_ORANGE ";--crit:" C_VERMILLION ";--ok:" C_GREEN "}"
	"*{box-sizing:border-box}"
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;"
	"color:var(--fg);background:var(--bg);margin:0 auto;max-width:1320px;"
	"padding:0 16px 32px}"
	"header{display:flex;flex-wrap:wrap;gap:4px 24px;align-items:baseline;"
	"border-bottom:2px solid var(--fg);padding:12px 0 6px}"
	"header h1{font-size:20px;margin:0}header span{color:var(--muted)}"
	"h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid var(--line)}"
	"h3{font-size:14px;margin:12px 0 6px}"
	"#tiles{display:grid;grid-template-columns:repeat(auto-fit,"
	"minmax(200px,1fr));gap:12px;margin-top:12px}"
	".tile{border:1px solid var(--line);border-left:6px solid var(--ok);"
	"padding:8px 12px}.tile h3{margin:0;color:var(--muted);font-weight:600}"
	".tile p{margin:2px 0}.tile .big{font-size:26px;font-weight:700}"
	".tile.warn{border-left-color:var(--warn)}"
	".tile.critical{border-left-color:var(--crit)}"
	"table{border-collapse:collapse;margin:4px 0 8px}"
	"th,td{padding:3px 8px;border-bottom:1px solid var(--line);"
	"text-align:left}td.n,th.n,.n{text-align:right;"
	"font-variant-numeric:tabular-nums}"
	"thead th{font-weight:600;border-bottom:2px solid var(--fg)}"
	"tr.critical .lv{color:#fff;background:var(--crit);font-weight:700}"
	"tr.warn .lv{background:var(--warn);font-weight:700}"
	"td.occ{position:relative;min-width:110px}"
	"td.occ .bar{position:absolute;left:0;top:3px;bottom:3px;opacity:.35;"
	"background:var(--ok)}td.occ.warn .bar{background:var(--warn)}"
	"td.occ.critical .bar{background:var(--crit)}"
	"td.occ .n{position:relative}"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,"
	"minmax(420px,1fr));gap:16px}figure{margin:0}"
	"figcaption{color:var(--muted);font-size:12px}"
	"svg.chart{width:100%;max-width:640px;height:auto;font-size:11px}"
	"svg .grid{stroke:var(--line)}svg .ax{fill:var(--muted)}"
	".note,.nodata{color:var(--muted)}.nodata{font-style:italic}"
	"footer{margin-top:24px;color:var(--muted);font-size:12px}"
	".wide{overflow-x:auto}"
	"#live{font-size:12px}"
	"@media print{body{max-width:none;font-size:11px}#live{display:none}"
	"details{display:block}details>summary{display:none}"
	"section{break-inside:avoid}.charts{grid-template-columns:1fr 1fr}"
	"tr.critical .lv,tr.warn .lv,.tile{-webkit-print-color-adjust:exact;"
	"print-color-adjust:exact}}";

/*
 * Live updates: /events sends the update number on every gold commit;
 * the page then fetches itself and swaps <main>.  EventSource reconnects
 * by itself, sending Last-Event-ID.
 */
static const char script[] =
	"<script>(function(){"
	"if(!window.EventSource||location.protocol==='file:')return;"
	"var live=document.getElementById('live');"
	"var es=new EventSource('events');"
	"es.addEventListener('commit',function(ev){"
	"if(ev.data===document.body.dataset.seq)return;"
	"fetch('./',{cache:'no-store'}).then(function(r){return r.text()})"
	".then(function(t){var d=new DOMParser().parseFromString(t,'text/html');"
	"var m=d.getElementById('dash');if(!m)return;"
	"document.getElementById('dash').replaceWith(m);"
	"document.body.dataset.seq=d.body.dataset.seq;"
	"var h=d.querySelector('header');if(h)document.querySelector('header')"
	".replaceWith(h);live=document.getElementById('live');"
	"if(live)live.textContent='live, update '+d.body.dataset.seq;})"
	".catch(function(){});});"
	"es.onerror=function(){if(live)live.textContent='reconnecting\\u2026'};"
	"es.onopen=function(){if(live)live.textContent='live'};"
	"})();</script>";

void ps_dash_html(const struct ps_dash_model *m, int live, struct ps_buf *b)
{
	chart_id = 0;
	ps_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		    "charset=\"utf-8\"><meta name=\"viewport\" content=\""
		    "width=device-width,initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><meta name=\"generator"
		    "\" content=\"ps-dash " PS_VERSION "\"><title>PulseStream "
		    "\xe2\x80\x94 hospital operations</title><style>\n");
	ps_buf_adds(b, css);
	ps_buf_addf(b, "\n</style></head><body data-seq=\"%lld\"><header><h1>"
		    "PulseStream \xe2\x80\x94 hospital operations</h1><span>"
		    "stream ", m->seq);
	esc(b, m->stream);
	ps_buf_adds(b, "</span><span>as of ");
	ts(b, m->now);
	ps_buf_adds(b, "</span><span>gold ");
	ts(b, m->as_of);
	ps_buf_addf(b, "</span>%s</header><main id=\"dash\">",
		    live ? "<span id=\"live\">static</span>" : "");
	tiles(b, m);
	grid(b, m);
	alerts(b, m);
	trends(b, m);
	emergency(b, m);
	people(b, m);
	quality(b, m);
	views(b, m);
	ps_buf_adds(b, "</main><footer>Written by ps-dash " PS_VERSION
		    " from the gold tables of the lake.  Levels: ok, warn, "
		    "critical (ps-gold thresholds).  Occupancy = census "
		    "\xc3\xb7 staffed beds.</footer>");
	if (live)
		ps_buf_adds(b, script);
	ps_buf_adds(b, "</body></html>\n");
}
