/*
 * test_vault.c - lib/vault (file: and env: backends) and lib/secret.
 * Each Criterion test runs in its own process, so setenv is local to it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base64.h"
#include "crypto.h"
#include "fsutil.h"
#include "secret.h"
#include "vault.h"
#include "banned.h"

#define KEY1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2 "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char dir[64];
static char spec[256];
static char path[128];

static void setup(void)
{
	memcpy(dir, "/tmp/test_vault.XXXXXX", 23);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secrets.vault", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	setenv("PS_VAULT_KEY", KEY1, 1);
	unsetenv("PS_VAULT_KEY_FILE");
	unsetenv("PS_VAULT");
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = ps_path_join(dir, de->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static struct ps_vault *open_ok(void)
{
	struct ps_error e = { 0, "" };
	struct ps_vault *v = ps_vault_open(spec, NULL, &e);

	cr_assert_not_null(v, "open: %s", e.msg);
	return v;
}

static void put_ok(struct ps_vault *v, const char *name, const char *val)
{
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_vault_put(v, name, val, strlen(val), &e), 0,
		     "put %s: %s", name, e.msg);
}

/* The current value of name, or NULL with *code set. */
static char *get(struct ps_vault *v, const char *name, int *code)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };

	if (ps_vault_get(v, name, &b, &e) < 0) {
		*code = e.code;
		ps_buf_release(&b);
		return NULL;
	}
	*code = 0;
	if (!b.data)
		ps_buf_adds(&b, "");
	return ps_buf_detach(&b, NULL);
}

static struct ps_buf read_all(void)
{
	struct ps_buf b = PS_BUF_INIT;

	cr_assert_eq(ps_read_file(path, &b, 1 << 20, NULL), 0);
	return b;
}

static void write_all(const struct ps_buf *b)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, b->data, b->len), (ssize_t)b->len);
	close(fd);
}

TestSuite(vault, .init = setup, .fini = teardown);

Test(vault, file_round_trip)
{
	struct ps_vault *v = open_ok();
	struct ps_error e = { 0, "" };
	char **names, *s;
	size_t n;
	int code;

	cr_assert_str_eq(ps_vault_kind(v), "file");
	/* A vault that does not exist yet is empty. */
	cr_assert_eq(ps_vault_list(v, &names, &n, &e), 0);
	cr_assert_eq(n, 0);
	put_ok(v, "pulseeventconnstr", "Endpoint=sb://x/;SharedAccessKey=k=");
	put_ok(v, "adlskey", "\xc3\xa9t\xc3\xa9 \"quoted\" \\ back");
	put_ok(v, "empty", "");
	put_ok(v, "adlskey", "second version");
	s = get(v, "pulseeventconnstr", &code);
	cr_assert_str_eq(s, "Endpoint=sb://x/;SharedAccessKey=k=");
	free(s);
	s = get(v, "adlskey", &code);
	cr_assert_str_eq(s, "second version");
	free(s);
	s = get(v, "empty", &code);
	cr_assert_str_eq(s, "");
	free(s);
	cr_assert_eq(ps_vault_list(v, &names, &n, &e), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(names[0], "adlskey");
	cr_assert_str_eq(names[1], "empty");
	cr_assert_str_eq(names[2], "pulseeventconnstr");
	ps_vault_names_free(names, n);
	cr_assert_eq(ps_vault_rm(v, "empty", &e), 0);
	cr_assert_null(get(v, "empty", &code));
	cr_assert_eq(code, PS_EX_NOINPUT);
	cr_assert_eq(ps_vault_rm(v, "empty", &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	ps_vault_close(v);

	/* A second handle (another process) reads the same data. */
	v = open_ok();
	s = get(v, "adlskey", &code);
	cr_assert_str_eq(s, "second version");
	free(s);
	ps_vault_close(v);
}

Test(vault, file_is_encrypted_and_private)
{
	struct ps_vault *v = open_ok();
	struct ps_buf b;
	struct stat st;

	put_ok(v, "adlskey", "VERYSECRETACCOUNTKEY");
	ps_vault_close(v);
	b = read_all();
	cr_assert_eq(memcmp(b.data, "PSVK\x01", 5), 0);
	cr_assert_null(memmem(b.data, b.len, "VERYSECRET", 10));
	cr_assert_null(memmem(b.data, b.len, "adlskey", 7));
	ps_buf_release(&b);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(vault, every_tampered_byte_is_rejected)
{
	struct ps_vault *v = open_ok();
	struct ps_buf b, orig;
	size_t i;
	char *s;
	int code;

	put_ok(v, "adlskey", "account-key-value");
	orig = read_all();
	for (i = 0; i < orig.len; i++) {
		b = read_all();
		b.data[i] ^= 0x20;
		write_all(&b);
		ps_buf_release(&b);
		s = get(v, "adlskey", &code);
		cr_assert_null(s, "byte %zu changed but accepted", i);
		/* 78 only when the key check itself was hit (bytes 8-15). */
		if (i >= 8 && i < 16)
			cr_assert_eq(code, PS_EX_CONFIG, "byte %zu", i);
		else
			cr_assert_eq(code, PS_EX_DATAERR, "byte %zu", i);
		write_all(&orig);
	}
	/* Truncated and extended files are rejected too. */
	b = read_all();
	b.len--;
	write_all(&b);
	cr_assert_null(get(v, "adlskey", &code));
	cr_assert_eq(code, PS_EX_DATAERR);
	ps_buf_addc(&b, 'x');
	ps_buf_addc(&b, 'y');
	write_all(&b);
	cr_assert_null(get(v, "adlskey", &code));
	ps_buf_release(&b);
	write_all(&orig);
	s = get(v, "adlskey", &code);
	cr_assert_str_eq(s, "account-key-value");
	free(s);
	ps_buf_release(&orig);
	ps_vault_close(v);
}

Test(vault, wrong_key_is_a_config_error)
{
	struct ps_vault *v = open_ok();
	struct ps_error e = { 0, "" };
	int code;

	put_ok(v, "adlskey", "x");
	ps_vault_close(v);
	setenv("PS_VAULT_KEY", KEY2, 1);
	v = open_ok();
	cr_assert_null(get(v, "adlskey", &code));
	cr_assert_eq(code, PS_EX_CONFIG);
	/* A put under the wrong key must not replace the vault. */
	cr_assert_eq(ps_vault_put(v, "other", "y", 1, &e), -1);
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert_null(strstr(e.msg, KEY2));
	ps_vault_close(v);
	setenv("PS_VAULT_KEY", KEY1, 1);
	v = open_ok();
	cr_assert_null(get(v, "other", &code));
	cr_assert_eq(code, PS_EX_NOINPUT);
	ps_vault_close(v);
}

Test(vault, key_formats_and_bad_keys)
{
	struct ps_error e = { 0, "" };
	struct ps_buf b64 = PS_BUF_INIT, raw = PS_BUF_INIT;
	char kf[160];
	struct ps_vault *v;
	char *s;
	int code;

	v = open_ok();
	put_ok(v, "adlskey", "value");
	ps_vault_close(v);
	/* The same key in base64 opens the same vault. */
	cr_assert_eq(ps_hex_decode(&raw, KEY1, 64), 0);
	ps_base64_encode(&b64, raw.data, raw.len);
	setenv("PS_VAULT_KEY", b64.data, 1);
	v = open_ok();
	s = get(v, "adlskey", &code);
	cr_assert_str_eq(s, "value");
	free(s);
	ps_vault_close(v);
	/* A raw 32-byte key file, which must be private. */
	unsetenv("PS_VAULT_KEY");
	snprintf(kf, sizeof(kf), "%s/key", dir);
	cr_assert_eq(ps_write_file_atomic(kf, raw.data, raw.len, 0600, &e), 0);
	setenv("PS_VAULT_KEY_FILE", kf, 1);
	v = open_ok();
	s = get(v, "adlskey", &code);
	cr_assert_str_eq(s, "value");
	free(s);
	ps_vault_close(v);
	chmod(kf, 0644);
	cr_assert_null(ps_vault_open(spec, NULL, &e));
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert(strstr(e.msg, "group or others"));
	unsetenv("PS_VAULT_KEY_FILE");
	/* Bad or missing keys. */
	setenv("PS_VAULT_KEY", "abcd", 1);
	cr_assert_null(ps_vault_open(spec, NULL, &e));
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert_null(strstr(e.msg, "abcd"));
	unsetenv("PS_VAULT_KEY");
	cr_assert_null(ps_vault_open(spec, NULL, &e));
	cr_assert_eq(e.code, PS_EX_CONFIG);
	ps_buf_release(&b64);
	ps_buf_release(&raw);
}

Test(vault, world_readable_vault_is_refused)
{
	struct ps_vault *v = open_ok();
	struct ps_error e = { 0, "" };
	char **names;
	size_t n;
	int code;

	put_ok(v, "adlskey", "x");
	chmod(path, 0604);
	cr_assert_null(get(v, "adlskey", &code));
	cr_assert_eq(code, PS_EX_CONFIG);
	cr_assert_eq(ps_vault_list(v, &names, &n, &e), -1);
	cr_assert_eq(e.code, PS_EX_CONFIG);
	chmod(path, 0640);
	cr_assert_null(get(v, "adlskey", &code));
	cr_assert_eq(code, PS_EX_CONFIG);
	chmod(path, 0600);
	free(get(v, "adlskey", &code));
	cr_assert_eq(code, 0);
	ps_vault_close(v);
}

Test(vault, updates_are_atomic)
{
	struct ps_vault *v = open_ok();
	struct ps_error e = { 0, "" };
	struct ps_buf before, after;
	struct stat st1, st2;
	struct dirent *de;
	DIR *d;

	put_ok(v, "a", "1");
	cr_assert_eq(stat(path, &st1), 0);
	put_ok(v, "b", "2");
	cr_assert_eq(stat(path, &st2), 0);
	/* Replaced by rename, never rewritten in place. */
	cr_assert_neq(st1.st_ino, st2.st_ino);
	/* No temporary file is left behind. */
	d = opendir(dir);
	while ((de = readdir(d)))
		cr_assert_null(strstr(de->d_name, ".tmp-"), "%s", de->d_name);
	closedir(d);
	/* A failed update leaves the file exactly as it was. */
	before = read_all();
	cr_assert_eq(ps_vault_put(v, "c", "bad\xff", 4, &e), -1);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	cr_assert_eq(ps_vault_rm(v, "missing", &e), -1);
	after = read_all();
	cr_assert_eq(before.len, after.len);
	cr_assert_eq(memcmp(before.data, after.data, after.len), 0);
	ps_buf_release(&before);
	ps_buf_release(&after);
	/* Each write draws a fresh IV: same content, different bytes. */
	put_ok(v, "a", "1");
	before = read_all();
	put_ok(v, "a", "1");
	after = read_all();
	cr_assert_neq(memcmp(before.data + 16, after.data + 16, 12), 0);
	ps_buf_release(&before);
	ps_buf_release(&after);
	ps_vault_close(v);
}

Test(vault, names_and_values_are_checked)
{
	struct ps_vault *v = open_ok();
	struct ps_error e = { 0, "" };
	char big[PS_VAULT_MAX_VALUE + 2];

	cr_assert_eq(ps_vault_check_name("adls-key-2", &e), 0);
	cr_assert_eq(ps_vault_check_name("", &e), -1);
	cr_assert_eq(ps_vault_check_name("a_b", &e), -1);
	cr_assert_eq(ps_vault_check_name("../x", &e), -1);
	cr_assert_eq(e.code, PS_EX_USAGE);
	cr_assert_eq(ps_vault_put(v, "a b", "x", 1, &e), -1);
	cr_assert_eq(e.code, PS_EX_USAGE);
	cr_assert_eq(ps_vault_put(v, "nul", "a\0b", 3, &e), -1);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(ps_vault_put(v, "big", big, sizeof(big), &e), -1);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	ps_vault_close(v);
}

Test(vault, unknown_spec_is_usage_error)
{
	struct ps_error e = { 0, "" };

	cr_assert_null(ps_vault_open("ftp://x", NULL, &e));
	cr_assert_eq(e.code, PS_EX_USAGE);
	cr_assert_null(ps_vault_open("file:", NULL, &e));
	cr_assert_null(ps_vault_open("https://x.vault.azure.net?a=b", NULL,
				     &e));
}

Test(vault, env_backend)
{
	struct ps_error e = { 0, "" };
	struct ps_vault *v;
	char **names, *s;
	size_t n, i;
	int code, found = 0;

	setenv("PS_SECRET_PULSE_EVENT_CONN", "Endpoint=sb://e/", 1);
	v = ps_vault_open("env:", NULL, &e);
	cr_assert_not_null(v);
	cr_assert_str_eq(ps_vault_kind(v), "env");
	s = get(v, "pulse-event-conn", &code);
	cr_assert_str_eq(s, "Endpoint=sb://e/");
	free(s);
	s = get(v, "Pulse-Event-Conn", &code);
	cr_assert_str_eq(s, "Endpoint=sb://e/");
	free(s);
	cr_assert_null(get(v, "nothing-here", &code));
	cr_assert_eq(code, PS_EX_NOINPUT);
	cr_assert_eq(ps_vault_put(v, "x", "y", 1, &e), -1);
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert_eq(ps_vault_rm(v, "x", &e), -1);
	cr_assert_eq(ps_vault_list(v, &names, &n, &e), 0);
	for (i = 0; i < n; i++)
		found += strcmp(names[i], "pulse-event-conn") == 0;
	cr_assert_eq(found, 1);
	ps_vault_names_free(names, n);
	ps_vault_close(v);
	/* PS_VAULT unset means env:. */
	v = ps_vault_open(NULL, NULL, &e);
	cr_assert_str_eq(ps_vault_kind(v), "env");
	ps_vault_close(v);
}

Test(vault, secret_resolve)
{
	struct ps_error e = { 0, "" };
	struct ps_vault *v;
	char *out;

	cr_assert_eq(ps_secret_resolve("plain value", &out, &e), 0);
	cr_assert_str_eq(out, "plain value");
	ps_secret_free(out);
	cr_assert_eq(ps_secret_resolve(NULL, &out, &e), 0);
	cr_assert_null(out);
	cr_assert(ps_secret_is_ref("secret:adlskey"));
	cr_assert(!ps_secret_is_ref("secretadlskey"));

	setenv("PS_SECRET_ADLSKEY", "from-env", 1);
	cr_assert_eq(ps_secret_resolve("secret:adlskey", &out, &e), 0);
	cr_assert_str_eq(out, "from-env");
	ps_secret_free(out);
	cr_assert_eq(ps_secret_resolve("secret:missing", &out, &e), -1);
	cr_assert_null(out);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	cr_assert(strstr(e.msg, "missing"));
	cr_assert_eq(ps_secret_resolve("secret:bad_name", &out, &e), -1);
	cr_assert_eq(e.code, PS_EX_USAGE);
	ps_secret_cleanup();

	/* Through a file vault named by PS_VAULT, and via getenv. */
	v = open_ok();
	put_ok(v, "pulseeventconnstr", "Endpoint=sb://hub/;SharedAccessKey=s");
	ps_vault_close(v);
	setenv("PS_VAULT", spec, 1);
	setenv("MY_CONN", "secret:pulseeventconnstr", 1);
	cr_assert_eq(ps_secret_getenv("MY_CONN", &out, &e), 0);
	cr_assert_str_eq(out, "Endpoint=sb://hub/;SharedAccessKey=s");
	ps_secret_free(out);
	setenv("MY_CONN", "secret:adlskey", 1);
	cr_assert_eq(ps_secret_getenv("MY_CONN", &out, &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	cr_assert(strstr(e.msg, "MY_CONN"));
	cr_assert_eq(ps_secret_getenv("UNSET_VARIABLE_X", &out, &e), 0);
	cr_assert_null(out);
	ps_secret_cleanup();
}

Test(vault, concurrent_writers_lose_no_update)
{
	struct ps_error e = { 0, "" };
	struct ps_vault *v;
	char **names;
	size_t n;
	int i, k, st;

	/* 6 processes x 8 puts each, all at once, through the lock. */
	for (i = 0; i < 6; i++) {
		if (fork() == 0) {
			v = ps_vault_open(spec, NULL, NULL);
			for (k = 0; v && k < 8; k++) {
				char name[32];

				snprintf(name, sizeof(name), "w%d-%d", i, k);
				if (ps_vault_put(v, name, "x", 1, NULL) < 0)
					_exit(1);
			}
			ps_vault_close(v);
			_exit(v ? 0 : 1);
		}
	}
	for (i = 0; i < 6; i++) {
		cr_assert_gt(wait(&st), 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	v = open_ok();
	cr_assert_eq(ps_vault_list(v, &names, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 48);
	ps_vault_names_free(names, n);
	ps_vault_close(v);
}
