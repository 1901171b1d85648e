/* progress.c - see progress.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "progress.h"
#include "pstime.h"
#include "banned.h"

static int line_shown;

static void clear_line(void)
{
	if (line_shown) {
		if (write(2, "\r\033[K", 4) < 0)
			line_shown = 0;
		line_shown = 0;
	}
}

void ps_progress_init(struct ps_progress *p, struct ps_counter *c, int n)
{
	p->c = c;
	p->n = n;
	p->tty = isatty(2);
	p->tick = 0;
	p->start = p->last = ps_mono();
	if (p->tty)
		ps_log_set_hook(clear_line);
}

void ps_progress_draw(struct ps_progress *p)
{
	struct ps_buf b = PS_BUF_INIT;
	double now = ps_mono(), el;
	int i;

	if (!p->tty || now - p->last < 0.2)
		return;
	p->last = now;
	el = now - p->start;
	ps_buf_adds(&b, "\r\033[K");
	for (i = 0; i < p->n; i++)
		ps_buf_addf(&b, "%s%s %lld", i ? ", " : "", p->c[i].name,
			    p->c[i].value);
	if (p->n && el > 0)
		ps_buf_addf(&b, " (%.0f/s)", (double)p->c[0].value / el);
	if (write(2, b.data, b.len) > 0)
		line_shown = 1;
	ps_buf_release(&b);
}

void ps_progress_done(struct ps_progress *p, const char *msg)
{
	struct ps_kv kv[20];
	double el = ps_mono() - p->start;
	int i, k = 0;

	clear_line();
	for (i = 0; i < p->n && k < 17; i++)
		kv[k++] = PS_I(p->c[i].name, p->c[i].value);
	/* Without timestamps (golden tests) durations are left out too. */
	if (ps_log_timestamps()) {
		kv[k++] = PS_D("seconds", (double)(long long)(el * 1000) / 1000);
		if (p->n && el > 0)
			kv[k++] = PS_I("per_second",
				       (long long)((double)p->c[0].value / el));
	}
	kv[k].key = NULL;
	kv[k].type = PS_KV_END;
	if (ps_log_enabled(PS_INFO))
		ps_log_kv(PS_INFO, msg, kv);
}

int ps_progress_write_json(const struct ps_progress *p, FILE *f)
{
	struct ps_buf b = PS_BUF_INIT;
	int i, rc = 0;

	ps_buf_addc(&b, '{');
	for (i = 0; i < p->n; i++) {
		if (i)
			ps_buf_addc(&b, ',');
		ps_buf_addf(&b, "\"%s\":%lld", p->c[i].name, p->c[i].value);
	}
	ps_buf_add(&b, "}\n", 2);
	if (fwrite(b.data, 1, b.len, f) != b.len)
		rc = -1;
	ps_buf_release(&b);
	return rc;
}
