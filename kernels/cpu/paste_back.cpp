// CPU loop for paste_back: frame rows split across the thread pool; rows outside every
// paste area are only copied (and not touched at all in place). Within a row the faces
// are applied one after the other, each over its own columns: a pixel still sees face
// i - 1's result before face i's, as paste_pixel's loop over the faces gives it.
//
// In the x86-64-v3 build a face's row is walked in blocks of 8 pixels through the AVX2
// path of paste_simd.h; the last block of a row whose width is not a multiple of 8 is
// moved left to end at the row's end, its already pasted lanes marked as skipped (they
// are rewritten with the bytes they have). Areas narrower than 8 pixels, blocks with
// non-finite coordinates, OpenCV4 rows whose fixed-point terms do not fit int32, and
// the whole baseline build go through the scalar paste_pixel<>() of paste_back.h, the
// single source of truth. Both compute the same bytes.
#include "ffaccel/paste_back.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "paste_simd.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// Face i's crop and mask as a batch of one, for paste_pixel(q, &faces[i], 1, ...).
inline PasteParams face_params(const PasteParams& p, int i) {
    PasteParams q = p;
    q.crops.data += static_cast<std::uintptr_t>(i * p.crops.batch_stride);
    q.masks.data += static_cast<std::uintptr_t>(i * p.masks.batch_stride);
    return q;
}

template <typename CropT, typename MaskT, WarpMode M, int C>
void scalar_span(const PasteParams& q, const PasteFace& f, int x0, int x1, int y) {
    for (int x = x0; x < x1; ++x) paste_pixel<CropT, MaskT, M, C>(q, &f, 1, x, y);
}

#if defined(FFACCEL_PASTE_SIMD)
// prefetcht0 as inline asm: GCC 12 deletes __builtin_prefetch / _mm_prefetch whose
// address comes out of float -> int conversions (checked in the assembly).
inline void prefetch_t0(const char* p) { asm volatile("prefetcht0 %0" : : "m"(*p)); }

// The area columns [lo, hi) of row v where the mask can be non-zero. Elsewhere every
// tap of the mask sample lies outside the mask, whose CONSTANT border is 0, so the
// sample is 0 in every mode (lerps of zeros, or OpenCV4's border value outright) and
// paste_pixel leaves the pixel as is. Found in double on the exact map with a margin
// (2 px plus a relative term) far above the error of any mode's float or 1/32-px
// coordinates, so it only ever keeps too much. Whole blocks outside it are never
// sampled: about a third of a rotated face's paste area.
inline void live_columns(const PasteFace& f, int mask_w, int mask_h, int v, int w, int& lo, int& hi) {
    lo = 0, hi = w;
    double ulo = 0.0, uhi = static_cast<double>(w);
    for (int axis = 0; axis < 2; ++axis) {
        const double a = f.k.d[3 * axis], b = f.k.d[3 * axis + 1] * v + f.k.d[3 * axis + 2];
        const double size = axis == 0 ? mask_w : mask_h;
        const double margin = 2.0 + (std::fabs(a) * w + std::fabs(b) + size) * (1.0 / 65536.0);
        const double cmin = -1.0 - margin, cmax = size + margin;  // taps of floor(s) in [-1, size) touch the mask
        if (std::fabs(a) < 1e-300) {
            if (!(b >= cmin && b <= cmax)) ulo = uhi = 0.0;  // NaN: keeps nothing only if surely outside
            if (!std::isfinite(b)) return;                      // leave the whole row to the samplers
            continue;
        }
        double t0 = (cmin - b) / a, t1 = (cmax - b) / a;
        if (t0 > t1) std::swap(t0, t1);
        if (!std::isfinite(t0) || !std::isfinite(t1)) return;
        ulo = std::max(ulo, t0);
        uhi = std::min(uhi, t1);
    }
    if (!(ulo < uhi)) {
        lo = hi = 0;
        return;
    }
    lo = std::max(0, static_cast<int>(std::floor(ulo)) - 1);
    hi = std::min(w, static_cast<int>(std::ceil(uhi)) + 2);
    if (lo >= hi) lo = hi = 0;
}

// Per-face constants of the SIMD path.
template <typename MaskT, typename CropT, int C>
struct FaceSimd {
    simd::Src<1> mask;  // CONSTANT 0, as paste_pixel samples the mask
    simd::Src<C> crop;  // REPLICATE
    simd::FixedColumns fc;
    bool ok = false;
    bool live = true;  // live_columns may narrow the rows
};

template <typename CropT, typename MaskT, WarpMode M, int C>
FaceSimd<MaskT, CropT, C> face_simd(const PasteParams& q, const PasteFace& f) {
    FaceSimd<MaskT, CropT, C> s;
    const int w = f.x2 - f.x1;
    WarpParams mp;  // what paste_pixel hands warp_sample
    mp.src = q.masks;
    mp.dst.w = w;
    mp.border = Border::Constant;
    mp.border_value[0] = mp.border_value[1] = mp.border_value[2] = mp.border_value[3] = 0.f;
    WarpParams cp = mp;
    cp.src = q.crops;
    cp.border = Border::Replicate;
    // A block needs 8 columns; u stays exact in float below 2^24. OpenCV4 clamps ix, iy
    // to int16; the float modes compare floor values as floats, exact up to 2^24.
    s.ok = w >= 8 && w < (1 << 24) && f.y1 < f.y2 && simd::simd_usable(mp) && simd::simd_usable(cp);
    const int coord_max = M == WarpMode::OpenCV4 ? 32767 : (1 << 24);
    s.mask = simd::make_src<MaskT, 1>(mp, coord_max);
    s.crop = simd::make_src<CropT, C>(cp, coord_max);
    if (M == WarpMode::OpenCV4 && s.ok) s.fc = simd::fixed_columns(f.k, w);
    // OpenCV4 clamps the tap index to int16, which can pull a far-outside coordinate
    // back into a mask wider or taller than 32767 px: no column range there.
    s.live = !(M == WarpMode::OpenCV4 && (q.masks.w > 32766 || q.masks.h > 32766));
    return s;
}

// One row y of face f (q: its params as a batch of one), 8 area columns per block.
template <typename CropT, typename MaskT, WarpMode M, int C>
void row_simd(const PasteParams& q, const PasteFace& f, const FaceSimd<MaskT, CropT, C>& s, int y) {
    const int w = f.x2 - f.x1, v = y - f.y1;
    int lo = 0, hi = w;
    if (s.live) live_columns(f, q.masks.w, q.masks.h, v, w, lo, hi);
    if (lo >= hi) return;
    // Blocks of 8 from lo; a range narrower than 8 is widened inside the row (w >= 8).
    lo = std::min(lo, w - 8);
    hi = std::max(hi, lo + 8);
    const int last = hi - 8;
    std::uint8_t* row = row_ptr_mut<std::uint8_t>(q.out, 0, y) + f.x1 * C;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const bool truncate = q.truncate;
    int done = lo;  // area columns [lo, done) are pasted

    // Software prefetch of the crop and mask taps of this block's first and last lanes
    // kAhead rows further down, one block at a time so the hints never crowd the fill
    // buffers. The rotated walk through the crop turns to a new crop row every few
    // pixels, which the hardware prefetchers do not follow, and a face-swap pipeline
    // calls paste_back with cold caches (the model ran in between). Measured on the
    // 1080p bench, one core, in place: caches flushed first 1.87 -> 1.03 ms; everything
    // already cached 0.66 -> 0.74 ms. A hint only: nothing here changes a byte.
    constexpr int kAhead = 3;
    const float pf_rx = f.k.f[1] * static_cast<float>(v + kAhead) + f.k.f[2];
    const float pf_ry = f.k.f[4] * static_cast<float>(v + kAhead) + f.k.f[5];
    const float pf_w = static_cast<float>(q.crops.w) + 1.f, pf_h = static_cast<float>(q.crops.h) + 1.f;
    const char* crop_base = reinterpret_cast<const char*>(q.crops.data);
    const char* mask_base = reinterpret_cast<const char*>(q.masks.data);
    auto prefetch_ahead = [&](int u0) {
        for (const int l : {0, 7}) {
            const float u = static_cast<float>(u0 + l);
            const float ax = f.k.f[0] * u + pf_rx, ay = f.k.f[3] * u + pf_ry;
            if (!(ax > -2.f && ax < pf_w && ay > -2.f && ay < pf_h)) continue;  // NaN too
            const int ix = std::min(std::max(static_cast<int>(ax), 0), q.crops.w - 1);
            const int iy = std::min(std::max(static_cast<int>(ay), 0), std::max(q.crops.h - 2, 0));
            const char* c0 = crop_base + iy * q.crops.stride + ix * static_cast<std::int64_t>(C * sizeof(CropT));
            const char* m0 = mask_base + iy * q.masks.stride + ix * static_cast<std::int64_t>(sizeof(MaskT));
            prefetch_t0(c0);
            prefetch_t0(c0 + q.crops.stride);
            prefetch_t0(m0);
            prefetch_t0(m0 + q.masks.stride);
        }
    };

    // Mask, skip test, crop, blend for the block at u0 whose coordinates give `sample`.
    auto finish = [&](int u0, __m256i lane_u, auto&& sample_mask, auto&& sample_crop) {
        __m256 m;
        sample_mask(&m);
        m = simd::clip_mask<MaskT>(m);
        const __m256 pasted = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(done), lane_u));
        const __m256 skip = _mm256_or_ps(_mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_EQ_OQ), pasted);
        if (_mm256_movemask_ps(skip) != 0xff) {  // outside the face the mask is 0 in whole blocks
            __m256 crop[C];
            sample_crop(crop);
            const bool opaque = _mm256_movemask_ps(skip) == 0 &&
                                _mm256_movemask_ps(_mm256_cmp_ps(m, _mm256_set1_ps(1.0f), _CMP_EQ_OQ)) == 0xff;
            if (opaque) {
                simd::store_crop<C>(row + u0 * C, crop, truncate);
            } else {
                simd::blend_store<C>(row + u0 * C, m, skip, crop, truncate);
            }
        }
        done = u0 + 8;
    };

    if constexpr (M == WarpMode::OpenCV4) {
        const simd::FixedRow r = simd::fixed_row(f.k, s.fc, v);
        if (!r.ok) {
            scalar_span<CropT, MaskT, M, C>(q, f, f.x1 + lo, f.x1 + hi, y);
            return;
        }
        for (int u0 = lo;; u0 += 8) {
            if (u0 > last) {
                if (u0 >= hi) break;
                u0 = last;  // the final block, overlapping the pasted columns
            }
            prefetch_ahead(u0);
            const simd::FixedXY c = simd::fixed_xy(r, s.fc, u0);
            const simd::FixedCoords k = simd::fixed_coords(c.X, c.Y);
            finish(
                u0, _mm256_add_epi32(_mm256_set1_epi32(u0), iota),
                [&](__m256* m) { simd::sample_fixed<MaskT, 1>(s.mask, k, m); },
                [&](__m256* c) { simd::sample_fixed<CropT, C>(s.crop, k, c); });
        }
    } else {
        // sample_default: sx = a0 * u + (a1 * v + a2). sample_opencv5: columns below the
        // area's vector_end use fma(a0, u, a1 * v + a2), the others fma(u, a0, a1 * v) + a2.
        const int vector_end = M == WarpMode::OpenCV5 ? w - w % 16 : w;
        const float vf = static_cast<float>(v);
        const float rx1 = f.k.f[1] * vf, ry1 = f.k.f[4] * vf;
        const __m256 rx = _mm256_set1_ps(rx1 + f.k.f[2]), ry = _mm256_set1_ps(ry1 + f.k.f[5]);
        const __m256 a0 = _mm256_set1_ps(f.k.f[0]), a3 = _mm256_set1_ps(f.k.f[3]);
        for (int u0 = lo;; u0 += 8) {
            if (u0 > last) {
                if (u0 >= hi) break;
                u0 = last;
            }
            prefetch_ahead(u0);
            const __m256i lane_u = _mm256_add_epi32(_mm256_set1_epi32(u0), iota);
            const __m256 uf = _mm256_cvtepi32_ps(lane_u);
            __m256 sx, sy;
            simd::float_xy<M>(a0, a3, rx, ry, uf, sx, sy);
            if constexpr (M == WarpMode::OpenCV5) {
                if (u0 + 8 > vector_end) simd::opencv5_tail_xy(f.k, a0, a3, rx1, ry1, uf, lane_u, vector_end, sx, sy);
            }
            const simd::FloatCoords k = simd::float_coords(sx, sy);
            if (!simd::coords_finite(k)) {
                const int from = u0 > done ? u0 : done;
                scalar_span<CropT, MaskT, M, C>(q, f, f.x1 + from, f.x1 + u0 + 8, y);
                done = u0 + 8;
                continue;
            }
            finish(
                u0, lane_u, [&](__m256* m) { simd::sample_float<M, MaskT, 1>(s.mask, k, m); },
                [&](__m256* c) { simd::sample_float<M, CropT, C>(s.crop, k, c); });
        }
    }
}
#endif

template <typename CropT, typename MaskT, WarpMode M, int C>
struct PasteRows {
    static void run(const PasteParams& p, const PasteFace* faces, int n) {
        PasteParams in_place = p;  // after the row copy below, every pixel is updated in `out`
        in_place.in_place = true;
        in_place.frame = p.out;
        std::vector<PasteParams> fp;
        fp.reserve(n);
        for (int i = 0; i < n; ++i) fp.push_back(face_params(in_place, i));
#if defined(FFACCEL_PASTE_SIMD)
        std::vector<FaceSimd<MaskT, CropT, C>> fs;
        fs.reserve(n);
        for (int i = 0; i < n; ++i) fs.push_back(face_simd<CropT, MaskT, M, C>(fp[i], faces[i]));
#endif
        // Rows outside every paste area are only copied, a chunk's run of them in one
        // memcpy when both images are contiguous (large copies take glibc's streaming
        // path); rows inside are copied one at a time, so the paste finds them in cache.
        const int h = p.out.h;
        const std::size_t row_bytes = static_cast<std::size_t>(p.out.w) * C;
        const bool contiguous = p.out.stride == static_cast<std::int64_t>(row_bytes) &&
                                p.frame.stride == static_cast<std::int64_t>(row_bytes);
        auto copy_rows = [&](int b, int e) {
            if (p.in_place || b >= e) return;
            if (contiguous) {
                std::memcpy(row_ptr_mut<std::uint8_t>(p.out, 0, b), row_ptr<std::uint8_t>(p.frame, 0, b),
                            row_bytes * static_cast<std::size_t>(e - b));
                return;
            }
            for (int y = b; y < e; ++y)
                std::memcpy(row_ptr_mut<std::uint8_t>(p.out, 0, y), row_ptr<std::uint8_t>(p.frame, 0, y), row_bytes);
        };
        const int r1 = std::min(std::max(p.region_y1, 0), h), r2 = std::max(r1, std::min(p.region_y2, h));
        // The pool's estimate (one core, x86-64-v3, a 512 crop into 1080p): a frame byte
        // copied 0.08 ns, a pixel of a face's paste box 4.2 ns (the box's dead corners
        // included), rounded to 0.1 and 4. Rows differ, so the average row.
        double total_ns = p.in_place ? 0.0 : 0.1 * static_cast<double>(row_bytes) * h;
        for (int i = 0; i < n; ++i)
            total_ns += 4.0 * std::max(0, faces[i].x2 - faces[i].x1) * std::max(0, faces[i].y2 - faces[i].y1);
        parallel_for(h, total_ns / std::max(h, 1), [&](int b, int e) {
            copy_rows(b, std::min(e, r1));
            copy_rows(std::max(b, r2), e);
            for (int y = std::max(b, r1); y < std::min(e, r2); ++y) {
                copy_rows(y, y + 1);
                for (int i = 0; i < n; ++i) {
                    const PasteFace& f = faces[i];
                    if (y < f.y1 || y >= f.y2 || f.x1 >= f.x2) continue;
#if defined(FFACCEL_PASTE_SIMD)
                    if (fs[i].ok) {
                        row_simd<CropT, MaskT, M, C>(fp[i], f, fs[i], y);
                        continue;
                    }
#endif
                    scalar_span<CropT, MaskT, M, C>(fp[i], f, f.x1, f.x2, y);
                }
            }
        });
    }
};

}  // namespace

void paste_back(const PasteParams& p, const PasteFace* faces, int n) {
    if (!dispatch_paste<PasteRows>(p.mode, p.crops.dtype, p.masks.dtype, p.out.c, p, faces, n)) {
        throw std::invalid_argument("paste_back: unsupported dtype/channel combination");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, paste_back, (const PasteParams& p, const PasteFace* faces, int n), (p, faces, n))

}  // namespace ffaccel::cpu
