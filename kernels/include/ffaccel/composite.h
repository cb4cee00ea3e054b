// composite: alpha blend of two uint8 HWC images with seam-band feathering.
//
// Per pixel, in float32 with one rounding per operation (no FMA on either side):
//
//   a  = alpha                                   uint8 alpha, 0..255
//   a  = min(max(alpha, 0), 1) * 255             float32 alpha (NaN counts as 0)
//   if band is on and band_lo < a < band_hi:     seam band, pulled toward its nearer edge
//       t = (a - band_lo) / band_width           band_width = band_hi - band_lo
//       s = (t * t) * (3 - 2 * t)                smoothstep
//       a = band_lo + band_width * (t + feather * (s - t))
//   m  = a / 255
//   out[c] = round_half_even(bg[c] + m * (fg[c] - bg[c]))     for every channel c
//
// The remap is the identity at both band edges (t = 0 and t = 1), so it is continuous
// there and the identity outside the band; its slope in t is 1 - feather + 6*feather*t*(1-t),
// positive for feather in [0, 1) (non-negative at 1), so it is monotone. The lerp form makes alpha 0 give bg
// and alpha 255 give fg exactly.
#pragma once

#include "ffaccel/common.h"

namespace ffaccel {

struct CompositeParams {
    Image fg;
    Image bg;
    Image alpha;  // c == 1, U8 (0..255) or F32 (0..1)
    Image dst;
    int band_on = 0;
    float band_lo = 0.f, band_hi = 255.f, band_width = 255.f;  // 0..255 alpha units
    float feather = 0.f;
};

// Float alpha on the 0..255 scale, in two steps (the CPU loop runs them as two passes:
// chained in one loop, the compiler leaves the compares as branches). NaN fails the
// first compare and becomes 0.
FFACCEL_HD float alpha_clip_low(float v) { return v > 0.f ? v : 0.f; }
FFACCEL_HD float alpha_clip_high_255(float v) { return (v < 1.f ? v : 1.f) * 255.0f; }

FFACCEL_HD float composite_alpha255(float v, bool is_float) {
    return is_float ? alpha_clip_high_255(alpha_clip_low(v)) : v;
}

// The band's pulled value for any alpha (meaningful inside the band; band_width is never
// 0: the band is off or band_lo < band_hi), and whether alpha is inside the band.
FFACCEL_HD float composite_band_pull(float a, const CompositeParams& p) {
    const float t = (a - p.band_lo) / p.band_width;
    const float s = (t * t) * (3.0f - 2.0f * t);
    return p.band_lo + p.band_width * (t + p.feather * (s - t));
}

FFACCEL_HD bool composite_in_band(float a, const CompositeParams& p) {
    return (p.band_on != 0) & (a > p.band_lo) & (a < p.band_hi);  // `&`: no branches (see hysteresis.h)
}

FFACCEL_HD float composite_band_remap(float a, const CompositeParams& p) {
    return composite_in_band(a, p) ? composite_band_pull(a, p) : a;
}

// The weight of fg (0..1) for one raw alpha value: the first three lines of the formula.
template <typename A>
FFACCEL_HD float composite_weight(A raw, const CompositeParams& p) {
    return composite_band_remap(composite_alpha255(static_cast<float>(raw), sizeof(A) == 4), p) / 255.0f;
}

// One channel: the lerp form gives bg at m = 0 and fg at m = 1 exactly.
FFACCEL_HD std::uint8_t composite_blend(float fg, float bg, float m) { return saturate_u8(bg + m * (fg - bg)); }

template <typename A, int C>
FFACCEL_HD void composite_pixel(const CompositeParams& p, int x, int y) {
    const float m = composite_weight<A>(row_ptr<A>(p.alpha, 0, y)[x], p);
    const std::uint8_t* f = row_ptr<std::uint8_t>(p.fg, 0, y) + x * C;
    const std::uint8_t* b = row_ptr<std::uint8_t>(p.bg, 0, y) + x * C;
    std::uint8_t* o = row_ptr_mut<std::uint8_t>(p.dst, 0, y) + x * C;
    float fv[C], bv[C];
    // Read everything before writing: `dst` may be `fg` or `bg` itself (in-place).
#pragma unroll
    for (int c = 0; c < C; ++c) {
        fv[c] = static_cast<float>(f[c]);
        bv[c] = static_cast<float>(b[c]);
    }
#pragma unroll
    for (int c = 0; c < C; ++c) o[c] = composite_blend(fv[c], bv[c], m);
}

// Dispatch a functor templated on <alpha type, channels>; false for an unsupported pair.
template <template <typename, int> class F, typename... Args>
bool dispatch_composite(DType alpha_dtype, int c, Args&&... args) {
    const bool is_u8 = alpha_dtype == DType::U8;
    if (is_u8 && c == 3) { F<std::uint8_t, 3>::run(args...); return true; }
    if (is_u8 && c == 4) { F<std::uint8_t, 4>::run(args...); return true; }
    if (!is_u8 && c == 3) { F<float, 3>::run(args...); return true; }
    if (!is_u8 && c == 4) { F<float, 4>::run(args...); return true; }
    return false;
}

namespace cpu {
void composite(const CompositeParams& p);
}
namespace cuda {
// Enqueues on `stream` (a cudaStream_t) of the current device; never synchronises.
void composite(const CompositeParams& p, std::uintptr_t stream);
}

}  // namespace ffaccel
