/*
 * fsutil.h - durable, atomic files: the commit step of the exactly-once
 * protocol (DESIGN.md).
 *
 * A file is written under a hidden temporary name in its final directory
 * (".NAME.tmp-PID"), fsynced, renamed into place, and the directory is
 * fsynced.  Readers never see a partial file: every name starting with '.'
 * is, by convention, not committed data and is ignored by every tool.
 * Write errors map to exit codes: ENOSPC, EDQUOT, EFBIG, EIO -> 74
 * (PS_EX_IOERR); failing to create a file or directory -> 73.
 */
#ifndef PS_FSUTIL_H
#define PS_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"

/* Create dir and its parents (like mkdir -p).  Returns 0 or -1 (73). */
int ps_mkdir_p(const char *dir, mode_t mode, struct ps_error *e);
/* ps_mkdir_p, and the directories it made durable: the parent of each
 * is fsynced before it returns (the lake, its state and a table's log
 * directories, made once; partitions are the commits' to sync).  Returns
 * 0 or -1 with e (73, or 74 when a sync fails). */
int ps_mkdir_durable(const char *dir, mode_t mode, struct ps_error *e);

/* Sort the n strings v[] (strcmp order) and free their duplicates, which
 * leave the array; returns how many are left. */
size_t ps_strs_sort_unique(char **v, size_t n);

/* fsync a directory so renames in it are durable.  Returns 0 or -1 (74). */
int ps_fsync_dir(const char *dir, struct ps_error *e);

/*
 * ps_fsync_dir of the n directories dir[0..n-1], several at once (a
 * disk serves them together).  Returns 0 or -1 (74, the first that
 * failed).
 */
int ps_fsync_dirs(const char *const *dir, size_t n, struct ps_error *e);

/* An output file being written; zero-initialise with PS_AFILE_INIT. */
struct ps_afile {
	int fd;
	char *path;	/* final name */
	char *tmp;	/* hidden temporary name */
	int sealed;	/* durable and closed (ps_afile_seal_all) */
};

#define PS_AFILE_INIT { -1, NULL, NULL, 0 }

/*
 * Start writing path (its directory is created when missing).  Returns 0,
 * or -1 with e filled (73).
 */
int ps_afile_open(struct ps_afile *f, const char *path, mode_t mode,
		  struct ps_error *e);

/* Write all n bytes.  Returns 0, or -1 (74 for a full disk). */
int ps_afile_write(struct ps_afile *f, const void *p, size_t n,
		   struct ps_error *e);

/*
 * fsync, close, rename into place, fsync the directory.  On failure the
 * temporary file is removed and the final name is untouched.  Returns 0 or
 * -1.  Either way f is released.
 */
int ps_afile_commit(struct ps_afile *f, struct ps_error *e);

/*
 * Like ps_afile_commit, but never replaces an existing file (put-if-absent,
 * for logs whose entries must not be overwritten): fsync, close, link() to
 * the final name, remove the temporary name, fsync the directory.  Returns
 * 0; 1 when the final name already exists (nothing changed); or -1 with e
 * filled (74).  Either way f is released.
 */
int ps_afile_commit_new(struct ps_afile *f, struct ps_error *e);

/*
 * ps_afile_commit_new without the fsync of the directory: the name is
 * visible, its content durable, the name itself durable only once the
 * caller fsyncs the directory (ps_fsync_dirs, for the logs of many
 * tables at once).  Same returns.
 */
int ps_afile_link_new(struct ps_afile *f, struct ps_error *e);

/*
 * Like ps_afile_commit, but the final name is path instead of the name
 * given to ps_afile_open (for files whose name depends on their content).
 * path must be in the same directory.  Returns 0 or -1; f is released.
 */
int ps_afile_commit_as(struct ps_afile *f, const char *path,
		       struct ps_error *e);

/*
 * fsync and close the temporary files of the n written files f[0..n-1],
 * several at once (as ps_fsync_dirs): their content is durable, none is
 * visible yet.  Each then commits without an fsync of its own
 * (ps_afile_commit, _commit_new, _link_new: the rename or link, and the
 * directory's fsync where they do one).  Returns 0, or -1 with e filled
 * (74, the first that failed): the files are still the caller's, to
 * abort.
 */
int ps_afile_seal_all(struct ps_afile *const *f, size_t n,
		      struct ps_error *e);

/*
 * ps_afile_seal_all, with the nd directories dir[0..nd-1] fsynced in the
 * same round (as ps_fsync_dirs): for a caller whose files may become
 * durable together with earlier renames or links in those directories,
 * all of it before any of the files is put in place.  Returns 0, or -1
 * with e filled (74: a file that failed first, else a directory): the
 * files are still the caller's, to abort.
 */
int ps_afile_seal_with_dirs(struct ps_afile *const *f, size_t n,
			    const char *const *dir, size_t nd,
			    struct ps_error *e);

/* Close and remove the temporary file; f is released.  Never fails. */
void ps_afile_abort(struct ps_afile *f);

/*
 * Files made ahead, for a process that commits again and again in the
 * same directories (a live ps-gold): creating a file allocates an inode,
 * which some file systems make slow (ext4 without a journal passes over
 * every inode freed in the last one to six minutes: 0.1-1.5 ms a file
 * after many files were removed, tens of ms for a commit of 40 files).
 * While the pool is on, ps_afile_open (mode 0644) takes an empty file
 * made ahead in the directory of its file when there is one, renames it
 * to the file's temporary name and writes it from the start: the same
 * file, fsyncs and renames as a file created there, the inode allocated
 * earlier.  Its hidden name is ".STEM.pool.N.tmp-PID" for the file STEM
 * last opened in that directory, so that the start-up cleanup that takes
 * that file's temporaries after a crash takes it too.  Thread-safe.
 */

/* Turn the pool on for this process.  Never fails. */
void ps_fspool_start(void);

/*
 * Make, on a thread of its own, as many files in each directory as
 * ps_afile_open took (or wanted) there since the last fill (at most
 * 256 held over all directories); a directory no file was taken from
 * in 16 fills gives its files back (removed).  Waits for the fill
 * before, if any.  A file that cannot be made is left out.  Never fails.
 */
void ps_fspool_fill(void);

/*
 * Before a first fill: the next fill makes n files in directory dir
 * (as if n had been taken there; named after the file stem until one
 * is).  Nothing while the pool is off.  Never fails.
 */
void ps_fspool_want(const char *dir, const char *stem, size_t n);

/*
 * Wait for the fill under way, remove every file made and not taken,
 * and turn the pool off.  Never fails.
 */
void ps_fspool_stop(void);

/* How many files made ahead are held now (not yet taken).  Never fails. */
size_t ps_fspool_held(void);

/*
 * A commit group: many files committed as one step, for a commit that
 * writes one file per partition.  Committing each file alone costs a file
 * fsync and a directory fsync, i.e. about two journal commits, per file; a
 * group starts writeback of each file when it is added, then at
 * ps_fsgroup_commit fsyncs every file, renames every file into place and
 * fsyncs each distinct directory once, so the journal commits are shared;
 * the fsyncs go several at once (ps_fsync_dirs), so that without a
 * journal to share the disk still serves them together.
 * The promise is the one of ps_afile_commit, for every file of the group,
 * when ps_fsgroup_commit returns 0: a file is visible under its final name
 * only once its data is durable.  A group is used from one thread.
 */
struct ps_fsgroup;

/* A new empty group.  Never fails (aborts on out-of-memory). */
struct ps_fsgroup *ps_fsgroup_new(void);

/*
 * Hand the written file f over to g (f is released, g owns the file).
 * To bound open files, a group holding PS_FSGROUP_MAX files commits them
 * first (so a file may become visible before ps_fsgroup_commit, never
 * before it is durable).  Returns 0, or -1 with e filled as
 * ps_fsgroup_commit (f is then aborted).
 */
int ps_fsgroup_add(struct ps_fsgroup *g, struct ps_afile *f,
		   struct ps_error *e);

#define PS_FSGROUP_MAX 128

/*
 * fsync, close and rename into place every file of g, then fsync their
 * directories.  Returns 0, or -1 with e filled (74): then the files not
 * yet renamed are removed and the caller removes the final names of what
 * it wrote (as after a failed ps_afile_commit).  g is empty afterwards.
 */
int ps_fsgroup_commit(struct ps_fsgroup *g, struct ps_error *e);

/* Abort the files still in g and free it.  NULL is a no-op. */
void ps_fsgroup_free(struct ps_fsgroup *g);

/*
 * Append n bytes to path (created with mode when missing) with one
 * write, then fdatasync (and fsync the directory when the file was
 * created): when it returns 0 the bytes are durable.  A crash during the
 * call may leave a prefix of them at the end of the file: the format must
 * tell (lib/statelog.h).  Returns 0, or -1 with e filled (73, 74).
 */
int ps_append_durable(const char *path, const void *p, size_t n,
		      mode_t mode, struct ps_error *e);

/* Write a whole file atomically (open + write + commit). */
int ps_write_file_atomic(const char *path, const void *p, size_t n,
			 mode_t mode, struct ps_error *e);

/*
 * Is the file at path private to its owner (no group or other
 * permission bits), as a key or a vault must be?  Returns 0 when it is,
 * 1 when it does not exist, -1 with e filled otherwise: 78 "WHAT PATH is
 * accessible by group or others (chmod 600 it)", 66 cannot stat it.
 */
int ps_file_private(const char *path, const char *what, struct ps_error *e);

/*
 * Read a whole file into b (appending), refusing files over max bytes.
 * Returns 0, 1 when the file does not exist, or -1 (66 or 74).
 */
int ps_read_file(const char *path, struct ps_buf *b, size_t max,
		 struct ps_error *e);

/*
 * Remove temporary files (".*.tmp-PID") that a killed process left in dir:
 * those whose PID is not a running process (or that carry no PID).  Files
 * of writers still running are kept.  Returns how many were removed; a
 * missing dir is not an error.
 */
int ps_remove_stale_temps(const char *dir);
/* ps_remove_stale_temps, and this process's too: for a directory it has
 * not written yet (a restart with the PID of the run it follows, as in a
 * container, leaves nothing behind). */
int ps_remove_temps_at_start(const char *dir);

/*
 * 1 when the writer of the temporary file name (".NAME.tmp-PID") is a
 * running process, 0 when it is not or the name carries no PID.
 */
int ps_temp_writer_alive(const char *name);

/*
 * A scratch file for data that does not have to survive the process: an
 * unnamed file (O_TMPFILE) in the directory of path, so it is never
 * visible and a killed process leaves nothing; where the file system has
 * no unnamed files, a hidden temporary name (".NAME.spill.N.tmp-PID" for
 * the file NAME of path, so that the start-up cleanup that removes the
 * temporaries of path's writer after a crash removes it too) removed as
 * soon as it is open.
 * Its bytes are not counted by ps_fs_bytes_written and never fsynced.
 * Returns the descriptor (the caller closes it), or -1 with e filled (73).
 */
int ps_scratch_open(const char *path, struct ps_error *e);

/* Append the hidden name ps_scratch_open falls back to for path to b. */
void ps_scratch_name(struct ps_buf *b, const char *path);

/*
 * Write n bytes at offset off of scratch file fd (path names it in
 * messages).  Returns 0, or -1 with e filled (74, a full disk included).
 */
int ps_scratch_write(int fd, const void *p, size_t n, off_t off,
		     const char *path, struct ps_error *e);

/*
 * Read n bytes at offset off of scratch file fd back into p.  Returns 0,
 * or -1 with e filled (74; a short file is an error).
 */
int ps_scratch_read(int fd, void *p, size_t n, off_t off, const char *path,
		    struct ps_error *e);

/*
 * What this process has written through ps_afile_write and how many
 * fsyncs it asked for (files and directories), since it started: the
 * figures behind "bytes and fsyncs per commit" in logs and benchmarks.
 * Safe from any thread; never fails.
 */
unsigned long long ps_fs_bytes_written(void);
unsigned long long ps_fs_fsyncs(void);

/*
 * How many directories ps_mkdir_p made in this process (a caller that
 * synced the parents of its directories knows no entry changed there
 * while this stays the same).  Safe from any thread; never fails.
 */
unsigned long long ps_fs_dirs_made(void);

/* Join a and b with one '/' into a new string (caller frees). */
char *ps_path_join(const char *a, const char *b);

#endif
