/* ChaCha20 in groups of 4 blocks per AVX-512 register; see
 * chacha20_avx512.h. */
#include "chacha20_avx512.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw")))

enum { GROUPS_MAX = 6 }; /* 24 blocks a pass: a 1420-byte packet and its key block */

bool chacha20_avx512_ok(void)
{
	static atomic_int ok = -1; /* threads that race compute the same */
	int v = atomic_load_explicit(&ok, memory_order_relaxed);
	if (v < 0) {
		__builtin_cpu_init();
		/* IPOP_AVX512=0 turns it off, as OPENSSL_ia32cap masks
		 * OpenSSL's: for A/B runs of one binary, and for CPUs that
		 * lower their clock for 512-bit instructions */
		const char *env = getenv("IPOP_AVX512");
		v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
				    !(env && strcmp(env, "0") == 0)
			    ? 1
			    : 0;
		atomic_store_explicit(&ok, v, memory_order_relaxed);
	}
	return v == 1;
}

/* What a pass works on: the text still to do, and where block 0 of the
 * first pass goes when it keys Poly1305 instead of ciphering text. */
struct span {
	const uint8_t *in;
	uint8_t *out;
	size_t len;
	uint8_t *ks0; /* 64 bytes, or NULL */
};

/* One block of keystream over the span's next (up to) 64 bytes; the last
 * partial block by masked loads and stores, which touch nothing past it. */
static inline __attribute__((always_inline)) AVX512 void block_xor(struct span *sp, __m512i ks)
{
	if (sp->len >= 64) {
		_mm512_storeu_si512(sp->out, _mm512_xor_si512(_mm512_loadu_si512(sp->in), ks));
		sp->in += 64;
		sp->out += 64;
		sp->len -= 64;
		return;
	}
	__mmask64 m = _cvtu64_mask64((1ULL << sp->len) - 1);
	_mm512_mask_storeu_epi8(sp->out, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, sp->in), ks));
	sp->len = 0;
}

/* One quarter round on four rows, for the 4 blocks of a register. */
#define QROUND(a, b, c, d)                                                                                    \
	do {                                                                                                   \
		a = _mm512_add_epi32(a, b);                                                                    \
		d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);                                              \
		c = _mm512_add_epi32(c, d);                                                                    \
		b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);                                              \
		a = _mm512_add_epi32(a, b);                                                                    \
		d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);                                               \
		c = _mm512_add_epi32(c, d);                                                                    \
		b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);                                               \
	} while (0)

/* ng groups (a constant once inlined, so the rows stay in registers) of 4
 * blocks each, from the counter in s3's lane 0; the first nb blocks of
 * keystream go over the span. */
static inline __attribute__((always_inline)) AVX512 void groups(int ng, __m512i s0, __m512i s1, __m512i s2,
								__m512i s3, struct span *span, int nb)
{
	/* a local copy, which no store through out can alias, stays in
	 * registers */
	struct span local = *span, *sp = &local;
	__m512i a[GROUPS_MAX], b[GROUPS_MAX], c[GROUPS_MAX], d[GROUPS_MAX], d0[GROUPS_MAX];

#pragma GCC unroll 6
	for (int g = 0; g < ng; g++) {
		a[g] = s0;
		b[g] = s1;
		c[g] = s2;
		/* the 4 blocks' counters: +4g .. +4g+3, one per 128-bit lane */
		d[g] = d0[g] = _mm512_add_epi32(s3, _mm512_set_epi32(0, 0, 0, 4 * g + 3, 0, 0, 0, 4 * g + 2, 0, 0,
								     0, 4 * g + 1, 0, 0, 0, 4 * g));
	}
	for (int r = 0; r < 10; r++) {
#pragma GCC unroll 6
		for (int g = 0; g < ng; g++) { /* columns, then turn rows to diagonals */
			QROUND(a[g], b[g], c[g], d[g]);
			b[g] = _mm512_shuffle_epi32(b[g], _MM_PERM_ADCB);
			c[g] = _mm512_shuffle_epi32(c[g], _MM_PERM_BADC);
			d[g] = _mm512_shuffle_epi32(d[g], _MM_PERM_CBAD);
		}
#pragma GCC unroll 6
		for (int g = 0; g < ng; g++) { /* diagonals, then back */
			QROUND(a[g], b[g], c[g], d[g]);
			b[g] = _mm512_shuffle_epi32(b[g], _MM_PERM_CBAD);
			c[g] = _mm512_shuffle_epi32(c[g], _MM_PERM_BADC);
			d[g] = _mm512_shuffle_epi32(d[g], _MM_PERM_ADCB);
		}
	}
#pragma GCC unroll 6
	for (int g = 0; g < ng; g++) {
		__m512i ra = _mm512_add_epi32(a[g], s0), rb = _mm512_add_epi32(b[g], s1);
		__m512i rc = _mm512_add_epi32(c[g], s2), rd = _mm512_add_epi32(d[g], d0[g]);
		/* rows to blocks: block k is lane k of ra, rb, rc, rd */
		__m512i ab01 = _mm512_shuffle_i64x2(ra, rb, 0x44), cd01 = _mm512_shuffle_i64x2(rc, rd, 0x44);
		__m512i ab23 = _mm512_shuffle_i64x2(ra, rb, 0xee), cd23 = _mm512_shuffle_i64x2(rc, rd, 0xee);
		__m512i ks[4] = { _mm512_shuffle_i64x2(ab01, cd01, 0x88), _mm512_shuffle_i64x2(ab01, cd01, 0xdd),
				  _mm512_shuffle_i64x2(ab23, cd23, 0x88), _mm512_shuffle_i64x2(ab23, cd23, 0xdd) };
		for (int k = 0; k < 4 && 4 * g + k < nb; k++) {
			if (g == 0 && k == 0 && sp->ks0)
				_mm512_storeu_si512(sp->ks0, ks[0]);
			else
				block_xor(sp, ks[k]);
		}
	}
	*span = local;
}

/* The keystream from the counter in s3 over nblocks blocks: the span's
 * key block first (if it has one), then its text. */
static AVX512 void stream(__m512i s0, __m512i s1, __m512i s2, __m512i s3, struct span *sp, size_t nblocks)
{
	while (nblocks) {
		int nb = nblocks >= 4 * GROUPS_MAX ? 4 * GROUPS_MAX : (int)nblocks;
		switch ((nb + 3) / 4) {
		case 1:
			groups(1, s0, s1, s2, s3, sp, nb);
			break;
		case 2:
			groups(2, s0, s1, s2, s3, sp, nb);
			break;
		case 3:
			groups(3, s0, s1, s2, s3, sp, nb);
			break;
		case 4:
			groups(4, s0, s1, s2, s3, sp, nb);
			break;
		case 5:
			groups(5, s0, s1, s2, s3, sp, nb);
			break;
		default:
			groups(6, s0, s1, s2, s3, sp, nb);
			break;
		}
		sp->ks0 = NULL;
		nblocks -= (size_t)nb;
		s3 = _mm512_add_epi32(s3, _mm512_set_epi32(0, 0, 0, nb, 0, 0, 0, nb, 0, 0, 0, nb, 0, 0, 0, nb));
	}
}

/* The state's rows, each broadcast to the 4 lanes, then the stream. */
static AVX512 void run(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], struct span *sp)
{
	/* "expand 32-byte k", key, counter, nonce; x86 is little-endian */
	uint32_t st[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };

	memcpy(st + 4, key, 32);
	st[12] = counter;
	memcpy(st + 13, nonce, 12);
	__m512i s0 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)st));
	__m512i s1 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(st + 4)));
	__m512i s2 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(st + 8)));
	__m512i s3 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(st + 12)));
	stream(s0, s1, s2, s3, sp, (sp->ks0 ? 1 : 0) + (sp->len + 63) / 64);
	memset(st, 0, sizeof(st)); /* the key */
	__asm__ __volatile__("" : : "r"(st) : "memory");
}

void chacha20_avx512_xor(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], const uint8_t *in,
			 uint8_t *out, size_t len)
{
	struct span sp = { .in = in, .out = out, .len = len };
	run(key, counter, nonce, &sp);
}

void chacha20_avx512_aead(const uint8_t key[32], const uint8_t nonce[12], uint8_t polykey[32], const uint8_t *in,
			  uint8_t *out, size_t len)
{
	_Alignas(64) uint8_t ks0[64];
	struct span sp = { .in = in, .out = out, .len = len, .ks0 = ks0 };

	run(key, 0, nonce, &sp);
	memcpy(polykey, ks0, 32);
	memset(ks0, 0, sizeof(ks0));
	__asm__ __volatile__("" : : "r"(ks0) : "memory");
}

#else

bool chacha20_avx512_ok(void)
{
	return false;
}

void chacha20_avx512_xor(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], const uint8_t *in,
			 uint8_t *out, size_t len)
{
	(void)key, (void)counter, (void)nonce, (void)in, (void)out, (void)len;
}

void chacha20_avx512_aead(const uint8_t key[32], const uint8_t nonce[12], uint8_t polykey[32], const uint8_t *in,
			  uint8_t *out, size_t len)
{
	(void)key, (void)nonce, (void)polykey, (void)in, (void)out, (void)len;
}

#endif
