/* bronze.c - see bronze.h. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bronze.h"
#include "bronze_replay.h"
#include "cli.h"
#include "fsutil.h"
#include "gzpool.h"
#include "json.h"
#include "lake.h"
#include "log.h"
#include "ndjson.h"
#include "progress.h"
#include "pstime.h"
#include "stage.h"
#include "banned.h"

/* ---- the landing loop ---- */

struct part {
	enum ps_lake_table table;	/* bronze, or its quarantine */
	char *source;
	size_t source_len;
	long long first, last;
	struct ps_gzpool_file *gz;
};

enum {
	C_RECORDS, C_SKIPPED, C_EMPTY, C_QUARANTINED, C_COMMITS, C_FILES,
	C_BYTES, C_N
};

struct run {
	const struct ps_bronze_opts *o;
	struct ps_gzpool *pool;
	struct ps_stage *stage;			/* lock, commits */
	struct ps_checkpoint *committed;	/* what is durable (stage's) */
	struct ps_checkpoint *accepted;		/* + the open batch */
	char *bronze_root, *quarantine_root;
	struct ps_buf stdin_source;
	/*
	 * Which stdin source plain lines belong to: chosen at start, or
	 * (runs without --source or --continue on a lake that holds
	 * earlier stdin runs) at the first plain line, by content.  Lines at
	 * or below verify_cp must be the landed ones (replay).
	 */
	int stdin_pending;
	long long verify_cp;
	struct ps_replay *replay;
	size_t max_payload;			/* cap of one record */
	struct ps_buf out;			/* envelopes to emit */
	struct ps_buf scratch;
	struct part *parts;		/* one per (table, source) */
	size_t nparts, capparts, last_part;
	/* the open batch: every record of it has an ingest time on the
	   UTC day batch_day, named batch_date */
	long long batch_records, batch_quarantined;
	int64_t batch_day;
	char batch_date[11];
	double deadline;
	int gone;			/* emit reader went away */
	struct ps_counter c[C_N];
	struct ps_progress prog;
};

/* The read function: waits with poll so that commits fire when idle. */
struct timed {
	int fd;
	volatile int wake;
	double deadline;	/* ps_mono(); 0: none */
};

static ssize_t timed_read(void *ctx, void *buf, size_t n)
{
	struct timed *t = ctx;
	struct pollfd pfd;

	pfd.fd = t->fd;
	pfd.events = POLLIN;
	for (;;) {
		int ms = 1000, pr;

		if (t->deadline > 0) {
			double left = t->deadline - ps_mono();

			if (left <= 0) {
				t->wake = 1;
				errno = EINTR;
				return -1;
			}
			ms = (int)(left * 1000) + 1;
			if (ms > 1000)
				ms = 1000;
		}
		pr = ps_poll_stop(&pfd, 1, ms);
		if (pr < 0 && errno == EINTR && ps_stop_requested) {
			t->wake = 1;
			return -1;
		}
		if (pr < 0 && errno != EINTR)
			return -1;
		if (pr > 0)
			return read(t->fd, buf, n);
	}
}

/* The ingest time bronze gives a plain line (or a quarantined one). */
static int64_t assigned_ingest_time(const struct run *r)
{
	return r->o->ingest_time != PS_TIME_NONE ? r->o->ingest_time
						  : ps_time_now();
}

/* The UTC day of a time in microseconds (floor, also before 1970). */
static int64_t utc_day(int64_t us)
{
	int64_t d = us / 86400000000LL;

	return us % 86400000000LL < 0 ? d - 1 : d;
}

static int commit(struct run *r, struct ps_error *e);

/*
 * Open a batch for a record ingested at t, or keep the open one when t
 * is on its day.  A record of another day commits the open batch first:
 * a record lands in the partition of its own ingest time, so a replay of
 * the same envelopes lands in the same place whatever the clock says.
 */
static int batch_for(struct run *r, int64_t t, struct ps_error *e)
{
	int64_t day = utc_day(t);

	if (r->batch_records || r->batch_quarantined) {
		if (day == r->batch_day)
			return 0;
		if (commit(r, e) < 0)
			return -1;
	}
	r->batch_day = day;
	ps_date_format(t, r->batch_date);
	r->deadline = ps_mono() + r->o->flush_interval;
	return 0;
}

/* The file of the open batch for (table t, source src), opened at pos. */
static struct part *get_part(struct run *r, enum ps_lake_table t,
			     const char *src, size_t n, long long pos,
			     struct ps_error *e)
{
	struct ps_buf path = PS_BUF_INIT;
	struct part *p;
	size_t i;

	if (r->last_part < r->nparts) {
		p = &r->parts[r->last_part];
		if (p->table == t && p->source_len == n &&
		    !memcmp(p->source, src, n))
			return p;
	}
	for (i = 0; i < r->nparts; i++) {
		p = &r->parts[i];
		if (p->table == t && p->source_len == n &&
		    !memcmp(p->source, src, n)) {
			r->last_part = i;
			return p;
		}
	}
	if (r->nparts == r->capparts) {
		r->capparts = r->capparts ? r->capparts * 2 : 4;
		r->parts = ps_xrealloc(r->parts,
				       r->capparts * sizeof(*r->parts));
	}
	p = &r->parts[r->nparts];
	memset(p, 0, sizeof(*p));
	/* Named for its first position until the last one is known. */
	ps_lake_part_path(&path, t, t == PS_LAKE_BRONZE ? r->bronze_root :
			  r->quarantine_root, r->batch_date, src, n, pos, pos,
			  -1);
	p->gz = ps_gzpool_open(r->pool, path.data, e);
	ps_buf_release(&path);
	if (!p->gz)
		return NULL;
	p->table = t;
	p->source = ps_xmemdup(src, n);
	p->source_len = n;
	p->first = p->last = pos;
	r->last_part = r->nparts++;
	return p;
}

static void free_parts(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nparts; i++) {
		ps_gzpool_abort(r->parts[i].gz);
		free(r->parts[i].source);
	}
	r->nparts = 0;
	r->last_part = 0;
}

/* Land one envelope (position already checked against accepted). */
static int land(struct run *r, const struct ps_envelope *env,
		struct ps_error *e)
{
	struct part *p;
	struct ps_buf *b = r->o->emit ? &r->out : &r->scratch;
	size_t off;

	if (batch_for(r, env->ingest_time, e) < 0)
		return -1;
	p = get_part(r, PS_LAKE_BRONZE, env->source, env->source_len,
		     env->position, e);
	if (!p)
		return -1;
	ps_checkpoint_set(r->accepted, env->source, env->source_len,
			  env->position);
	p->last = env->position;
	if (!r->o->emit)
		ps_buf_reset(b);
	off = b->len;
	ps_envelope_format(b, env);
	if (ps_gzpool_write(p->gz, b->data + off, b->len - off, e) < 0)
		return -1;
	r->batch_records++;
	r->c[C_RECORDS].value++;
	r->c[C_BYTES].value += (long long)env->payload_len;
	return 0;
}

/*
 * Keep a record bronze cannot land whole in the quarantine of its source
 * at its position: env carries the reason (lib/envelope.h); lineno is the
 * input line of a plain record, or -1 for an envelope.  Returns 0, or -1
 * with e filled when a file cannot be opened or written, or the open
 * batch of another day cannot be committed.
 */
static int quarantine(struct run *r, struct ps_envelope *env,
		      long long lineno, struct ps_error *e)
{
	struct part *p;

	if (env->payload_len > PS_QUARANTINE_KEEP) {
		env->payload_len = PS_QUARANTINE_KEEP;
		env->truncated = 1;
	}
	if (batch_for(r, env->ingest_time, e) < 0)
		return -1;
	p = get_part(r, PS_LAKE_BRONZE_QUARANTINE, env->source,
		     env->source_len, env->position, e);
	if (!p)
		return -1;
	ps_buf_reset(&r->scratch);
	ps_envelope_format(&r->scratch, env);
	if (lineno >= 0) {
		r->scratch.len -= 2;	/* reopen the object: drop "}\n" */
		ps_buf_adds(&r->scratch, ",\"line\":");
		ps_buf_add_i64(&r->scratch, lineno);
		ps_buf_add(&r->scratch, "}\n", 2);
	}
	if (ps_gzpool_write(p->gz, r->scratch.data, r->scratch.len, e) < 0)
		return -1;
	p->last = env->position;
	ps_checkpoint_set(r->accepted, env->source, env->source_len,
			  env->position);
	r->batch_quarantined++;
	r->c[C_QUARANTINED].value++;
	if (lineno >= 0)
		ps_log(PS_WARN, "line quarantined", PS_I("line", lineno),
		       PS_S("reason", env->reason),
		       PS_I("bytes", env->length),
		       PS_S("detail", env->detail ? env->detail : ""));
	else
		ps_log(PS_WARN, "record quarantined",
		       PS_S("source", env->source),
		       PS_I("position", env->position),
		       PS_S("reason", env->reason),
		       PS_I("bytes", env->length),
		       PS_S("detail", env->detail ? env->detail : ""));
	return 0;
}

/* Step 4 of the commit (lib/stage.h): the envelopes go downstream. */
static int emit(void *ctx, struct ps_error *e)
{
	struct run *r = ctx;
	int er;

	if (!r->o->emit || !r->out.len || r->gone)
		return 0;
	er = r->o->emit(r->o->emit_ctx, r->out.data, r->out.len);
	if (er > 0) {
		r->gone = 1;
		ps_log(PS_INFO, "output reader went away, stopping");
	} else if (er < 0) {
		return ps_error_errno(e, PS_EX_IOERR, errno,
				      "cannot write envelopes");
	}
	return 0;
}

static int commit(struct run *r, struct ps_error *e)
{
	struct ps_buf path = PS_BUF_INIT;
	size_t i;
	int rc = 0;

	if (!r->batch_records && !r->batch_quarantined)
		return 0;
	for (i = 0; i < r->nparts && rc == 0; i++) {
		struct part *p = &r->parts[i];

		ps_buf_reset(&path);
		ps_lake_part_path(&path, p->table, p->table == PS_LAKE_BRONZE ?
				  r->bronze_root : r->quarantine_root,
				  r->batch_date, p->source, p->source_len,
				  p->first, p->last, -1);
		rc = ps_gzpool_commit(p->gz, path.data, e);
		p->gz = NULL;
		if (rc == 0) {
			ps_stage_add_file(r->stage, path.data);
			ps_stage_set_position(r->stage, p->source,
					      p->source_len, p->last);
			r->c[C_FILES].value++;
		}
	}
	ps_buf_release(&path);
	free_parts(r);
	if (rc < 0) {
		ps_stage_abort(r->stage);
		return -1;
	}
	rc = ps_stage_commit(r->stage, NULL, emit, r, e);
	r->committed = ps_stage_positions(r->stage);
	ps_buf_reset(&r->out);
	if (rc < 0)
		return -1;
	r->c[C_COMMITS].value++;
	ps_log(PS_DEBUG, "committed", PS_I("records", r->batch_records),
	       PS_S("date", r->batch_date));
	r->batch_records = 0;
	r->batch_quarantined = 0;
	/* Do not let a huge batch keep its memory. */
	if (r->out.cap > 2 * (size_t)r->o->flush_bytes + (8u << 20))
		ps_buf_release(&r->out);
	return 0;
}

static int startup(struct run *r, struct ps_error *e)
{
	static const enum ps_lake_table tables[] = {
		PS_LAKE_BRONZE, PS_LAKE_BRONZE_QUARANTINE
	};
	const struct ps_bronze_opts *o = r->o;
	struct ps_stage_opts so = { o->lake, PS_BRONZE_TOOL, o->stream,
				    o->lock_wait, tables, 2, NULL, 0, 0, 0 };

	r->bronze_root = ps_lake_dir(o->lake, PS_LAKE_BRONZE, o->stream);
	r->quarantine_root = ps_lake_dir(o->lake, PS_LAKE_BRONZE_QUARANTINE,
					 o->stream);
	if (ps_mkdir_p(r->bronze_root, 0755, e) < 0)
		return -1;
	r->stage = ps_stage_open(&so, e);
	if (!r->stage)
		return -1;
	r->committed = ps_stage_positions(r->stage);
	r->accepted = ps_checkpoint_new();
	ps_checkpoint_merge(r->accepted, r->committed);
	ps_buf_adds(&r->stdin_source, "stdin:");
	ps_buf_adds(&r->stdin_source,
		    o->source_name ? o->source_name : o->stream);
	r->pool = ps_gzpool_new(o->threads, o->gzip_level, e);
	return r->pool ? 0 : -1;
}

static void run_release(struct run *r)
{
	free_parts(r);
	free(r->parts);
	ps_gzpool_free(r->pool);
	ps_stage_close(r->stage);
	ps_checkpoint_free(r->accepted);
	free(r->bronze_root);
	free(r->quarantine_root);
	ps_buf_release(&r->stdin_source);
	ps_replay_free(r->replay);
	ps_buf_release(&r->out);
	ps_buf_release(&r->scratch);
}

/*
 * A last line without its newline is a whole record when it is valid
 * JSON (a file whose last line lacks the newline); otherwise it is taken
 * for the fragment of a writer killed mid-line.
 */
static int whole_record(const struct ps_line *line)
{
	yajl_val v;

	if (line->too_long)
		return 0;
	v = ps_json_parse(line->data, line->len, NULL, 0);
	yajl_tree_free(v);
	return v != NULL;
}

/*
 * A fragment is not landed: landing it would commit its position, and
 * the restart that replays the whole line would then skip the real
 * record.  Replayed again complete, it lands at this position.
 */
static void held_back(struct run *r, const struct ps_line *line,
		      long long pos)
{
	long long acc = ps_checkpoint_get(r->accepted, r->stdin_source.data,
					  r->stdin_source.len);

	if (!r->stdin_pending && pos <= acc) {
		r->c[C_SKIPPED].value++;
		return;
	}
	ps_log(PS_WARN, "last line cut short (no newline, not JSON): not "
	       "landed; a writer killed mid-line? it lands when the input "
	       "is replayed whole", PS_I("line", line->lineno),
	       PS_I("position", pos), PS_I("bytes", line->full_len));
}

/* The error for a line that is not what the source landed at pos. */
static int not_a_replay(struct run *r, const struct ps_line *line,
			long long pos, struct ps_error *e)
{
	return ps_error_set(e, PS_EX_DATAERR, "input is not a replay of %s: "
			    "line %lld differs from the record landed at "
			    "position %lld; nothing of it was landed (run "
			    "again with --continue to append it after "
			    "position %lld, or --source NAME to land it as a "
			    "new source)", r->stdin_source.data,
			    line->lineno, pos, r->verify_cp);
}

static int verify_replay(struct run *r, long long pos,
			 const struct ps_line *line, struct ps_error *e)
{
	int m;

	if (!r->replay) {
		r->replay = ps_replay_open(r->o->lake, r->o->stream,
					   r->stdin_source.data,
					   r->stdin_source.len, e);
		if (!r->replay)
			return -1;
	}
	m = ps_replay_match(r->replay, pos, line, e);
	if (m < 0)
		return -1;
	return m ? 0 : not_a_replay(r, line, pos, e);
}

/*
 * stdin:NAME and stdin:NAME.N (N >= 2): the sources of earlier runs.
 * Returns N (1 for stdin:NAME), or 0 for another source.
 */
static long long stdin_run(const char *base, const char *s, size_t n)
{
	size_t bl = strlen(base);
	long long k = 0;
	size_t i;

	if (n < bl || memcmp(s, base, bl))
		return 0;
	if (n == bl)
		return 1;
	if (s[bl] != '.' || n == bl + 1 || s[bl + 1] == '0' || n > bl + 10)
		return 0;
	for (i = bl + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		k = k * 10 + (s[i] - '0');
	}
	return k >= 2 ? k : 0;
}

/* Does the lake hold an earlier run of the stdin source? */
static int has_stdin_runs(const struct run *r)
{
	size_t i, n = ps_checkpoint_count(r->committed);
	const char *s;
	size_t sl;
	long long cp;

	for (i = 0; i < n; i++) {
		ps_checkpoint_entry(r->committed, i, &s, &sl, &cp);
		if (stdin_run(r->stdin_source.data, s, sl))
			return 1;
	}
	return 0;
}

/*
 * The first plain line of a run without --source or --continue on a lake
 * that holds earlier stdin runs: the input continues the run whose first
 * landed record is this line (a restart, a replay, or the same input
 * grown), else it is new data: a new source stdin:NAME.N.
 */
static int choose_stdin_source(struct run *r, long long pos,
			       const struct ps_line *line, struct ps_error *e)
{
	size_t i, n = ps_checkpoint_count(r->committed);
	char *base = ps_xstrdup(r->stdin_source.data);
	long long best = 0, maxrun = 0;
	const char *s;
	size_t sl;
	long long cp, k;
	int m = 0;

	for (i = 0; i < n && m >= 0; i++) {
		struct ps_replay *rp;

		ps_checkpoint_entry(r->committed, i, &s, &sl, &cp);
		k = stdin_run(base, s, sl);
		if (k > maxrun)
			maxrun = k;
		if (!k || best)
			continue;
		rp = ps_replay_open(r->o->lake, r->o->stream, s, sl, e);
		if (!rp) {
			m = -1;
			break;
		}
		m = ps_replay_first(rp) == pos ?
		    ps_replay_match(rp, pos, line, e) : 0;
		if (m <= 0) {
			ps_replay_free(rp);
			continue;
		}
		r->replay = rp;
		r->verify_cp = cp;
		best = k;
		ps_buf_reset(&r->stdin_source);
		ps_buf_add(&r->stdin_source, s, sl);
	}
	free(base);
	if (m < 0)
		return -1;
	r->stdin_pending = 0;
	if (best) {
		ps_log(PS_INFO, "input starts like an earlier run: a replay",
		       PS_S("source", r->stdin_source.data),
		       PS_I("landed_up_to", r->verify_cp));
		return 0;
	}
	ps_buf_addf(&r->stdin_source, ".%lld", maxrun + 1);
	ps_log(PS_INFO, "input is not a replay of an earlier run: a new "
	       "source", PS_S("source", r->stdin_source.data));
	return 0;
}

/*
 * One line of an envelope input (--input envelopes): every line is an
 * envelope written by one of our tools.  A record at or below its
 * source's position is skipped; one that carries a quarantine reason, or
 * whose payload is over the cap, is quarantined at its position; anything
 * else lands.  A line that is not an envelope is a broken pipeline, not a
 * bad record: what came before it is committed and the run fails with 65
 * (no position of any source could be given to it).  A last line cut short
 * is a writer killed mid-line: it is sent again after the restart.
 */
static int handle_envelope(struct run *r, struct ps_envelope_parser *ep,
			   const struct ps_line *line, struct ps_error *e)
{
	struct ps_envelope env;
	struct ps_error pe = { 0, "" };
	char d[96];

	if (line->too_long)
		snprintf(pe.msg, sizeof(pe.msg), "line of %zu bytes over the "
			 "cap of %zu", line->full_len, line->len);
	else if (ps_envelope_parse(ep, line->data, line->len, &env, &pe) == 0)
		goto envelope;
	if (line->unterminated) {
		ps_log(PS_WARN, "last line cut short (no newline, not an "
		       "envelope): not landed; a writer killed mid-line? its "
		       "restart sends the envelope again",
		       PS_I("line", line->lineno),
		       PS_I("bytes", line->full_len));
		return 0;
	}
	if (commit(r, e) < 0)
		return -1;
	return ps_error_set(e, PS_EX_DATAERR, "input line %lld is not an "
			    "envelope (%s); nothing of it was landed. "
			    "--input envelopes reads what ps-ingest consume "
			    "or ps-bronze writes; plain events need --input "
			    "events", line->lineno, pe.msg);
envelope:
	if (env.position <= ps_checkpoint_get(r->accepted, env.source,
					      env.source_len)) {
		r->c[C_SKIPPED].value++;
		return 0;
	}
	if (!env.reason && env.payload_len > r->max_payload) {
		snprintf(d, sizeof(d), "payload of %zu bytes over the cap of "
			 "%zu", env.payload_len, r->max_payload);
		env.reason = "record_too_long";
		env.detail = d;
		env.length = (long long)env.payload_len;
	}
	if (env.reason)
		return quarantine(r, &env, -1, e);
	return land(r, &env, e);
}

/*
 * One line of a plain input (--input events): whatever it holds, it is
 * the payload of one record of the stdin source, at position (line number
 * - 1) plus base; it can claim nothing else.
 */
static int handle_line(struct run *r, struct ps_envelope_parser *ep,
		       const struct ps_line *line, long long base,
		       struct ps_error *e)
{
	struct ps_envelope env;
	long long pos, acc;
	char d[64];

	if (!line->len && !line->too_long) {
		r->c[C_EMPTY].value++;
		return 0;
	}
	if (r->o->input == PS_INPUT_ENVELOPES)
		return handle_envelope(r, ep, line, e);
	pos = base + line->lineno - 1;
	if (line->unterminated && !whole_record(line)) {
		held_back(r, line, pos);
		return 0;
	}
	if (r->stdin_pending && choose_stdin_source(r, pos, line, e) < 0)
		return -1;
	acc = ps_checkpoint_get(r->accepted, r->stdin_source.data,
				r->stdin_source.len);
	if (pos <= acc) {
		if (pos <= r->verify_cp && verify_replay(r, pos, line, e) < 0)
			return -1;
		r->c[C_SKIPPED].value++;
		return 0;
	}
	if (r->replay) {
		ps_log(PS_INFO, "input replays what is landed; new lines "
		       "from here", PS_S("source", r->stdin_source.data),
		       PS_I("line", line->lineno));
		ps_replay_free(r->replay);
		r->replay = NULL;
	}
	memset(&env, 0, sizeof(env));
	env.source = r->stdin_source.data;
	env.source_len = r->stdin_source.len;
	env.position = pos;
	env.ingest_time = assigned_ingest_time(r);
	env.broker_time = PS_TIME_NONE;
	env.payload = line->data;
	env.payload_len = line->len;
	if (line->too_long) {
		snprintf(d, sizeof(d), "line of %zu bytes over the cap of %zu",
			 line->full_len, line->len);
		env.reason = "line_too_long";
		env.detail = d;
		env.length = (long long)line->full_len;
		env.truncated = 1;
		return quarantine(r, &env, line->lineno, e);
	}
	return land(r, &env, e);
}

int ps_bronze_run(const struct ps_bronze_opts *o, int in_fd,
		  struct ps_error *e)
{
	static const char *names[C_N] = {
		"records", "skipped", "empty", "quarantined", "commits",
		"files", "payload_bytes"
	};
	struct run r;
	struct timed t;
	struct ps_ndjson *nd = NULL;
	struct ps_envelope_parser *ep = NULL;
	struct ps_line line;
	struct ps_error dummy;
	long long base = 0, cp;
	unsigned tick = 0;
	int i, rc = -1, started = 0;

	if (!e)
		e = &dummy;
	memset(&r, 0, sizeof(r));
	r.o = o;
	for (i = 0; i < C_N; i++)
		r.c[i].name = names[i];
	if (!o->lake || !o->stream || o->flush_interval <= 0 ||
	    o->flush_records <= 0 || o->flush_bytes <= 0) {
		ps_error_set(e, PS_EX_SOFTWARE, "bronze: bad options");
		goto out;
	}
	if (startup(&r, e) < 0)
		goto out;
	cp = ps_checkpoint_get(r.committed, r.stdin_source.data,
			       r.stdin_source.len);
	r.verify_cp = cp;
	if (o->continue_mode) {
		base = cp + 1;
		r.verify_cp = -1;
	} else if (!o->source_name && o->input == PS_INPUT_EVENTS) {
		r.stdin_pending = has_stdin_runs(&r);
	}
	ps_log(PS_INFO, "starting", PS_S("stream", o->stream),
	       PS_S("input", ps_input_name(o->input)),
	       PS_S("stdin_source", r.stdin_source.data),
	       PS_I("stdin_checkpoint", cp),
	       PS_I("sources", ps_checkpoint_count(r.committed)),
	       PS_B("continue", o->continue_mode));
	t.fd = in_fd;
	t.wake = 0;
	t.deadline = 0;
	/* Plain lines are records, capped at max_line; envelope lines hold
	   a record escaped, up to the cap of every reader of our lines. */
	r.max_payload = o->max_line ? o->max_line : PS_NDJSON_DEFAULT_MAX;
	nd = ps_ndjson_new(timed_read, &t, o->input == PS_INPUT_ENVELOPES ?
			   PS_LINE_MAX : r.max_payload);
	ps_ndjson_set_interrupt(nd, &t.wake);
	ep = ps_envelope_parser_new();
	ps_progress_init(&r.prog, r.c, C_N);
	started = 1;
	for (;;) {
		int n;

		if (ps_stop_requested || r.gone)
			break;
		t.wake = 0;
		t.deadline = r.batch_records || r.batch_quarantined ?
			     r.deadline : 0;
		n = ps_ndjson_next(nd, &line, e);
		if (n < 0) {
			if (e->code)
				goto out;
			if (!ps_stop_requested && commit(&r, e) < 0)
				goto out;
			continue;
		}
		if (n == 0)
			break;
		if (handle_line(&r, ep, &line, base, e) < 0)
			goto out;
		ps_progress_tick(&r.prog);
		if (r.batch_records >= o->flush_records ||
		    r.out.len >= (size_t)o->flush_bytes ||
		    (!(++tick & 63) &&
		     (r.batch_records || r.batch_quarantined) &&
		     ps_mono() >= r.deadline)) {
			if (commit(&r, e) < 0)
				goto out;
		}
	}
	if (commit(&r, e) < 0)
		goto out;
	if (ps_stop_requested)
		ps_log(PS_INFO, "stop requested: committed and stopping");
	rc = 0;
out:
	if (rc < 0)
		free_parts(&r);	/* removes the temporaries */
	if (started)
		ps_progress_done(&r.prog, rc ? "stopped on error" : "done");
	ps_ndjson_free(nd);
	ps_envelope_parser_free(ep);
	run_release(&r);
	return rc;
}
