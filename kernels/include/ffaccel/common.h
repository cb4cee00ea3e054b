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
// so the conversion is defined; they land in the border either way.
FFACCEL_HD int coord_to_int(float v) {
    const float lim = 1073741824.0f;  // 2^30
    v = v < -lim ? -lim : (v > lim ? lim : v);
    return static_cast<int>(v);
}

FFACCEL_HD std::uint8_t saturate_u8(float v) {
    v = rint32(v);
    return static_cast<std::uint8_t>(v < 0.f ? 0.f : (v > 255.f ? 255.f : v));
}

template <typename T>
FFACCEL_HD T store_as(float v);
template <>
FFACCEL_HD std::uint8_t store_as<std::uint8_t>(float v) { return saturate_u8(v); }
template <>
FFACCEL_HD float store_as<float>(float v) { return v; }

}  // namespace ffaccel
