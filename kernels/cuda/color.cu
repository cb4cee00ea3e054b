// CUDA kernels for the colour ops: one thread per element (conversion) or pixel (gain).
// The tables travel as a kernel argument (2 KB): no allocation, no copy, graph-capturable.
#include "ffaccel/color.h"

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

static_assert(sizeof(ColorTables) + sizeof(GainParams) <= 4000, "colour kernel arguments exceed 4 KB");

// Table lookups differ from thread to thread; kernel arguments sit in constant memory,
// which serialises such reads, so each block first copies the tables to shared memory.
__device__ void load_tables(const ColorTables& from, ColorTables& to) {
    const int threads = blockDim.x * blockDim.y;
    for (int i = threadIdx.y * blockDim.x + threadIdx.x; i < 256; i += threads) {
        to.table[i] = from.table[i];
        to.bound[i] = from.bound[i];
    }
    __syncthreads();
}

__global__ void color_convert_kernel(ColorParams p, ColorTables t, int y0) {
    __shared__ ColorTables tables;
    load_tables(t, tables);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = y0 + blockIdx.y;
    if (i >= p.src.w * p.src.c || y >= p.src.h) return;
    color_element(p, tables, i, y);
}

__global__ void apply_gain_kernel(GainParams p, ColorTables t, int y0) {
    __shared__ ColorTables tables;
    __shared__ std::uint8_t lut[3][256];  // used without a mask (see color.h)
    load_tables(t, tables);
    const bool masked = p.mask.data != 0;
    if (!masked) {
        const int threads = blockDim.x * blockDim.y;
        for (int i = threadIdx.y * blockDim.x + threadIdx.x; i < 3 * 256; i += threads) {
            lut[i / 256][i % 256] = gain_code(tables, p.gain[i / 256], i % 256);
        }
        __syncthreads();
    }
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = y0 + blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.src.w || y >= p.src.h) return;
    const std::uint8_t* in = row_ptr<std::uint8_t>(p.src, 0, y) + 3 * x;
    std::uint8_t* out = row_ptr_mut<std::uint8_t>(p.dst, 0, y) + 3 * x;
    if (!masked) {
#pragma unroll
        for (int c = 0; c < 3; ++c) out[c] = lut[c][in[c]];
        return;
    }
    const float a = gain_weight(p.mask, x, y);
#pragma unroll
    for (int c = 0; c < 3; ++c) out[c] = linear_to_code(gain_blend(tables.table[in[c]], p.gain[c], a), tables.bound);
}

}  // namespace

// gridDim.y is limited to 65535, so very tall images are launched in bands of rows.
constexpr int kMaxGridY = 65535;

void color_convert(const ColorParams& p, const ColorTables& t, std::uintptr_t stream) {
    const int n = p.src.w * p.src.c;
    const dim3 block(256);
    for (int y0 = 0; y0 < p.src.h; y0 += kMaxGridY) {
        const int rows = p.src.h - y0 < kMaxGridY ? p.src.h - y0 : kMaxGridY;
        const dim3 grid((n + block.x - 1) / block.x, rows);
        color_convert_kernel<<<grid, block, 0, reinterpret_cast<cudaStream_t>(stream)>>>(p, t, y0);
        check_launch("color_convert");
    }
}

void apply_gain(const GainParams& p, const ColorTables& t, std::uintptr_t stream) {
    const dim3 block(32, 8);
    const int band = kMaxGridY * static_cast<int>(block.y);
    for (int y0 = 0; y0 < p.src.h; y0 += band) {
        const int rows = p.src.h - y0 < band ? p.src.h - y0 : band;
        const dim3 grid((p.src.w + block.x - 1) / block.x, (rows + block.y - 1) / block.y);
        apply_gain_kernel<<<grid, block, 0, reinterpret_cast<cudaStream_t>(stream)>>>(p, t, y0);
        check_launch("apply_color_gain_linear");
    }
}

}  // namespace ffaccel::cuda
