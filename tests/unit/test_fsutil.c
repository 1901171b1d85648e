/* test_fsutil.c - durable, atomic files (lib/fsutil.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "banned.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ps-test-fsutil-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	umask(022);
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d))) {
		char *p;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = ps_path_join(path, de->d_name);
		rm_rf(p);
		free(p);
	}
	closedir(d);
	chmod(path, 0700);
	rmdir(path);
}

static void teardown(void)
{
	rm_rf(dir);
}

static char *in_dir(const char *name)
{
	return ps_path_join(dir, name);
}

/* How many names in d start with '.' (besides . and ..). */
static int hidden_files(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(dd);
	while ((de = readdir(dd)))
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") &&
		    strcmp(de->d_name, ".."))
			n++;
	closedir(dd);
	return n;
}

static void assert_content(const char *path, const char *want, size_t n)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_read_file(path, &b, 1 << 20, &e), 0, "%s", e.msg);
	cr_assert_eq(b.len, n, "%s", path);
	cr_assert(!memcmp(b.data, want, n));
	ps_buf_release(&b);
}

TestSuite(fsutil, .init = setup, .fini = teardown);

Test(fsutil, atomic_write_creates_file_with_content_and_mode)
{
	char *p = in_dir("a/b/out.json");
	char *sub = in_dir("a/b");
	struct ps_error e = { 0, "" };
	struct stat st;

	cr_assert_eq(ps_write_file_atomic(p, "x\0y\n", 4, 0640, &e), 0, "%s",
		     e.msg);
	assert_content(p, "x\0y\n", 4);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(hidden_files(sub), 0, "no temporary left");
	/* Replacing keeps it whole; the umask applies as for open(2). */
	cr_assert_eq(ps_write_file_atomic(p, "new", 3, 0666, &e), 0);
	assert_content(p, "new", 3);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
	cr_assert_eq(ps_write_file_atomic(p, "", 0, 0600, &e), 0);
	assert_content(p, "", 0);
	cr_assert_eq(hidden_files(sub), 0);
	free(p);
	free(sub);
}

Test(fsutil, afile_in_steps_and_abort)
{
	char *p = in_dir("f.ndjson");
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };
	struct stat st;
	int i;

	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0, "%s", e.msg);
	cr_assert(f.tmp && strstr(f.tmp, "/.f.ndjson.tmp-"), "%s", f.tmp);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(ps_afile_write(&f, "line\n", 5, &e), 0);
	cr_assert_neq(stat(p, &st), 0, "not visible before commit");
	cr_assert_eq(hidden_files(dir), 1);
	cr_assert_eq(ps_afile_commit(&f, &e), 0, "%s", e.msg);
	cr_assert_eq(f.fd, -1);
	cr_assert_null(f.tmp);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_size, 5000);
	cr_assert_eq(hidden_files(dir), 0);

	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0);
	cr_assert_eq(ps_afile_write(&f, "partial", 7, &e), 0);
	ps_afile_abort(&f);
	cr_assert_eq(f.fd, -1);
	cr_assert_eq(hidden_files(dir), 0, "abort removes the temporary");
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_size, 5000, "old file untouched");
	free(p);
}

/* The hidden name a scratch file falls back to (file systems without
 * O_TMPFILE) starts as the temporary of the file it serves, so the
 * start-up cleanup of that file's writer removes it after a crash. */
Test(fsutil, scratch_name_is_a_temporary_of_its_file)
{
	char *p = in_dir("part-00001-2.parquet");
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf b = PS_BUF_INIT;
	const char *tmpend;
	char pid[32];

	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0, "%s", e.msg);
	ps_scratch_name(&b, p);
	tmpend = strstr(f.tmp, ".tmp-");
	cr_assert_not_null(tmpend);
	/* ".part-00001-2.parquet." and the writer's process id */
	cr_assert_eq(strncmp(b.data, f.tmp, (size_t)(tmpend - f.tmp) + 1), 0,
		     "%s vs %s", b.data, f.tmp);
	snprintf(pid, sizeof(pid), ".tmp-%ld", (long)getpid());
	cr_assert_str_eq(b.data + b.len - strlen(pid), pid);
	cr_assert(ps_temp_writer_alive(strrchr(b.data, '/') + 1));
	ps_afile_abort(&f);
	ps_buf_release(&b);
	free(p);
}

static int write_over_limit(const char *path)
{
	struct rlimit rl = { 4096, 4096 };
	struct ps_error e = { 0, "" };
	static char data[65536];

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 2;
	memset(data, 'x', sizeof(data));
	if (ps_write_file_atomic(path, data, sizeof(data), 0644, &e) != -1)
		return 3;
	if (e.code != 74)
		return 4;
	if (!strstr(e.msg, "File too large") || strchr(e.msg, '\n'))
		return 5;
	return 0;
}

Test(fsutil, failing_write_leaves_nothing)
{
	char *p = in_dir("big.bin");
	struct stat st;
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(write_over_limit(p));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child killed by %d", WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "child step %d failed",
		     WEXITSTATUS(status));
	cr_assert_neq(stat(p, &st), 0, "no final file");
	cr_assert_eq(hidden_files(dir), 0, "no temporary");
	free(p);
}

Test(fsutil, failing_commit_removes_the_temporary)
{
	char *p = in_dir("isdir");
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };
	char *inner = in_dir("isdir/keep");

	/* The final name is a non-empty directory: rename fails. */
	cr_assert_eq(ps_mkdir_p(inner, 0755, &e), 0);
	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0);
	cr_assert_eq(ps_afile_write(&f, "x", 1, &e), 0);
	cr_assert_eq(ps_afile_commit(&f, &e), -1);
	cr_assert_eq(e.code, 74);
	cr_assert_null(f.tmp);
	cr_assert_eq(hidden_files(dir), 0);
	free(p);
	free(inner);
}

Test(fsutil, cannot_create_is_73)
{
	char *file = in_dir("plain");
	char *under = in_dir("plain/sub/x");
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_write_file_atomic(file, "1", 1, 0644, &e), 0);
	cr_assert_eq(ps_afile_open(&f, under, 0644, &e), -1);
	cr_assert_eq(e.code, 73, "%s", e.msg);
	cr_assert_eq(f.fd, -1);
	cr_assert_null(f.tmp);
	cr_assert_null(f.path);
	cr_assert_eq(ps_write_file_atomic(under, "1", 1, 0644, &e), -1);
	cr_assert_eq(e.code, 73);
	free(file);
	free(under);
}

Test(fsutil, remove_stale_temps)
{
	char dead_a[64], dead_b[64], dead_c[64], live[64];
	const char *names[8];
	struct stat st;
	size_t i;
	char *missing = in_dir("nope");
	pid_t child = fork();

	cr_assert(child >= 0);
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);	/* child's PID: a writer that died */
	snprintf(dead_a, sizeof(dead_a), ".a.ndjson.tmp-%ld", (long)child);
	snprintf(dead_b, sizeof(dead_b), ".b.tmp-%ld", (long)child);
	snprintf(dead_c, sizeof(dead_c), "..c.tmp-%ld", (long)child);
	snprintf(live, sizeof(live), ".d.parquet.tmp-%ld", (long)getpid());
	names[0] = dead_a;
	names[1] = dead_b;
	names[2] = "x.tmp-1";		/* not hidden: not a temp file */
	names[3] = ".hidden";
	names[4] = "data.ndjson";
	names[5] = ".tmp-";		/* no PID: abandoned */
	names[6] = dead_c;
	names[7] = live;		/* its writer (we) still runs */
	for (i = 0; i < 8; i++) {
		char *p = in_dir(names[i]);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);

		cr_assert(fd >= 0);
		close(fd);
		free(p);
	}
	cr_assert_eq(ps_remove_stale_temps(dir), 4);
	for (i = 0; i < 8; i++) {
		char *p = in_dir(names[i]);
		int gone = stat(p, &st) != 0;

		cr_assert_eq(gone, i < 2 || i == 5 || i == 6, "%s", names[i]);
		free(p);
	}
	cr_assert_eq(ps_remove_stale_temps(dir), 0);
	cr_assert_eq(ps_remove_stale_temps(missing), 0);
	free(missing);
}

Test(fsutil, mkdir_p)
{
	struct ps_error e = { 0, "" };
	struct stat st;
	char *deep = in_dir("x/y/z");
	char *slash = in_dir("s//t/");
	char *file = in_dir("f");
	char *through = in_dir("f/g");

	cr_assert_eq(ps_mkdir_p(deep, 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(stat(deep, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(ps_mkdir_p(deep, 0755, &e), 0, "existing is fine");
	cr_assert_eq(ps_mkdir_p(slash, 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(stat(slash, &st), 0);
	cr_assert_eq(ps_mkdir_p("/", 0755, &e), 0);
	cr_assert_eq(ps_write_file_atomic(file, "", 0, 0644, &e), 0);
	cr_assert_eq(ps_mkdir_p(through, 0755, &e), -1);
	cr_assert_eq(e.code, 73);
	cr_assert(strstr(e.msg, "cannot create directory"), "%s", e.msg);
	e.code = 0;
	cr_assert_eq(ps_mkdir_p(file, 0755, &e), -1, "a file is not a dir");
	cr_assert_eq(e.code, 73);
	e.code = 0;
	cr_assert_eq(ps_mkdir_p("", 0755, &e), -1);
	cr_assert_eq(e.code, 73);
	free(deep);
	free(slash);
	free(file);
	free(through);
}

Test(fsutil, mkdir_p_relative)
{
	struct ps_error e = { 0, "" };
	struct stat st;
	char cwd[4096];

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(ps_mkdir_p("rel/a", 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(stat("rel/a", &st), 0);
	cr_assert_eq(ps_write_file_atomic("plain.txt", "p", 1, 0644, &e), 0);
	cr_assert_eq(stat("plain.txt", &st), 0);
	cr_assert_eq(hidden_files("."), 0);
	cr_assert_eq(chdir(cwd), 0);
}

/* ps_mkdir_durable fsyncs the parent of each directory it made, and
 * nothing when they exist (a relative path's first parent is "."). */
Test(fsutil, mkdir_durable_syncs_the_parents_of_what_it_made)
{
	struct ps_error e = { 0, "" };
	struct stat st;
	char *deep = in_dir("d/e/f");
	char *deeper = in_dir("d/e/f/g");
	unsigned long long f0 = ps_fs_fsyncs();
	char cwd[4096];

	cr_assert_eq(ps_mkdir_durable(deep, 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(stat(deep, &st), 0);
	cr_assert_eq(ps_fs_fsyncs() - f0, 3, "dir, d and d/e");
	f0 = ps_fs_fsyncs();
	cr_assert_eq(ps_mkdir_durable(deep, 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - f0, 0, "nothing made");
	cr_assert_eq(ps_mkdir_durable(deeper, 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - f0, 1, "d/e/f");
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	f0 = ps_fs_fsyncs();
	cr_assert_eq(ps_mkdir_durable("r/s", 0755, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - f0, 2, ". and r");
	cr_assert_eq(stat("r/s", &st), 0);
	cr_assert_eq(chdir(cwd), 0);
	free(deep);
	free(deeper);
}

Test(fsutil, read_file)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	char *p = in_dir("r.txt"), *missing = in_dir("missing");
	static char big[200000];

	cr_assert_eq(ps_read_file(missing, &b, 100, &e), 1);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(ps_write_file_atomic(p, "0123456789", 10, 0644, &e), 0);
	ps_buf_adds(&b, "pre:");
	cr_assert_eq(ps_read_file(p, &b, 10, &e), 0, "exactly max is fine");
	cr_assert_str_eq(b.data, "pre:0123456789", "appends");
	cr_assert_eq(ps_read_file(p, &b, 9, &e), -1);
	cr_assert_eq(e.code, 74);
	cr_assert(strstr(e.msg, "larger than 9 bytes"), "%s", e.msg);
	cr_assert_str_eq(b.data, "pre:0123456789", "b unchanged on error");
	cr_assert_eq(b.len, 14);
	cr_assert_eq(ps_read_file(dir, &b, 100, &e), -1, "a directory");
	cr_assert_eq(e.code, 74);
	cr_assert_eq(b.len, 14);
	/* Bigger than one read. */
	memset(big, 'q', sizeof(big));
	cr_assert_eq(ps_write_file_atomic(p, big, sizeof(big), 0644, &e), 0);
	ps_buf_reset(&b);
	cr_assert_eq(ps_read_file(p, &b, sizeof(big), &e), 0);
	cr_assert_eq(b.len, sizeof(big));
	cr_assert(!memcmp(b.data, big, sizeof(big)));
	cr_assert_eq(b.data[b.len], '\0');
	ps_buf_reset(&b);
	cr_assert_eq(ps_read_file(p, &b, sizeof(big) - 1, &e), -1);
	/* Empty file: 0, and a valid empty string. */
	cr_assert_eq(ps_write_file_atomic(p, "", 0, 0644, &e), 0);
	ps_buf_release(&b);
	cr_assert_eq(ps_read_file(p, &b, 10, &e), 0);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	ps_buf_release(&b);
	free(p);
	free(missing);
}

Test(fsutil, read_file_cannot_open_is_66)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	char *file = in_dir("plain"), *p = in_dir("plain/x");

	/* A path through a file (ENOTDIR) fails even for root. */
	cr_assert_eq(ps_write_file_atomic(file, "s", 1, 0644, &e), 0);
	cr_assert_eq(ps_read_file(p, &b, 10, &e), -1);
	cr_assert_eq(e.code, 66);
	cr_assert(strstr(e.msg, "cannot open"), "%s", e.msg);
	cr_assert_eq(b.len, 0);
	free(file);
	free(p);
}

Test(fsutil, fsync_dir_and_path_join)
{
	struct ps_error e = { 0, "" };
	char *j;

	cr_assert_eq(ps_fsync_dir(dir, &e), 0);
	cr_assert_eq(ps_fsync_dir("/nonexistent/ps-test", &e), -1);
	cr_assert_eq(e.code, 74);
	j = ps_path_join("a", "b");
	cr_assert_str_eq(j, "a/b");
	free(j);
	j = ps_path_join("a/", "b");
	cr_assert_str_eq(j, "a/b");
	free(j);
	j = ps_path_join("", "b");
	cr_assert_str_eq(j, "b");
	free(j);
}

Test(fsutil, fsync_dirs_syncs_each_and_names_the_one_that_fails)
{
	struct ps_error e = { 0, "" };
	unsigned long long syncs = ps_fs_fsyncs();
	char *d[12];
	size_t i;

	for (i = 0; i < 12; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%zu", i);
		d[i] = in_dir(name);
		cr_assert_eq(ps_mkdir_p(d[i], 0755, &e), 0);
	}
	cr_assert_eq(ps_fsync_dirs((const char *const *)d, 12, &e), 0);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 12);
	cr_assert_eq(ps_fsync_dirs(NULL, 0, &e), 0);
	free(d[7]);
	d[7] = ps_xstrdup("/nonexistent/ps-test");
	cr_assert_eq(ps_fsync_dirs((const char *const *)d, 12, &e), -1);
	cr_assert_eq(e.code, 74);
	cr_assert(strstr(e.msg, "/nonexistent/ps-test"), "%s", e.msg);
	for (i = 0; i < 12; i++)
		free(d[i]);
}

Test(fsutil, link_new_leaves_the_directory_sync_to_the_caller)
{
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };
	char *p = in_dir("log.json");
	unsigned long long syncs;

	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0);
	cr_assert_eq(ps_afile_write(&f, "{}", 2, &e), 0);
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_afile_link_new(&f, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 1, "the file, not its directory");
	cr_assert_eq(f.fd, -1);
	assert_content(p, "{}", 2);
	cr_assert_eq(hidden_files(dir), 0);
	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0);
	cr_assert_eq(ps_afile_write(&f, "[]", 2, &e), 0);
	cr_assert_eq(ps_afile_link_new(&f, &e), 1, "never replaces");
	assert_content(p, "{}", 2);
	cr_assert_eq(hidden_files(dir), 0);
	free(p);
}

Test(fsutil, seal_all_makes_files_durable_and_their_commits_sync_no_file)
{
	static const char *const name[] = { "s/a", "s/b", "s/c" };
	struct ps_afile f[3], *fp[3];
	struct ps_error e = { 0, "" };
	unsigned long long syncs;
	char *p[3], *s = in_dir("s");
	struct stat st;
	size_t i;

	for (i = 0; i < 3; i++) {
		p[i] = in_dir(name[i]);
		f[i] = (struct ps_afile)PS_AFILE_INIT;
		fp[i] = &f[i];
		cr_assert_eq(ps_afile_open(&f[i], p[i], 0644, &e), 0);
		cr_assert_eq(ps_afile_write(&f[i], name[i], 3, &e), 0);
	}
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_afile_seal_all(fp, 3, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 3, "one fsync a file");
	for (i = 0; i < 3; i++) {
		cr_assert(f[i].sealed && f[i].fd == -1);
		cr_assert_neq(stat(p[i], &st), 0, "not visible yet");
	}
	cr_assert_eq(hidden_files(s), 3);
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_afile_link_new(&f[0], &e), 0, "%s", e.msg);
	cr_assert_eq(ps_afile_commit_new(&f[1], &e), 0, "%s", e.msg);
	cr_assert_eq(ps_afile_commit(&f[2], &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 2, "the directory, twice");
	for (i = 0; i < 3; i++) {
		assert_content(p[i], name[i], 3);
		cr_assert(!f[i].sealed && !f[i].tmp);
		free(p[i]);
	}
	cr_assert_eq(hidden_files(s), 0);
	free(s);
}

/* Write name with content s into g (opened, written, added). */
static void group_file(struct ps_fsgroup *g, const char *name, const char *s)
{
	char *p = in_dir(name);
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_afile_write(&f, s, strlen(s), &e), 0);
	cr_assert_eq(ps_fsgroup_add(g, &f, &e), 0, "%s", e.msg);
	cr_assert_eq(f.fd, -1, "the group owns the file");
	free(p);
}

Test(fsutil, group_commits_files_of_many_directories_together)
{
	struct ps_fsgroup *g = ps_fsgroup_new();
	struct ps_error e = { 0, "" };
	unsigned long long syncs = ps_fs_fsyncs();
	char *a = in_dir("d=1/a"), *b = in_dir("d=2/b"), *c = in_dir("d=1/c");
	char *d1 = in_dir("d=1");
	struct stat st;

	group_file(g, "d=1/a", "aa");
	group_file(g, "d=2/b", "bbb");
	group_file(g, "d=1/c", "");
	cr_assert_neq(stat(a, &st), 0, "not visible before the commit");
	cr_assert_eq(hidden_files(d1), 2);
	cr_assert_eq(ps_fsgroup_commit(g, &e), 0, "%s", e.msg);
	assert_content(a, "aa", 2);
	assert_content(b, "bbb", 3);
	assert_content(c, "", 0);
	cr_assert_eq(hidden_files(d1), 0);
	/* three files, two directories: one fsync each */
	cr_assert_eq(ps_fs_fsyncs() - syncs, 5);
	cr_assert_eq(ps_fsgroup_commit(g, &e), 0, "an empty group commits");
	ps_fsgroup_free(g);
	free(a);
	free(b);
	free(c);
	free(d1);
}

Test(fsutil, group_free_aborts_and_a_full_group_commits_first)
{
	struct ps_fsgroup *g = ps_fsgroup_new();
	char name[32], *p;
	struct stat st;
	int i;

	group_file(g, "x", "never");
	ps_fsgroup_free(g);
	p = in_dir("x");
	cr_assert_neq(stat(p, &st), 0);
	cr_assert_eq(hidden_files(dir), 0, "free removed the temporary");
	free(p);

	g = ps_fsgroup_new();
	for (i = 0; i <= PS_FSGROUP_MAX; i++) {
		snprintf(name, sizeof(name), "many/%03d", i);
		group_file(g, name, "1");
	}
	p = in_dir("many/000");
	cr_assert_eq(stat(p, &st), 0, "the first %d are committed",
		     PS_FSGROUP_MAX);
	free(p);
	p = in_dir("many");
	cr_assert_eq(hidden_files(p), 1, "the last one waits");
	ps_fsgroup_free(g);
	cr_assert_eq(hidden_files(p), 0);
	free(p);
}

/* The inode numbers of the files of d whose name holds ".pool." (at most
 * max), and how many. */
static int pool_inodes(const char *d, ino_t *ino, int max)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(dd);
	while ((de = readdir(dd)))
		if (strstr(de->d_name, ".pool.") && n < max)
			ino[n++] = de->d_ino;
	closedir(dd);
	return n;
}

static void commit_file(const char *name, const char *s, mode_t mode)
{
	char *p = in_dir(name);
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_afile_open(&f, p, mode, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_afile_write(&f, s, strlen(s), &e), 0);
	cr_assert_eq(ps_afile_commit(&f, &e), 0, "%s", e.msg);
	assert_content(p, s, strlen(s));
	free(p);
}

/*
 * Files made ahead (ps_fspool_start): a fill makes as many empty hidden
 * files in each directory as the round before opened there, named as
 * temporaries of the last file opened there; the next open takes one
 * (its inode, under the file's own temporary name), a file of another
 * mode is created as before, a made file removed meanwhile is made
 * again; stop removes what is left, and a directory nothing is taken
 * from for 16 fills gives its files back.
 */
/* A file made ahead that cannot be opened once taken (here: no file
 * descriptor left) is removed: the failed open leaves no temporary. */
Test(fsutil, a_made_file_that_cannot_be_opened_leaves_nothing)
{
	char *a = in_dir("a"), *p = in_dir("a/x2");
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };
	struct rlimit rl, low;
	int fd;

	ps_fspool_start();
	commit_file("a/x1", "one", 0644);
	ps_fspool_fill();
	ps_fspool_fill();	/* waits for the one before */
	cr_assert_eq(hidden_files(a), 1);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	fd = open("/dev/null", O_RDONLY);	/* the lowest free one */
	cr_assert_geq(fd, 0);
	low = rl;
	low.rlim_cur = (rlim_t)fd;	/* none free from here */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), -1);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	close(fd);
	cr_assert_eq(e.code, 73, "%s", e.msg);
	cr_assert_eq(hidden_files(a), 0, "the taken file is removed");
	ps_fspool_stop();
	free(a);
	free(p);
}

/* At start a directory's temporaries carrying this process's PID are a
 * killed run's (a container restarts with the same PID): removed there,
 * kept by the usual cleanup. */
Test(fsutil, temporaries_of_this_pid_removed_at_start)
{
	char *a = in_dir("s"), name[64], *p;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_mkdir_p(a, 0755, &e), 0);
	snprintf(name, sizeof(name), "s/.part-1.parquet.pool.0.tmp-%ld",
		 (long)getpid());
	p = in_dir(name);
	cr_assert_eq(ps_write_file_atomic(p, "", 0, 0644, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_remove_stale_temps(a), 0, "a live writer's");
	cr_assert_eq(hidden_files(a), 1);
	cr_assert_eq(ps_remove_temps_at_start(a), 1);
	cr_assert_eq(hidden_files(a), 0);
	free(p);
	free(a);
}

Test(fsutil, files_made_ahead_are_taken_by_the_next_round)
{
	char *a = in_dir("a"), *b = in_dir("b"), *p, *q;
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_error e = { 0, "" };
	ino_t made[4];
	struct stat st;
	int n, i;

	ps_fspool_start();
	commit_file("a/x1", "one", 0644);
	commit_file("a/x2", "two", 0644);
	commit_file("b/y1", "why", 0644);
	cr_assert_eq(hidden_files(a) + hidden_files(b), 0, "none made yet");
	ps_fspool_fill();
	ps_fspool_fill();	/* waits for the one before; none taken since */
	cr_assert_eq(ps_fspool_held(), 3);
	cr_assert_eq(hidden_files(a), 2);
	n = pool_inodes(a, made, 4);
	cr_assert_eq(n, 2);

	/* the next open in a takes one of them, under its own name */
	p = in_dir("a/x3");
	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0, "%s", e.msg);
	cr_assert(strstr(f.tmp, "/.x3.tmp-"), "%s", f.tmp);
	cr_assert_eq(stat(f.tmp, &st), 0);
	cr_assert(st.st_ino == made[0] || st.st_ino == made[1],
		  "the inode made ahead");
	cr_assert_eq(st.st_mode & 07777, 0644);
	cr_assert_eq(hidden_files(a), 2, "one made, one temporary");
	cr_assert_eq(ps_afile_write(&f, "three", 5, &e), 0);
	cr_assert_eq(ps_afile_commit(&f, &e), 0, "%s", e.msg);
	assert_content(p, "three", 5);
	cr_assert_eq(ps_fspool_held(), 2);
	free(p);

	/* another mode: created as before, nothing taken */
	commit_file("b/secret", "s", 0600);
	q = in_dir("b/secret");
	cr_assert_eq(stat(q, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	free(q);
	cr_assert_eq(ps_fspool_held(), 2);

	/* removed meanwhile (a cleanup): the file is created instead */
	cr_assert_eq(pool_inodes(b, made, 4), 1);
	{
		DIR *dd = opendir(b);
		struct dirent *de;

		while ((de = readdir(dd)))
			if (strstr(de->d_name, ".pool.")) {
				q = ps_path_join(b, de->d_name);
				cr_assert_eq(unlink(q), 0);
				free(q);
			}
		closedir(dd);
	}
	commit_file("b/y2", "again", 0644);
	cr_assert_eq(hidden_files(b), 0);

	ps_fspool_stop();
	cr_assert_eq(ps_fspool_held(), 0);
	cr_assert_eq(hidden_files(a), 0, "stop removes what is left");
	commit_file("a/x4", "off", 0644);
	ps_fspool_fill();
	cr_assert_eq(hidden_files(a), 0, "none made once stopped");

	/* 16 fills with nothing taken: the directory's files go */
	ps_fspool_start();
	commit_file("a/x5", "five", 0644);
	ps_fspool_fill();
	ps_fspool_fill();
	cr_assert_eq(hidden_files(a), 1);
	for (i = 0; i < 16; i++)
		ps_fspool_fill();
	cr_assert_eq(hidden_files(a), 0, "given back");
	cr_assert_eq(ps_fspool_held(), 0);
	ps_fspool_stop();
	free(a);
	free(b);
}

/* Files wanted before any was taken (ps_fspool_want): the next fill
 * makes them, named after the stem given; a directory that does not
 * exist gets none; nothing while the pool is off. */
Test(fsutil, files_wanted_ahead_of_a_first_round)
{
	char *w = in_dir("w"), *gone = in_dir("gone"), *p;
	struct ps_error e = { 0, "" };
	ino_t made[4];
	struct stat st;
	DIR *dd;
	struct dirent *de;
	struct ps_afile f = PS_AFILE_INIT;

	cr_assert_eq(ps_mkdir_p(w, 0755, &e), 0);
	ps_fspool_want(w, "s.json", 2);		/* off: nothing */
	ps_fspool_start();
	ps_fspool_fill();
	cr_assert_eq(hidden_files(w), 0);
	ps_fspool_want(w, "s.json", 2);
	ps_fspool_want(gone, "s.json", 1);
	ps_fspool_fill();
	ps_fspool_fill();
	cr_assert_eq(ps_fspool_held(), 2);
	cr_assert_eq(pool_inodes(w, made, 4), 2);
	dd = opendir(w);
	while ((de = readdir(dd)))
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") &&
		    strcmp(de->d_name, ".."))
			cr_assert(!strncmp(de->d_name, ".s.json.pool.", 13),
				  "%s", de->d_name);
	closedir(dd);
	cr_assert_neq(stat(gone, &st), 0, "not made");
	p = in_dir("w/t.json");
	cr_assert_eq(ps_afile_open(&f, p, 0644, &e), 0, "%s", e.msg);
	cr_assert_eq(stat(f.tmp, &st), 0);
	cr_assert(st.st_ino == made[0] || st.st_ino == made[1]);
	cr_assert_eq(ps_afile_write(&f, "t", 1, &e), 0);
	cr_assert_eq(ps_afile_commit(&f, &e), 0, "%s", e.msg);
	assert_content(p, "t", 1);
	ps_fspool_stop();
	cr_assert_eq(hidden_files(w), 0);
	free(p);
	free(w);
	free(gone);
}
