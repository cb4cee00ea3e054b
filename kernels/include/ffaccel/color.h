// Linear-light colour: the IEC 61966-2-1 (sRGB) transfer curve and per-channel gains.
//
//   to linear:  s <= 0.04045   ? s / 12.92 : ((s + 0.055) / 1.055)^2.4
//   to sRGB:    l <= 0.0031308 ? l * 12.92 : 1.055 * l^(1/2.4) - 0.055
//
// This is the C++ copy of the curve; the numpy copy, and the 50-digit tables below, are in
// src/ffaccel/_colorspace.py (tests/test_colorspace.py checks that both use the same constants).
//
// CPU libm and CUDA disagree on pow(), so the powers are built from +, -, *, / only,
// which IEEE 754 rounds identically on both sides:
//   t^2.4     = t^2 * root5(t^2)         (t in [0.09, 1])
//   l^(1/2.4) = root12(l^5)              (l in [0.0031, 1])
// where rootN(a) starts from a bit-level guess (the exponent divided by N, within about
// 6 %) and takes a fixed number of Newton steps y <- ((N-1) y + a / y^(N-1)) / N.
// The exact variant works in double (6 steps: far past convergence, so the result is
// the double nearest the root within a few ulps, then rounded once to float); the fast
// variant works in float only (for GPUs whose double units are slow).
//
// uint8 codes never go through the curve at run time: the host computes, to 50 digits,
//   table[v]  = the float nearest to linear(v / 255)
//   bound[k]  = the smallest float >= linear((k - 0.5) / 255),  k = 1..255
// and a linear value l becomes the code  #{k : l >= bound[k]}, which is
// round(255 * srgb(l)) exactly (no float l lies on a boundary, so ties cannot occur).
#pragma once

#include <cstring>

#include "ffaccel/common.h"

namespace ffaccel {

enum class ColorMode : int {
    U8ToLinear = 0,    // uint8 -> float32 through table
    ToLinear = 1,      // float32 -> float32, exact curve
    ToLinearFast = 2,  // float32 -> float32, float-only curve
    ToSrgb = 3,        // float32 -> float32, exact curve
    ToSrgbFast = 4,    // float32 -> float32, float-only curve
    ToSrgbU8 = 5,      // float32 -> uint8 through bound
};

struct ColorTables {
    float table[256];
    float bound[256];  // bound[0] is unused
};

struct ColorParams {
    Image src;
    Image dst;  // same h, w, c; its dtype follows the mode
    ColorMode mode;
};

struct GainParams {
    Image src;   // uint8, 3 channels
    Image dst;   // uint8, 3 channels
    Image mask;  // data == 0: no mask; else one channel, uint8 (0..255) or float32 (0..1)
    float gain[3];
};

FFACCEL_HD std::uint64_t bits_of(double v) {
#if defined(__CUDA_ARCH__)
    return static_cast<std::uint64_t>(__double_as_longlong(v));
#else
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
#endif
}

FFACCEL_HD double double_of(std::uint64_t b) {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double(static_cast<long long>(b));
#else
    double v;
    std::memcpy(&v, &b, sizeof v);
    return v;
#endif
}

FFACCEL_HD std::uint32_t bits_of(float v) {
#if defined(__CUDA_ARCH__)
    return static_cast<std::uint32_t>(__float_as_uint(v));
#else
    std::uint32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
#endif
}

FFACCEL_HD float float_of(std::uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(b);
#else
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
#endif
}

// N-th root of a in (0, 1], in the precision of F (float or double), `Steps` Newton steps.
template <typename F, int N, int Steps>
FFACCEL_HD F root_n(F a) {
    // The bit pattern of a positive float is roughly a scaled log2: dividing its
    // distance from 1.0 by N divides the exponent by N. a <= 1, so no overflow.
    F y;
    if constexpr (sizeof(F) == 8) {
        const std::uint64_t one = bits_of(1.0);
        y = double_of(one - (one - bits_of(a)) / N);
    } else {
        const std::uint32_t one = bits_of(1.0f);
        y = float_of(one - (one - bits_of(a)) / N);
    }
    for (int step = 0; step < Steps; ++step) {
        F p = y;
        for (int k = 2; k < N; ++k) p = p * y;  // y^(N-1)
        y = (F(N - 1) * y + a / p) / F(N);
    }
    return y;
}

// Values outside [0, 1] are clamped; NaN becomes 0 (every comparison with it is false).
template <typename F, int Steps>
FFACCEL_HD float srgb_to_linear_curve(float s) {
    if (!(s > 0.0f)) return 0.0f;
    if (s >= 1.0f) return 1.0f;
    const F v = static_cast<F>(s);
    if (v <= F(0.04045)) return static_cast<float>(v / F(12.92));
    const F t = (v + F(0.055)) / F(1.055);
    const F t2 = t * t;
    return static_cast<float>(t2 * root_n<F, 5, Steps>(t2));
}

template <typename F, int Steps>
FFACCEL_HD float linear_to_srgb_curve(float l) {
    if (!(l > 0.0f)) return 0.0f;
    if (l >= 1.0f) return 1.0f;
    const F v = static_cast<F>(l);
    if (v <= F(0.0031308)) return static_cast<float>(v * F(12.92));
    const F v5 = v * v * v * v * v;
    return static_cast<float>(F(1.055) * root_n<F, 12, Steps>(v5) - F(0.055));
}

// Exact variant: double, 6 steps. Fast variant: float, 4 steps (enough from a 6 % guess
// to reach float precision for N = 12, and more than enough for N = 5).
FFACCEL_HD float srgb_to_linear_exact(float s) { return srgb_to_linear_curve<double, 6>(s); }
FFACCEL_HD float srgb_to_linear_fast(float s) { return srgb_to_linear_curve<float, 4>(s); }
FFACCEL_HD float linear_to_srgb_exact(float l) { return linear_to_srgb_curve<double, 6>(l); }
FFACCEL_HD float linear_to_srgb_fast(float l) { return linear_to_srgb_curve<float, 4>(l); }

// The uint8 code of a linear value: how many bounds it reaches (binary search).
FFACCEL_HD std::uint8_t linear_to_code(float l, const float* bound) {
    int k = 0;
#pragma unroll
    for (int step = 128; step >= 1; step >>= 1) {
        if (k + step <= 255 && l >= bound[k + step]) k += step;
    }
    return static_cast<std::uint8_t>(k);
}

// Mask weight of one pixel in 0..1: uint8 masks are divided by 255, float masks clamped
// (NaN counts as 0).
FFACCEL_HD float gain_weight(const Image& mask, int x, int y) {
    if (mask.dtype == DType::U8) return static_cast<float>(row_ptr<std::uint8_t>(mask, 0, y)[x]) / 255.0f;
    const float a = row_ptr<float>(mask, 0, y)[x];
    return a > 0.0f ? (a < 1.0f ? a : 1.0f) : 0.0f;
}

// apply_color_gain_linear, blending in linear light with mask weight a:
//   l = table[in]
//   out = code(l * g)                          without a mask
//   out = code(l * (1 - a) + (l * g) * a)      with one (a = 1 gives l * g, a = 0 gives l)
// Without a mask the result depends only on (channel, input code), so both paths first
// fill a 3 x 256 lookup table with gain_code() and then look pixels up.
FFACCEL_HD std::uint8_t gain_code(const ColorTables& t, float gain, int v) {
    return linear_to_code(t.table[v] * gain, t.bound);
}

FFACCEL_HD float gain_blend(float l, float gain, float a) { return l * (1.0f - a) + (l * gain) * a; }

// One element of a colour conversion; `i` indexes the row's w * c elements.
FFACCEL_HD void color_element(const ColorParams& p, const ColorTables& t, int i, int y) {
    if (p.mode == ColorMode::U8ToLinear) {
        row_ptr_mut<float>(p.dst, 0, y)[i] = t.table[row_ptr<std::uint8_t>(p.src, 0, y)[i]];
        return;
    }
    const float v = row_ptr<float>(p.src, 0, y)[i];
    switch (p.mode) {
        case ColorMode::ToLinear: row_ptr_mut<float>(p.dst, 0, y)[i] = srgb_to_linear_exact(v); break;
        case ColorMode::ToLinearFast: row_ptr_mut<float>(p.dst, 0, y)[i] = srgb_to_linear_fast(v); break;
        case ColorMode::ToSrgb: row_ptr_mut<float>(p.dst, 0, y)[i] = linear_to_srgb_exact(v); break;
        case ColorMode::ToSrgbFast: row_ptr_mut<float>(p.dst, 0, y)[i] = linear_to_srgb_fast(v); break;
        default: row_ptr_mut<std::uint8_t>(p.dst, 0, y)[i] = linear_to_code(v, t.bound); break;
    }
}

namespace cpu {
void color_convert(const ColorParams& p, const ColorTables& t);
void apply_gain(const GainParams& p, const ColorTables& t);
}  // namespace cpu
namespace cuda {
// Both enqueue on `stream` and never synchronise.
void color_convert(const ColorParams& p, const ColorTables& t, std::uintptr_t stream);
void apply_gain(const GainParams& p, const ColorTables& t, std::uintptr_t stream);
}  // namespace cuda

}  // namespace ffaccel
