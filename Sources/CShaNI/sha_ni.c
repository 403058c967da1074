#include "sha_ni.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int tp_sha_ni_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int sha = (b >> 29) & 1;
    return ssse3 && sse41 && sha;
}

// The SHA instructions keep the first word of a group in the highest lane: the 16 message
// bytes are reversed as a whole (big-endian words, reversed word order).
#define TP_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// sha1rnds4 takes its round function as an immediate, hence one branch per stage.
#define TP_SHA1_ROUNDS(abcd, e, stage)                                   \
    switch (stage) {                                                     \
    case 0: abcd = _mm_sha1rnds4_epu32(abcd, e, 0); break;               \
    case 1: abcd = _mm_sha1rnds4_epu32(abcd, e, 1); break;               \
    case 2: abcd = _mm_sha1rnds4_epu32(abcd, e, 2); break;               \
    default: abcd = _mm_sha1rnds4_epu32(abcd, e, 3); break;              \
    }

TP_SHA_TARGET
void tp_sha1_blocks(uint32_t state[5], const uint8_t *blocks, size_t count) {
    const __m128i reverse = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1B);
    __m128i e0 = _mm_set_epi32((int)state[4], 0, 0, 0);
    for (; count > 0; count--, blocks += 64) {
        const __m128i abcdSaved = abcd, eSaved = e0;
        __m128i w[4];
        for (int j = 0; j < 4; j++) w[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16 * j)), reverse);
        // Twenty groups of four rounds. Group j's message words: the block's for j < 4, then
        // W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) four at a time (msg1, xor, msg2).
        // Its E: the block's E for the first group, then rol30 of the A four rounds back (nexte).
        __m128i previous = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, _mm_add_epi32(e0, w[0]), 0);
        for (int j = 1; j < 20; j++) {
            if (j >= 4) {
                w[j & 3] = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(w[j & 3], w[(j + 1) & 3]), w[(j + 2) & 3]), w[(j + 3) & 3]);
            }
            const __m128i e = _mm_sha1nexte_epu32(previous, w[j & 3]);
            previous = abcd;
            TP_SHA1_ROUNDS(abcd, e, j / 5)
        }
        e0 = _mm_sha1nexte_epu32(previous, eSaved);
        abcd = _mm_add_epi32(abcd, abcdSaved);
    }
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1B));
    state[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static const uint32_t k256[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

TP_SHA_TARGET
void tp_sha256_blocks(uint32_t state[8], const uint8_t *blocks, size_t count) {
    // Big-endian words in place (SHA-256's instructions take the first word in the lowest lane).
    const __m128i byteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    // The instructions want the state as (A, B, E, F) and (C, D, G, H), highest lane first.
    __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0xB1);
    __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(state + 4)), 0x1B);
    __m128i abef = _mm_alignr_epi8(dcba, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, dcba, 0xF0);
    for (; count > 0; count--, blocks += 64) {
        const __m128i abefSaved = abef, cdghSaved = cdgh;
        __m128i w[4];
        for (int j = 0; j < 4; j++) w[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16 * j)), byteSwap);
        // Sixteen groups of four rounds (two rnds2 each). From group 4 on, the message words are
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time (msg1, add, msg2).
        for (int j = 0; j < 16; j++) {
            if (j >= 4) {
                __m128i x = _mm_sha256msg1_epu32(w[j & 3], w[(j + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(j + 3) & 3], w[(j + 2) & 3], 4));
                w[j & 3] = _mm_sha256msg2_epu32(x, w[(j + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(w[j & 3], _mm_load_si128((const __m128i *)(k256 + 4 * j)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abefSaved);
        cdgh = _mm_add_epi32(cdgh, cdghSaved);
    }
    const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

#else

int tp_sha_ni_available(void) { return 0; }
void tp_sha1_blocks(uint32_t state[5], const uint8_t *blocks, size_t count) { (void)state; (void)blocks; (void)count; }
void tp_sha256_blocks(uint32_t state[8], const uint8_t *blocks, size_t count) { (void)state; (void)blocks; (void)count; }

#endif
