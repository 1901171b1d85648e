/*
 * progress.h - named counters, a live progress line on a terminal, and the
 * summary every tool logs at exit.
 *
 * The caller owns an array of struct ps_counter (names are static strings)
 * and bumps values directly.  ps_progress_tick() is cheap enough for every
 * record: it looks at the clock once every 1024 calls, and draws only when
 * stderr is a terminal, at most five times a second.  Log lines clear the
 * progress line first, so the two never mix.
 */
#ifndef PS_PROGRESS_H
#define PS_PROGRESS_H

#include <stdio.h>

struct ps_counter {
	const char *name;
	long long value;
};

struct ps_progress {
	struct ps_counter *c;
	int n;
	int tty;
	unsigned tick;
	double start;
	double last;
};

/* Start timing; counters are not reset.  tty is detected on fd 2. */
void ps_progress_init(struct ps_progress *p, struct ps_counter *c, int n);

void ps_progress_draw(struct ps_progress *p);

static inline void ps_progress_tick(struct ps_progress *p)
{
	if (p->tty && !(++p->tick & 1023))
		ps_progress_draw(p);
}

/*
 * Clear the progress line and log one summary event at info level with
 * every counter, the elapsed seconds and the rate of the first counter
 * (durations are left out when log timestamps are off: PS_LOG_TS=0).
 */
void ps_progress_done(struct ps_progress *p, const char *msg);

/* Write the counters as one JSON object line to f; returns 0 or -1. */
int ps_progress_write_json(const struct ps_progress *p, FILE *f);

#endif
