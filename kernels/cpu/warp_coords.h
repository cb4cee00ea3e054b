// Sample coordinates of 8 pixels at a time for the AVX2 row loops of warp_affine.cpp and
// paste_back.cpp (x86-64-v3 build only), written once for both: the float modes'
// a0 * x + (a1 * y + a2), and OpenCV4's fixed-point coordinates of opencv4_fixed()
// (warp_affine.h), split into a column term computed once per face and a row term
// computed once per row, added in int32 where that equals the double sum.
#pragma once

#include "warp_simd.h"

#if defined(FFACCEL_WARP_SIMD)

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "ffaccel/warp_affine.h"

#define FFACCEL_COORDS_INLINE inline __attribute__((always_inline))

namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd {

// OpenCV4's column terms round(a * x * 1024) of warp_affine.h's opencv4_fixed(), per
// face, as int32: the row loops then add the row term (fixed_row) in integers. Kept
// only when every value fits in +-2^30, so the integer sum equals the double one.
struct FixedColumns {
    std::vector<std::int32_t> x, y;  // per column: X and Y column terms
    bool ok = false;
};

inline FixedColumns fixed_columns(const WarpCoeffs& k, int w) {
    FixedColumns f;
    f.x.resize(w);
    f.y.resize(w);
    const double lim = 1073741823.0;  // 2^30 - 1
    for (int x = 0; x < w; ++x) {
        // The same expressions as opencv4_fixed(): rint64(a_col * x * 1024.0).
        const double cx = rint64(k.d[0] * x * 1024.0), cy = rint64(k.d[3] * x * 1024.0);
        if (!(std::fabs(cx) <= lim && std::fabs(cy) <= lim)) return f;
        f.x[x] = static_cast<std::int32_t>(cx);
        f.y[x] = static_cast<std::int32_t>(cy);
    }
    f.ok = true;
    return f;
}

// OpenCV4's row term of opencv4_fixed() for row y, (row + 16.0), as int32 lanes, for
// the row loops of warp_affine.cpp and paste_back.cpp. `ok` is false where the columns
// or the row term pass +-(2^30 - 1): only within that range does the int32 sum
// (row + 16) + col equal opencv4_fixed()'s double sum (which then never reaches its clamp
// to +-(2^31 - 1)); elsewhere the caller takes the scalar path.
struct FixedRow {
    __m256i x, y;
    bool ok;
};

FFACCEL_COORDS_INLINE FixedRow fixed_row(const WarpCoeffs& k, const FixedColumns& fc, int y) {
    const double rx = rint64((k.d[1] * y + k.d[2]) * 1024.0) + 16.0;
    const double ry = rint64((k.d[4] * y + k.d[5]) * 1024.0) + 16.0;
    const double lim = 1073741823.0;
    FixedRow r;
    r.ok = fc.ok && std::fabs(rx) <= lim && std::fabs(ry) <= lim;
    r.x = _mm256_set1_epi32(r.ok ? static_cast<int>(rx) : 0);
    r.y = _mm256_set1_epi32(r.ok ? static_cast<int>(ry) : 0);
    return r;
}

// X, Y in 1/32 px of the 8 columns from x0 of row r, as opencv4_fixed() computes them.
struct FixedXY {
    __m256i X, Y;
};

FFACCEL_COORDS_INLINE FixedXY fixed_xy(const FixedRow& r, const FixedColumns& fc, int x0) {
    const __m256i cx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(fc.x.data() + x0));
    const __m256i cy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(fc.y.data() + x0));
    return {_mm256_srai_epi32(_mm256_add_epi32(r.x, cx), 5), _mm256_srai_epi32(_mm256_add_epi32(r.y, cy), 5)};
}

// The float modes' sx, sy of 8 columns xf: a0 * x + (a1 * y + a2), with rx, ry the row
// terms (a1 * y + a2); Default multiplies then adds, OpenCV5's vector loop fuses (fma).
template <WarpMode M>
FFACCEL_COORDS_INLINE void float_xy(__m256 a0, __m256 a3, __m256 rx, __m256 ry, __m256 xf, __m256& sx, __m256& sy) {
    if constexpr (M == WarpMode::Default) {
        sx = _mm256_add_ps(_mm256_mul_ps(a0, xf), rx);
        sy = _mm256_add_ps(_mm256_mul_ps(a3, xf), ry);
    } else {
        sx = _mm256_fmadd_ps(a0, xf, rx);
        sy = _mm256_fmadd_ps(a3, xf, ry);
    }
}

// OpenCV5's columns from `vector_end` on (past its 16-wide vector loop): its scalar tail
// computes fma(x, a0, a1 * y) + a2 where the vector loop fuses fma(a0, x, a1 * y + a2).
// rx1, ry1 are the row terms a1 * y and a4 * y without the offsets k.f[2], k.f[5]; the
// lanes of `lane` (column numbers) before vector_end keep their sx, sy.
FFACCEL_COORDS_INLINE void opencv5_tail_xy(const WarpCoeffs& k, __m256 a0, __m256 a3, float rx1, float ry1,
                                           __m256 xf, __m256i lane, int vector_end, __m256& sx, __m256& sy) {
    const __m256 tx = _mm256_add_ps(_mm256_fmadd_ps(xf, a0, _mm256_set1_ps(rx1)), _mm256_set1_ps(k.f[2]));
    const __m256 ty = _mm256_add_ps(_mm256_fmadd_ps(xf, a3, _mm256_set1_ps(ry1)), _mm256_set1_ps(k.f[5]));
    const __m256 vec = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(vector_end), lane));
    sx = _mm256_blendv_ps(tx, sx, vec);
    sy = _mm256_blendv_ps(ty, sy, vec);
}

}  // namespace ffaccel::cpu::FFACCEL_CPU_VARIANT::simd

#undef FFACCEL_COORDS_INLINE
#endif
