// warp_affine: bilinear resampling of an HWC image through an affine map.
//
// The caller passes the *inverse* map (destination -> source) in double, computed on
// the host as OpenCV's warpAffine does. Three formulas, chosen by WarpMode:
//
//  Default  float32, no FMA:  sx = a0*x + (a1*y + a2);  v = lerp(lerp(p00,p01,fx), lerp(p10,p11,fx), fy)
//           with lerp(a,b,t) = a + t*(b-a), rounded half to even for uint8.
//  OpenCV5  the float path of OpenCV 5.0 warpAffine as its AVX2 kernels run it:
//           coefficients rounded to float; columns handled 16 at a time use
//           sx = fma(a0, x, a1*y + a2); the <16 leftover columns of a row use
//           sx = fma(x, a0, a1*y) + a2; lerps are fused (fma).
//  OpenCV4  the fixed-point path of OpenCV 4.x: coordinates in 1/1024 px from double
//           arithmetic, rounded to 1/32 px; uint8 uses integer weights summing to
//           2^15 and (sum + 2^14) >> 15; float32 uses float weight products.
//
// REPLICATE clamps each of the four taps; CONSTANT replaces each missing tap with the
// border value (and OpenCV4-float writes the border value outright when all four are
// missing, as OpenCV does).
#pragma once

#include "ffaccel/common.h"

namespace ffaccel {

enum class WarpMode : int { Default = 0, OpenCV5 = 1, OpenCV4 = 2 };

// Per-face inverse map. `d` is the double inverse; `f` the same rounded to float.
struct WarpCoeffs {
    double d[6];
    float f[6];
};

inline WarpCoeffs make_warp_coeffs(const double* inverse6) {
    WarpCoeffs k;
    for (int i = 0; i < 6; ++i) {
        k.d[i] = inverse6[i];
        k.f[i] = static_cast<float>(inverse6[i]);  // round to nearest, as OpenCV's cast
    }
    return k;
}

struct WarpParams {
    Image src;
    Image dst;
    Border border;
    float border_value[4];  // already rounded and saturated for uint8 images
};

template <typename T, int C>
FFACCEL_HD void warp_fetch(const Image& src, int ix, int iy, Border border, const float* bval, float* out) {
    if (ix >= 0 && ix < src.w && iy >= 0 && iy < src.h) {
        const T* p = row_ptr<T>(src, 0, iy) + ix * C;
#pragma unroll
        for (int c = 0; c < C; ++c) out[c] = static_cast<float>(p[c]);
    } else if (border == Border::Constant) {
#pragma unroll
        for (int c = 0; c < C; ++c) out[c] = bval[c];
    } else {
        const T* p = row_ptr<T>(src, 0, clampi(iy, 0, src.h - 1)) + clampi(ix, 0, src.w - 1) * C;
#pragma unroll
        for (int c = 0; c < C; ++c) out[c] = static_cast<float>(p[c]);
    }
}

template <typename T, int C>
FFACCEL_HD void warp_fetch4(const WarpParams& p, int ix, int iy, float (*q)[C]) {
    // Almost every pixel of a face crop has all four taps inside the frame: one
    // unsigned compare per axis, then plain loads.
    if (static_cast<unsigned>(ix) < static_cast<unsigned>(p.src.w - 1) &&
        static_cast<unsigned>(iy) < static_cast<unsigned>(p.src.h - 1)) {
        const T* a = row_ptr<T>(p.src, 0, iy) + ix * C;
        const T* b = reinterpret_cast<const T*>(reinterpret_cast<const char*>(a) + p.src.stride);
#pragma unroll
        for (int c = 0; c < C; ++c) {
            q[0][c] = static_cast<float>(a[c]);
            q[1][c] = static_cast<float>(a[C + c]);
            q[2][c] = static_cast<float>(b[c]);
            q[3][c] = static_cast<float>(b[C + c]);
        }
        return;
    }
    warp_fetch<T, C>(p.src, ix, iy, p.border, p.border_value, q[0]);
    warp_fetch<T, C>(p.src, ix + 1, iy, p.border, p.border_value, q[1]);
    warp_fetch<T, C>(p.src, ix, iy + 1, p.border, p.border_value, q[2]);
    warp_fetch<T, C>(p.src, ix + 1, iy + 1, p.border, p.border_value, q[3]);
}

// The sample_* functions return each channel as the mode's warp computes it before the
// store: unrounded for Default; for the OpenCV modes with uint8 sources, the already
// rounded value OpenCV writes (so a paste that blends these samples sees what OpenCV's
// intermediate image would hold).
template <typename T, int C>
FFACCEL_HD void sample_default(const WarpParams& p, const WarpCoeffs& k, int x, int y, float* v) {
    const float xf = static_cast<float>(x), yf = static_cast<float>(y);
    const float sx = k.f[0] * xf + (k.f[1] * yf + k.f[2]);
    const float sy = k.f[3] * xf + (k.f[4] * yf + k.f[5]);
    const float flx = floor32(sx), fly = floor32(sy);
    const float fx = sx - flx, fy = sy - fly;
    float q[4][C];
    warp_fetch4<T, C>(p, coord_to_int(flx), coord_to_int(fly), q);
#pragma unroll
    for (int c = 0; c < C; ++c) {
        const float v0 = q[0][c] + fx * (q[1][c] - q[0][c]);
        const float v1 = q[2][c] + fx * (q[3][c] - q[2][c]);
        v[c] = v0 + fy * (v1 - v0);
    }
}

template <typename T, int C>
FFACCEL_HD void sample_opencv5(const WarpParams& p, const WarpCoeffs& k, int x, int y, float* v) {
    const float xf = static_cast<float>(x), yf = static_cast<float>(y);
    const int vector_end = p.dst.w - p.dst.w % 16;  // AVX2: two 8-lane vectors per step
    float sx, sy;
    if (x < vector_end) {
        sx = fma32(k.f[0], xf, k.f[1] * yf + k.f[2]);
        sy = fma32(k.f[3], xf, k.f[4] * yf + k.f[5]);
    } else {
        sx = fma32(xf, k.f[0], k.f[1] * yf) + k.f[2];
        sy = fma32(xf, k.f[3], k.f[4] * yf) + k.f[5];
    }
    const float flx = floor32(sx), fly = floor32(sy);
    const float fx = sx - flx, fy = sy - fly;
    float q[4][C];
    warp_fetch4<T, C>(p, coord_to_int(flx), coord_to_int(fly), q);
#pragma unroll
    for (int c = 0; c < C; ++c) {
        const float v0 = fma32(fx, q[1][c] - q[0][c], q[0][c]);
        const float v1 = fma32(fx, q[3][c] - q[2][c], q[2][c]);
        v[c] = static_cast<float>(store_as<T>(fma32(fy, v1 - v0, v0)));
    }
}

// OpenCV 4.x: X = (round((a1*y + a2) * 1024) + 16 + round(a0*x*1024)) >> 5, in 1/32 px.
FFACCEL_HD int opencv4_fixed(double a_col, double a_row, double a_off, int x, int y) {
    const double row = rint64((a_row * y + a_off) * 1024.0);
    const double col = rint64(a_col * x * 1024.0);
    double s = row + 16.0 + col;
    const double lim = 2147483647.0;  // OpenCV holds these in int; keep the shift defined
    s = s > lim ? lim : (s < -lim ? -lim : s);
    return static_cast<int>(s) >> 5;
}

template <typename T, int C>
FFACCEL_HD void sample_opencv4(const WarpParams& p, const WarpCoeffs& k, int x, int y, float* v) {
    const int X = opencv4_fixed(k.d[0], k.d[1], k.d[2], x, y);
    const int Y = opencv4_fixed(k.d[3], k.d[4], k.d[5], x, y);
    const int ix = clampi(X >> 5, -32768, 32767), iy = clampi(Y >> 5, -32768, 32767);
    const int tx = X & 31, ty = Y & 31;
    if (p.border == Border::Constant && (ix >= p.src.w || ix + 1 < 0 || iy >= p.src.h || iy + 1 < 0)) {
#pragma unroll
        for (int c = 0; c < C; ++c) v[c] = p.border_value[c];
        return;
    }
    float q[4][C];
    warp_fetch4<T, C>(p, ix, iy, q);
    if constexpr (sizeof(T) == 1) {
        const int w00 = (32 - ty) * (32 - tx) * 32, w01 = (32 - ty) * tx * 32;
        const int w10 = ty * (32 - tx) * 32, w11 = ty * tx * 32;
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const int s = static_cast<int>(q[0][c]) * w00 + static_cast<int>(q[1][c]) * w01 +
                          static_cast<int>(q[2][c]) * w10 + static_cast<int>(q[3][c]) * w11;
            const int r = (s + (1 << 14)) >> 15;
            v[c] = static_cast<float>(r < 0 ? 0 : (r > 255 ? 255 : r));
        }
    } else {
        const float step = 1.0f / 32.0f;
        const float fx = static_cast<float>(tx) * step, fy = static_cast<float>(ty) * step;
        const float w00 = (1.0f - fy) * (1.0f - fx), w01 = (1.0f - fy) * fx;
        const float w10 = fy * (1.0f - fx), w11 = fy * fx;
#pragma unroll
        for (int c = 0; c < C; ++c) {
            v[c] = q[0][c] * w00 + q[1][c] * w01 + q[2][c] * w10 + q[3][c] * w11;
        }
    }
}

template <WarpMode M, typename T, int C>
FFACCEL_HD void warp_sample(const WarpParams& p, const WarpCoeffs& k, int x, int y, float* v) {
    if constexpr (M == WarpMode::Default) {
        sample_default<T, C>(p, k, x, y, v);
    } else if constexpr (M == WarpMode::OpenCV5) {
        sample_opencv5<T, C>(p, k, x, y, v);
    } else {
        sample_opencv4<T, C>(p, k, x, y, v);
    }
}

template <WarpMode M, typename T, int C>
FFACCEL_HD void warp_pixel(const WarpParams& p, const WarpCoeffs& k, int x, int y, T* out) {
    float v[C];
    warp_sample<M, T, C>(p, k, x, y, v);
#pragma unroll
    for (int c = 0; c < C; ++c) out[c] = store_as<T>(v[c]);
}

// Dispatch a functor templated on <WarpMode, T, C> over the run-time mode/dtype/channels.
// Returns false for a combination that has no instantiation.
template <template <WarpMode, typename, int> class F, typename... Args>
bool dispatch_warp(WarpMode mode, DType dtype, int c, Args&&... args) {
#define FFACCEL_WARP_CASE(MODE, TYPE, CH)                                          \
    if (mode == MODE && dtype == (sizeof(TYPE) == 1 ? DType::U8 : DType::F32) && c == CH) { \
        F<MODE, TYPE, CH>::run(args...);                                           \
        return true;                                                               \
    }
#define FFACCEL_WARP_MODE(MODE)                        \
    FFACCEL_WARP_CASE(MODE, std::uint8_t, 1)           \
    FFACCEL_WARP_CASE(MODE, std::uint8_t, 3)           \
    FFACCEL_WARP_CASE(MODE, std::uint8_t, 4)           \
    FFACCEL_WARP_CASE(MODE, float, 1)                  \
    FFACCEL_WARP_CASE(MODE, float, 3)
    FFACCEL_WARP_MODE(WarpMode::Default)
    FFACCEL_WARP_MODE(WarpMode::OpenCV5)
    FFACCEL_WARP_MODE(WarpMode::OpenCV4)
#undef FFACCEL_WARP_MODE
#undef FFACCEL_WARP_CASE
    return false;
}

// Entry points. `coeffs` holds one WarpCoeffs per output image (dst is a batch of
// `n` images `dst.batch_stride` bytes apart); `src` is a single image.
namespace cpu {
void warp_affine(const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode);
}
namespace cuda {
// Enqueues on `stream` (a cudaStream_t) of the current device; never synchronises.
void warp_affine(const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode, std::uintptr_t stream);
}

}  // namespace ffaccel
