// Span shortcuts of the CPU paste_back_insightface loop (paste_insightface.cpp) for the
// common case: every row of the thresholded mask T is "simple" (its non-zero values are
// one run of columns, its 255s one run inside it) and every erode and row-blur window of
// the face lies inside the frame (no border rule applies). Then each row is known from
// four numbers and a few explicit values near its ends, and the erode and the blur's row
// pass are fills, table lookups and short exact runs instead of whole-row work. Every
// value equals the dense path's (the same formulas in the same order, min being exact):
// - Erode along a row: a window [x - a, x - a + ke) inside the non-zero run holds no 0, so
//   its min is 255 when it lies in the 255 run, else the explicit min of its values (a
//   window holding a rim value); a window reaching past the run holds a 0: min 0.
// - Erode along columns: the same per column over the row-eroded rows, whose runs are the
//   intersections of the window rows' runs.
// - Row pass: see row_pass_fast.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>

#include "paste_insightface_parts.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// A mask row over frame columns: non-zero run [z0, z1], 255 run [a0, a1] (inclusive; an
// empty run has first > last). `simple`: every value in [z0, z1] is non-zero and every
// value in [a0, a1] is 255; the other values are 0.
struct RowDesc {
    int z0 = INT_MAX, z1 = -1, a0 = INT_MAX, a1 = -1;
    bool simple = true;
};

// Builds a RowDesc from pieces of a row: counts make the contiguity check exact.
struct RowScan {
    int z0 = INT_MAX, z1 = -1, a0 = INT_MAX, a1 = -1;
    std::int64_t nz = 0, n255 = 0;
    void scan(const float* row, int lo, int hi) {  // row indexed by frame column
        for (int x = lo; x < hi; ++x) {
            const float v = row[x];
            if (v != 0.f) {
                z0 = x < z0 ? x : z0;
                z1 = x > z1 ? x : z1;
                ++nz;
                if (v == 255.f) {
                    a0 = x < a0 ? x : a0;
                    a1 = x > a1 ? x : a1;
                    ++n255;
                }
            }
        }
    }
    void all255(int lo, int hi) {  // [lo, hi) known to hold 255
        if (hi <= lo) return;
        z0 = std::min(z0, lo), z1 = std::max(z1, hi - 1), a0 = std::min(a0, lo), a1 = std::max(a1, hi - 1);
        nz += hi - lo, n255 += hi - lo;
    }
    RowDesc done() const {
        RowDesc d;
        d.z0 = z0, d.z1 = z1, d.a0 = a0, d.a1 = a1;
        d.simple = (nz == 0 || nz == z1 - z0 + 1) && (n255 == 0 || n255 == a1 - a0 + 1);
        return d;
    }
};

// Rows in this form are stored sparsely: only their rim values (the non-zero values
// outside the 255 run) are written to and read from the row buffers; 0 and 255 come
// from the runs.

// Erode along one row (window [x - a, x - a + ke), inside the frame): the rim of dst from
// the simple row src with runs d; returns the result's runs.
RowDesc erode_row_fast(const float* src, const RowDesc& d, int ke, int a, float* dst) {
    RowDesc o;
    if (d.z1 - d.z0 + 1 < ke) return o;  // every window holds a 0
    o.z0 = d.z0 + a, o.z1 = d.z1 - ke + 1 + a;
    if (d.a1 - d.a0 + 1 >= ke) o.a0 = d.a0 + a, o.a1 = d.a1 - ke + 1 + a;
    const int s0 = o.a0 <= o.a1 ? o.a0 : o.z1 + 1;  // explicit columns: [z0, s0) and (s1, z1]
    const int s1 = o.a0 <= o.a1 ? o.a1 : o.z1;
    auto explicit_min = [&](int x) {  // the window lies in [z0, z1]: 255 on [a0, a1]
        const int lo = x - a, hi = x - a + ke - 1;
        float m = 255.f;
        if (d.a0 > d.a1) {
            for (int t = lo; t <= hi; ++t) m = std::min(m, src[t]);
        } else {
            for (int t = lo; t <= std::min(hi, d.a0 - 1); ++t) m = std::min(m, src[t]);
            for (int t = std::max(lo, d.a1 + 1); t <= hi; ++t) m = std::min(m, src[t]);
        }
        return m;
    };
    for (int x = o.z0; x < s0; ++x) dst[x] = explicit_min(x);
    for (int x = s1 + 1; x <= o.z1; ++x) dst[x] = explicit_min(x);
    return o;
}

// Erode along columns for one output row: rows[j] (frame-column indexed, j = 0..ke-1) are
// the row-eroded window rows with runs ds[j], all inside B. The rim of dst.
RowDesc erode_col_fast(const float* const* rows, const RowDesc* ds, int ke, float* dst) {
    RowDesc o;
    int z0 = INT_MIN, z1 = INT_MAX, a0 = INT_MIN, a1 = INT_MAX;
    for (int j = 0; j < ke; ++j) {
        z0 = std::max(z0, ds[j].z0), z1 = std::min(z1, ds[j].z1);
        a0 = std::max(a0, ds[j].a0), a1 = std::min(a1, ds[j].a1);
    }
    if (z0 > z1) return o;
    o.z0 = z0, o.z1 = z1;
    if (a0 <= a1) o.a0 = a0, o.a1 = a1;
    const int s0 = a0 <= a1 ? a0 : z1 + 1, s1 = a0 <= a1 ? a1 : z1;
    auto explicit_min = [&](int lo, int hi) {  // columns [lo, hi), inside every row's [z0, z1]
        if (hi <= lo) return;
        std::fill(dst + lo, dst + hi, 255.f);
        for (int j = 0; j < ke; ++j) {  // row j is 255 on its run, its rim values elsewhere
            const float* row = rows[j];
            const int e0 = std::min(hi, ds[j].a0 > ds[j].a1 ? hi : ds[j].a0);
            for (int x = lo; x < e0; ++x) dst[x] = std::min(dst[x], row[x]);
            for (int x = std::max(lo, ds[j].a0 > ds[j].a1 ? hi : ds[j].a1 + 1); x < hi; ++x)
                dst[x] = std::min(dst[x], row[x]);
        }
    };
    explicit_min(z0, s0);
    explicit_min(s1 + 1, z1 + 1);
    return o;
}

// The blur's row pass for one simple row e (frame-column indexed, zero outside B) with
// runs d, every window [x - r, x + r] inside the frame and fused (OpenCV 4, or left of
// OpenCV 5's scalar tail). h over frame columns [rx1, rx2). A window with no non-zero tap
// gives +0; one whose non-zero taps are 255s at taps [j0, j1) gives run255[j0][j1] (see
// the dense pass); a window holding a rim value (non-zero, not 255) runs the formula
// (row_run on the zero-padded row pe, whose element 0 is frame column pe_x0).
// Returns the non-zero span and the constant (all-255 window) span of h, frame columns.
void row_pass_fast(const float* pe, int pe_x0, const RowDesc& d, const float* kern, int r, const float* run255,
                   int ks1, int rx1, int rx2, float* h, int* hz0, int* hz1, int* hc0, int* hc1) {
    const int ks = 2 * r + 1;
    std::fill(h, h + (rx2 - rx1), 0.f);
    *hz0 = INT_MAX, *hz1 = -1, *hc0 = INT_MAX, *hc1 = -1;
    if (d.z0 > d.z1) return;
    *hz0 = std::max(rx1, d.z0 - r), *hz1 = std::min(rx2 - 1, d.z1 + r);
    auto compute = [&](int lo, int hi) {  // frame columns [lo, hi], clipped to R
        lo = std::max(lo, rx1), hi = std::min(hi, rx2 - 1);
        if (lo <= hi) row_run(pe + (lo - r - pe_x0), h + (lo - rx1), hi - lo + 1, kern, r, true, lo - rx1, rx2 - rx1);
    };
    if (d.a0 > d.a1) {  // no 255: every non-zero window holds a rim value
        compute(d.z0 - r, d.z1 + r);
        return;
    }
    const int lo = std::max(rx1, d.a0 - r), hi = std::min(rx2 - 1, d.a1 + r);
    const int c0 = d.a0 + r, c1 = d.a1 - r;  // windows inside the 255 run
    const float full = run255[ks];           // run255[0][ks]: all taps 255
    for (int x = lo; x <= hi; ++x) {
        if (x == c0 && c0 <= c1) {
            const int e = std::min(c1, hi);
            std::fill(h + (x - rx1), h + (e - rx1) + 1, full);
            x = e;
            continue;
        }
        const int w0 = x - r;
        const int j0 = std::max(w0, d.a0) - w0, j1 = std::min(x + r, d.a1) - w0 + 1;
        h[x - rx1] = run255[static_cast<std::size_t>(j0) * ks1 + j1];
    }
    if (c0 <= c1) *hc0 = std::max(c0, rx1), *hc1 = std::min(c1, rx2 - 1);
    if (d.z0 < d.a0) compute(d.z0 - r, d.a0 - 1 + r);  // windows holding a left rim value
    if (d.z1 > d.a1) compute(d.a1 + 1 - r, d.z1 + r);  // and a right one
    (void)ks;
}

}  // namespace
}  // namespace FFACCEL_CPU_VARIANT
}  // namespace ffaccel::cpu
