/*
 * test_azblob.c - Blob REST request building (lib/azblob.c) and upload
 * naming and ordering (lib/upload.c).  Expected signatures were computed
 * independently (Python's hmac) from the string-to-sign the Azure Storage
 * documentation describes; the live service check is tests/e2e.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "azblob.h"
#include "base64.h"
#include "crypto.h"
#include "upload.h"

#define DEVKEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4" \
	       "I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static struct ps_azblob *mk(const char *url, enum ps_azblob_auth auth,
			    const char *cred, struct ps_error *e)
{
	struct ps_azblob_opts o = { 0 };

	o.url = url;
	o.auth = auth;
	if (auth == PS_AZBLOB_AUTH_SHAREDKEY)
		o.key = cred;
	else
		o.sas = cred;
	return ps_azblob_new(&o, e);
}

static const char *hdr(const struct ps_azblob_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->rq.nheaders; i++)
		if (!strcasecmp(r->rq.headers[i].name, name))
			return r->rq.headers[i].value;
	return NULL;
}

Test(azblob, string_to_sign_matches_the_documented_form)
{
	/* Out of order, mixed case and padded on purpose. */
	const struct ps_http_header h[] = {
		{ "X-MS-Version", "  2021-08-06 " },
		{ "Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww==" },
		{ "x-ms-date", "Tue, 24 Nov 2026 06:22:19 GMT" },
	};
	struct ps_buf s = PS_BUF_INIT, sig = PS_BUF_INIT, key = PS_BUF_INIT;
	unsigned char mac[PS_SHA256_LEN];

	ps_azblob_string_to_sign("acct", "PUT",
		"https://acct.blob.core.windows.net/cont/a/date%3D1/b.gz"
		"?comp=block&blockid=cHMtYmxvY2stMDAwMDAwMDAx", h, 3, 11, &s);
	cr_assert_str_eq(s.data,
		"PUT\n\n\n11\nXrY7u+Ae7tCTyyK7j1rNww==\n\n\n\n\n\n\n\n"
		"x-ms-date:Tue, 24 Nov 2026 06:22:19 GMT\n"
		"x-ms-version:2021-08-06\n"
		"/acct/cont/a/date%3D1/b.gz\n"
		"blockid:cHMtYmxvY2stMDAwMDAwMDAx\ncomp:block");
	cr_assert_eq(ps_base64_decode(&key, DEVKEY, strlen(DEVKEY)), 0);
	ps_crypto_hmac_sha256(key.data, key.len, s.data, s.len, mac);
	ps_base64_encode(&sig, mac, sizeof(mac));
	cr_assert_str_eq(sig.data,
			 "0K0/m+oP7+iqxJ6dOJQBYwsDisDj0+lSzlT9GTCl2pQ=");
	ps_buf_release(&s);
	ps_buf_release(&sig);
	ps_buf_release(&key);
}

Test(azblob, zero_length_and_decoded_sorted_query)
{
	const struct ps_http_header h[] = { { "x-ms-date", "d" } };
	struct ps_buf s = PS_BUF_INIT;

	ps_azblob_string_to_sign("a", "HEAD",
		"http://127.0.0.1:9/a/c?Restype=container&comp=x%2By&comp=a",
		h, 1, 0, &s);
	cr_assert_str_eq(s.data, "HEAD\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:d\n"
			 "/a/a/c\ncomp:a,x+y\nrestype:container");
	ps_buf_release(&s);
}

Test(azblob, url_forms)
{
	struct ps_error e = { 0 };
	struct ps_buf b = PS_BUF_INIT;
	struct ps_azblob *az;

	az = mk("https://myacct.blob.core.windows.net/lake/pre/fix/",
		PS_AZBLOB_AUTH_SHAREDKEY, DEVKEY, &e);
	cr_assert_not_null(az, "%s", e.msg);
	cr_assert_str_eq(ps_azblob_account(az), "myacct");
	cr_assert_str_eq(ps_azblob_container(az), "lake");
	ps_azblob_blob_name(az, "bronze/x.gz", &b);
	cr_assert_str_eq(b.data, "pre/fix/bronze/x.gz");
	ps_buf_reset(&b);
	ps_azblob_describe(az, &b);
	cr_assert_str_eq(b.data,
			 "https://myacct.blob.core.windows.net/lake/pre/fix");
	ps_azblob_free(az);

	ps_buf_reset(&b);
	az = mk("http://127.0.0.1:10000/devstoreaccount1/c-1",
		PS_AZBLOB_AUTH_SHAREDKEY, DEVKEY, &e);
	cr_assert_not_null(az, "%s", e.msg);
	cr_assert_str_eq(ps_azblob_account(az), "devstoreaccount1");
	cr_assert_str_eq(ps_azblob_container(az), "c-1");
	ps_azblob_blob_name(az, "gold/t/p.parquet", &b);
	cr_assert_str_eq(b.data, "gold/t/p.parquet");
	ps_azblob_free(az);
	ps_buf_release(&b);
}

Test(azblob, bad_targets_and_credentials_are_config_errors)
{
	static const char *const urls[] = {
		"ftp://a.blob.core.windows.net/c1c",
		"https://a.blob.core.windows.net/",
		"https://a.blob.core.windows.net/UPPER",
		"https://a.blob.core.windows.net/ab",
		"https://a.blob.core.windows.net/a--b",
		"https://a.blob.core.windows.net/cont?sv=1&sig=x",
		"http://127.0.0.1:1/",
		"https:///cont",
	};
	struct ps_error e = { 0 };
	size_t i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		e.code = 0;
		cr_assert_null(mk(urls[i], PS_AZBLOB_AUTH_SHAREDKEY, DEVKEY,
				  &e), "%s", urls[i]);
		cr_assert_eq(e.code, 78, "%s", urls[i]);
	}
	cr_assert_null(mk("https://a.blob.core.windows.net/cont",
			  PS_AZBLOB_AUTH_SHAREDKEY, "not*base64", &e));
	cr_assert_eq(e.code, 78);
	cr_assert_null(strstr(e.msg, "not*base64"));
	cr_assert_null(mk("https://a.blob.core.windows.net/cont",
			  PS_AZBLOB_AUTH_SAS, "sv=2021&sp=r", &e));
	cr_assert_eq(e.code, 78);
	cr_assert_null(mk("https://a.blob.core.windows.net/cont",
			  PS_AZBLOB_AUTH_SAS, "", &e));
	cr_assert_eq(e.code, 78);
}

Test(azblob, put_block_request)
{
	struct ps_error e = { 0 };
	struct ps_azblob *az = mk("https://acct.blob.core.windows.net/cont/p",
				  PS_AZBLOB_AUTH_SHAREDKEY, DEVKEY, &e);
	struct ps_azblob_req r = PS_AZBLOB_REQ_INIT;
	unsigned char md5[16];

	cr_assert_not_null(az);
	ps_crypto_md5("hello world", 11, md5);
	cr_assert_eq(ps_azblob_put_block(az, &r, "p/date=1/a b.gz", 1, 7, 64,
					 11, md5, &e), 0);
	cr_assert_str_eq(r.rq.method, "PUT");
	cr_assert_str_eq(r.rq.url, "https://acct.blob.core.windows.net/cont/"
			 "p/date%3D1/a%20b.gz?comp=block&blockid="
			 "cHMtYmxvY2stMDAwMDAwMDAx");
	cr_assert_eq(r.rq.body_fd, 7);
	cr_assert_eq(r.rq.body_offset, 64);
	cr_assert_eq(r.rq.body_len, 11);
	cr_assert_str_eq(hdr(&r, "Content-MD5"), "XrY7u+Ae7tCTyyK7j1rNww==");
	cr_assert_str_eq(hdr(&r, "x-ms-version"), PS_AZBLOB_VERSION);
	cr_assert_not_null(hdr(&r, "x-ms-date"));
	cr_assert_eq(strncmp(hdr(&r, "Authorization"), "SharedKey acct:", 15),
		     0);
	ps_azblob_req_release(&r);
	cr_assert_eq(r.nown, 0);
	ps_azblob_free(az);
}

Test(azblob, block_list_and_sas_requests)
{
	struct ps_error e = { 0 };
	struct ps_azblob *az = mk("https://acct.blob.core.windows.net/cont",
				  PS_AZBLOB_AUTH_SAS, "?sv=2021-08-06&sig=abc",
				  &e);
	struct ps_azblob_req r = PS_AZBLOB_REQ_INIT;
	unsigned char md5[16] = { 0 };

	cr_assert_not_null(az, "%s", e.msg);
	cr_assert_eq(ps_azblob_put_block_list(az, &r, "x", 2, NULL, md5, &e),
		     0);
	cr_assert_str_eq(r.rq.url, "https://acct.blob.core.windows.net/cont/x"
			 "?comp=blocklist&sv=2021-08-06&sig=abc");
	cr_assert_str_eq((const char *)r.rq.body_mem,
			 "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"
			 "<Latest>cHMtYmxvY2stMDAwMDAwMDAw</Latest>"
			 "<Latest>cHMtYmxvY2stMDAwMDAwMDAx</Latest>"
			 "</BlockList>");
	cr_assert_str_eq(hdr(&r, "x-ms-blob-content-md5"),
			 "AAAAAAAAAAAAAAAAAAAAAA==");
	cr_assert_null(hdr(&r, "Authorization"));
	ps_azblob_req_release(&r);
	cr_assert_eq(ps_azblob_create_container(az, &r, &e), 0);
	cr_assert_str_eq(r.rq.url, "https://acct.blob.core.windows.net/cont"
			 "?restype=container&sv=2021-08-06&sig=abc");
	ps_azblob_req_release(&r);
	ps_azblob_free(az);
}

Test(azblob, container_sas_matches_an_independent_signer)
{
	struct ps_error e = { 0 };
	struct ps_azblob *az = mk("http://127.0.0.1:1/devstoreaccount1/testc",
				  PS_AZBLOB_AUTH_SHAREDKEY, DEVKEY, &e);
	struct ps_buf b = PS_BUF_INIT;

	cr_assert_eq(ps_azblob_container_sas(az, "rl", "2030-01-01T00:00:00Z",
					     &b, &e), 0);
	cr_assert_str_eq(b.data, "sv=2021-08-06&sr=c&sp=rl&se=2030-01-01T00"
			 "%3A00%3A00Z&sig=o6IfubTddMWhmRdeSzmAJiZdU58%2BUxHlt6"
			 "wEwhCZIZY%3D");
	ps_buf_release(&b);
	ps_azblob_free(az);
}

Test(azblob, http_dates)
{
	char d[30];

	ps_azblob_http_date(0, d);
	cr_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
	ps_azblob_http_date(1795501339LL * 1000000 + 999999, d);
	cr_assert_str_eq(d, "Tue, 24 Nov 2026 06:22:19 GMT");
	ps_azblob_http_date((951782400LL + 86399) * 1000000, d);
	cr_assert_str_eq(d, "Tue, 29 Feb 2000 23:59:59 GMT");
}

Test(azblob, block_ids_have_one_length)
{
	struct ps_buf a = PS_BUF_INIT, b = PS_BUF_INIT;

	ps_azblob_block_id(0, &a);
	ps_azblob_block_id(49999, &b);
	cr_assert_eq(a.len, b.len);
	cr_assert_str_eq(a.data, "cHMtYmxvY2stMDAwMDAwMDAw");
	ps_buf_release(&a);
	ps_buf_release(&b);
}

static int check(long status, const char *code)
{
	struct ps_http_header h[] = { { (char *)"x-ms-error-code",
					(char *)code } };
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0 };

	rs.status = status;
	rs.headers = code ? h : NULL;
	rs.nheaders = code ? 1 : 0;
	if (ps_azblob_check(&rs, "put blob", &e) == 0)
		return 0;
	cr_assert(strlen(e.msg) > 0);
	return e.code;
}

Test(azblob, response_codes)
{
	cr_assert_eq(check(201, NULL), 0);
	cr_assert_eq(check(403, "AuthenticationFailed"), 78);
	cr_assert_eq(check(403, "AuthorizationPermissionMismatch"), 78);
	cr_assert_eq(check(404, "ContainerNotFound"), 78);
	cr_assert_eq(check(404, "BlobNotFound"), 66);
	cr_assert_eq(check(400, "Md5Mismatch"), 75);
	cr_assert_eq(check(503, "ServerBusy"), 75);
	cr_assert_eq(check(429, NULL), 75);
	cr_assert_eq(check(400, "InvalidBlockList"), 65);
}

Test(upload, committed_names)
{
	cr_assert(ps_upload_committed_name("bronze/a/date=1/part-1.ndjson.gz"));
	cr_assert(ps_upload_committed_name("gold/t/_SUCCESS"));
	cr_assert(ps_upload_committed_name("_state.txt"));
	cr_assert_not(ps_upload_committed_name("_state/ps-bronze/a.json"));
	cr_assert_not(ps_upload_committed_name("_state"));
	cr_assert_not(ps_upload_committed_name("bronze/.part.tmp-1"));
	cr_assert_not(ps_upload_committed_name(".hidden/x"));
	cr_assert_not(ps_upload_committed_name("a/../b"));
	cr_assert_not(ps_upload_committed_name("a//b"));
	cr_assert_not(ps_upload_committed_name("/abs"));
	cr_assert_not(ps_upload_committed_name("a/"));
	cr_assert_not(ps_upload_committed_name(""));
}

Test(upload, phases_put_data_before_markers)
{
	int part = ps_upload_phase("gold/fact/admission_date=1/p.parquet");
	int top = ps_upload_phase("gold/dim_patient/p.parquet");
	int log = ps_upload_phase("gold/fact/_delta_log/0.json");
	int ok = ps_upload_phase("gold/fact/_SUCCESS");
	int root = ps_upload_phase("_manifest.json");

	cr_assert_lt(part, top);
	cr_assert_lt(top, log);
	cr_assert_lt(log, ok);
	cr_assert_lt(part, root);
	cr_assert_lt(top, root);
	cr_assert_eq(part, ps_upload_phase("bronze/a/date=1/p.ndjson.gz"));
}

Test(upload, content_types)
{
	cr_assert_str_eq(ps_upload_content_type("a/b.parquet"),
			 "application/vnd.apache.parquet");
	cr_assert_str_eq(ps_upload_content_type("a/b.ndjson.gz"),
			 "application/gzip");
	cr_assert_str_eq(ps_upload_content_type("a/_SUCCESS"),
			 "application/octet-stream");
}

static int fake_token(void *ctx, struct ps_buf *out, struct ps_error *e)
{
	if (!ctx)
		return ps_error_set(e, 78, "no identity");
	ps_buf_reset(out);
	ps_buf_adds(out, ctx);
	return 0;
}

Test(azblob, bearer_requests)
{
	struct ps_azblob_opts o = { 0 };
	struct ps_error e = { 0 };
	struct ps_azblob_req r = PS_AZBLOB_REQ_INIT;
	struct ps_azblob *az;

	o.url = "https://acct.blob.core.windows.net/cont";
	o.auth = PS_AZBLOB_AUTH_BEARER;
	o.token_fn = fake_token;
	o.token_ctx = (void *)"tok123";
	az = ps_azblob_new(&o, &e);
	cr_assert_not_null(az, "%s", e.msg);
	cr_assert_eq(ps_azblob_head(az, &r, "a/b", &e), 0);
	cr_assert_str_eq(hdr(&r, "Authorization"), "Bearer tok123");
	cr_assert_str_eq(r.rq.url,
			 "https://acct.blob.core.windows.net/cont/a/b");
	ps_azblob_req_release(&r);
	ps_azblob_free(az);

	o.token_ctx = NULL;
	az = ps_azblob_new(&o, &e);
	cr_assert_not_null(az);
	cr_assert_eq(ps_azblob_get(az, &r, "a/b", &e), -1);
	cr_assert_eq(e.code, 78);
	cr_assert_eq(r.nown, 0);
	ps_azblob_free(az);
}
