/*
 * deltatool - a test-only front end to lib/delta (not installed).
 *
 *   deltatool create DIR --schema "name:type[?],..." [--partition COL]...
 *             [--id UUID] [--now MS]
 *   deltatool append DIR [--pv KEY=VALUE]... [--txn APPID=VERSION]...
 *             [--remove PATH]... [--no-data-change] [--now MS]
 *             [--checkpoint-interval N] [--read-version V] [FILE...]
 *                      FILEs are Parquet files already under DIR (relative
 *                      paths); prints the committed version
 *   deltatool snapshot DIR [--version N | --as-of MS]
 *                      the snapshot as one JSON object
 *   deltatool checkpoint DIR VERSION [--now MS]
 *   deltatool compact DIR SMALL_BYTES [--now MS]
 *   deltatool vacuum DIR RETENTION_MS [--now MS] [--dry-run]
 *                      print {"files_in",...,"deleted","bytes_deleted"}
 *
 * Exit status: 0, or the lib/delta error code (75 for a conflict).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "delta.h"
#include "error.h"
#include "json.h"
#include "parquet.h"
#include "pstime.h"
#include "banned.h"

static int usage(void)
{
	fputs("usage: deltatool create DIR --schema SPEC [--partition COL]... "
	      "[--id UUID] [--now MS]\n"
	      "       deltatool append DIR [--pv K=V]... [--txn APP=VER]... "
	      "[--remove PATH]... [--no-data-change] [--now MS] "
	      "[--checkpoint-interval N] [--read-version V] [FILE...]\n"
	      "       deltatool snapshot DIR [--version N | --as-of MS]\n"
	      "       deltatool checkpoint DIR VERSION [--now MS]\n"
	      "       deltatool compact DIR SMALL_BYTES [--now MS]\n"
	      "       deltatool vacuum DIR RETENTION_MS [--now MS] [--dry-run]\n",
	      stderr);
	return PS_EX_USAGE;
}

static int fail(const struct ps_error *e)
{
	fprintf(stderr, "deltatool: %s\n", e->msg);
	return e->code ? e->code : PS_EX_SOFTWARE;
}

static int64_t num(const char *s)
{
	return strtoll(s, NULL, 10);
}

static int cmd_create(int argc, char **argv)
{
	struct ps_pq_column cols[64];
	const char *part[16], *id = NULL;
	struct ps_delta_commit *c;
	struct ps_error e = { 0 };
	size_t ncols = 0, npart = 0;
	int64_t now = ps_time_now() / 1000, v;
	char *spec = NULL, *p, *tok;
	int a;

	for (a = 3; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--schema"))
			spec = argv[a + 1];
		else if (!strcmp(argv[a], "--partition") && npart < 16)
			part[npart++] = argv[a + 1];
		else if (!strcmp(argv[a], "--id"))
			id = argv[a + 1];
		else if (!strcmp(argv[a], "--now"))
			now = num(argv[a + 1]);
		else
			return usage();
	}
	if (a != argc || !spec)
		return usage();
	spec = ps_xstrdup(spec);
	for (p = spec; (tok = strsep(&p, ",")) && ncols < 64; ncols++) {
		char *colon = strchr(tok, ':');
		size_t n;

		if (!colon)
			return usage();
		*colon++ = '\0';
		n = strlen(colon);
		cols[ncols].nullable = n && colon[n - 1] == '?';
		if (cols[ncols].nullable)
			colon[n - 1] = '\0';
		cols[ncols].name = tok;
		cols[ncols].no_dict = 0;
		if (ps_pq_type_parse(colon, &cols[ncols].type))
			return usage();
	}
	c = ps_delta_commit_new("CREATE TABLE", -1);
	if (ps_delta_commit_create(c, id, cols, ncols, part, npart, now, &e) ||
	    ps_delta_commit_write(argv[2], c, now, 0, &v, &e)) {
		ps_delta_commit_free(c);
		free(spec);
		return fail(&e);
	}
	ps_delta_commit_free(c);
	free(spec);
	printf("%lld\n", (long long)v);
	return 0;
}

static int cmd_append(int argc, char **argv)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	const char *keys[16], *vals[16];
	struct ps_delta_commit *c = NULL;
	struct ps_error e = { 0 };
	size_t npv = 0, i;
	int64_t now = ps_time_now() / 1000, v, read_version = -2;
	int a, data_change = 1, interval = PS_DELTA_CHECKPOINT_INTERVAL;
	int rc = 0;

	/* first pass: options that shape the commit */
	for (a = 3; a < argc; a++) {
		if (!strcmp(argv[a], "--no-data-change")) {
			data_change = 0;
		} else if (a + 1 < argc && !strcmp(argv[a], "--now")) {
			now = num(argv[++a]);
		} else if (a + 1 < argc &&
			   !strcmp(argv[a], "--checkpoint-interval")) {
			interval = (int)num(argv[++a]);
		} else if (a + 1 < argc &&
			   !strcmp(argv[a], "--read-version")) {
			read_version = num(argv[++a]);
		} else if (a + 1 < argc && !strcmp(argv[a], "--pv")) {
			char *eq = strchr(argv[++a], '=');

			if (!eq || npv == 16)
				return usage();
			*eq = '\0';
			keys[npv] = argv[a];
			vals[npv++] = eq + 1;
		} else if (a + 1 < argc && (!strcmp(argv[a], "--txn") ||
					    !strcmp(argv[a], "--remove"))) {
			a++;
		} else if (argv[a][0] == '-') {
			return usage();
		}
	}
	if (ps_delta_snapshot_load(argv[2], read_version >= -1 &&
				   read_version >= 0 ? read_version : -1, &s,
				   &e))
		return fail(&e);
	if (s.version < 0) {
		ps_error_set(&e, PS_EX_NOINPUT, "%s: no table", argv[2]);
		ps_delta_snapshot_release(&s);
		return fail(&e);
	}
	c = ps_delta_commit_new("WRITE", s.version);
	for (a = 3; a < argc && !rc; a++) {
		if (!strcmp(argv[a], "--no-data-change")) {
			continue;
		} else if (!strcmp(argv[a], "--now") ||
			   !strcmp(argv[a], "--checkpoint-interval") ||
			   !strcmp(argv[a], "--read-version") ||
			   !strcmp(argv[a], "--pv")) {
			a++;
		} else if (!strcmp(argv[a], "--txn")) {
			char *eq = strchr(argv[++a], '=');

			if (!eq) {
				rc = usage();
				break;
			}
			*eq = '\0';
			ps_delta_commit_txn(c, argv[a], num(eq + 1), now);
		} else if (!strcmp(argv[a], "--remove")) {
			a++;
			for (i = 0; i < s.nfiles; i++)
				if (!strcmp(s.files[i].path, argv[a]))
					break;
			if (i == s.nfiles) {
				ps_error_set(&e, PS_EX_DATAERR, "%s is not in "
					     "the table", argv[a]);
				rc = -1;
				break;
			}
			ps_delta_commit_remove(c, &s.files[i], now,
					       data_change);
		} else if (ps_delta_commit_add_file(c, argv[2], argv[a], keys,
						    vals, npv, data_change,
						    &e)) {
			rc = -1;
		}
	}
	if (!rc && ps_delta_commit_write(argv[2], c, now, interval, &v, &e))
		rc = -1;
	ps_delta_commit_free(c);
	ps_delta_snapshot_release(&s);
	if (rc < 0)
		return fail(&e);
	if (rc)
		return rc;
	printf("%lld\n", (long long)v);
	return 0;
}

static int cmd_snapshot(int argc, char **argv)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0 };
	int64_t version = -1;
	size_t i, k;

	if (argc == 5 && !strcmp(argv[3], "--version")) {
		version = num(argv[4]);
	} else if (argc == 5 && !strcmp(argv[3], "--as-of")) {
		if (ps_delta_version_at(argv[2], num(argv[4]), &version, &e))
			return fail(&e);
	} else if (argc != 3) {
		return usage();
	}
	if (ps_delta_snapshot_load(argv[2], version, &s, &e))
		return fail(&e);
	ps_buf_addf(&b, "{\"version\":%lld,\"timestamp\":%lld,"
		    "\"checkpoint\":%lld,\"protocol\":[%d,%d],\"id\":",
		    (long long)s.version, (long long)s.timestamp_ms,
		    (long long)s.checkpoint, s.min_reader, s.min_writer);
	if (s.table_id)
		ps_json_add_str(&b, s.table_id, strlen(s.table_id));
	else
		ps_buf_adds(&b, "null");
	ps_buf_adds(&b, ",\"partitionColumns\":[");
	for (i = 0; i < s.npart; i++) {
		if (i)
			ps_buf_addc(&b, ',');
		ps_json_add_str(&b, s.part_cols[i], strlen(s.part_cols[i]));
	}
	ps_buf_adds(&b, "],\"txns\":{");
	for (i = 0; i < s.ntxns; i++) {
		if (i)
			ps_buf_addc(&b, ',');
		ps_json_add_str(&b, s.txns[i].app_id,
				strlen(s.txns[i].app_id));
		ps_buf_addf(&b, ":%lld", (long long)s.txns[i].version);
	}
	ps_buf_adds(&b, "},\"files\":[");
	for (i = 0; i < s.nfiles; i++) {
		const struct ps_delta_file *f = &s.files[i];

		if (i)
			ps_buf_addc(&b, ',');
		ps_buf_adds(&b, "{\"path\":");
		ps_json_add_str(&b, f->path, strlen(f->path));
		ps_buf_addf(&b, ",\"size\":%lld,\"partitionValues\":{",
			    (long long)f->size);
		for (k = 0; k < f->npv; k++) {
			if (k)
				ps_buf_addc(&b, ',');
			ps_json_add_str(&b, f->pv_keys[k],
					strlen(f->pv_keys[k]));
			ps_buf_addc(&b, ':');
			if (f->pv_vals[k])
				ps_json_add_str(&b, f->pv_vals[k],
						strlen(f->pv_vals[k]));
			else
				ps_buf_adds(&b, "null");
		}
		ps_buf_adds(&b, "},\"stats\":");
		if (f->stats)
			ps_buf_adds(&b, f->stats);
		else
			ps_buf_adds(&b, "null");
		ps_buf_addc(&b, '}');
	}
	ps_buf_addf(&b, "],\"removed\":%zu}\n", s.nremoved);
	fwrite(b.data, 1, b.len, stdout);
	ps_buf_release(&b);
	ps_delta_snapshot_release(&s);
	return fflush(stdout) ? PS_EX_IOERR : 0;
}

static int cmd_maint(int argc, char **argv, int vacuum)
{
	struct ps_delta_maint m;
	struct ps_error e = { 0 };
	int64_t now = ps_time_now() / 1000;
	int a, dry = 0, rc;

	if (argc < 4)
		return usage();
	for (a = 4; a < argc; a++) {
		if (vacuum && !strcmp(argv[a], "--dry-run"))
			dry = 1;
		else if (a + 1 < argc && !strcmp(argv[a], "--now"))
			now = num(argv[++a]);
		else
			return usage();
	}
	rc = vacuum ? ps_delta_vacuum(argv[2], num(argv[3]), now, dry, NULL,
				      NULL, &m, &e) :
		ps_delta_compact(argv[2], num(argv[3]), now, &m, &e);
	if (rc)
		return fail(&e);
	printf("{\"files_in\":%zu,\"files_out\":%zu,\"bytes_in\":%lld,"
	       "\"bytes_out\":%lld,\"version\":%lld,\"deleted\":%zu,"
	       "\"bytes_deleted\":%lld}\n", m.files_in, m.files_out,
	       (long long)m.bytes_in, (long long)m.bytes_out,
	       (long long)m.version, m.deleted, (long long)m.bytes_deleted);
	return fflush(stdout) ? PS_EX_IOERR : 0;
}

int main(int argc, char **argv)
{
	struct ps_error e = { 0 };
	int64_t now = ps_time_now() / 1000;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "create"))
		return cmd_create(argc, argv);
	if (!strcmp(argv[1], "append"))
		return cmd_append(argc, argv);
	if (!strcmp(argv[1], "snapshot"))
		return cmd_snapshot(argc, argv);
	if (!strcmp(argv[1], "compact"))
		return cmd_maint(argc, argv, 0);
	if (!strcmp(argv[1], "vacuum"))
		return cmd_maint(argc, argv, 1);
	if (!strcmp(argv[1], "checkpoint") && (argc == 4 || argc == 6)) {
		if (argc == 6 && !strcmp(argv[4], "--now"))
			now = num(argv[5]);
		else if (argc == 6)
			return usage();
		if (ps_delta_checkpoint(argv[2], num(argv[3]), now, -1, &e))
			return fail(&e);
		return 0;
	}
	return usage();
}
