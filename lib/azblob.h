/*
 * azblob.h - the Azure Blob Storage REST API (also what ADLS Gen2 accounts
 * accept): building signed requests for block blobs in one container.
 *
 * This module only builds requests (struct ps_azblob_req wraps a
 * struct ps_http_request) and interprets responses; lib/http.h sends them,
 * one at a time or many at once through a pool.  Blobs are block blobs,
 * never append blobs: small files go up with one Put Blob, large ones as
 * Put Block calls followed by one Put Block List.
 *
 * Authorization, per target:
 *   SharedKey  the account key (base64, as the portal shows it) signs each
 *              request (HMAC-SHA256 over the canonical request, "Authorize
 *              with Shared Key", service version PS_AZBLOB_VERSION);
 *   SAS        a shared access signature token is appended to every URL;
 *   bearer     an OAuth token from lib/azauth.h ("Authorization: Bearer").
 * The key, the SAS and the token are never logged nor put in an error
 * message; URLs in messages are cut at the '?'.
 *
 * Target URL: the container URL with an optional prefix, without query:
 *   https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]
 *   http://127.0.0.1:PORT/ACCOUNT/CONTAINER[/PREFIX]   (path style: the
 *   host is an IP address or "localhost", as with Azurite)
 */
#ifndef PS_AZBLOB_H
#define PS_AZBLOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "http.h"

/* The REST API version sent as x-ms-version (Azurite 3.x supports it). */
#define PS_AZBLOB_VERSION "2021-08-06"

/* Azure's limits for block blobs. */
#define PS_AZBLOB_MAX_BLOCK ((int64_t)4000 << 20)	/* Put Block */
#define PS_AZBLOB_MAX_PUT ((int64_t)5000 << 20)		/* Put Blob */
#define PS_AZBLOB_MAX_BLOCKS 50000

enum ps_azblob_auth {
	PS_AZBLOB_AUTH_SHAREDKEY = 1,
	PS_AZBLOB_AUTH_SAS = 2,
	PS_AZBLOB_AUTH_BEARER = 3,
};

/*
 * Fetch a bearer token into out (replacing its contents): returns 0, or -1
 * with e filled (78 for bad credentials, 75/69 when the identity service
 * cannot be reached).  Called for every request built, so it should cache.
 */
typedef int (*ps_azblob_token_fn)(void *ctx, struct ps_buf *out,
				  struct ps_error *e);

struct ps_azblob_opts {
	const char *url;	/* container URL [+ /prefix], no query */
	const char *account;	/* NULL: taken from the URL */
	enum ps_azblob_auth auth;
	const char *key;	/* SharedKey: the base64 account key */
	const char *sas;	/* SAS: the token, with or without '?' */
	ps_azblob_token_fn token_fn;	/* bearer */
	void *token_ctx;
};

struct ps_azblob;	/* opaque: one container and its credentials */

/*
 * Parse the target and take a copy of the credentials (wiped when freed).
 * Returns NULL with e filled (78) when the URL is not a container URL, the
 * account cannot be found, the key is not base64, or the credential the
 * auth mode needs is missing.  Free with ps_azblob_free.
 */
struct ps_azblob *ps_azblob_new(const struct ps_azblob_opts *o,
				struct ps_error *e);

/* Free az, wiping its key; ps_azblob_free(NULL) is a no-op. */
void ps_azblob_free(struct ps_azblob *az);

/* The account name and the container name (owned by az). */
const char *ps_azblob_account(const struct ps_azblob *az);
const char *ps_azblob_container(const struct ps_azblob *az);

/*
 * Append the loggable identity of the target to b: scheme, host, port,
 * container path and prefix, never a credential (used for the state file
 * name and in messages).
 */
void ps_azblob_describe(const struct ps_azblob *az, struct ps_buf *b);

/*
 * Append the blob name under the target for a lake-relative path
 * ("prefix/" + rel, or rel when there is no prefix).
 */
void ps_azblob_blob_name(const struct ps_azblob *az, const char *rel,
			 struct ps_buf *b);

/* A request being built; it owns every string its rq points to. */
#define PS_AZBLOB_MAX_HEADERS 12
struct ps_azblob_req {
	struct ps_http_request rq;
	struct ps_http_header hdr[PS_AZBLOB_MAX_HEADERS];
	char *own[PS_AZBLOB_MAX_HEADERS + 2];	/* url, values, body */
	int nown;
};

#define PS_AZBLOB_REQ_INIT { PS_HTTP_REQUEST_INIT, { { NULL, NULL } },	\
			     { NULL }, 0 }

/* Free what r owns (wiping header values) and reset it.  NULL: no-op. */
void ps_azblob_req_release(struct ps_azblob_req *r);

/*
 * Builders.  Each fills r (fresh or released) with a complete, authorized
 * request; name is the full blob name (see ps_azblob_blob_name).  Bodies
 * are read from fd at off for len bytes when it is sent (fd stays the
 * caller's).  md5 is the MD5 of the body (Content-MD5: the service
 * rejects a body that does not match).  Returns 0, or -1 with e filled
 * when a bearer token cannot be had (the token function's code).
 */

/*
 * Put Blob: a whole block blob in one request; whole_md5 is stored too.
 * if_absent: only when no blob of that name exists (If-None-Match: *,
 * put-if-absent); the service answers 409 (BlobAlreadyExists) or 412
 * when one does, and leaves it as it is.
 */
int ps_azblob_put_blob(struct ps_azblob *az, struct ps_azblob_req *r,
		       const char *name, const char *content_type, int fd,
		       int64_t len, const unsigned char md5[16], int if_absent,
		       struct ps_error *e);

/* Put Block number idx (0-based) of a block blob. */
int ps_azblob_put_block(struct ps_azblob *az, struct ps_azblob_req *r,
			const char *name, unsigned idx, int fd, int64_t off,
			int64_t len, const unsigned char md5[16],
			struct ps_error *e);

/*
 * Put Block List committing blocks 0..n-1 (as Put Block named them) in
 * order; whole_md5, the MD5 of the whole file, is stored as the blob's
 * Content-MD5 so that later HEADs can compare it.
 */
int ps_azblob_put_block_list(struct ps_azblob *az, struct ps_azblob_req *r,
			     const char *name, unsigned n,
			     const char *content_type,
			     const unsigned char whole_md5[16],
			     struct ps_error *e);

/* Get Blob Properties (HEAD). */
int ps_azblob_head(struct ps_azblob *az, struct ps_azblob_req *r,
		   const char *name, struct ps_error *e);

/* Get Blob (GET, the whole body). */
int ps_azblob_get(struct ps_azblob *az, struct ps_azblob_req *r,
		  const char *name, struct ps_error *e);

/* Create Container (PUT ?restype=container). */
int ps_azblob_create_container(struct ps_azblob *az, struct ps_azblob_req *r,
			       struct ps_error *e);

/* The block id Put Block uses for block idx (base64; all the same length). */
void ps_azblob_block_id(unsigned idx, struct ps_buf *b);

/*
 * Interpret a response to a request about what (a short phrase: "upload
 * bronze/x"): returns 0 for 2xx, else -1 with e filled.  Codes: 78 for
 * authentication and permission failures (the message says to check the
 * credential) and for a missing container, 75 for throttling, server
 * errors and an MD5 mismatch (the file changed while it was sent), 66
 * for another 404, 65 for other client errors.  The message carries the
 * service's error code, never the response body or a credential.
 */
int ps_azblob_check(const struct ps_http_response *rs, const char *what,
		    struct ps_error *e);

/*
 * The SharedKey string-to-sign of a request (exposed for tests): method,
 * the request's headers, its Content-Length (body_len, "" when 0), the
 * account and the URL as sent.  Appends to out.
 */
void ps_azblob_string_to_sign(const char *account, const char *method,
			      const char *url, const struct ps_http_header *h,
			      size_t nh, int64_t body_len,
			      struct ps_buf *out);

/*
 * Append a service SAS token for the whole container (sr=c) to out:
 * permissions such as "racwl", expiry as YYYY-MM-DDTHH:MM:SSZ, signed
 * with the account key of az (which must use SharedKey).  For tests and
 * for handing out short-lived write access.  Returns 0, or -1 (78).
 */
int ps_azblob_container_sas(const struct ps_azblob *az, const char *perms,
			    const char *expiry, struct ps_buf *out,
			    struct ps_error *e);

/* Format an instant (microseconds, UTC) as an RFC 1123 date (30 bytes). */
void ps_azblob_http_date(int64_t us, char out[30]);

#endif
