// AVX2 lanes for the CPU warp and paste loops: the tap sets of 8 destination pixels, and
// their loads and stores (uint8 / float32, 1-4 channels). What each block of warp_simd.h
// and paste_simd.h moves between memory and vector registers, and nothing else: the
// sampling, clamping and blending are there. Only compiled into the x86-64-v3 build
// (guarded by __AVX2__ and __FMA__, as warp_simd.h, which includes this file).
#pragma once

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#include <cstdint>

#include "ffaccel/warp_affine.h"

// The block functions pass whole tap sets between them; inlining keeps those in
// registers instead of spilling them through memory.
#define FFACCEL_SIMD_INLINE inline __attribute__((always_inline))

namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd {

// How many pixels right of the top-right tap the interior loads may touch. uint8 C3
// reads each tap pair as 8 bytes (taps ix, ix+1 and two bytes of ix+2); every other
// layout reads exactly its taps.
template <typename T, int C>
constexpr int over_read_px() {
    return (sizeof(T) == 1 && C == 3) ? 1 : 0;
}

// The four taps of 8 pixels, one float vector per tap and channel: q[tap][c], taps in
// warp_fetch4 order (p00, p01, p10, p11).
// uint8 taps can also be kept as int32 lanes (I = true) for OpenCV4's integer weights.
// (A trait rather than std::conditional_t: vector types as template arguments lose
// their attributes, with a warning.)
template <bool I>
struct LaneOf {
    using type = __m256;
};
template <>
struct LaneOf<true> {
    using type = __m256i;
};
template <bool I>
using Lane = typename LaneOf<I>::type;

template <int C, bool I = false>
struct Taps {
    Lane<I> q[4][C];
};

// Byte `b` of each 32-bit lane, zero-extended: a pshufb control for one channel.
inline __m256i byte_of_lane(int b) {
    const char z = static_cast<char>(0x80);
    const char k0 = static_cast<char>(b), k1 = static_cast<char>(4 + b), k2 = static_cast<char>(8 + b),
               k3 = static_cast<char>(12 + b);
    return _mm256_setr_epi8(k0, z, z, z, k1, z, z, z, k2, z, z, z, k3, z, z, z,  //
                            k0, z, z, z, k1, z, z, z, k2, z, z, z, k3, z, z, z);
}

// Byte B of each 32-bit lane, as int32 (I) or float lanes.
template <int B, bool I>
FFACCEL_SIMD_INLINE Lane<I> byte_lane(__m256i v) {
    __m256i b;
    if constexpr (B == 0) {
        b = _mm256_and_si256(v, _mm256_set1_epi32(0xff));
    } else if constexpr (B == 3) {
        b = _mm256_srli_epi32(v, 24);
    } else {
        b = _mm256_shuffle_epi8(v, byte_of_lane(B));
    }
    if constexpr (I) {
        return b;
    } else {
        return _mm256_cvtepi32_ps(b);
    }
}

// Loads the taps of 8 pixels. `row0` is the source's first row, `off` the byte offset
// of each pixel's top-left tap (iy * stride + ix * C * sizeof(T), < 2^31), `stride` the
// source row pitch.
//
// Plain scalar loads per pixel, then shuffles: measured faster than vpgatherdd on
// Zen 4 (0.71 vs 0.78 ms for the 1080p -> 512 crop), and gathers are slower still on
// Intel parts with the Gather Data Sampling microcode fix.
template <typename T>
FFACCEL_SIMD_INLINE T load_as(const char* p) {
    T v;
    __builtin_memcpy(&v, p, sizeof(T));
    return v;
}

// Two 8-byte values per pixel, given in the order {0,1,4,5} (a) and {2,3,6,7} (b):
// the low dwords of all eight, in pixel order, and the high dwords.
FFACCEL_SIMD_INLINE __m256 low_dwords(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
FFACCEL_SIMD_INLINE __m256 high_dwords(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }

template <typename T, int C, bool I>
FFACCEL_SIMD_INLINE void load_taps(const char* row0, __m256i off, std::int64_t stride, Taps<C, I>& t) {
    static_assert(sizeof(T) == 1 || !I, "integer taps are for uint8 sources");
    alignas(32) int o[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
    for (int row = 0; row < 2; ++row) {
        const char* r = row0 + row * stride;
        Lane<I>* left = t.q[2 * row];
        Lane<I>* right = t.q[2 * row + 1];
        if constexpr (sizeof(T) == 1 && C == 1) {
            // Both taps in one 16-bit load: no byte outside them is read.
            const __m256i v = _mm256_setr_epi32(load_as<std::uint16_t>(r + o[0]), load_as<std::uint16_t>(r + o[1]),
                                                load_as<std::uint16_t>(r + o[2]), load_as<std::uint16_t>(r + o[3]),
                                                load_as<std::uint16_t>(r + o[4]), load_as<std::uint16_t>(r + o[5]),
                                                load_as<std::uint16_t>(r + o[6]), load_as<std::uint16_t>(r + o[7]));
            left[0] = byte_lane<0, I>(v);
            right[0] = byte_lane<1, I>(v);
        } else if constexpr (sizeof(T) == 4 && C == 4) {
            // float C4 (paste_back's 4-channel float crops): the two taps of a pixel are
            // 32 contiguous bytes [L0 L1 L2 L3 R0 R1 R2 R3]; 8 such rows, transposed.
            __m256 rr[8];
            for (int i = 0; i < 8; ++i) rr[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(r + o[i]));
            __m256 tt[8];
            for (int g = 0; g < 2; ++g) {  // pixels 0-3, then 4-7
                const __m256* x = rr + 4 * g;
                const __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
                const __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
                tt[4 * g + 0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));  // columns 0 | 4
                tt[4 * g + 1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));  // columns 1 | 5
                tt[4 * g + 2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));  // columns 2 | 6
                tt[4 * g + 3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));  // columns 3 | 7
            }
            for (int c = 0; c < 4; ++c) {
                left[c] = _mm256_permute2f128_ps(tt[c], tt[4 + c], 0x20);
                right[c] = _mm256_permute2f128_ps(tt[c], tt[4 + c], 0x31);
            }
        } else if constexpr (C != 3 || sizeof(T) == 1) {
            // uint8 C3: left pixel in bytes 0-2, right in 3-5 (6-7 belong to the next
            // pixel: over_read_px). uint8 C4 and float C1: exactly the two taps.
            auto q8 = [&](int i) { return load_as<long long>(r + o[i]); };
            const __m256 a = _mm256_castsi256_ps(_mm256_set_epi64x(q8(5), q8(4), q8(1), q8(0)));
            const __m256 b = _mm256_castsi256_ps(_mm256_set_epi64x(q8(7), q8(6), q8(3), q8(2)));
            if constexpr (sizeof(T) == 4) {
                left[0] = low_dwords(a, b);
                right[0] = high_dwords(a, b);
            } else if constexpr (C == 4) {
                const __m256i lo = _mm256_castps_si256(low_dwords(a, b)), hi = _mm256_castps_si256(high_dwords(a, b));
                left[0] = byte_lane<0, I>(lo), left[1] = byte_lane<1, I>(lo), left[2] = byte_lane<2, I>(lo), left[3] = byte_lane<3, I>(lo);
                right[0] = byte_lane<0, I>(hi), right[1] = byte_lane<1, I>(hi), right[2] = byte_lane<2, I>(hi), right[3] = byte_lane<3, I>(hi);
            } else {
                const __m256i lo = _mm256_castps_si256(low_dwords(a, b));
                const __m256i hi = _mm256_castps_si256(low_dwords(_mm256_castsi256_ps(_mm256_srli_epi64(_mm256_castps_si256(a), 24)),
                                                                  _mm256_castsi256_ps(_mm256_srli_epi64(_mm256_castps_si256(b), 24))));
                left[0] = byte_lane<0, I>(lo), left[1] = byte_lane<1, I>(lo), left[2] = byte_lane<2, I>(lo);
                right[0] = byte_lane<0, I>(hi), right[1] = byte_lane<1, I>(hi), right[2] = byte_lane<2, I>(hi);
            }
        } else {
            // float C3: per pixel [R0 G0 B0 R1] at +0 and [B0 R1 G1 B1] at +8 (exactly
            // the six taps), pixels k and k+4 in the two halves, then a 4x4 transpose.
            auto pair = [&](int i, int byte) {
                return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(reinterpret_cast<const float*>(r + o[i] + byte))),
                                            _mm_loadu_ps(reinterpret_cast<const float*>(r + o[i + 4] + byte)), 1);
            };
            for (int half = 0; half < 2; ++half) {
                const int byte = half * 8;
                const __m256 p0 = pair(0, byte), p1 = pair(1, byte), p2 = pair(2, byte), p3 = pair(3, byte);
                const __m256 t0 = _mm256_unpacklo_ps(p0, p1), t1 = _mm256_unpacklo_ps(p2, p3);
                const __m256 t2 = _mm256_unpackhi_ps(p0, p1), t3 = _mm256_unpackhi_ps(p2, p3);
                const __m256 e2 = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(1, 0, 1, 0));
                const __m256 e3 = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(3, 2, 3, 2));
                if (half == 0) {
                    left[0] = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0));  // R0
                    left[1] = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));  // G0
                    left[2] = e2;                                                   // B0
                    right[0] = e3;                                                  // R1
                } else {
                    right[1] = e2;  // G1
                    right[2] = e3;  // B1
                }
            }
        }
    }
}

// Eight 32-bit loads at byte offsets `off` from `base`: what vpgatherdd does, by
// scalar loads (see load_taps for why).
FFACCEL_SIMD_INLINE __m256i load8_u32(const char* base, __m256i off) {
    alignas(32) int o[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
    return _mm256_setr_epi32(load_as<int>(base + o[0]), load_as<int>(base + o[1]), load_as<int>(base + o[2]),
                             load_as<int>(base + o[3]), load_as<int>(base + o[4]), load_as<int>(base + o[5]),
                             load_as<int>(base + o[6]), load_as<int>(base + o[7]));
}

// One pixel per lane at arbitrary byte offsets `off` (each a whole pixel inside the
// image), as float vectors per channel. uint8 C1/C3 pixels are narrower than the
// 32-bit word: the word is taken to end at the pixel's last byte (start
// max(off - back, 0)) and shifted per lane, so no byte outside the image is read;
// that needs an image of at least 4 bytes (see simd_usable).
template <typename T, int C, bool I>
FFACCEL_SIMD_INLINE void load_pixels(const char* base, __m256i off, Lane<I>* q) {
    static_assert(sizeof(T) == 1 || !I, "integer taps are for uint8 sources");
    if constexpr (sizeof(T) == 1) {
        __m256i word;
        if constexpr (C == 4) {
            word = load8_u32(base, off);
        } else {
            const __m256i start = _mm256_max_epi32(_mm256_sub_epi32(off, _mm256_set1_epi32(4 - C)), _mm256_setzero_si256());
            const __m256i sh = _mm256_slli_epi32(_mm256_sub_epi32(off, start), 3);
            word = _mm256_srlv_epi32(load8_u32(base, start), sh);
        }
        q[0] = byte_lane<0, I>(word);
        if constexpr (C >= 3) {
            q[1] = byte_lane<1, I>(word);
            q[2] = byte_lane<2, I>(word);
        }
        if constexpr (C == 4) q[3] = byte_lane<3, I>(word);
    } else {
        if constexpr (!I) {
            for (int c = 0; c < C; ++c)
                q[c] = _mm256_castsi256_ps(load8_u32(base, _mm256_add_epi32(off, _mm256_set1_epi32(4 * c))));
        }
    }
}

// Stores 8 pixels given as C vectors of int32 channel values already in [0, 255]
// after saturation by the packs below; never writes outside the 8 pixels.
template <int C>
FFACCEL_SIMD_INLINE void store_u8(std::uint8_t* out, const __m256i* v) {
    if constexpr (C == 1) {
        const __m256i w = _mm256_packus_epi32(v[0], v[0]);  // lane: p0-3 p0-3 | p4-7 p4-7
        const __m256i b = _mm256_packus_epi16(w, w);         // lane: bytes p0-3 x3 | p4-7 x3
        const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
        const std::uint64_t bytes = static_cast<std::uint32_t>(_mm_cvtsi128_si32(lo)) |
                                    (static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_cvtsi128_si32(hi))) << 32);
        __builtin_memcpy(out, &bytes, 8);
    } else if constexpr (C == 3) {
        const __m256i bg = _mm256_packus_epi32(v[0], v[1]);           // lane: B0-3 G0-3 (u16)
        const __m256i r = _mm256_packus_epi32(v[2], v[2]);            // lane: R0-3 R0-3
        const __m256i bgr = _mm256_packus_epi16(bg, r);               // lane: B0-3 G0-3 R0-3 R0-3
        const __m256i ctl = _mm256_setr_epi8(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1,  //
                                             0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1);
        const __m256i px = _mm256_shuffle_epi8(bgr, ctl);             // lane: 4 BGR pixels, 12 bytes
        const __m128i lo = _mm256_castsi256_si128(px), hi = _mm256_extracti128_si256(px, 1);
        // 16-byte store of the first half: its last 4 bytes are rewritten by the second.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), lo);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 12), hi);
        const std::uint32_t tail = static_cast<std::uint32_t>(_mm_extract_epi32(hi, 2));
        __builtin_memcpy(out + 20, &tail, 4);
    } else {
        const __m256i bg = _mm256_packus_epi32(v[0], v[1]);
        const __m256i ra = _mm256_packus_epi32(v[2], v[3]);
        const __m256i bgra = _mm256_packus_epi16(bg, ra);  // lane: B0-3 G0-3 R0-3 A0-3
        const __m256i ctl = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,  //
                                             0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_shuffle_epi8(bgra, ctl));
    }
}

// float32 results, every NaN written as canonical_nan() (0x7fc00000) as store_as<float> does.
template <int C>
FFACCEL_SIMD_INLINE void store_f32(float* out, const __m256* in) {
    __m256 v[C];
    for (int c = 0; c < C; ++c) {
        v[c] = _mm256_blendv_ps(in[c], _mm256_set1_ps(canonical_nan()), _mm256_cmp_ps(in[c], in[c], _CMP_UNORD_Q));
    }
    if constexpr (C == 1) {
        _mm256_storeu_ps(out, v[0]);
    } else {
        alignas(32) float tmp[C][8];
        for (int c = 0; c < C; ++c) _mm256_store_ps(tmp[c], v[c]);
        for (int i = 0; i < 8; ++i)
            for (int c = 0; c < C; ++c) out[i * C + c] = tmp[c][i];
    }
}
}  // namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd

#endif
