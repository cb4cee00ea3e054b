// Multi-band (Laplacian-pyramid) paste-back: the per-pixel math of every pass.
//
// Over one face's paste area (the same area and the same warp samples as paste_back.h),
// with f the frame, c the warped crop and m the warped, clipped mask:
//   D  = c - f                       (C channels)     M = m
//   GD_k, GM_k: Gaussian pyramids of D and M, k = 0..L (L = levels), each level
//               reduce(previous): 5x5 [1 4 6 4 1]/16 separable blur, every other
//               pixel, size (n + 1) / 2, reflect-101 borders in the finer grid.
//   B_k = GM_k * (GD_k - expand(GD_{k+1}))  for k < L,   B_L = GM_L * GD_L
//   R_L = B_L,  R_k = B_k + expand(R_{k+1}),  result = round_half_even(f + R_0)
// expand() is pyrUp: the coarse image put on the even pixels of the finer grid (zeros
// between), reflect-101 in the finer grid, the same 5-tap kernel times 2 per axis.
// This is the classic "blend the two Laplacian pyramids with the mask's Gaussian
// pyramid" rule, L_f + GM * (L_c - L_f), written on the difference D = c - f so only one
// image pyramid is built; it differs from it only by float rounding.
//
// Every sum runs in a fixed order with exact power-of-two scalings, and the files are
// compiled without FMA contraction, so the CPU and the GPU produce the same bytes.
//
// skip_rule: where the mask level GM_k is 0 (most of a paste area outside the face), the
// band is 0 * (finite) = +-0 and its expand() is not computed. Only the sign of a zero can
// differ from computing it, and no later step can turn that into a different byte: zeros
// only enter sums with positive weights, and f + (+-0) = f.
//
// Passes (each a loop over one level's pixels; in place where a pixel reads only its
// own value of the buffer it overwrites):
//   prepare  (area)   D, M at level 0
//   reduce   k=1..L   GD_k, GM_k from level k-1
//   band     k=1      B_1 into the extra level-1 buffer X (GD_1 stays: finish needs it)
//   band     k=2..L   B_k in place of GD_k (k ascending: reads GD_{k+1} before it changes)
//   collapse k=L-1..2 R_k in place of B_k; then k=1: R_1 in place of X
//   finish   (area)   the frame pixel becomes f + (B_0 + expand(R_1)), B_0 computed there
//                     from GD_0, GM_0 and GD_1 (one full-size pass saved; same values as
//                     storing B_0 first)
#pragma once

#include <cstdint>

#include "ffaccel/paste_back.h"

namespace ffaccel {

constexpr int kMultibandMaxLevels = 10;

struct MultibandLevel {
    std::int64_t d_off, m_off;  // offsets of GD_k (w*h*C floats) and GM_k (w*h floats)
    int w, h;
};

// Where each level lives in the caller-provided float32 workspace.
struct MultibandPlan {
    int levels;
    int c;
    MultibandLevel lv[kMultibandMaxLevels + 1];
    std::int64_t x_off;   // X: B_1, then R_1 (level-1 size, C floats per pixel)
    std::int64_t floats;  // workspace size needed
};

inline MultibandPlan plan_multiband(int w, int h, int levels, int c) {
    MultibandPlan plan{};
    plan.levels = levels;
    plan.c = c;
    std::int64_t off = 0;
    for (int k = 0; k <= levels; ++k) {
        plan.lv[k].w = w;
        plan.lv[k].h = h;
        plan.lv[k].d_off = off;
        off += static_cast<std::int64_t>(w) * h * c;
        plan.lv[k].m_off = off;
        off += static_cast<std::int64_t>(w) * h;
        w = (w + 1) / 2;
        h = (h + 1) / 2;
    }
    plan.x_off = off;  // levels >= 1 (the binding checks), so level 1 exists
    off += static_cast<std::int64_t>(plan.lv[1].w) * plan.lv[1].h * c;
    plan.floats = off;
    return plan;
}

// float32 elements of workspace n faces need: the plan of the largest paste area (the
// faces run one after another over the same workspace).
inline std::int64_t multiband_workspace_floats(const PasteFace* faces, int n, int levels, int c) {
    std::int64_t most = 0;
    for (int i = 0; i < n; ++i) {
        const PasteFace& f = faces[i];
        if (f.x2 <= f.x1 || f.y2 <= f.y1) continue;
        const std::int64_t need = plan_multiband(f.x2 - f.x1, f.y2 - f.y1, levels, c).floats;
        most = need > most ? need : most;
    }
    return most;
}

FFACCEL_HD int reflect101(int p, int n) {
    if (n == 1) return 0;
    while (p < 0 || p >= n) p = p < 0 ? -p : 2 * n - 2 - p;
    return p;
}

// 5 taps [1 4 6 4 1] summed as ((t0 + t4) + 4 (t1 + t3)) + 6 t2: the fixed order.
FFACCEL_HD float tap5(float t0, float t1, float t2, float t3, float t4) {
    return ((t0 + t4) + 4.0f * (t1 + t3)) + 6.0f * t2;
}

// One pixel of reduce(): src is the finer level (sw x sh, C channels).
template <int C>
FFACCEL_HD void mb_reduce_pixel(const float* src, int sw, int sh, float* dst, int dw, int x, int y) {
    int cols[5], rws[5];
    const bool inside = 2 * x >= 2 && 2 * x + 2 < sw && 2 * y >= 2 && 2 * y + 2 < sh;
#pragma unroll
    for (int t = 0; t < 5; ++t) {
        cols[t] = (inside ? 2 * x + t - 2 : reflect101(2 * x + t - 2, sw)) * C;
        rws[t] = inside ? 2 * y + t - 2 : reflect101(2 * y + t - 2, sh);
    }
    float rows[5][C];
#pragma unroll
    for (int t = 0; t < 5; ++t) {
        const float* r = src + static_cast<std::int64_t>(rws[t]) * sw * C;
#pragma unroll
        for (int c = 0; c < C; ++c) rows[t][c] = tap5(r[cols[0] + c], r[cols[1] + c], r[cols[2] + c], r[cols[3] + c], r[cols[4] + c]);
    }
    float* o = dst + (static_cast<std::int64_t>(y) * dw + x) * C;
#pragma unroll
    for (int c = 0; c < C; ++c) o[c] = tap5(rows[0][c], rows[1][c], rows[2][c], rows[3][c], rows[4][c]) * (1.0f / 256.0f);
}

// The coarse pixels that expand() reads for fine coordinate x (fine size n): the even
// positions among x-2..x+2 after reflection, with their weights 1, 4, 6, 4, 1 (the
// factor 2 per axis and the /16 are applied once, as 1/64, at the end).
FFACCEL_HD int expand_taps(int x, int n, int* idx, float* wt) {
    const float w5[5] = {1.0f, 4.0f, 6.0f, 4.0f, 1.0f};
    int k = 0;
#pragma unroll
    for (int t = 0; t < 5; ++t) {
        const int p = reflect101(x + t - 2, n);
        if ((p & 1) == 0) {
            idx[k] = p >> 1;
            wt[k] = w5[t];
            ++k;
        }
    }
    return k;  // 2 or 3; 5 when n == 1 (every tap reflects onto the single pixel)
}

// Sum of NY coarse rows, each the sum of NX taps, in tap order (the interior fast path
// and the bordered path below add the same products in the same order).
template <int C, int NX, int NY>
FFACCEL_HD void expand_fixed(const float* coarse, int cw, const int* xi, const float* xw, const int* yi,
                             const float* yw, float* out) {
    float acc[C];
#pragma unroll
    for (int c = 0; c < C; ++c) acc[c] = 0.0f;
#pragma unroll
    for (int j = 0; j < NY; ++j) {
        const float* r = coarse + static_cast<std::int64_t>(yi[j]) * cw * C;
        float rs[C];
#pragma unroll
        for (int c = 0; c < C; ++c) rs[c] = xw[0] * r[xi[0] * C + c];
#pragma unroll
        for (int i = 1; i < NX; ++i) {
#pragma unroll
            for (int c = 0; c < C; ++c) rs[c] = rs[c] + xw[i] * r[xi[i] * C + c];
        }
#pragma unroll
        for (int c = 0; c < C; ++c) acc[c] = acc[c] + yw[j] * rs[c];
    }
#pragma unroll
    for (int c = 0; c < C; ++c) out[c] = acc[c] * (1.0f / 64.0f);
}

// Interior taps without reflection: even x = 2j reads j-1, j, j+1 (1, 6, 1); odd
// x = 2j+1 reads j, j+1 (4, 4). expand_taps() gives exactly these away from the border.
FFACCEL_HD int interior_taps(int x, int* idx, float* wt) {
    const int j = x >> 1;
    if ((x & 1) == 0) {
        idx[0] = j - 1, idx[1] = j, idx[2] = j + 1;
        wt[0] = 1.0f, wt[1] = 6.0f, wt[2] = 1.0f;
        return 3;
    }
    idx[0] = j, idx[1] = j + 1;
    wt[0] = 4.0f, wt[1] = 4.0f;
    return 2;
}

// The taps expand() uses at one fine pixel: computed once, applied to any coarse image
// of that level (finish applies them to two).
struct ExpandTaps {
    int xi[5], yi[5];
    float xw[5], yw[5];
    int nx, ny;
};

FFACCEL_HD ExpandTaps expand_taps_at(int fw, int fh, int x, int y) {
    ExpandTaps t;
    const bool inside = x >= 2 && x < fw - 2 && y >= 2 && y < fh - 2;
    t.nx = inside ? interior_taps(x, t.xi, t.xw) : expand_taps(x, fw, t.xi, t.xw);
    t.ny = inside ? interior_taps(y, t.yi, t.yw) : expand_taps(y, fh, t.yi, t.yw);
    return t;
}

// expand(coarse) with precomputed taps; coarse width cw = (fw + 1) / 2.
template <int C>
FFACCEL_HD void mb_expand_with(const float* coarse, int cw, const ExpandTaps& t, float* out) {
    const int nx = t.nx, ny = t.ny;
    const int *xi = t.xi, *yi = t.yi;
    const float *xw = t.xw, *yw = t.yw;
    if (nx == 3 && ny == 3) return expand_fixed<C, 3, 3>(coarse, cw, xi, xw, yi, yw, out);
    if (nx == 2 && ny == 3) return expand_fixed<C, 2, 3>(coarse, cw, xi, xw, yi, yw, out);
    if (nx == 3 && ny == 2) return expand_fixed<C, 3, 2>(coarse, cw, xi, xw, yi, yw, out);
    if (nx == 2 && ny == 2) return expand_fixed<C, 2, 2>(coarse, cw, xi, xw, yi, yw, out);
    // A side of one pixel: 5 taps on that axis (rare, tiny areas or the top levels).
    if (nx == 5 && ny == 5) return expand_fixed<C, 5, 5>(coarse, cw, xi, xw, yi, yw, out);
    if (nx == 5) return ny == 3 ? expand_fixed<C, 5, 3>(coarse, cw, xi, xw, yi, yw, out)
                                : expand_fixed<C, 5, 2>(coarse, cw, xi, xw, yi, yw, out);
    return nx == 3 ? expand_fixed<C, 3, 5>(coarse, cw, xi, xw, yi, yw, out)
                   : expand_fixed<C, 2, 5>(coarse, cw, xi, xw, yi, yw, out);
}

// expand(coarse) at fine pixel (x, y); fine size fw x fh, coarse width (fw + 1) / 2.
template <int C>
FFACCEL_HD void mb_expand(const float* coarse, int fw, int fh, int x, int y, float* out) {
    mb_expand_with<C>(coarse, (fw + 1) / 2, expand_taps_at(fw, fh, x, y), out);
}

// prepare: D = c - f and M = m at area pixel (u, v). `p.out` already holds the frame.
template <typename CropT, typename MaskT, int C>
FFACCEL_HD void mb_prepare_pixel(const PasteParams& p, const PasteFace& face, int i, float* ws,
                                 const MultibandPlan& plan, int u, int v) {
    const float m = paste_mask_sample<MaskT, WarpMode::Default>(p, face, i, u, v);
    float crop[C];
    paste_crop_sample<CropT, WarpMode::Default, C>(p, face, i, u, v, crop);
    const std::uint8_t* px = row_ptr<std::uint8_t>(p.out, 0, face.y1 + v) + (face.x1 + u) * C;
    const std::int64_t at = static_cast<std::int64_t>(v) * plan.lv[0].w + u;
    float* d = ws + plan.lv[0].d_off + at * C;
#pragma unroll
    for (int c = 0; c < C; ++c) d[c] = crop[c] - static_cast<float>(px[c]);
    ws[plan.lv[0].m_off + at] = m;
}

// band: B_k = GM_k * (GD_k - expand(GD_{k+1})), or GM_L * GD_L at the top, written at
// `dst_off` (X for k = 1, in place of GD_k above).
template <int C>
FFACCEL_HD void mb_band_pixel(float* ws, const MultibandPlan& plan, int k, std::int64_t dst_off, int x, int y) {
    const MultibandLevel& l = plan.lv[k];
    const std::int64_t at = static_cast<std::int64_t>(y) * l.w + x;
    const float* d = ws + l.d_off + at * C;
    const float g = ws[l.m_off + at];
    float up[C];
    if (g == 0.0f) {  // g * (d - up) is a zero whatever up is: skip the expand (see skip_rule)
#pragma unroll
        for (int c = 0; c < C; ++c) ws[dst_off + at * C + c] = 0.0f;
        return;
    }
    if (k < plan.levels) {
        mb_expand<C>(ws + plan.lv[k + 1].d_off, l.w, l.h, x, y, up);
    } else {
#pragma unroll
        for (int c = 0; c < C; ++c) up[c] = 0.0f;
    }
    float* o = ws + dst_off + at * C;
#pragma unroll
    for (int c = 0; c < C; ++c) o[c] = g * (d[c] - up[c]);
}

// collapse: R_k = B_k + expand(R_{k+1}), in place at `off` (GD_k's place, or X for k = 1).
template <int C>
FFACCEL_HD void mb_collapse_pixel(float* ws, const MultibandPlan& plan, int k, std::int64_t off, int x, int y) {
    const MultibandLevel& l = plan.lv[k];
    float up[C];
    mb_expand<C>(ws + plan.lv[k + 1].d_off, l.w, l.h, x, y, up);
    float* d = ws + off + (static_cast<std::int64_t>(y) * l.w + x) * C;
#pragma unroll
    for (int c = 0; c < C; ++c) d[c] = d[c] + up[c];
}

// finish: the frame pixel becomes round_half_even(f + (B_0 + expand(R_1))), with
// B_0 = GM_0 * (GD_0 - expand(GD_1)).
template <int C>
FFACCEL_HD void mb_finish_pixel(const PasteParams& p, const PasteFace& face, const float* ws,
                                const MultibandPlan& plan, int u, int v) {
    const MultibandLevel& l = plan.lv[0];
    const std::int64_t at = static_cast<std::int64_t>(v) * l.w + u;
    float up_g[C], up_r[C];
    const ExpandTaps taps = expand_taps_at(l.w, l.h, u, v);
    const float* d = ws + l.d_off + at * C;
    const float g = ws[l.m_off + at];
    if (g != 0.0f) {
        mb_expand_with<C>(ws + plan.lv[1].d_off, plan.lv[1].w, taps, up_g);
    } else {  // band 0 is a zero whatever up_g is (see skip_rule): any finite value will do
#pragma unroll
        for (int c = 0; c < C; ++c) up_g[c] = d[c];
    }
    mb_expand_with<C>(ws + plan.x_off, plan.lv[1].w, taps, up_r);
    std::uint8_t* px = row_ptr_mut<std::uint8_t>(p.out, 0, face.y1 + v) + (face.x1 + u) * C;
#pragma unroll
    for (int c = 0; c < C; ++c) {
        const float band0 = g * (d[c] - up_g[c]);
        px[c] = saturate_u8(static_cast<float>(px[c]) + (band0 + up_r[c]));
    }
}

// Dispatch a functor templated on <CropT, MaskT, C> (multiband uses the Default warp only).
template <template <typename, typename, int> class F, typename... Args>
bool dispatch_multiband(DType crop, DType mask, int c, Args&&... args) {
#define FFACCEL_MB_CASE(CT, MT, CH)                                                          \
    if (crop == (sizeof(CT) == 1 ? DType::U8 : DType::F32) &&                                 \
        mask == (sizeof(MT) == 1 ? DType::U8 : DType::F32) && c == CH) {                      \
        F<CT, MT, CH>::run(args...);                                                           \
        return true;                                                                           \
    }
#define FFACCEL_MB_TYPES(CH)                         \
    FFACCEL_MB_CASE(std::uint8_t, float, CH)         \
    FFACCEL_MB_CASE(float, float, CH)                \
    FFACCEL_MB_CASE(std::uint8_t, std::uint8_t, CH)  \
    FFACCEL_MB_CASE(float, std::uint8_t, CH)
    FFACCEL_MB_TYPES(3)
    FFACCEL_MB_TYPES(4)
#undef FFACCEL_MB_TYPES
#undef FFACCEL_MB_CASE
    return false;
}

// Entry points. `p.in_place` false: `p.frame` is copied to `p.out` first. Faces run one
// after another over `workspace` (plan_multiband of the largest area, levels, C floats).
namespace cpu {
void paste_back_multiband(const PasteParams& p, const PasteFace* faces, int n, int levels, float* workspace);
}
namespace cuda {
void paste_back_multiband(const PasteParams& p, const PasteFace* faces, int n, int levels, float* workspace,
                          std::uintptr_t stream);
}

}  // namespace ffaccel
