/* ChaCha20 in groups of 4 blocks per AVX-512 register; see
 * chacha20_avx512.h. */
#include "chacha20_avx512.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

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
		v = __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "0") == 0) ? 1 : 0;
		atomic_store_explicit(&ok, v, memory_order_relaxed);
	}
	return v == 1;
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
 * blocks each, from the counter in s3's lane 0; XORs the first nb blocks
 * of keystream into buf. */
static inline __attribute__((always_inline)) AVX512 void groups(int ng, __m512i s0, __m512i s1, __m512i s2,
								__m512i s3, uint8_t *buf, int nb)
{
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
			uint8_t *p = buf + 64 * (4 * g + k);
			_mm512_storeu_si512(p, _mm512_xor_si512(_mm512_loadu_si512(p), ks[k]));
		}
	}
}

AVX512 void chacha20_avx512_xor(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], uint8_t *buf,
				size_t nblocks)
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
	while (nblocks) {
		int nb = nblocks >= 4 * GROUPS_MAX ? 4 * GROUPS_MAX : (int)nblocks;
		switch ((nb + 3) / 4) {
		case 1:
			groups(1, s0, s1, s2, s3, buf, nb);
			break;
		case 2:
			groups(2, s0, s1, s2, s3, buf, nb);
			break;
		case 3:
			groups(3, s0, s1, s2, s3, buf, nb);
			break;
		case 4:
			groups(4, s0, s1, s2, s3, buf, nb);
			break;
		case 5:
			groups(5, s0, s1, s2, s3, buf, nb);
			break;
		default:
			groups(6, s0, s1, s2, s3, buf, nb);
			break;
		}
		buf += 64 * (size_t)nb;
		nblocks -= (size_t)nb;
		s3 = _mm512_add_epi32(s3, _mm512_set_epi32(0, 0, 0, nb, 0, 0, 0, nb, 0, 0, 0, nb, 0, 0, 0, nb));
	}
	memset(st, 0, sizeof(st)); /* the key */
	__asm__ __volatile__("" : : "r"(st) : "memory");
}

#else

bool chacha20_avx512_ok(void)
{
	return false;
}

void chacha20_avx512_xor(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], uint8_t *buf,
			 size_t nblocks)
{
	(void)key, (void)counter, (void)nonce, (void)buf, (void)nblocks;
}

#endif
