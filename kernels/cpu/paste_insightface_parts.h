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
// time with the accumulator in a register where AVX2 + FMA are compiled in. Each
// column's sum is one chain of 2r dependent multiply-adds, so four blocks of 8 columns
// run side by side (four independent chains hide the latency); every lane still
// performs its own column's operations in the header's order.
#if defined(__AVX2__) && defined(__FMA__)
template <int B, bool Fused>
inline __attribute__((always_inline)) void row_blocks(const float* src, float* out, const float* kern, int r) {
    __m256 acc[B];
    const __m256 k0 = _mm256_set1_ps(kern[0]);
    for (int b = 0; b < B; ++b) acc[b] = _mm256_mul_ps(_mm256_loadu_ps(src + 8 * b), k0);
    for (int j = 1; j <= 2 * r; ++j) {
        const __m256 kj = _mm256_set1_ps(kern[j]);
        for (int b = 0; b < B; ++b) {
            const __m256 v = _mm256_loadu_ps(src + 8 * b + j);
            acc[b] = Fused ? _mm256_fmadd_ps(v, kj, acc[b]) : _mm256_add_ps(acc[b], _mm256_mul_ps(v, kj));
        }
    }
    for (int b = 0; b < B; ++b) _mm256_storeu_ps(out + 8 * b, acc[b]);
}

// The last len % 8 columns: one block moved left to end at len (its other lanes
// rewrite the same values), or, for len < 8, a block inside the row's [0, width) computed
// aside and only its lanes in [0, len) kept. Returns the columns done.
template <typename Block>
inline __attribute__((always_inline)) int tail_block(int t, int len, int first, int width, float* out,
                                                     const Block& block) {
    if (t == len) return t;
    if (len >= 8) {
        block(len - 8, out + len - 8);
        return len;
    }
    const int s = std::min(0, width - first - 8);  // block start, relative to column 0
    if (first + s < 0) return t;                   // a row narrower than 8 columns
    alignas(32) float tmp[8];
    block(s, tmp);
    std::copy(tmp - s, tmp - s + len, out);
    return len;
}

template <bool Fused>
int row_run_simd(const float* src, float* out, int len, const float* kern, int r, int first, int width) {
    int t = 0;
    for (; t + 32 <= len; t += 32) row_blocks<4, Fused>(src + t, out + t, kern, r);
    for (; t + 8 <= len; t += 8) row_blocks<1, Fused>(src + t, out + t, kern, r);
    return tail_block(t, len, first, width, out,
                      [&](int s, float* o) { row_blocks<1, Fused>(src + s, o, kern, r); });
}
#endif

// src[c] and out[c] hold column `first + c` of a row whose columns [0, width) may all be
// read (src: through column width - 1 + 2r).
void row_run(const float* src, float* out, int len, const float* kern, int r, bool fused, int first, int width) {
    int t = 0;
#if defined(__AVX2__) && defined(__FMA__)
    t = fused ? row_run_simd<true>(src, out, len, kern, r, first, width)
              : row_run_simd<false>(src, out, len, kern, r, first, width);
#else
    (void)first, (void)width;
#endif
    for (; t < len; ++t) {
        float acc = src[t] * kern[0];
        for (int j = 1; j <= 2 * r; ++j) acc = ins_madd(src[t + j], kern[j], acc, fused);
        out[t] = acc;
    }
}

// The column pass for `len` consecutive columns from column offset `xi` of the row
// pointers taps[0] (row y), taps[2j - 1] (row y + j), taps[2j] (row y - j), reflected
// already: the header's ins_blur_col order, H_0 k_r, then (H_+j + H_-j) k_r+j. Four
// blocks of 8 columns side by side, as in row_run.
#if defined(__AVX2__) && defined(__FMA__)
template <int B, bool Fused>
inline __attribute__((always_inline)) void col_blocks(const float* const* taps, int x, float* out, const float* kern,
                                                      int r) {
    __m256 acc[B];
    const __m256 kr = _mm256_set1_ps(kern[r]);
    for (int b = 0; b < B; ++b) acc[b] = _mm256_mul_ps(_mm256_loadu_ps(taps[0] + x + 8 * b), kr);
    for (int j = 1; j <= r; ++j) {
        const __m256 kj = _mm256_set1_ps(kern[r + j]);
        const float* lo = taps[2 * j - 1] + x;
        const float* hi = taps[2 * j] + x;
        for (int b = 0; b < B; ++b) {
            const __m256 v = _mm256_add_ps(_mm256_loadu_ps(lo + 8 * b), _mm256_loadu_ps(hi + 8 * b));
            acc[b] = Fused ? _mm256_fmadd_ps(v, kj, acc[b]) : _mm256_add_ps(acc[b], _mm256_mul_ps(v, kj));
        }
    }
    for (int b = 0; b < B; ++b) _mm256_storeu_ps(out + 8 * b, acc[b]);
}

template <bool Fused>
int col_run_simd(const float* const* taps, int xi, float* out, int len, const float* kern, int r, int width) {
    int t = 0;
    for (; t + 32 <= len; t += 32) col_blocks<4, Fused>(taps, xi + t, out + t, kern, r);
    for (; t + 8 <= len; t += 8) col_blocks<1, Fused>(taps, xi + t, out + t, kern, r);
    return tail_block(t, len, xi, width, out,
                      [&](int s, float* o) { col_blocks<1, Fused>(taps, xi + s, o, kern, r); });
}
#endif

// The tap rows hold `width` columns.
void col_run(const float* const* taps, int xi, float* out, int len, const float* kern, int r, bool fused, int width) {
    int t = 0;
#if defined(__AVX2__) && defined(__FMA__)
    t = fused ? col_run_simd<true>(taps, xi, out, len, kern, r, width)
              : col_run_simd<false>(taps, xi, out, len, kern, r, width);
#else
    (void)width;
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
