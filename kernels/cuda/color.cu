// CUDA kernels for the colour ops: one thread per element (conversion) or pixel (gain).
// The tables travel as a kernel argument (2 KB): no allocation, no copy, graph-capturable.
#include "ffaccel/color.h"

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

static_assert(sizeof(ColorTables) + sizeof(GainParams) <= 4000, "colour kernel arguments exceed 4 KB");

__global__ void color_convert_kernel(ColorParams p, ColorTables t) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y;
    if (i >= p.src.w * p.src.c) return;
    color_element(p, t, i, y);
}

__global__ void apply_gain_kernel(GainParams p, ColorTables t) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.src.w || y >= p.src.h) return;
    gain_pixel(p, t, x, y);
}

}  // namespace

void color_convert(const ColorParams& p, const ColorTables& t, std::uintptr_t stream) {
    const int n = p.src.w * p.src.c;
    const dim3 block(256);
    const dim3 grid((n + block.x - 1) / block.x, p.src.h);
    color_convert_kernel<<<grid, block, 0, reinterpret_cast<cudaStream_t>(stream)>>>(p, t);
    check_launch("color_convert");
}

void apply_gain(const GainParams& p, const ColorTables& t, std::uintptr_t stream) {
    const dim3 block(32, 8);
    const dim3 grid((p.src.w + block.x - 1) / block.x, (p.src.h + block.y - 1) / block.y);
    apply_gain_kernel<<<grid, block, 0, reinterpret_cast<cudaStream_t>(stream)>>>(p, t);
    check_launch("apply_color_gain_linear");
}

}  // namespace ffaccel::cuda
