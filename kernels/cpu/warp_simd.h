// AVX2 path for the CPU warp_affine loop: 8 destination pixels at a time.
//
// Only compiled into the x86-64-v3 build (guarded by __AVX2__ and __FMA__). A block
// whose taps all lie inside the source loads them directly (fetch_interior); any other
// block clamps each tap (REPLICATE) or blends in the border value (CONSTANT) per lane,
// as warp_fetch does (fetch_taps). Blocks with a non-finite coordinate and the
// leftover pixels of a row go through the scalar warp_pixel<>() of warp_affine.h,
// which stays the single source of truth. Each vector lane performs exactly the IEEE
// operations the scalar formula performs, in the same order, so the bytes are the same:
//   * _mm256_mul_ps / add / sub round once per lane as the scalar ops do; the build uses
//     -ffp-contract=off, so the compiler never fuses a mul and an add that the formula
//     keeps apart (GCC implements these intrinsics as plain vector arithmetic).
//   * fma32() is a correctly rounded fused op; _mm256_fmadd_ps is the same operation.
//   * _mm256_floor_ps is floorf; _mm256_cvttps_epi32 after clamping to +-2^30 is
//     coord_to_int() for finite values.
//   * _mm256_cvtps_epi32 rounds under the current MXCSR mode as rintf does; uint8
//     results lie within a hair of [0, 255] (taps and border values are in it), where
//     rint + clamp + cast and cvtps2dq + unsigned saturating packs agree.
// NaN payloads of float32 outputs from NaN source pixels are not part of the contract
// (the scalar builds never agreed on them either); NaN-ness, infinities and signed
// zeros are.
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#define FFACCEL_WARP_SIMD 1

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "ffaccel/warp_affine.h"
#include "simd_lanes.h"  // Taps, the loads and the stores of 8 pixels; FFACCEL_SIMD_INLINE

namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd {

// Per-call constants of the source image.
template <int C>
struct Src {
    const char* base;       // first row
    std::int64_t stride;    // row pitch in bytes
    __m256i max_x, max_y;   // inclusive limits of the top-left tap on the interior path
    __m256 max_xf, max_yf;  // the same as floats
    __m256i w, h, w1, h1;   // size, size - 1
    __m256i pix_bytes, vstride;
    __m256 bval[C];
    __m256i bval_i[C];      // static_cast<int>(border value), as warp_pixel_opencv4 takes taps
    bool constant;
};

template <typename T, int C>
inline Src<C> make_src(const WarpParams& p, int coord_max) {
    Src<C> s;
    s.base = reinterpret_cast<const char*>(p.src.data);
    s.stride = p.src.stride;
    int mx = p.src.w - 2 - over_read_px<T, C>(), my = p.src.h - 2;
    s.max_x = _mm256_set1_epi32(mx < coord_max ? mx : coord_max);
    s.max_y = _mm256_set1_epi32(my < coord_max ? my : coord_max);
    s.max_xf = _mm256_cvtepi32_ps(s.max_x);
    s.max_yf = _mm256_cvtepi32_ps(s.max_y);
    s.w = _mm256_set1_epi32(p.src.w);
    s.h = _mm256_set1_epi32(p.src.h);
    s.w1 = _mm256_set1_epi32(p.src.w - 1);
    s.h1 = _mm256_set1_epi32(p.src.h - 1);
    s.pix_bytes = _mm256_set1_epi32(C * static_cast<int>(sizeof(T)));
    s.vstride = _mm256_set1_epi32(static_cast<int>(p.src.stride));
    for (int c = 0; c < C; ++c) {
        s.bval[c] = _mm256_set1_ps(p.border_value[c]);
        s.bval_i[c] = _mm256_cvttps_epi32(s.bval[c]);
    }
    s.constant = p.border == Border::Constant;
    return s;
}

// Whether the SIMD path may run at all: 32-bit byte offsets from the first row, and at
// least one 32-bit word in the image for the narrow-pixel loads.
inline bool simd_usable(const WarpParams& p) {
    const double bytes = static_cast<double>(p.src.h - 1) * static_cast<double>(p.src.stride) +
                         static_cast<double>(p.src.w) * p.src.c * (p.src.dtype == DType::U8 ? 1 : 4);
    return bytes >= 4.0 && static_cast<double>(p.src.h) * static_cast<double>(p.src.stride) < 2147483647.0;
}

// True when every lane has 0 <= ix <= max_x and 0 <= iy <= max_y.
template <int C>
FFACCEL_SIMD_INLINE bool all_inside(__m256i ix, __m256i iy, const Src<C>& s) {
    const __m256i bad = _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi32(ix, s.max_x), _mm256_cmpgt_epi32(iy, s.max_y)),
                                        _mm256_or_si256(ix, iy));  // sign bit: negative
    return _mm256_movemask_ps(_mm256_castsi256_ps(bad)) == 0;
}

inline __m256i clamp_epi32(__m256i v, __m256i lo, __m256i hi) { return _mm256_min_epi32(_mm256_max_epi32(v, lo), hi); }

// lo <= v < hi, as a lane mask.
inline __m256i in_range(__m256i v, __m256i hi) {
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), v), _mm256_cmpgt_epi32(hi, v));
}

// The taps of 8 pixels whose taps are all inside (all_inside or inside_f said so).
template <typename T, int C, bool I>
FFACCEL_SIMD_INLINE void fetch_interior(const Src<C>& s, __m256i ix, __m256i iy, Taps<C, I>& t) {
    const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(iy, s.vstride), _mm256_mullo_epi32(ix, s.pix_bytes));
    load_taps<T, C, I>(s.base, off, s.stride, t);
}

// The four taps of 8 pixels with top-left tap (ix, iy), as warp_fetch4 gives them:
// inside taps are loaded; outside ones are clamped (REPLICATE) or the border value
// (CONSTANT). |ix|, |iy| must be at most 2^30 so that ix + 1 does not overflow.
template <typename T, int C, bool I>
FFACCEL_SIMD_INLINE void fetch_taps(const Src<C>& s, __m256i ix, __m256i iy, Taps<C, I>& t) {
    if (all_inside(ix, iy, s)) {
        fetch_interior<T, C, I>(s, ix, iy, t);
        return;
    }
    const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
    const __m256i ix1 = _mm256_add_epi32(ix, one), iy1 = _mm256_add_epi32(iy, one);
    const __m256i ox0 = _mm256_mullo_epi32(clamp_epi32(ix, zero, s.w1), s.pix_bytes);
    const __m256i ox1 = _mm256_mullo_epi32(clamp_epi32(ix1, zero, s.w1), s.pix_bytes);
    const __m256i oy0 = _mm256_mullo_epi32(clamp_epi32(iy, zero, s.h1), s.vstride);
    const __m256i oy1 = _mm256_mullo_epi32(clamp_epi32(iy1, zero, s.h1), s.vstride);
    // Off the image both taps of an axis often clamp to the same pixel in every lane
    // (whole blocks above, below, left or right of it): load that pixel once. The
    // values are the very ones a second load would give.
    const bool same_x = _mm256_movemask_epi8(_mm256_cmpeq_epi32(ox0, ox1)) == -1;
    const bool same_y = _mm256_movemask_epi8(_mm256_cmpeq_epi32(oy0, oy1)) == -1;
    load_pixels<T, C, I>(s.base, _mm256_add_epi32(oy0, ox0), t.q[0]);
    auto copy = [&](int to, int from) {
        for (int c = 0; c < C; ++c) t.q[to][c] = t.q[from][c];
    };
    if (same_x) {
        copy(1, 0);
    } else {
        load_pixels<T, C, I>(s.base, _mm256_add_epi32(oy0, ox1), t.q[1]);
    }
    if (same_y) {
        copy(2, 0);
        copy(3, 1);
    } else {
        load_pixels<T, C, I>(s.base, _mm256_add_epi32(oy1, ox0), t.q[2]);
        if (same_x) {
            copy(3, 2);
        } else {
            load_pixels<T, C, I>(s.base, _mm256_add_epi32(oy1, ox1), t.q[3]);
        }
    }
    if (s.constant) {
        const __m256i mx0 = in_range(ix, s.w), mx1 = in_range(ix1, s.w);
        const __m256i my0 = in_range(iy, s.h), my1 = in_range(iy1, s.h);
        const __m256 m[4] = {_mm256_castsi256_ps(_mm256_and_si256(my0, mx0)), _mm256_castsi256_ps(_mm256_and_si256(my0, mx1)),
                             _mm256_castsi256_ps(_mm256_and_si256(my1, mx0)), _mm256_castsi256_ps(_mm256_and_si256(my1, mx1))};
        for (int k = 0; k < 4; ++k)
            for (int c = 0; c < C; ++c) {
                if constexpr (I) {
                    t.q[k][c] = _mm256_blendv_epi8(s.bval_i[c], t.q[k][c], _mm256_castps_si256(m[k]));
                } else {
                    t.q[k][c] = _mm256_blendv_ps(s.bval[c], t.q[k][c], m[k]);
                }
            }
    }
}

// Default and OpenCV5: float coordinates and lerps. Returns false (having written
// nothing) when a coordinate is not finite; the caller then runs the scalar formula.
template <WarpMode M, typename T, int C>
FFACCEL_SIMD_INLINE bool block_float(const Src<C>& s, __m256 sx, __m256 sy, T* out) {
    const __m256 flx = _mm256_floor_ps(sx), fly = _mm256_floor_ps(sy);
    const __m256 fx = _mm256_sub_ps(sx, flx), fy = _mm256_sub_ps(sy, fly);
    Taps<C, false> t;
    // Interior test on the floor values themselves (ordered compares fail for NaN); in
    // range the int conversion is exact and coord_to_int's clamp does nothing.
    const __m256 zero = _mm256_setzero_ps();
    const __m256 in = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(flx, zero, _CMP_GE_OQ), _mm256_cmp_ps(flx, s.max_xf, _CMP_LE_OQ)),
                                    _mm256_and_ps(_mm256_cmp_ps(fly, zero, _CMP_GE_OQ), _mm256_cmp_ps(fly, s.max_yf, _CMP_LE_OQ)));
    if (_mm256_movemask_ps(in) == 0xff) {
        fetch_interior<T, C, false>(s, _mm256_cvttps_epi32(flx), _mm256_cvttps_epi32(fly), t);
    } else {
        // fx, fy are NaN exactly when sx or sy is not finite.
        if (_mm256_movemask_ps(_mm256_cmp_ps(fx, fy, _CMP_UNORD_Q)) != 0) return false;
        // coord_to_int(): clamp to +-2^30, then truncate (floor values are integers).
        const __m256 lim = _mm256_set1_ps(1073741824.0f), nlim = _mm256_set1_ps(-1073741824.0f);
        const __m256i ix = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(flx, nlim), lim));
        const __m256i iy = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(fly, nlim), lim));
        fetch_taps<T, C, false>(s, ix, iy, t);
    }
    __m256 v[C];
    for (int c = 0; c < C; ++c) {
        const __m256 q0 = t.q[0][c], q1 = t.q[1][c], q2 = t.q[2][c], q3 = t.q[3][c];
        if constexpr (M == WarpMode::Default) {
            const __m256 v0 = _mm256_add_ps(q0, _mm256_mul_ps(fx, _mm256_sub_ps(q1, q0)));
            const __m256 v1 = _mm256_add_ps(q2, _mm256_mul_ps(fx, _mm256_sub_ps(q3, q2)));
            v[c] = _mm256_add_ps(v0, _mm256_mul_ps(fy, _mm256_sub_ps(v1, v0)));
        } else {
            const __m256 v0 = _mm256_fmadd_ps(fx, _mm256_sub_ps(q1, q0), q0);
            const __m256 v1 = _mm256_fmadd_ps(fx, _mm256_sub_ps(q3, q2), q2);
            v[c] = _mm256_fmadd_ps(fy, _mm256_sub_ps(v1, v0), v0);
        }
    }
    if constexpr (sizeof(T) == 1) {
        __m256i r[C];
        for (int c = 0; c < C; ++c) r[c] = _mm256_cvtps_epi32(v[c]);
        store_u8<C>(out, r);
    } else {
        store_f32<C>(out, v);
    }
    return true;
}

// OpenCV4: X, Y in 1/32 px (already shifted by 5), as warp_pixel_opencv4 computes them.
template <typename T, int C>
FFACCEL_SIMD_INLINE void block_fixed(const Src<C>& s, __m256i X, __m256i Y, T* out) {
    const __m256i ix = clamp_epi32(_mm256_srai_epi32(X, 5), _mm256_set1_epi32(-32768), _mm256_set1_epi32(32767));
    const __m256i iy = clamp_epi32(_mm256_srai_epi32(Y, 5), _mm256_set1_epi32(-32768), _mm256_set1_epi32(32767));
    const __m256i m31 = _mm256_set1_epi32(31);
    const __m256i tx = _mm256_and_si256(X, m31), ty = _mm256_and_si256(Y, m31);
    constexpr bool U8 = sizeof(T) == 1;
    Taps<C, U8> t;  // uint8 taps stay integers: the scalar formula casts them back to int
    fetch_taps<T, C, U8>(s, ix, iy, t);
    // CONSTANT: a pixel whose four taps are all outside is the border value outright.
    __m256 gone = _mm256_setzero_ps();
    if (s.constant) {
        const __m256i one = _mm256_set1_epi32(1);
        const __m256i g = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpgt_epi32(ix, s.w1), _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_add_epi32(ix, one))),
            _mm256_or_si256(_mm256_cmpgt_epi32(iy, s.h1), _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_add_epi32(iy, one))));
        gone = _mm256_castsi256_ps(g);
    }
    if constexpr (sizeof(T) == 1) {
        // The scalar formula: s = q00*w00 + q01*w01 + q10*w10 + q11*w11 with weights
        // w = 32 * w', w'00 = (32-ty)(32-tx), w'01 = (32-ty)tx, w'10 = ty(32-tx),
        // w'11 = ty*tx, then (s + 2^14) >> 15. With S = sum q*w' (s = 32 S, S >= 0),
        // (32 S + 2^14) >> 15 == (S + 2^9) >> 10 exactly. Taps (<= 255) and w'
        // (<= 1024) fit int16, so pmaddwd forms q00*w'00 + q01*w'01 exactly from
        // 16-bit pairs (left tap low, right tap high).
        const __m256i k32 = _mm256_set1_epi32(32);
        const __m256i itx = _mm256_sub_epi32(k32, tx), ity = _mm256_sub_epi32(k32, ty);
        const __m256i xpair = _mm256_or_si256(itx, _mm256_slli_epi32(tx, 16));                       // (32-tx, tx)
        const __m256i w_top = _mm256_mullo_epi16(xpair, _mm256_or_si256(ity, _mm256_slli_epi32(ity, 16)));  // (w'00, w'01)
        const __m256i w_bot = _mm256_mullo_epi16(xpair, _mm256_or_si256(ty, _mm256_slli_epi32(ty, 16)));    // (w'10, w'11)
        const __m256i half = _mm256_set1_epi32(1 << 9);
        __m256i r[C];
        for (int c = 0; c < C; ++c) {
            const __m256i top = _mm256_or_si256(t.q[0][c], _mm256_slli_epi32(t.q[1][c], 16));
            const __m256i bot = _mm256_or_si256(t.q[2][c], _mm256_slli_epi32(t.q[3][c], 16));
            const __m256i sum = _mm256_add_epi32(_mm256_madd_epi16(top, w_top), _mm256_madd_epi16(bot, w_bot));
            r[c] = _mm256_srai_epi32(_mm256_add_epi32(sum, half), 10);
            // store_as<uint8_t>(border value): rint, then the packs saturate.
            r[c] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r[c]),
                                                        _mm256_castsi256_ps(_mm256_cvtps_epi32(s.bval[c])), gone));
        }
        store_u8<C>(reinterpret_cast<std::uint8_t*>(out), r);
    } else {
        const __m256 step = _mm256_set1_ps(1.0f / 32.0f), one = _mm256_set1_ps(1.0f);
        const __m256 fx = _mm256_mul_ps(_mm256_cvtepi32_ps(tx), step);
        const __m256 fy = _mm256_mul_ps(_mm256_cvtepi32_ps(ty), step);
        const __m256 gx = _mm256_sub_ps(one, fx), gy = _mm256_sub_ps(one, fy);
        const __m256 w00 = _mm256_mul_ps(gy, gx), w01 = _mm256_mul_ps(gy, fx);
        const __m256 w10 = _mm256_mul_ps(fy, gx), w11 = _mm256_mul_ps(fy, fx);
        __m256 v[C];
        for (int c = 0; c < C; ++c) {
            __m256 sum = _mm256_mul_ps(t.q[0][c], w00);
            sum = _mm256_add_ps(sum, _mm256_mul_ps(t.q[1][c], w01));
            sum = _mm256_add_ps(sum, _mm256_mul_ps(t.q[2][c], w10));
            v[c] = _mm256_blendv_ps(_mm256_add_ps(sum, _mm256_mul_ps(t.q[3][c], w11)), s.bval[c], gone);
        }
        store_f32<C>(reinterpret_cast<float*>(out), v);
    }
}

}  // namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd

#endif
