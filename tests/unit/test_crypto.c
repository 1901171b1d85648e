/* test_crypto.c - lib/crypto: known-answer vectors and failure cases. */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto.h"
#include "banned.h"

/* Hex of n bytes, for comparing with published vectors. */
static char *hex(const void *p, size_t n)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_hex_encode(&b, p, n);
	return ps_buf_detach(&b, NULL);
}

/* Bytes from hex; aborts the test on bad input. */
static struct ps_buf unhex(const char *s)
{
	struct ps_buf b = PS_BUF_INIT;

	cr_assert_eq(ps_hex_decode(&b, s, strlen(s)), 0);
	if (!b.data)
		ps_buf_adds(&b, "");
	return b;
}

static void check_sha256(const char *msg, const char *want)
{
	unsigned char d[PS_SHA256_LEN];
	char *h;

	ps_crypto_sha256(msg, strlen(msg), d);
	h = hex(d, sizeof(d));
	cr_assert_str_eq(h, want, "sha256(\"%s\")", msg);
	free(h);
}

Test(crypto, sha256_fips180_vectors)
{
	check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
		     "a495991b7852b855");
	check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
		     "b410ff61f20015ad");
	check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		     "19db06c1");
}

Test(crypto, sha256_million_a_incremental)
{
	struct ps_hash *h = ps_hash_new(PS_HASH_SHA256);
	unsigned char d[PS_SHA256_LEN];
	char chunk[1000];
	char *s;
	int i;

	memset(chunk, 'a', sizeof(chunk));
	for (i = 0; i < 1000; i++)
		ps_hash_update(h, chunk, sizeof(chunk));
	cr_assert_eq(ps_hash_final(h, d), PS_SHA256_LEN);
	s = hex(d, sizeof(d));
	cr_assert_str_eq(s, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e"
			 "046d39ccc7112cd0");
	free(s);
	/* The state is reset by final: hashing "abc" now works again. */
	ps_hash_update(h, "abc", 3);
	ps_hash_final(h, d);
	s = hex(d, sizeof(d));
	cr_assert_str_eq(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
			 "b410ff61f20015ad");
	free(s);
	ps_hash_free(h);
	ps_hash_free(NULL);
}

Test(crypto, md5_rfc1321_vectors)
{
	static const char *const v[][2] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "12345678901234567890123456789012345678901234567890123456789"
		  "012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a" },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char d[PS_MD5_LEN];
		struct ps_hash *h = ps_hash_new(PS_HASH_MD5);
		char *s;
		size_t k;

		ps_crypto_md5(v[i][0], strlen(v[i][0]), d);
		s = hex(d, sizeof(d));
		cr_assert_str_eq(s, v[i][1], "md5(\"%s\")", v[i][0]);
		free(s);
		/* Byte by byte through the incremental API. */
		for (k = 0; v[i][0][k]; k++)
			ps_hash_update(h, v[i][0] + k, 1);
		cr_assert_eq(ps_hash_final(h, d), PS_MD5_LEN);
		s = hex(d, sizeof(d));
		cr_assert_str_eq(s, v[i][1]);
		free(s);
		ps_hash_free(h);
	}
}

static void check_hmac(const char *key_hex, const char *data_hex,
		       const char *want)
{
	struct ps_buf k = unhex(key_hex), m = unhex(data_hex);
	unsigned char d[PS_SHA256_LEN];
	char *s;

	ps_crypto_hmac_sha256(k.data, k.len, m.data, m.len, d);
	s = hex(d, sizeof(d));
	cr_assert_str_eq(s, want);
	free(s);
	ps_buf_release(&k);
	ps_buf_release(&m);
}

Test(crypto, hmac_sha256_rfc4231)
{
	/* Test case 1 */
	check_hmac("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		   "4869205468657265",
		   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c"
		   "2e32cff7");
	/* Test case 2: "Jefe", "what do ya want for nothing?" */
	check_hmac("4a656665",
		   "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
		   "64ec3843");
	/* Test case 3 */
	check_hmac("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		   "dddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
		   "dddddddddddddddddddddddddddddddddddddddddddd",
		   "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514"
		   "ced565fe");
}

Test(crypto, hmac_sha256_rfc4231_long_key)
{
	const char *msg = "Test Using Larger Than Block-Size Key - Hash Key "
			  "First";
	unsigned char k[131], d[PS_SHA256_LEN];
	char *s;
	int i;

	for (i = 0; i < 131; i++)
		k[i] = 0xaa;
	ps_crypto_hmac_sha256(k, sizeof(k), msg, strlen(msg), d);
	s = hex(d, sizeof(d));
	cr_assert_str_eq(s, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c514"
			 "0546040f0ee37f54");
	free(s);
}

/* The AES-256 vectors of the GCM specification (test cases 14 and 16). */
struct gcm_vec {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

static const struct gcm_vec gcm_vectors[] = {
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "00000000000000000000000000000000", "",
	  "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

Test(crypto, aes256_gcm_vectors)
{
	size_t i;

	for (i = 0; i < sizeof(gcm_vectors) / sizeof(gcm_vectors[0]); i++) {
		const struct gcm_vec *v = &gcm_vectors[i];
		struct ps_buf k = unhex(v->key), iv = unhex(v->iv);
		struct ps_buf pt = unhex(v->pt), aad = unhex(v->aad);
		unsigned char tag[PS_GCM_TAG_LEN];
		char *ct = ps_xmalloc(pt.len + 1), *back, *s;
		struct ps_error e = { 0, "" };

		cr_assert_eq(ps_crypto_gcm_seal((unsigned char *)k.data,
						(unsigned char *)iv.data,
						aad.data, aad.len, pt.data,
						pt.len, ct, tag, &e), 0);
		s = hex(ct, pt.len);
		cr_assert_str_eq(s, v->ct, "vector %zu ciphertext", i);
		free(s);
		s = hex(tag, sizeof(tag));
		cr_assert_str_eq(s, v->tag, "vector %zu tag", i);
		free(s);
		back = ps_xmalloc(pt.len + 1);
		cr_assert_eq(ps_crypto_gcm_open((unsigned char *)k.data,
						(unsigned char *)iv.data,
						aad.data, aad.len, ct, pt.len,
						back, tag, &e), 0);
		cr_assert_eq(memcmp(back, pt.data, pt.len), 0);
		free(back);
		free(ct);
		ps_buf_release(&k);
		ps_buf_release(&iv);
		ps_buf_release(&pt);
		ps_buf_release(&aad);
	}
}

Test(crypto, aes256_gcm_rejects_any_change)
{
	unsigned char key[32], iv[12], tag[16], t2[16];
	char pt[] = "patient secret", ct[sizeof(pt)], out[sizeof(pt)];
	const char aad[] = "header";
	struct ps_error e = { 0, "" };
	size_t i;

	cr_assert_eq(ps_crypto_random(key, sizeof(key), &e), 0);
	cr_assert_eq(ps_crypto_random(iv, sizeof(iv), &e), 0);
	cr_assert_eq(ps_crypto_gcm_seal(key, iv, aad, 6, pt, sizeof(pt), ct,
					tag, &e), 0);
	for (i = 0; i < sizeof(ct); i++) {
		ct[i] ^= 1;
		memset(out, 'x', sizeof(out));
		cr_assert_eq(ps_crypto_gcm_open(key, iv, aad, 6, ct, sizeof(ct),
						out, tag, &e), -1);
		cr_assert_eq(e.code, PS_EX_DATAERR);
		cr_assert_str_eq(e.msg, "authentication failed");
		/* The unauthenticated plaintext is not left behind. */
		cr_assert_eq(memchr(out, 'p', sizeof(out)), NULL);
		ct[i] ^= 1;
	}
	cr_assert_eq(ps_crypto_gcm_open(key, iv, "Header", 6, ct, sizeof(ct),
					out, tag, &e), -1);
	memcpy(t2, tag, 16);
	t2[15] ^= 0x80;
	cr_assert_eq(ps_crypto_gcm_open(key, iv, aad, 6, ct, sizeof(ct), out,
					t2, &e), -1);
	iv[0] ^= 1;
	cr_assert_eq(ps_crypto_gcm_open(key, iv, aad, 6, ct, sizeof(ct), out,
					tag, &e), -1);
	iv[0] ^= 1;
	key[31] ^= 1;
	cr_assert_eq(ps_crypto_gcm_open(key, iv, aad, 6, ct, sizeof(ct), out,
					tag, &e), -1);
	key[31] ^= 1;
	cr_assert_eq(ps_crypto_gcm_open(key, iv, aad, 6, ct, sizeof(ct), out,
					tag, &e), 0);
	cr_assert_str_eq(out, "patient secret");
}

Test(crypto, random_wipe_equal)
{
	unsigned char a[32] = { 0 }, b[32] = { 0 }, z[32] = { 0 };
	struct ps_buf buf = PS_BUF_INIT;
	char *s = ps_xstrdup("secret");

	cr_assert_eq(ps_crypto_random(a, sizeof(a), NULL), 0);
	cr_assert_eq(ps_crypto_random(b, sizeof(b), NULL), 0);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
	cr_assert_neq(memcmp(a, z, sizeof(a)), 0);
	cr_assert(ps_crypto_equal(a, a, sizeof(a)));
	cr_assert(!ps_crypto_equal(a, b, sizeof(a)));
	cr_assert(ps_crypto_equal(a, b, 0));
	ps_crypto_wipe(a, sizeof(a));
	cr_assert_eq(memcmp(a, z, sizeof(a)), 0);
	ps_crypto_wipe(NULL, 0);
	ps_buf_adds(&buf, "token");
	ps_crypto_wipe_buf(&buf);
	cr_assert_null(buf.data);
	cr_assert_eq(buf.len, 0);
	ps_crypto_free_str(s);
	ps_crypto_free_str(NULL);
}

Test(crypto, hex_round_trip_and_errors)
{
	struct ps_buf b = PS_BUF_INIT;
	char *s;

	cr_assert_eq(ps_hex_decode(&b, "00fFa5", 6), 0);
	cr_assert_eq(b.len, 3);
	s = hex(b.data, b.len);
	cr_assert_str_eq(s, "00ffa5");
	free(s);
	ps_buf_reset(&b);
	cr_assert_eq(ps_hex_decode(&b, "abc", 3), -1);
	cr_assert_eq(ps_hex_decode(&b, "zz", 2), -1);
	ps_buf_release(&b);
}
