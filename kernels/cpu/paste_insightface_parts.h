// Pieces of the CPU paste_back_insightface loop (paste_insightface.cpp), compiled in
// each CPU build variant: the 1-D sliding minimum of the erode, the row and column runs
// of the blur (the header's formulas, 8 columns at a time where AVX2 + FMA are compiled
// in), the constant-window values, and the blend of one output row.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ffaccel/paste_insightface.h"
#include "paste_simd.h"
#include "variant.h"
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// Sliding minimum of length L over p[0 .. n) (n >= L), for `lanes` interleaved series
// (element i of lane l at p[i * lanes + l]); out[j * lanes + l] = min p[j .. j + L).
// van Herk / Gil-Werman: prefix minimums g and suffix minimums h within blocks of L.
void sliding_min(const float* p, int n, int L, int lanes, float* g, float* h, float* out) {
    for (int b0 = 0; b0 < n; b0 += L) {
        const int b1 = std::min(n, b0 + L);
        for (int l = 0; l < lanes; ++l) g[b0 * lanes + l] = p[b0 * lanes + l];
        for (int i = b0 + 1; i < b1; ++i) {
            const float* pi = p + i * lanes;
            const float* gp = g + (i - 1) * lanes;
            float* gi = g + i * lanes;
            for (int l = 0; l < lanes; ++l) gi[l] = std::min(gp[l], pi[l]);
        }
        for (int l = 0; l < lanes; ++l) h[(b1 - 1) * lanes + l] = p[(b1 - 1) * lanes + l];
        for (int i = b1 - 2; i >= b0; --i) {
            const float* pi = p + i * lanes;
            const float* hn = h + (i + 1) * lanes;
            float* hi = h + i * lanes;
            for (int l = 0; l < lanes; ++l) hi[l] = std::min(hn[l], pi[l]);
        }
    }
    for (int j = 0; j + L <= n; ++j) {
        const float* hj = h + j * lanes;
        const float* gj = g + (j + L - 1) * lanes;
        float* o = out + j * lanes;
        for (int l = 0; l < lanes; ++l) o[l] = std::min(hj[l], gj[l]);
    }
}

// The row pass for `len` consecutive columns: out[t] from src[t .. t + 2r] (the header's
// ins_blur_row order: x0 k0, then each tap fused or as two roundings), 8 columns at a
// time with the accumulator in a register where AVX2 + FMA are compiled in.
void row_run(const float* src, float* out, int len, const float* kern, int r, bool fused) {
    int t = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; t + 8 <= len; t += 8) {
        __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(src + t), _mm256_set1_ps(kern[0]));
        if (fused) {
            for (int j = 1; j <= 2 * r; ++j) acc = _mm256_fmadd_ps(_mm256_loadu_ps(src + t + j), _mm256_set1_ps(kern[j]), acc);
        } else {
            for (int j = 1; j <= 2 * r; ++j)
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(src + t + j), _mm256_set1_ps(kern[j])));
        }
        _mm256_storeu_ps(out + t, acc);
    }
#endif
    for (; t < len; ++t) {
        float acc = src[t] * kern[0];
        for (int j = 1; j <= 2 * r; ++j) acc = ins_madd(src[t + j], kern[j], acc, fused);
        out[t] = acc;
    }
}

// The column pass for `len` consecutive columns from column offset `xi` of the row
// pointers taps[0] (row y), taps[2j - 1] (row y + j), taps[2j] (row y - j), reflected
// already: the header's ins_blur_col order, H_0 k_r, then (H_+j + H_-j) k_r+j.
void col_run(const float* const* taps, int xi, float* out, int len, const float* kern, int r, bool fused) {
    int t = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; t + 8 <= len; t += 8) {
        __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(taps[0] + xi + t), _mm256_set1_ps(kern[r]));
        for (int j = 1; j <= r; ++j) {
            const __m256 v = _mm256_add_ps(_mm256_loadu_ps(taps[2 * j - 1] + xi + t), _mm256_loadu_ps(taps[2 * j] + xi + t));
            acc = fused ? _mm256_fmadd_ps(v, _mm256_set1_ps(kern[r + j]), acc)
                        : _mm256_add_ps(acc, _mm256_mul_ps(v, _mm256_set1_ps(kern[r + j])));
        }
        _mm256_storeu_ps(out + t, acc);
    }
#endif
    for (; t < len; ++t) {
        float acc = taps[0][xi + t] * kern[r];
        for (int j = 1; j <= r; ++j) acc = ins_madd(taps[2 * j - 1][xi + t] + taps[2 * j][xi + t], kern[r + j], acc, fused);
        out[t] = acc;
    }
}

float row_const(const float* kern, int r, float v, bool fused) {
    float s = v * kern[0];
    for (int j = 1; j <= 2 * r; ++j) s = ins_madd(v, kern[j], s, fused);
    return s;
}

float col_const(const float* kern, int r, float v, bool fused) {
    float s = v * kern[r];
    for (int j = 1; j <= r; ++j) s = ins_madd(v + v, kern[r + j], s, fused);
    return s;
}

// memcpy with non-temporal stores (SSE2, in every x86-64 build): the destination lines
// are not read first nor kept in the caches. stream_fence() orders them before later work.
inline void stream_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
#if defined(__SSE2__)
    std::size_t i = 0;
    for (; i < n && (reinterpret_cast<std::uintptr_t>(dst + i) & 15) != 0; ++i) dst[i] = src[i];
    for (; i + 64 <= n; i += 64) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
        const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
        const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), a);
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
    }
    for (; i < n; ++i) dst[i] = src[i];
#else
    std::memcpy(dst, src, n);
#endif
}

inline void stream_fence() {
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

template <typename T>
T* scratch(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

// The blend of one output row over frame columns [x1, x2), g[x - x1] the blurred mask:
// the header's ins_blend() per pixel where g != 0; in the x86-64-v3 build 8 pixels at a
// time through paste_simd.h's crop samplers (the scalar warp formula lane by lane) and
// blend_store (f (1 - m) + c m in float32, the same two products and sum as ins_blend,
// truncated; lanes with g == 0 keep their bytes). The last block of a row is moved left
// to end at x2, its already blended lanes skipped.
template <WarpMode M>
struct Blender {
    const InsParams& p;
    const InsFace& f;
    int fw;
    WarpParams cp;
#if defined(FFACCEL_PASTE_SIMD)
    simd::Src<3> src;
    simd::FixedColumns fc;
    bool simd_ok = false;
#endif

    Blender(const InsParams& p_, const InsFace& f_, int fw_) : p(p_), f(f_), fw(fw_), cp(ins_crop_params(p_.crop, fw_)) {
#if defined(FFACCEL_PASTE_SIMD)
        simd_ok = simd::simd_usable(cp) && fw >= 8 && fw < (1 << 24);
        src = simd::make_src<std::uint8_t, 3>(cp, M == WarpMode::OpenCV4 ? 32767 : (1 << 24));
        if (M == WarpMode::OpenCV4 && simd_ok) {
            fc = simd::fixed_columns(f.k, fw);
            simd_ok = fc.ok;
        }
#endif
    }

    void scalar(int y, int x0, int x1, int gx, const float* g) const {
        std::uint8_t* orow = row_ptr_mut<std::uint8_t>(p.out, 0, y);
        for (int x = x0; x < x1; ++x) {
            const float gv = g[x - gx];
            if (gv == 0.f) continue;
            float c[3];
            warp_sample<M, std::uint8_t, 3>(cp, f.k, x, y, c);
            ins_blend(orow + x * 3, c, gv);
        }
    }

    void row(int y, int x1, int x2, const float* g) const {
#if defined(FFACCEL_PASTE_SIMD)
        if (simd_ok && x2 - x1 >= 8) {
            row_simd(y, x1, x2, g);
            return;
        }
#endif
        scalar(y, x1, x2, x1, g);
    }

#if defined(FFACCEL_PASTE_SIMD)
    void row_simd(int y, int x1, int x2, const float* g) const {
        std::uint8_t* orow = row_ptr_mut<std::uint8_t>(p.out, 0, y);
        const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256 zero = _mm256_setzero_ps(), v255 = _mm256_set1_ps(255.0f);
        const int last = x2 - 8;
        simd::FixedRow fr{};
        if constexpr (M == WarpMode::OpenCV4) {
            fr = simd::fixed_row(f.k, fc, y);
            if (!fr.ok) {
                scalar(y, x1, x2, x1, g);
                return;
            }
        }
        const int vector_end = fw - fw % 16;
        const float yf = static_cast<float>(y);
        const float rx1 = f.k.f[1] * yf, ry1 = f.k.f[4] * yf;
        const __m256 rxv = _mm256_set1_ps(rx1 + f.k.f[2]), ryv = _mm256_set1_ps(ry1 + f.k.f[5]);
        const __m256 a0 = _mm256_set1_ps(f.k.f[0]), a3 = _mm256_set1_ps(f.k.f[3]);
        int done = x1;
        for (int x0 = x1;; x0 += 8) {
            if (x0 > last) {
                if (x0 >= x2) break;
                x0 = last;
            }
            const __m256 gv = _mm256_loadu_ps(g + (x0 - x1));
            const __m256i lane = _mm256_add_epi32(_mm256_set1_epi32(x0), iota);
            const __m256 pasted = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(done), lane));
            const __m256 skip = _mm256_or_ps(_mm256_cmp_ps(gv, zero, _CMP_EQ_OQ), pasted);
            if (_mm256_movemask_ps(skip) == 0xff) {
                done = x0 + 8;
                continue;
            }
            __m256 crop[3];
            if constexpr (M == WarpMode::OpenCV4) {
                const simd::FixedXY xy = simd::fixed_xy(fr, fc, x0);
                const simd::FixedCoords k = simd::fixed_coords(xy.X, xy.Y);
                simd::sample_fixed<std::uint8_t, 3>(src, k, crop);
            } else {
                const __m256 xf = _mm256_cvtepi32_ps(lane);
                __m256 sx = _mm256_fmadd_ps(a0, xf, rxv), sy = _mm256_fmadd_ps(a3, xf, ryv);
                if (x0 + 8 > vector_end) simd::opencv5_tail_xy(f.k, a0, a3, rx1, ry1, xf, lane, vector_end, sx, sy);
                const simd::FloatCoords k = simd::float_coords(sx, sy);
                if (!simd::coords_finite(k)) {
                    scalar(y, std::max(x0, done), x0 + 8, x1, g);
                    done = x0 + 8;
                    continue;
                }
                simd::sample_float<M, std::uint8_t, 3>(src, k, crop);
            }
            simd::blend_store<3>(orow + x0 * 3, _mm256_div_ps(gv, v255), skip, crop, true);
            done = x0 + 8;
        }
    }
#endif
};

}  // namespace
}  // namespace FFACCEL_CPU_VARIANT
}  // namespace ffaccel::cpu
