// CPU loop for warp_affine: rows of all output images, split across the thread pool.
//
// In the x86-64-v3 build each row is walked in blocks of 8 pixels through the AVX2 path
// of warp_simd.h (interior and border blocks alike); a row's leftover pixels, blocks
// with non-finite coordinates, OpenCV5's scalar-tail columns and the whole baseline
// build go through the scalar warp_pixel<>(). Both compute the formulas of
// warp_affine.h to the same bytes.
#include "ffaccel/warp_affine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "variant.h"
#include "warp_simd.h"
#include "warp_coords.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <WarpMode M, typename T, int C>
void scalar_span(const WarpParams& p, const WarpCoeffs& k, int x0, int x1, int y, T* out) {
    for (int x = x0; x < x1; ++x) warp_pixel<M, T, C>(p, k, x, y, out + x * C);
}

#if defined(FFACCEL_WARP_SIMD)
template <WarpMode M, typename T, int C>
void row_simd(const WarpParams& p, const simd::Src<C>& s, const WarpCoeffs& k, const simd::FixedColumns* fc, int y, T* out) {
    const int w = p.dst.w;
    int x = 0;
    if constexpr (M == WarpMode::OpenCV4) {
        const simd::FixedRow r = simd::fixed_row(k, *fc, y);  // false: the whole row goes scalar
        if (r.ok) {
            for (; x + 8 <= w; x += 8) {
                const simd::FixedXY c = simd::fixed_xy(r, *fc, x);
                simd::block_fixed<T, C>(s, c.X, c.Y, out + x * C);
            }
        }
    } else {
        // Columns handled 16 at a time by OpenCV5's vector loop use one coordinate
        // formula, the leftovers another (warp_pixel_opencv5); 8-blocks never straddle.
        const int end = M == WarpMode::OpenCV5 ? w - w % 16 : w;
        const float yf = static_cast<float>(y);
        const __m256 rx = _mm256_set1_ps(k.f[1] * yf + k.f[2]);  // the formula's (a1*y + a2)
        const __m256 ry = _mm256_set1_ps(k.f[4] * yf + k.f[5]);
        const __m256 a0 = _mm256_set1_ps(k.f[0]), a3 = _mm256_set1_ps(k.f[3]);
        __m256 xf = _mm256_setr_ps(0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f);  // exact up to 2^24
        const __m256 eight = _mm256_set1_ps(8.f);
        for (; x + 8 <= end; x += 8, xf = _mm256_add_ps(xf, eight)) {
            __m256 sx, sy;
            simd::float_xy<M>(a0, a3, rx, ry, xf, sx, sy);
            if (!simd::block_float<M, T, C>(s, sx, sy, out + x * C)) scalar_span<M, T, C>(p, k, x, x + 8, y, out);
        }
    }
    scalar_span<M, T, C>(p, k, x, w, y, out);
}
#endif

template <WarpMode M, typename T, int C>
struct WarpRows {
    static void run(const WarpParams& p, const WarpCoeffs* coeffs, int n) {
        const int h = p.dst.h;
#if defined(FFACCEL_WARP_SIMD)
        // A dst row needs at least 8 pixels for a block, and x stays exact in float
        // below 2^24.
        const bool simd_ok = p.dst.w >= 8 && p.dst.w < (1 << 24) && simd::simd_usable(p);
        // OpenCV4 clamps ix, iy to int16; the float modes compare floor values against
        // the limit as floats, exact up to 2^24.
        const simd::Src<C> s = simd::make_src<T, C>(p, M == WarpMode::OpenCV4 ? 32767 : (1 << 24));
        std::vector<simd::FixedColumns> fc;
        if (M == WarpMode::OpenCV4 && simd_ok) {
            fc.reserve(n);
            for (int i = 0; i < n; ++i) fc.push_back(simd::fixed_columns(coeffs[i], p.dst.w));
        }
#endif
        // ns a dst pixel on one core (x86-64-v3, 1080p source): uint8 2.6 (C = 1) to 4.9
        // (C = 4), float32 C = 3 8.5.
        constexpr double kPixelNs = (sizeof(T) == 4 ? 2.0 : 1.0) * (1.5 + C);
        parallel_for(n * h, p.dst.w * kPixelNs, [&](int b, int e) {
            for (int i = b; i < e; ++i) {
                const int face = i / h, y = i % h;
                T* out = row_ptr_mut<T>(p.dst, face, y);
#if defined(FFACCEL_WARP_SIMD)
                if (simd_ok) {
                    row_simd<M, T, C>(p, s, coeffs[face], fc.empty() ? nullptr : &fc[face], y, out);
                    continue;
                }
#endif
                scalar_span<M, T, C>(p, coeffs[face], 0, p.dst.w, y, out);
            }
        });
    }
};

}  // namespace

void warp_affine(const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode) {
    if (!dispatch_warp<WarpRows>(mode, p.src.dtype, p.src.c, p, coeffs, n)) {
        throw std::invalid_argument("warp_affine: unsupported dtype/channel combination");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, warp_affine, (const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode),
                     (p, coeffs, n, mode))

}  // namespace ffaccel::cpu
