/*
 * crypto.h - hashes, MACs, authenticated encryption, secure random bytes
 * and memory wiping.  The only module that includes OpenSSL.
 *
 * Every function works on plain byte arrays; digests are written into
 * caller-provided arrays of the stated length.  Base64 is lib/base64.h;
 * hexadecimal is here.  Nothing in this module logs, and no error message
 * ever contains key material or plaintext.
 *
 * Functions documented as "cannot fail" abort the process on an OpenSSL
 * internal failure (which only happens when memory runs out), like
 * ps_xmalloc does.
 */
#ifndef PS_CRYPTO_H
#define PS_CRYPTO_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

#define PS_SHA256_LEN 32	/* bytes in a SHA-256 digest */
#define PS_MD5_LEN 16		/* bytes in an MD5 digest */
#define PS_GCM_KEY_LEN 32	/* AES-256 key */
#define PS_GCM_IV_LEN 12	/* the 96-bit nonce GCM is made for */
#define PS_GCM_TAG_LEN 16	/* full-length authentication tag */

/* One-shot SHA-256 of n bytes at p into out.  Cannot fail. */
void ps_crypto_sha256(const void *p, size_t n,
		      unsigned char out[PS_SHA256_LEN]);

/*
 * One-shot MD5 of n bytes at p into out (for Content-MD5 checksums only;
 * MD5 is not a security primitive).  Cannot fail.
 */
void ps_crypto_md5(const void *p, size_t n, unsigned char out[PS_MD5_LEN]);

/*
 * HMAC-SHA256 of n bytes at msg under the key (klen bytes, any length)
 * into out.  Cannot fail.
 */
void ps_crypto_hmac_sha256(const void *key, size_t klen, const void *msg,
			   size_t n, unsigned char out[PS_SHA256_LEN]);

/* Incremental hashing, for data that arrives in pieces (whole files). */
enum ps_hash_alg {
	PS_HASH_SHA256 = 1,
	PS_HASH_MD5 = 2,
};

struct ps_hash;	/* opaque */

/* A new hash state for alg.  Cannot fail (aborts on out of memory). */
struct ps_hash *ps_hash_new(enum ps_hash_alg alg);

/* Feed n more bytes.  Cannot fail. */
void ps_hash_update(struct ps_hash *h, const void *p, size_t n);

/*
 * Write the digest (PS_SHA256_LEN or PS_MD5_LEN bytes, per alg) to out and
 * return its length.  The state is reset, so h can hash again.
 */
size_t ps_hash_final(struct ps_hash *h, unsigned char *out);

/* Free h; ps_hash_free(NULL) is a no-op. */
void ps_hash_free(struct ps_hash *h);

/*
 * Fill p with n cryptographically secure random bytes.  Returns 0, or -1
 * with e filled (70) when the system cannot supply them.
 */
int ps_crypto_random(void *p, size_t n, struct ps_error *e);

/*
 * Overwrite n bytes at p with zeroes in a way the compiler cannot remove.
 * p may be NULL when n is 0.  Cannot fail.
 */
void ps_crypto_wipe(void *p, size_t n);

/* Wipe all allocated bytes of b, then release it (ps_buf_release). */
void ps_crypto_wipe_buf(struct ps_buf *b);

/* Wipe the NUL-terminated string s, then free it; NULL is a no-op. */
void ps_crypto_free_str(char *s);

/*
 * Keep this process's secrets out of core dumps and away from other
 * processes of the same user (as ssh-agent does): RLIMIT_CORE 0 (soft and
 * hard) and PR_SET_DUMPABLE off, which also closes /proc/PID/mem and
 * /proc/PID/environ and refuses ptrace attach.  Called by every function
 * that brings a secret into memory (lib/secret, lib/vault, lib/azauth,
 * lib/kafka), before the secret is read, so no tool has to remember it.
 * Idempotent; cannot fail (a refusal by the system is ignored).
 */
void ps_crypto_protect_process(void);

/*
 * Compare n bytes in time that does not depend on where they differ (for
 * tags and MACs).  Returns 1 when equal, 0 otherwise.
 */
int ps_crypto_equal(const void *a, const void *b, size_t n);

/* Append n bytes at p as lower-case hexadecimal.  Cannot fail. */
void ps_hex_encode(struct ps_buf *b, const void *p, size_t n);

/*
 * Append the bytes the n hex digits at s encode (either case, n even).
 * Returns 0, or -1 when s is not hexadecimal (b may hold a partial result).
 */
int ps_hex_decode(struct ps_buf *b, const char *s, size_t n);

/*
 * AES-256-GCM encryption of n bytes at pt with key (32 bytes) and iv
 * (12 bytes, never reused with the same key: draw it with
 * ps_crypto_random), authenticating aadlen extra bytes at aad (may be
 * NULL when aadlen is 0).  Writes n bytes of ciphertext to ct (which may
 * be pt itself) and the 16-byte tag to tag.  Returns 0, or -1 with e
 * filled (70).
 */
int ps_crypto_gcm_seal(const unsigned char key[PS_GCM_KEY_LEN],
		       const unsigned char iv[PS_GCM_IV_LEN],
		       const void *aad, size_t aadlen,
		       const void *pt, size_t n, void *ct,
		       unsigned char tag[PS_GCM_TAG_LEN],
		       struct ps_error *e);

/*
 * AES-256-GCM decryption, the inverse of ps_crypto_gcm_seal: writes n
 * bytes of plaintext to pt (which may be ct itself).  Returns 0 when the
 * tag authenticates ciphertext and aad under key, or -1 with e filled:
 * 65 (PS_EX_DATAERR) with the message "authentication failed" for a wrong
 * key or altered data (pt is then wiped), 70 for an internal error.
 */
int ps_crypto_gcm_open(const unsigned char key[PS_GCM_KEY_LEN],
		       const unsigned char iv[PS_GCM_IV_LEN],
		       const void *aad, size_t aadlen,
		       const void *ct, size_t n, void *pt,
		       const unsigned char tag[PS_GCM_TAG_LEN],
		       struct ps_error *e);

/* ------------------------------------------------------------------ */
/* TLS servers                                                         */
/* ------------------------------------------------------------------ */

/*
 * The server side of TLS (ps-hl7 listen): TLS 1.2 or later only,
 * OpenSSL's default cipher suites, no renegotiation, no compression.
 * Connections are driven on non-blocking sockets from a poll loop.
 */
struct ps_tls_server;	/* opaque: certificate, key, settings */
struct ps_tls;		/* opaque: one connection */

/*
 * A server context with the certificate chain of cert_file (PEM, the
 * server's certificate first) and its private key: keylen bytes of
 * unencrypted PEM at key (the caller reads and wipes them; the key stays
 * in the context until ps_tls_server_free).  client_ca_file NULL, or a
 * PEM file of the CAs whose client certificates are then required
 * (mutual TLS).  Returns the context, or NULL with e filled: 66 a file
 * cannot be read, 78 not a certificate or key, or a key that does not
 * match the certificate.  Messages name files, never key material.
 */
struct ps_tls_server *ps_tls_server_new(const char *cert_file,
					const void *key, size_t keylen,
					const char *client_ca_file,
					struct ps_error *e);

/* Free s (wiping its key); ps_tls_server_free(NULL) is a no-op. */
void ps_tls_server_free(struct ps_tls_server *s);

/*
 * The server side of a TLS connection on the connected non-blocking
 * socket fd (borrowed: close it after ps_tls_free); the handshake runs
 * in the first reads.  Cannot fail (aborts on out of memory).
 */
struct ps_tls *ps_tls_accept(struct ps_tls_server *s, int fd);

/* Send a close_notify if the socket takes it now, free t; NULL: no-op. */
void ps_tls_free(struct ps_tls *t);

#define PS_TLS_AGAIN (-2)	/* not ready: poll, then call again */

/*
 * Read up to n bytes of plaintext (running the handshake first).
 * Returns the count, 0 when the peer closed the connection, PS_TLS_AGAIN
 * when the socket is not ready, or -1 with a one-line reason in why (a
 * failed handshake: a client that does not speak TLS, an old protocol
 * version, no or a bad client certificate; a broken connection).
 */
long ps_tls_read(struct ps_tls *t, void *p, size_t n, char *why,
		 size_t whylen);

/*
 * Write up to n bytes; returns the count written (> 0), PS_TLS_AGAIN, or
 * -1 with why filled.  After PS_TLS_AGAIN, call again with the same
 * bytes (they may have moved).
 */
long ps_tls_write(struct ps_tls *t, const void *p, size_t n, char *why,
		  size_t whylen);

/* The last read or write waits for the socket to be writable (poll for
 * POLLOUT, then read again): during the handshake. */
int ps_tls_wants_write(const struct ps_tls *t);

#endif
