// The copy of copy_outside.h: 16-byte chunks in a grid stride, kCopyUnroll loads in flight
// a thread (the grid is narrow); a chunk with a byte in R, or past the end, goes byte by byte.
#include "copy_outside.h"

#include <algorithm>

#include "cuda_check.h"

namespace ffaccel::cuda {
namespace {

constexpr int kCopyUnroll = 8, kCopyThreads = 256;

__device__ __forceinline__ bool in_r(unsigned int q, const OuterCopy& c) {
    const unsigned int y = q / c.rb, col = q - y * c.rb;
    return static_cast<int>(y) >= c.ry1 && static_cast<int>(y) < c.ry2 && col >= c.gx0 && col < c.gx1;
}

// A whole chunk outside R. Rows before ry1 and from ry2 on are one byte range each: a chunk
// there needs no division; only chunks of R's rows find their row.
__device__ __forceinline__ bool chunk_clean(unsigned int o, const OuterCopy& c) {
    const unsigned int last = o + 15;
    if (last >= c.total) return false;
    if (last < c.top_end || o >= c.bottom_begin) return true;
    const unsigned int y0 = o / c.rb, y1 = last / c.rb;
    return y0 == y1 && (last - y0 * c.rb < c.gx0 || o - y0 * c.rb >= c.gx1);
}

__global__ void __launch_bounds__(kCopyThreads) copy_outside_kernel(OuterCopy c) {
    const unsigned int t = blockIdx.x * blockDim.x + threadIdx.x, nt = gridDim.x * blockDim.x;
    const unsigned int chunks = (c.total + 15) / 16;
    for (unsigned int base = t; base < chunks; base += nt * kCopyUnroll) {
        uint4 v[kCopyUnroll];
        bool clean[kCopyUnroll];
#pragma unroll
        for (int u = 0; u < kCopyUnroll; ++u) {  // every load first, then the stores
            const unsigned int i = base + u * nt;
            clean[u] = i < chunks && chunk_clean(i * 16, c);
            if (clean[u]) v[u] = __ldg(reinterpret_cast<const uint4*>(c.src) + i);
        }
#pragma unroll
        for (int u = 0; u < kCopyUnroll; ++u) {
            const unsigned int i = base + u * nt;
            if (i >= chunks) break;
            if (clean[u]) {
                reinterpret_cast<uint4*>(c.dst)[i] = v[u];
            } else {
                const unsigned int o = i * 16, end = o + 16 < c.total ? o + 16 : c.total;
                for (unsigned int q = o; q < end; ++q)
                    if (!in_r(q, c)) c.dst[q] = c.src[q];
            }
        }
    }
}

}  // namespace

void copy_outside(const OuterCopy& c, int multiprocessors, cudaStream_t stream) {
    const long long chunks = (static_cast<long long>(c.total) + 15) / 16, per = kCopyThreads * kCopyUnroll;
    const int need = static_cast<int>((chunks + per - 1) / per);
    copy_outside_kernel<<<std::max(1, std::min(need, multiprocessors)), kCopyThreads, 0, stream>>>(c);
    check_launch("copy_outside");
}

}  // namespace ffaccel::cuda
