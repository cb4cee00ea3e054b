// AVX2 path for the CPU paste_back loop: 8 frame pixels of one face's paste area at a
// time, built on the warp machinery of warp_simd.h.
//
// The mask and the crop are sampled at the same area coordinates through the same
// matrix (paste_back.h), so each block computes its coordinates and bilinear weights
// once and samples the mask first; a block whose eight clipped mask values are all 0
// is left untouched (paste_pixel skips those pixels one by one, and a skipped pixel
// keeps its bytes). Otherwise the crop is sampled and the eight pixels are blended and
// rounded (or truncated) in vector lanes. As in warp_simd.h every lane performs the
// scalar formula's IEEE operations in the same order:
//   * samples: the same tap loads, lerps (plain or fused per mode) and, for the OpenCV
//     modes with uint8 sources, the same rounding OpenCV's store does (store_as);
//   * uint8 masks: m * (1.0f / 255.0f), one rounded multiply, then the clip with
//     max/min operand orders chosen so NaN and -0 pass through as the ternaries do;
//   * blend: f * (1 - m) + c * m as two products and one sum (no FMA: the build uses
//     -ffp-contract=off and these intrinsics are plain vector arithmetic);
//   * store: clamp to [0, 255] then convert (cvtps2dq rounds half to even as rint,
//     cvttps2dq truncates as the cast). Clamping before rint equals rint before
//     clamping because 0 and 255 are integers. NaN stays NaN through the clamp and
//     converts to 0x80000000, which the unsigned saturating packs turn into 0: the byte
//     the scalar cast of NaN produces on x86-64 (cvttss2si, low byte).
// Lanes whose mask value is 0 get their original bytes back (not f*1 + c*0, which is
// NaN for a non-finite crop value), exactly what the scalar skip leaves.
#pragma once

#include "warp_simd.h"
#include "warp_coords.h"

#if defined(FFACCEL_WARP_SIMD)
#define FFACCEL_PASTE_SIMD 1

#include <cstdint>

#include "ffaccel/paste_back.h"

#define FFACCEL_PASTE_INLINE inline __attribute__((always_inline))

namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd {

// Float-mode coordinates of one block: floor values and fractions (warp_affine.h's
// sample_default / sample_opencv5 before the fetch).
struct FloatCoords {
    __m256 flx, fly, fx, fy;
};

FFACCEL_PASTE_INLINE FloatCoords float_coords(__m256 sx, __m256 sy) {
    FloatCoords k;
    k.flx = _mm256_floor_ps(sx);
    k.fly = _mm256_floor_ps(sy);
    k.fx = _mm256_sub_ps(sx, k.flx);
    k.fy = _mm256_sub_ps(sy, k.fly);
    return k;
}

// fx, fy are NaN exactly when sx or sy is not finite; those blocks go to the scalar
// formula (as in block_float).
FFACCEL_PASTE_INLINE bool coords_finite(const FloatCoords& k) {
    return _mm256_movemask_ps(_mm256_cmp_ps(k.fx, k.fy, _CMP_UNORD_Q)) == 0;
}

// sample_default / sample_opencv5 of 8 pixels (finite coordinates), one float vector
// per channel, as the scalar sample returns it (rounded for OpenCV5 uint8).
template <WarpMode M, typename T, int C>
FFACCEL_PASTE_INLINE void sample_float(const Src<C>& s, const FloatCoords& k, __m256* v) {
    Taps<C, false> t;
    const __m256 zero = _mm256_setzero_ps();
    const __m256 in = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(k.flx, zero, _CMP_GE_OQ), _mm256_cmp_ps(k.flx, s.max_xf, _CMP_LE_OQ)),
                                    _mm256_and_ps(_mm256_cmp_ps(k.fly, zero, _CMP_GE_OQ), _mm256_cmp_ps(k.fly, s.max_yf, _CMP_LE_OQ)));
    if (_mm256_movemask_ps(in) == 0xff) {
        fetch_interior<T, C, false>(s, _mm256_cvttps_epi32(k.flx), _mm256_cvttps_epi32(k.fly), t);
    } else {
        // coord_to_int(): clamp to +-2^30, then truncate (floor values are integers).
        const __m256 lim = _mm256_set1_ps(1073741824.0f), nlim = _mm256_set1_ps(-1073741824.0f);
        const __m256i ix = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(k.flx, nlim), lim));
        const __m256i iy = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(k.fly, nlim), lim));
        fetch_taps<T, C, false>(s, ix, iy, t);
    }
    for (int c = 0; c < C; ++c) {
        const __m256 q0 = t.q[0][c], q1 = t.q[1][c], q2 = t.q[2][c], q3 = t.q[3][c];
        if constexpr (M == WarpMode::Default) {
            const __m256 v0 = _mm256_add_ps(q0, _mm256_mul_ps(k.fx, _mm256_sub_ps(q1, q0)));
            const __m256 v1 = _mm256_add_ps(q2, _mm256_mul_ps(k.fx, _mm256_sub_ps(q3, q2)));
            v[c] = _mm256_add_ps(v0, _mm256_mul_ps(k.fy, _mm256_sub_ps(v1, v0)));
        } else {
            const __m256 v0 = _mm256_fmadd_ps(k.fx, _mm256_sub_ps(q1, q0), q0);
            const __m256 v1 = _mm256_fmadd_ps(k.fx, _mm256_sub_ps(q3, q2), q2);
            v[c] = _mm256_fmadd_ps(k.fy, _mm256_sub_ps(v1, v0), v0);
            if constexpr (sizeof(T) == 1) {
                // store_as<uint8_t>: rint, clamp to 0..255, back to float.
                const __m256i r = clamp_epi32(_mm256_cvtps_epi32(v[c]), _mm256_setzero_si256(), _mm256_set1_epi32(255));
                v[c] = _mm256_cvtepi32_ps(r);
            }
        }
    }
}

// OpenCV4 coordinates of one block, from X, Y in 1/32 px (already shifted by 5).
struct FixedCoords {
    __m256i ix, iy, tx, ty;
};

FFACCEL_PASTE_INLINE FixedCoords fixed_coords(__m256i X, __m256i Y) {
    FixedCoords k;
    k.ix = clamp_epi32(_mm256_srai_epi32(X, 5), _mm256_set1_epi32(-32768), _mm256_set1_epi32(32767));
    k.iy = clamp_epi32(_mm256_srai_epi32(Y, 5), _mm256_set1_epi32(-32768), _mm256_set1_epi32(32767));
    const __m256i m31 = _mm256_set1_epi32(31);
    k.tx = _mm256_and_si256(X, m31);
    k.ty = _mm256_and_si256(Y, m31);
    return k;
}

// sample_opencv4 of 8 pixels as float vectors (block_fixed of warp_simd.h, returning the
// values instead of storing them; the uint8 result is clamped as the scalar does).
template <typename T, int C>
FFACCEL_PASTE_INLINE void sample_fixed(const Src<C>& s, const FixedCoords& k, __m256* v) {
    constexpr bool U8 = sizeof(T) == 1;
    Taps<C, U8> t;
    fetch_taps<T, C, U8>(s, k.ix, k.iy, t);
    // CONSTANT: a pixel whose four taps are all outside is the border value outright.
    __m256 gone = _mm256_setzero_ps();
    if (s.constant) {
        const __m256i one = _mm256_set1_epi32(1), z = _mm256_setzero_si256();
        const __m256i g = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpgt_epi32(k.ix, s.w1), _mm256_cmpgt_epi32(z, _mm256_add_epi32(k.ix, one))),
            _mm256_or_si256(_mm256_cmpgt_epi32(k.iy, s.h1), _mm256_cmpgt_epi32(z, _mm256_add_epi32(k.iy, one))));
        gone = _mm256_castsi256_ps(g);
    }
    if constexpr (U8) {
        // (32 S + 2^14) >> 15 == (S + 2^9) >> 10 with S = sum q * w' (see block_fixed).
        const __m256i k32 = _mm256_set1_epi32(32);
        const __m256i itx = _mm256_sub_epi32(k32, k.tx), ity = _mm256_sub_epi32(k32, k.ty);
        const __m256i xpair = _mm256_or_si256(itx, _mm256_slli_epi32(k.tx, 16));
        const __m256i w_top = _mm256_mullo_epi16(xpair, _mm256_or_si256(ity, _mm256_slli_epi32(ity, 16)));
        const __m256i w_bot = _mm256_mullo_epi16(xpair, _mm256_or_si256(k.ty, _mm256_slli_epi32(k.ty, 16)));
        const __m256i half = _mm256_set1_epi32(1 << 9);
        for (int c = 0; c < C; ++c) {
            const __m256i top = _mm256_or_si256(t.q[0][c], _mm256_slli_epi32(t.q[1][c], 16));
            const __m256i bot = _mm256_or_si256(t.q[2][c], _mm256_slli_epi32(t.q[3][c], 16));
            const __m256i sum = _mm256_add_epi32(_mm256_madd_epi16(top, w_top), _mm256_madd_epi16(bot, w_bot));
            const __m256i r = clamp_epi32(_mm256_srai_epi32(_mm256_add_epi32(sum, half), 10), _mm256_setzero_si256(),
                                          _mm256_set1_epi32(255));
            v[c] = _mm256_blendv_ps(_mm256_cvtepi32_ps(r), s.bval[c], gone);
        }
    } else {
        const __m256 step = _mm256_set1_ps(1.0f / 32.0f), one = _mm256_set1_ps(1.0f);
        const __m256 fx = _mm256_mul_ps(_mm256_cvtepi32_ps(k.tx), step);
        const __m256 fy = _mm256_mul_ps(_mm256_cvtepi32_ps(k.ty), step);
        const __m256 gx = _mm256_sub_ps(one, fx), gy = _mm256_sub_ps(one, fy);
        const __m256 w00 = _mm256_mul_ps(gy, gx), w01 = _mm256_mul_ps(gy, fx);
        const __m256 w10 = _mm256_mul_ps(fy, gx), w11 = _mm256_mul_ps(fy, fx);
        for (int c = 0; c < C; ++c) {
            __m256 sum = _mm256_mul_ps(t.q[0][c], w00);
            sum = _mm256_add_ps(sum, _mm256_mul_ps(t.q[1][c], w01));
            sum = _mm256_add_ps(sum, _mm256_mul_ps(t.q[2][c], w10));
            v[c] = _mm256_blendv_ps(_mm256_add_ps(sum, _mm256_mul_ps(t.q[3][c], w11)), s.bval[c], gone);
        }
    }
}

// The clipped mask value of paste_pixel from the raw sample: uint8 masks scaled by
// 1/255 first. Operand orders: max_ps/min_ps return their second operand when either
// is NaN or both are zeros, so NaN becomes +0 and -0 becomes +0, as the scalar
// `m > 0 ? (m < 1 ? m : 1) : 0` gives.
template <typename MaskT>
FFACCEL_PASTE_INLINE __m256 clip_mask(__m256 m) {
    if constexpr (sizeof(MaskT) == 1) m = _mm256_mul_ps(m, _mm256_set1_ps(1.0f / 255.0f));
    return _mm256_min_ps(_mm256_max_ps(m, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
}

// 8 frame pixels (exactly 8 * C bytes read) as int32 lanes per channel.
template <int C>
FFACCEL_PASTE_INLINE void load_frame(const std::uint8_t* px, __m256i* f) {
    static_assert(C == 3 || C == 4, "frames have 3 or 4 channels");
    __m256i v;
    if constexpr (C == 4) {
        v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(px));
    } else {
        // Bytes 0-15 and 8-23 (the 24 bytes of the 8 pixels), then each pixel into its
        // own 32-bit lane: pixels 0-3 from the low half, 4-7 (bytes 12-23) from the high.
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(px));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(px + 8));
        const char z = static_cast<char>(0x80);
        const __m256i ctl = _mm256_setr_epi8(0, 1, 2, z, 3, 4, 5, z, 6, 7, 8, z, 9, 10, 11, z,  //
                                             4, 5, 6, z, 7, 8, 9, z, 10, 11, 12, z, 13, 14, 15, z);
        v = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), ctl);
    }
    f[0] = byte_lane<0, true>(v);
    f[1] = byte_lane<1, true>(v);
    f[2] = byte_lane<2, true>(v);
    if constexpr (C == 4) f[3] = byte_lane<3, true>(v);
}

// Blends 8 pixels of the frame row at `px` with the crop samples `crop` under the
// clipped mask `m`; lanes set in `skip` keep their bytes.
template <int C>
FFACCEL_PASTE_INLINE void blend_store(std::uint8_t* px, __m256 m, __m256 skip, const __m256* crop, bool truncate) {
    __m256i f[C];
    load_frame<C>(px, f);
    const __m256 keep = _mm256_sub_ps(_mm256_set1_ps(1.0f), m);
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
    __m256i r[C];
    for (int c = 0; c < C; ++c) {
        const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(f[c]), keep), _mm256_mul_ps(crop[c], m));
        const __m256 cl = _mm256_max_ps(lo, _mm256_min_ps(hi, v));  // NaN stays NaN (second operand)
        const __m256i q = truncate ? _mm256_cvttps_epi32(cl) : _mm256_cvtps_epi32(cl);
        r[c] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(q), _mm256_castsi256_ps(f[c]), skip));
    }
    store_u8<C>(px, r);
}

// The block where every lane has m == 1 (the inside of the face): the blend is
// f * 0 + c * 1, and f * 0 is +0 for every frame byte, c * 1 is c, +0 + c is c (a -0
// becomes +0, NaN stays NaN): so the result is c itself, and the frame need not be read.
template <int C>
FFACCEL_PASTE_INLINE void store_crop(std::uint8_t* px, const __m256* crop, bool truncate) {
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
    __m256i r[C];
    for (int c = 0; c < C; ++c) {
        const __m256 cl = _mm256_max_ps(lo, _mm256_min_ps(hi, crop[c]));
        r[c] = truncate ? _mm256_cvttps_epi32(cl) : _mm256_cvtps_epi32(cl);
    }
    store_u8<C>(px, r);
}

}  // namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd

#undef FFACCEL_PASTE_INLINE
#endif
