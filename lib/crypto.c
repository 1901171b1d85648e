/* crypto.c - see crypto.h.  The only file that includes OpenSSL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "json.h"
#include "banned.h"

static void die(const char *what)
{
	/* Only reached when OpenSSL runs out of memory. */
	fprintf(stderr, "pulsestream: fatal: %s failed\n", what);
	abort();
}

static void digest(const EVP_MD *md, const void *p, size_t n,
		   unsigned char *out)
{
	unsigned int len = 0;

	if (!EVP_Digest(p, n, out, &len, md, NULL))
		die("EVP_Digest");
}

void ps_crypto_sha256(const void *p, size_t n,
		      unsigned char out[PS_SHA256_LEN])
{
	digest(EVP_sha256(), p, n, out);
}

void ps_crypto_md5(const void *p, size_t n, unsigned char out[PS_MD5_LEN])
{
	digest(EVP_md5(), p, n, out);
}

void ps_crypto_hmac_sha256(const void *key, size_t klen, const void *msg,
			   size_t n, unsigned char out[PS_SHA256_LEN])
{
	static const unsigned char empty[1];
	unsigned int len = 0;

	if (klen > 0x7fffffff)
		die("HMAC key length");
	if (!HMAC(EVP_sha256(), klen ? key : empty, (int)klen,
		  n ? msg : empty, n, out, &len))
		die("HMAC");
}

struct ps_hash {
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
};

struct ps_hash *ps_hash_new(enum ps_hash_alg alg)
{
	struct ps_hash *h = ps_xcalloc(1, sizeof(*h));

	h->md = alg == PS_HASH_MD5 ? EVP_md5() : EVP_sha256();
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, h->md, NULL))
		die("EVP_DigestInit");
	return h;
}

void ps_hash_update(struct ps_hash *h, const void *p, size_t n)
{
	if (n && !EVP_DigestUpdate(h->ctx, p, n))
		die("EVP_DigestUpdate");
}

size_t ps_hash_final(struct ps_hash *h, unsigned char *out)
{
	unsigned int len = 0;

	if (!EVP_DigestFinal_ex(h->ctx, out, &len) ||
	    !EVP_DigestInit_ex(h->ctx, h->md, NULL))
		die("EVP_DigestFinal");
	return len;
}

void ps_hash_free(struct ps_hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int ps_crypto_random(void *p, size_t n, struct ps_error *e)
{
	unsigned char *o = p;

	while (n > 0) {
		int k = n > 1 << 20 ? 1 << 20 : (int)n;

		if (RAND_bytes(o, k) != 1)
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "no secure random bytes available");
		o += k;
		n -= (size_t)k;
	}
	return 0;
}

void ps_crypto_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void ps_crypto_protect_process(void)
{
	static int done;
	struct rlimit none = { 0, 0 };

	if (done)
		return;
	done = 1;
	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
}

void ps_crypto_wipe_buf(struct ps_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	ps_buf_release(b);
}

void ps_crypto_free_str(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

int ps_crypto_equal(const void *a, const void *b, size_t n)
{
	return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}

void ps_hex_encode(struct ps_buf *b, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i;

	ps_buf_grow(b, 2 * n);
	for (i = 0; i < n; i++) {
		b->data[b->len++] = digits[s[i] >> 4];
		b->data[b->len++] = digits[s[i] & 15];
	}
	b->data[b->len] = '\0';
}

int ps_hex_decode(struct ps_buf *b, const char *s, size_t n)
{
	size_t i;

	if (n % 2)
		return -1;
	for (i = 0; i < n; i += 2) {
		int hi = ps_hexval((unsigned char)s[i]);
		int lo = ps_hexval((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		ps_buf_addc(b, (char)(hi << 4 | lo));
	}
	return 0;
}

/* Feed n bytes through EVP_CipherUpdate in int-sized pieces. */
static int cipher_update(EVP_CIPHER_CTX *ctx, unsigned char *out,
			 const unsigned char *in, size_t n)
{
	while (n > 0) {
		int k = n > 1 << 30 ? 1 << 30 : (int)n, outl = 0;

		if (!EVP_CipherUpdate(ctx, out, &outl, in, k) || outl != k)
			return -1;
		in += k;
		if (out)
			out += k;
		n -= (size_t)k;
	}
	return 0;
}

static EVP_CIPHER_CTX *gcm_start(const unsigned char *key,
				 const unsigned char *iv, const void *aad,
				 size_t aadlen, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (!EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, PS_GCM_IV_LEN,
				 NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) ||
	    (aadlen && cipher_update(ctx, NULL, aad, aadlen) < 0)) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int ps_crypto_gcm_seal(const unsigned char key[PS_GCM_KEY_LEN],
		       const unsigned char iv[PS_GCM_IV_LEN],
		       const void *aad, size_t aadlen,
		       const void *pt, size_t n, void *ct,
		       unsigned char tag[PS_GCM_TAG_LEN],
		       struct ps_error *e)
{
	EVP_CIPHER_CTX *ctx = gcm_start(key, iv, aad, aadlen, 1);
	unsigned char fin[16];
	int outl = 0, ok;

	if (!ctx)
		return ps_error_set(e, PS_EX_SOFTWARE, "AES-GCM setup failed");
	ok = cipher_update(ctx, ct, pt, n) == 0 &&
	     EVP_CipherFinal_ex(ctx, fin, &outl) && outl == 0 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PS_GCM_TAG_LEN,
				 tag);
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return ps_error_set(e, PS_EX_SOFTWARE,
				    "AES-GCM encryption failed");
	return 0;
}

int ps_crypto_gcm_open(const unsigned char key[PS_GCM_KEY_LEN],
		       const unsigned char iv[PS_GCM_IV_LEN],
		       const void *aad, size_t aadlen,
		       const void *ct, size_t n, void *pt,
		       const unsigned char tag[PS_GCM_TAG_LEN],
		       struct ps_error *e)
{
	EVP_CIPHER_CTX *ctx = gcm_start(key, iv, aad, aadlen, 0);
	unsigned char fin[16], t[PS_GCM_TAG_LEN];
	int outl = 0, ok;

	if (!ctx)
		return ps_error_set(e, PS_EX_SOFTWARE, "AES-GCM setup failed");
	memcpy(t, tag, sizeof(t));
	if (cipher_update(ctx, pt, ct, n) < 0 ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PS_GCM_TAG_LEN,
				 t)) {
		EVP_CIPHER_CTX_free(ctx);
		ps_crypto_wipe(pt, n);
		return ps_error_set(e, PS_EX_SOFTWARE,
				    "AES-GCM decryption failed");
	}
	ok = EVP_CipherFinal_ex(ctx, fin, &outl) > 0;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		ps_crypto_wipe(pt, n);
		return ps_error_set(e, PS_EX_DATAERR, "authentication failed");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* TLS servers                                                         */
/* ------------------------------------------------------------------ */

struct ps_tls_server {
	SSL_CTX *ctx;
};

struct ps_tls {
	SSL *ssl;
	int want_write;
};

/* "what: the reason of OpenSSL's last error" into why (the queue is
 * emptied); a failed certificate check says why it failed. */
static void tls_why(SSL *ssl, char *why, size_t whylen, const char *what)
{
	unsigned long err, last = 0;
	const char *r;
	long v;

	while ((err = ERR_get_error()) != 0)
		last = err;
	r = last ? ERR_reason_error_string(last) : NULL;
	if (ssl && (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(why, whylen, "%s: %s (%s)", what, r ? r : "error",
			 X509_verify_cert_error_string(v));
	else
		snprintf(why, whylen, "%s%s%s", what, r ? ": " : "",
			 r ? r : "");
}

/* Never ask for a passphrase (no terminal prompt from a server). */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

static int readable(const char *path, const char *what, struct ps_error *e)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return ps_error_errno(e, PS_EX_NOINPUT, errno,
				      "cannot open %s %s", what, path);
	fclose(f);
	return 0;
}

/* NULL with e "FILE: MSG: OpenSSL's reason" (78); ctx freed. */
static struct ps_tls_server *server_fail(SSL_CTX *ctx, struct ps_error *e,
					 const char *file, const char *msg)
{
	char why[300], what[200];

	snprintf(what, sizeof(what), "%s: %s", file, msg);
	tls_why(NULL, why, sizeof(why), what);
	ps_error_set(e, PS_EX_CONFIG, "%s", why);
	SSL_CTX_free(ctx);
	return NULL;
}

struct ps_tls_server *ps_tls_server_new(const char *cert_file,
					const void *key, size_t keylen,
					const char *client_ca_file,
					struct ps_error *e)
{
	static const unsigned char sid[] = "pulsestream";
	struct ps_tls_server *s;
	SSL_CTX *ctx;
	EVP_PKEY *pk;
	BIO *bio;

	ERR_clear_error();
	if (readable(cert_file, "certificate file", e) < 0 ||
	    (client_ca_file && readable(client_ca_file, "client CA file",
					e) < 0))
		return NULL;
	if (keylen > 0x7fffffff) {
		ps_error_set(e, PS_EX_CONFIG, "TLS key too long");
		return NULL;
	}
	if (!(ctx = SSL_CTX_new(TLS_server_method())))
		die("SSL_CTX_new");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		die("SSL_CTX_set_min_proto_version");
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_NO_COMPRESSION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return server_fail(ctx, e, cert_file, "not a PEM certificate");
	if (!(bio = BIO_new_mem_buf(key, (int)keylen)))
		die("BIO_new_mem_buf");
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pk)
		return server_fail(ctx, e, "TLS key", "not an unencrypted "
				   "PEM private key");
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(pk);
		return server_fail(ctx, e, cert_file, "does not match the "
				   "TLS key");
	}
	EVP_PKEY_free(pk);
	if (client_ca_file) {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, client_ca_file,
						  NULL) != 1 ||
		    !(names = SSL_load_client_CA_file(client_ca_file)))
			return server_fail(ctx, e, client_ca_file,
					   "not a PEM certificate");
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
				   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	s = ps_xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	return s;
}

void ps_tls_server_free(struct ps_tls_server *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ctx);	/* the key is freed with clearing */
	free(s);
}

struct ps_tls *ps_tls_accept(struct ps_tls_server *s, int fd)
{
	struct ps_tls *t = ps_xcalloc(1, sizeof(*t));

	if (!(t->ssl = SSL_new(s->ctx)) || SSL_set_fd(t->ssl, fd) != 1)
		die("SSL_new");
	SSL_set_accept_state(t->ssl);
	return t;
}

void ps_tls_free(struct ps_tls *t)
{
	if (!t)
		return;
	if (SSL_is_init_finished(t->ssl)) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);	/* best effort, non-blocking */
	}
	SSL_free(t->ssl);
	ERR_clear_error();
	free(t);
}

/* What SSL_read or SSL_write returning r means. */
static long tls_result(struct ps_tls *t, int r, char *why, size_t whylen)
{
	int err = SSL_get_error(t->ssl, r);

	t->want_write = 0;
	switch (err) {
	case SSL_ERROR_WANT_READ:
		ERR_clear_error();
		return PS_TLS_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		t->want_write = 1;
		return PS_TLS_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error()) {
			if (!errno)
				return 0;	/* end of file */
			snprintf(why, whylen, "%s", strerror(errno));
			return -1;
		}
		break;
	default:
		break;
	}
	tls_why(t->ssl, why, whylen, SSL_is_init_finished(t->ssl) ?
		"TLS error" : "TLS handshake failed");
	return -1;
}

/* SSL_read into rp, or SSL_write of wp (rp NULL): up to n bytes. */
static long tls_io(struct ps_tls *t, void *rp, const void *wp, size_t n,
		   char *why, size_t whylen)
{
	int k = n > 0x7fffffff ? 0x7fffffff : (int)n, r;

	ERR_clear_error();
	errno = 0;
	r = rp ? SSL_read(t->ssl, rp, k) : SSL_write(t->ssl, wp, k);
	if (r > 0) {
		t->want_write = 0;
		return r;
	}
	return tls_result(t, r, why, whylen);
}

long ps_tls_read(struct ps_tls *t, void *p, size_t n, char *why,
		 size_t whylen)
{
	return tls_io(t, p, NULL, n, why, whylen);
}

long ps_tls_write(struct ps_tls *t, const void *p, size_t n, char *why,
		  size_t whylen)
{
	return tls_io(t, NULL, p, n, why, whylen);
}

int ps_tls_wants_write(const struct ps_tls *t)
{
	return t->want_write;
}
