/* crypto.c - see crypto.h.  The only file that includes OpenSSL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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
