// Shared definitions for every op: the host/device qualifier, image views, and the
// few float helpers whose rounding must be identical on the CPU and the GPU.
//
// Numeric rule (docs/design.md): one per-pixel formula serves both sides. Host code is
// compiled with -ffp-contract=off and device code with --fmad=false, so a plain
// `a * b + c` is two roundings everywhere; where a reference implementation fuses,
// the formula calls fma32() explicitly and both sides fuse identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>

#if defined(__CUDACC__)
#define FFACCEL_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#define FFACCEL_HD inline
#endif

namespace ffaccel {

// A failure reported by the CUDA runtime; Python sees it as ffaccel.CudaError.
struct CudaError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class DType : int { U8 = 0, F32 = 1 };

enum class Border : int { Replicate = 0, Constant = 1 };

// A 2-D image of `c` interleaved channels. `stride` is the distance between rows in
// bytes; `batch_stride` the distance between the images of a batch in bytes.
struct Image {
    std::uintptr_t data = 0;
    int h = 0, w = 0, c = 0;
    std::int64_t stride = 0;
    std::int64_t batch_stride = 0;
    DType dtype = DType::U8;

    Image() = default;
    Image(std::uintptr_t data_, int h_, int w_, int c_, std::int64_t stride_, std::int64_t batch_stride_, DType dtype_)
        : data(data_), h(h_), w(w_), c(c_), stride(stride_), batch_stride(batch_stride_), dtype(dtype_) {}
};

template <typename T>
FFACCEL_HD const T* row_ptr(const Image& im, int n, int y) {
    return reinterpret_cast<const T*>(im.data + n * im.batch_stride + y * im.stride);
}

template <typename T>
FFACCEL_HD T* row_ptr_mut(const Image& im, int n, int y) {
    return reinterpret_cast<T*>(im.data + n * im.batch_stride + y * im.stride);
}

FFACCEL_HD float fma32(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(a, b, c);
#else
    return std::fmaf(a, b, c);  // correctly rounded, as the hardware instruction
#endif
}

// Round half to even under the default rounding mode, as cvRound and numpy.rint do.
FFACCEL_HD float rint32(float v) {
#if defined(__CUDA_ARCH__)
    return rintf(v);
#else
    return std::rint(v);
#endif
}

FFACCEL_HD double rint64(double v) {
#if defined(__CUDA_ARCH__)
    return rint(v);
#else
    return std::rint(v);
#endif
}

FFACCEL_HD float floor32(float v) {
#if defined(__CUDA_ARCH__)
    return floorf(v);
#else
    return std::floor(v);
#endif
}

FFACCEL_HD int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Float to int for sample coordinates. Values far outside any image are clamped first
// so the conversion is defined; they land in the border either way. NaN becomes -2^30
// (as the AVX2 path's max_ps(NaN, -lim) does), so it is defined too.
FFACCEL_HD int coord_to_int(float v) {
    const float lim = 1073741824.0f;  // 2^30
    v = v >= -lim ? (v > lim ? lim : v) : -lim;
    return static_cast<int>(v);
}

// Round half to even and saturate to 0..255; NaN becomes 0 (every compare with it is
// false), on the CPU and the GPU alike.
FFACCEL_HD std::uint8_t saturate_u8(float v) {
    v = rint32(v);
    return v > 0.f ? static_cast<std::uint8_t>(v < 255.f ? v : 255.f) : std::uint8_t(0);
}

// Truncate toward zero and saturate to 0..255 (numpy's astype(uint8) of 0..255 values);
// NaN becomes 0.
FFACCEL_HD std::uint8_t truncate_u8(float v) {
    return v > 0.f ? static_cast<std::uint8_t>(v < 255.f ? v : 255.f) : std::uint8_t(0);
}

// The one NaN every float32 result holds (0x7fc00000): x86 and CUDA make NaNs of other
// bit patterns (sign, payload), so float stores write this one instead of theirs.
FFACCEL_HD float canonical_nan() {
#if defined(__CUDA_ARCH__)
    return __int_as_float(0x7fc00000);
#else
    return std::numeric_limits<float>::quiet_NaN();
#endif
}

template <typename T>
FFACCEL_HD T store_as(float v);
template <>
FFACCEL_HD std::uint8_t store_as<std::uint8_t>(float v) { return saturate_u8(v); }
template <>
FFACCEL_HD float store_as<float>(float v) { return v == v ? v : canonical_nan(); }

}  // namespace ffaccel
