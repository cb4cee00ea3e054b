// CUDA kernels for paste_back_insightface. Every value comes from the header's per-pixel
// formulas (paste_insightface.h) with the same operation order, so the bytes equal the
// CPU path's; only where the operands come from differs.
//
// A new output frame: the frame outside R (below) is copied on a side stream beside every
// kernel (run(); side_branch.h), R's pixels by the blend. Phases on the caller's stream:
// the thresholded mask T over B (for ke <= kFuseMaxKe evaluated inside the row erode
// instead); the erode (rows, then columns); the blur's row pass over B's rows and the
// column pass fused with the blend over R. The erode and blur sizes come from T's
// 255-extent, which the host computes exactly from the matrix (ins_set_extent), so nothing is read
// back: the call never synchronises and can be captured in a CUDA graph. The Gaussian
// weights go to the workspace through a kernel argument (init_kernel).
//
// Erode (min is exact in any order): each output window [p - a, p - a + ke) of a group of
// G consecutive outputs splits into a left strip (a suffix-min), a core that all G windows
// share, and a right strip (a prefix-min): O(1 + ke / G) per pixel instead of O(ke).
// Along rows a warp holds the group (G = 32, or 8 for ke < 32) and scans with shuffles;
// along columns each thread holds 8 rows and scans in registers (lanes = columns,
// coalesced). Positions off the frame are skipped (kBig), positions in the frame outside
// B read 0, as in OpenCV's default morphology border.
//
// Blur: each thread computes K outputs of one line (kBlurK = 8 in the row pass; kColK in the
// column pass, 8 from radius kColWideRadius, else 4) and streams that line once, so a
// loaded value serves K taps; every output still adds its taps in the header's order
// (ins_blur_row: j = 0 .. 2r; ins_blur_col: the centre, then the pairs j = 1 .. r). The
// row pass reads its rows from shared memory (tile plus halo, loaded coalesced in chunks
// of kRowChunk positions, so any r fits), lanes = rows; the column pass reads H straight
// from global memory, lanes = columns (coalesced), and blends.
#include "ffaccel/paste_insightface.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "copy_outside.h"
#include "cuda_check.h"
#include "launch.h"
#include "side_branch.h"

namespace ffaccel::cuda {
namespace {

struct Box {
    int x1, y1, w, h;
};

// The blur weights, passed by value (captured with the launch in a CUDA graph).
constexpr int kKernChunk = 960;  // 3840 bytes: with the other arguments under the 4 KiB limit
struct KernChunk {
    float w[kKernChunk];
};

constexpr float kBig = 3.402823466e38f;  // an erode position that does not count (off the frame)

__device__ __forceinline__ float min2(float a, float b) { return b < a ? b : a; }

__global__ void init_kernel(float* white, int cw, float* kern, int k0, int kn, KernChunk chunk) {
    wait_for_previous_grid();
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < cw) white[i] = 255.0f;
    if (i < kn) kern[k0 + i] = chunk.w[i];
}

template <WarpMode M>
__global__ void mask_kernel(WarpParams white, WarpCoeffs k, Box b, float* t) {
    wait_for_previous_grid();
    const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (j >= b.w || i >= b.h) return;
    t[static_cast<long long>(i) * b.w + j] = ins_mask_value<M>(white, k, b.x1 + j, b.y1 + i);
}

// The erode's input along one line of B: element p (B coordinates, any int) of a line of n
// values starting at frame coordinate `origin` in a frame of `frame_n`: the value inside
// B, 0 in the frame outside B, kBig off the frame (skipped: min(kBig, v) = v for every
// mask value, and each window holds its own pixel, so kBig never reaches the output).
__device__ __forceinline__ float erode_in(const float* line, long long step, int p, int n, int origin, int frame_n) {
    if (p >= 0 && p < n) return line[p * step];
    const int f = origin + p;
    return f >= 0 && f < frame_n ? 0.0f : kBig;
}

// min over p in [lo, hi) of erode_in(line, step, p, n, origin, frame_n): 0 as soon as the
// range meets the frame outside B (every mask value is >= +0, so the min is +0), else the
// plain loads of its part inside B (kBig if none: the range lies off the frame).
__device__ __forceinline__ float range_min(const float* line, long long step, int lo, int hi, int n, int origin,
                                           int frame_n) {
    if (max(lo, -origin) < min(hi, 0) || max(lo, n) < min(hi, frame_n - origin)) return 0.0f;
    float m = kBig;
    const int end = min(hi, n);
#pragma unroll 16
    for (int p = max(lo, 0); p < end; ++p) m = min2(m, line[p * step]);
    return m;
}

// Where the row erode reads T at row i, column p of B: the mask buffer, or the mask formula
// itself (the mask kernel fused away: worth it while each T value is evaluated only a few
// times, see kFuseMaxKe).
struct FromBuffer {
    const float* t;
    __device__ float operator()(const Box& b, int i, int p) const { return t[static_cast<long long>(i) * b.w + p]; }
};
template <WarpMode M>
struct FromMask {
    WarpParams white;
    WarpCoeffs k;
    __device__ float operator()(const Box& b, int i, int p) const {
        return ins_mask_value<M>(white, k, b.x1 + p, b.y1 + i);
    }
};

// A warp evaluates 32 + ke - 1 + (G - 1) T values for its 32 row outputs: the fused form
// evaluates each T value about (ke + 62) / 32 times, the separate mask kernel once.
constexpr int kFuseMaxKe = 64;

// Erode along rows over B. A warp covers 32 consecutive outputs of row i as 32 / G groups
// of G lanes (G <= ke). For the group's outputs jb + l (l < G), with s = jb - a, window
// [s + l, s + l + ke) = [s + l, s + G - 1)  (lanes l .. G-2 of the left strip: suffix-min)
//                      ∪ [s + G - 1, s + ke)  (the core, shared: a strided min + butterfly)
//                      ∪ [s + ke, s + ke + l) (lanes 0 .. l-1 of the right strip: exclusive prefix-min).
// All 32 lanes run every shuffle (rows or columns past B are computed, not stored).
template <int G, typename Src>
__global__ void erode_rows_kernel(Src src, float* dst, Box b, int fw, int ke, int a) {
    wait_for_previous_grid();
    static_assert(G == 8 || G == 16 || G == 32, "group width: a power of two up to the warp");
    const int lane = threadIdx.x, l = lane & (G - 1);
    const int i = blockIdx.y * blockDim.y + threadIdx.y;
    const int j = blockIdx.x * 32 + lane;
    const int s = j - l - a;
    const bool live = i < b.h;
    // T inside B, 0 in the frame outside B, kBig off the frame (as erode_in); rows past B
    // read nothing.
    auto in = [&](int p) {
        if (p >= 0 && p < b.w) return live ? src(b, i, p) : kBig;
        const int x = b.x1 + p;
        return x >= 0 && x < fw ? 0.0f : kBig;
    };
    const float lv = l < G - 1 ? in(s + l) : kBig;
    const float rv = l < G - 1 ? in(s + ke + l) : kBig;
    float core = kBig;
    for (int p = s + G - 1 + l; p < s + ke; p += G) core = min2(core, in(p));
    float suf = lv, pre = rv;
#pragma unroll
    for (int d = 1; d < G; d *= 2) {  // past the group's edge a shuffle returns the lane's own value
        suf = min2(suf, __shfl_down_sync(0xffffffffu, suf, d, G));
        pre = min2(pre, __shfl_up_sync(0xffffffffu, pre, d, G));
        core = min2(core, __shfl_xor_sync(0xffffffffu, core, d, G));
    }
    pre = __shfl_up_sync(0xffffffffu, pre, 1, G);  // inclusive -> exclusive
    if (l == 0) pre = kBig;
    if (live && j < b.w) dst[static_cast<long long>(i) * b.w + j] = min2(min2(suf, core), pre);
}

template <typename Src>
void erode_rows(const Src& src, float* dst, const Box& b, int fw, int ke, cudaStream_t stream) {
    const dim3 grid((b.w + 31) / 32, (b.h + 7) / 8), block(32, 8);
    if (ke >= 32) {
        launch("paste_insightface", erode_rows_kernel<32, Src>, grid, block, 0, stream, src, dst, b, fw, ke, ke / 2);
    } else {
        launch("paste_insightface", erode_rows_kernel<8, Src>, grid, block, 0, stream, src, dst, b, fw, ke, ke / 2);
    }
}

// Erode along columns over B: one thread per column and kErodeRows consecutive rows (lanes
// = columns: every load is coalesced). Same split as the rows, with s = i0 - a:
// window of row i0 + k = [s + k, s + R - 1) ∪ [s + R - 1, s + ke) ∪ [s + ke, s + ke + k).
// 4, not 8: twice the threads (8 left 83 % of an H100's warps idle on the 4K box); 3.72
// against 5.61 us at 1080p, 7.57 against 8.31 at 4K (docs/results/h100-erode-rows4).
constexpr int kErodeRows = 4;  // <= 10 <= ke: the core is never empty
__global__ void erode_cols_kernel(const float* src, float* dst, Box b, int fh, int ke, int a) {
    wait_for_previous_grid();
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int i0 = (blockIdx.y * blockDim.y + threadIdx.y) * kErodeRows;
    if (j >= b.w || i0 >= b.h) return;
    const float* col = src + j;
    const long long step = b.w;
    const int s = i0 - a;
    float suf[kErodeRows];
    suf[kErodeRows - 1] = kBig;
#pragma unroll
    for (int q = kErodeRows - 2; q >= 0; --q) suf[q] = min2(erode_in(col, step, s + q, b.h, b.y1, fh), suf[q + 1]);
    const float core = range_min(col, step, s + kErodeRows - 1, s + ke, b.h, b.y1, fh);
    float pre = kBig;
#pragma unroll
    for (int k = 0; k < kErodeRows; ++k) {
        if (k > 0) pre = min2(pre, erode_in(col, step, s + ke + k - 1, b.h, b.y1, fh));
        if (i0 + k < b.h) dst[static_cast<long long>(i0 + k) * b.w + j] = min2(min2(suf[k], core), pre);
    }
}

// Blur register blocking: outputs per thread.
constexpr int kBlurK = 8;

// Fused multiply-adds per output: all fused, none, or per output (`mixed`: the thread's
// columns straddle the OpenCV 5 scalar tail, at most one thread per row).
enum class Fuse { All, None, Mixed };

// Row pass tile: 32 rows (lanes) x kRowGroups groups of kBlurK columns.
constexpr int kRowGroups = 8;
static_assert(32 % kRowGroups == 0, "each group loads the same number of tile rows");
constexpr int kRowTileW = kRowGroups * kBlurK;              // 64 output columns per block
constexpr int kRowChunk = 128;                              // stream steps per shared-memory load
constexpr int kRowSpan = kRowChunk + kRowTileW - kBlurK;    // positions a full chunk needs per row
constexpr int kRowPitch = kRowSpan + 1;                     // odd: the 32 rows fall in 32 banks
static_assert(kRowChunk % kBlurK == 0, "a chunk holds whole unrolled steps");
static_assert(kRowPitch >= kRowTileW, "the tile's results are staged in the value buffer");

// Steps t of one chunk for a thread whose outputs are columns c .. c + kBlurK - 1: value v_t
// (position c - r + t) feeds output k with weight w[t - k]; wr[t mod K] holds w[t] for the
// last K steps (zeros before step 0), so every index is static once t is unrolled.
template <Fuse F>
__device__ __forceinline__ void row_steps(const float* vals, const float* wts, int n, float* wr, float* acc,
                                          const bool* fused) {
    for (int t = 0; t < n; t += kBlurK) {
#pragma unroll
        for (int u = 0; u < kBlurK; ++u) {
            const float v = vals[t + u];
            wr[u] = wts[t + u];
#pragma unroll
            for (int k = 0; k < kBlurK; ++k) {
                const float w = wr[(u - k + kBlurK) % kBlurK];
                const bool f = F == Fuse::All ? true : (F == Fuse::None ? false : fused[k]);
                acc[k] = ins_madd(v, w, acc[k], f);
            }
        }
    }
}

// Row pass: H over B's rows and R's columns [rx1, rx1 + rw), H[i][c] = ins_blur_row at frame
// column rx1 + c. Each output starts from +0 and takes w[j] * v for j = 0 .. 2r in order,
// then steps with weight 0 (t - k past 2r, or before 0): +0 + v w0 = v w0 and s + v 0 = s
// exactly for these finite, non-negative values (no -0 arises), so the sum is the header's.
__global__ void row_blur_kernel(const float* e, float* h, Box b, int rx1, int rw, int fw, const float* kern, int r,
                                BlurMode mode) {
    wait_for_previous_grid();
    __shared__ float vals[32 * kRowPitch];
    __shared__ float wts[kRowChunk];
    const int lane = threadIdx.x, g = threadIdx.y, tid = g * 32 + lane;
    const int i0 = blockIdx.y * 32, c0 = blockIdx.x * kRowTileW;
    const int x_first = rx1 + c0 - r;  // frame column of the block's stream position 0
    const int ntaps = 2 * r + 1;
    const int nsteps = (ntaps + kBlurK - 1 + kBlurK - 1) / kBlurK * kBlurK;  // t in [0, 2r + K) rounded up
    bool fused[kBlurK];
    int nf = 0;
#pragma unroll
    for (int k = 0; k < kBlurK; ++k) {
        fused[k] = ins_row_fused(mode, rx1 + c0 + g * kBlurK + k, fw);
        nf += fused[k] ? 1 : 0;
    }
    float acc[kBlurK], wr[kBlurK];
#pragma unroll
    for (int k = 0; k < kBlurK; ++k) acc[k] = 0.0f, wr[k] = 0.0f;
    for (int t0 = 0; t0 < nsteps; t0 += kRowChunk) {
        const int n = min(kRowChunk, nsteps - t0);
        __syncthreads();  // the previous chunk is consumed
        for (int u = tid; u < n; u += blockDim.x * blockDim.y) wts[u] = t0 + u < ntaps ? kern[t0 + u] : 0.0f;
        const int span = n + kRowTileW - kBlurK;  // group g reads columns g K .. g K + n - 1
        for (int col = lane; col < span; col += 32) {
            const int x = reflect101(x_first + t0 + col, fw);
            const bool in_b = x >= b.x1 && x < b.x1 + b.w;
            float v[32 / kRowGroups];
#pragma unroll
            for (int q = 0; q < 32 / kRowGroups; ++q) {  // rows g, g + 8, ...: the loads overlap
                const int i = i0 + g + q * kRowGroups;
                v[q] = in_b && i < b.h ? e[static_cast<long long>(i) * b.w + (x - b.x1)] : 0.0f;
            }
#pragma unroll
            for (int q = 0; q < 32 / kRowGroups; ++q) vals[(g + q * kRowGroups) * kRowPitch + col] = v[q];
        }
        __syncthreads();
        const float* mine = vals + lane * kRowPitch + g * kBlurK;
        if (nf == kBlurK) {
            row_steps<Fuse::All>(mine, wts, n, wr, acc, fused);
        } else if (nf == 0) {
            row_steps<Fuse::None>(mine, wts, n, wr, acc, fused);
        } else {
            row_steps<Fuse::Mixed>(mine, wts, n, wr, acc, fused);
        }
    }
    __syncthreads();  // stage the 32 x 64 results in `vals`, then store them row by row
#pragma unroll
    for (int k = 0; k < kBlurK; ++k) vals[lane * kRowPitch + g * kBlurK + k] = acc[k];
    __syncthreads();
    for (int q = tid; q < 32 * kRowTileW; q += blockDim.x * blockDim.y) {
        const int row = q / kRowTileW, col = q % kRowTileW, i = i0 + row, c = c0 + col;
        if (i < b.h && c < rw) h[static_cast<long long>(i) * rw + c] = vals[row * kRowPitch + col];
    }
}

// Column pass register blocking: outputs (rows) per thread, and the launch's warps per block.
// Measured on an H100 (CUDA-graph call, docs/results/h100-b2689f6): with 8 rows a thread in
// blocks of 32 x 8 threads (378 blocks at 4K, under one wave, 78 registers) the SMs idled 30%
// of the kernel (Nsight Compute) and a 4K call took 62.3 us; blocks of 32 x 2 (1,512 blocks,
// all resident at once) even out the SMs' load: 59.0 us (32 x 4: 60.2). 4 rows a thread in
// 32 x 8 blocks (48 registers) is faster at 1080p (28.2 against 32.7 us) and no faster at 4K
// (62.2): each output then reads 20 values of H instead of 10.5 when the radius is 38.
// Two shapes, by the column pass's radius: short radii take 4 rows a thread in
// blocks of 32 x 8 (48 registers), long ones 8 rows in blocks of 32 x 2. The threshold lies
// between the two measured radii (19 at 1080p, 38 at 4K); measured in one run against the
// 32 x 2 form alone (docs/results/h100-628ecb2): 1080p 32.6 -> 28.0 us, 4K 58.4 -> 58.3.
constexpr int kColWideRadius = 28;

// Column pass at column x for rows y0 .. y0 + K - 1 (ins_blur_col): s = H(y) w[r], then
// s = madd(H(y + j) + H(y - j), w[r + j], s) for j = 1 .. r. P and Q hold the rows
// y0 + j + k and y0 - j + k (k < K) in slots (j + k) mod K and (k - j) mod K: one new row
// each per j, and with j unrolled every slot index is static.
template <int kColK, bool Fused, typename Get>
__device__ __forceinline__ void col_sums(const Get& get, const float* kern, int r, int y0, float* acc) {
    float P[kColK], Q[kColK];
#pragma unroll
    for (int k = 0; k < kColK; ++k) {
        P[k] = Q[k] = get(y0 + k);
        acc[k] = P[k] * kern[r];
    }
    for (int jb = 1; jb <= r; jb += kColK) {  // jb = 1 (mod K): j mod K = (u + 1) mod K
#pragma unroll
        for (int u = 0; u < kColK; ++u) {
            const int j = jb + u;
            if (j > r) break;
            P[(u + kColK) % kColK] = get(y0 + kColK - 1 + j);  // slot (K - 1 + j) mod K = u
            Q[(kColK - 1 - u) % kColK] = get(y0 - j);           // slot (-j) mod K = K - 1 - u
            const float w = kern[r + j];
#pragma unroll
            for (int k = 0; k < kColK; ++k) {
                const float t = P[(u + 1 + k) % kColK] + Q[(k + 2 * kColK - 1 - u) % kColK];
                acc[k] = ins_madd(t, w, acc[k], Fused);
            }
        }
    }
}

// Column pass and blend over R = [rx1, rx1 + rw) x [ry1, ry1 + rh): one thread per column
// and kColK consecutive rows.
template <WarpMode M, int kColK, int kColWarps>
__global__ void __launch_bounds__(32 * kColWarps, kColK == 8 ? 12 : 3)
    col_blend_kernel(const float* h, Box b, int rx1, int ry1, int rw, int rh, int fw, int fh, const float* kern, int r,
                     BlurMode mode, Image src, Image out, WarpParams crop, WarpCoeffs k) {
    wait_for_previous_grid();
    const bool new_frame = src.data != out.data;
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int yy0 = (blockIdx.y * blockDim.y + threadIdx.y) * kColK;
    if (c >= rw || yy0 >= rh) return;
    const int x = rx1 + c, y0 = ry1 + yy0;
    const float* hc = h + c;
    // H at frame row yv (0 outside B's rows); `get` reflects first, `get_in` serves threads
    // whose rows y0 - r .. y0 + K - 1 + r all lie in the frame (reflect101 is the identity there).
    auto get_in = [&](int yv) {
        return yv >= b.y1 && yv < b.y1 + b.h ? hc[static_cast<long long>(yv - b.y1) * rw] : 0.0f;
    };
    auto get = [&](int yv) { return get_in(reflect101(yv, fh)); };
    const bool inside = y0 - r >= 0 && y0 + kColK - 1 + r < fh;
    float g[kColK];
    if (ins_col_fused(mode, x, fw)) {
        if (inside) {
            col_sums<kColK, true>(get_in, kern, r, y0, g);
        } else {
            col_sums<kColK, true>(get, kern, r, y0, g);
        }
    } else if (inside) {
        col_sums<kColK, false>(get_in, kern, r, y0, g);
    } else {
        col_sums<kColK, false>(get, kern, r, y0, g);
    }
    // The blend: every load first (crop samples, then the frame's pixels), then the stores,
    // so the loads of the kColK pixels overlap instead of waiting on each other's stores.
    // Where G == 0 the pixel keeps the frame's value (m = 0 keeps it exactly): in place it is
    // not touched, into a new frame it is copied (the outer copy leaves R to this kernel).
    bool live[kColK], copy[kColK];
    float px[kColK][3];
    std::uint8_t o[kColK][3];
#pragma unroll
    for (int q = 0; q < kColK; ++q) {
        live[q] = yy0 + q < rh && g[q] != 0.0f;
        copy[q] = yy0 + q < rh && (live[q] || new_frame);
        if (live[q]) warp_sample<M, std::uint8_t, 3>(crop, k, x, y0 + q, px[q]);
    }
#pragma unroll
    for (int q = 0; q < kColK; ++q) {
        if (!copy[q]) continue;
        const std::uint8_t* from = row_ptr<std::uint8_t>(src, 0, y0 + q) + x * 3;
        o[q][0] = from[0], o[q][1] = from[1], o[q][2] = from[2];
    }
#pragma unroll
    for (int q = 0; q < kColK; ++q) {
        if (!copy[q]) continue;
        if (live[q]) ins_blend(o[q], px[q], g[q]);
        std::uint8_t* dst = row_ptr_mut<std::uint8_t>(out, 0, y0 + q) + x * 3;
        dst[0] = o[q][0], dst[1] = o[q][1], dst[2] = o[q][2];
    }
}

int blocks(long long n, int per) { return static_cast<int>((n + per - 1) / per); }

template <WarpMode M>
bool run(const InsParams& p, const InsFace& f, cudaStream_t stream) {
    const int fw = p.out.w, fh = p.out.h, cw = p.crop.w, ch = p.crop.h;
    const std::size_t row_bytes = static_cast<std::size_t>(fw) * 3, total = row_bytes * static_cast<std::size_t>(fh);
    const bool dense = static_cast<std::size_t>(p.out.stride) == row_bytes &&
                       static_cast<std::size_t>(p.frame.stride) == row_bytes;
    // A new frame where no kernel runs, or not copied beside them (below): one copy first,
    // 1-D for dense frames (on an H100 a 4K frame took 18.3 us so and 33.3 us as a 2-D
    // copy of the same rows).
    const auto copy_frame = [&] {
        const void* src = reinterpret_cast<const void*>(p.frame.data);
        void* dst = reinterpret_cast<void*>(p.out.data);
        check_cuda(dense ? cudaMemcpyAsync(dst, src, total, cudaMemcpyDeviceToDevice, stream)
                         : cudaMemcpy2DAsync(dst, p.out.stride, src, p.frame.stride, row_bytes, fh,
                                             cudaMemcpyDeviceToDevice, stream),
                   "paste_insightface: frame copy");
    };
    const Box b{f.bx1, f.by1, f.bx2 - f.bx1, f.by2 - f.by1};
    if (b.w <= 0 || b.h <= 0 || f.ey1 < 0) {  // f.ey1 < 0: stock's np.max of an empty array
        if (!p.in_place) copy_frame();
        return false;
    }
    int ke, r;
    ins_sizes(f.ey1 - f.ey0, f.ex1 - f.ex0, &ke, &r);
    if (r > f.rmax) throw std::logic_error("paste_insightface: blur radius above its bound");
    if (ke < kErodeRows) throw std::logic_error("paste_insightface: erode size below its bound");
    // A 1-column (1-row) frame: cv2 skips the row (column) pass, the 1-tap kernel {1}
    // (ins_pass_radius). Radius of each pass, and R, the pixels the blend writes:
    const int r_row = ins_pass_radius(fw, r), r_col = ins_pass_radius(fh, r);
    const int rx1 = f.bx1 - r_row > 0 ? f.bx1 - r_row : 0, rx2 = f.bx2 + r_row < fw ? f.bx2 + r_row : fw;
    const int ry1 = f.by1 - r_col > 0 ? f.by1 - r_col : 0, ry2 = f.by2 + r_col < fh ? f.by2 + r_col : fh;
    const int rw = rx2 - rx1, rh = ry2 - ry1;
    // A new frame: the blend writes every pixel of R (the frame's own value where G == 0),
    // so only the rest is copied, and that copy (bandwidth-bound: 18 of 69 us at 4K on an
    // H100 when it ran first) goes on a side stream beside every kernel below, which read
    // only the crop, the frame and the workspace; it is joined when the call ends. Frames
    // dense, 16-byte aligned and under 2^31 bytes (torch and cupy frames are) only; how fast
    // and why so: copy_outside.h.
    std::optional<SideBranch> side;
    if (!p.in_place) {
        const auto src = reinterpret_cast<const unsigned char*>(p.frame.data);
        const auto dst = reinterpret_cast<unsigned char*>(p.out.data);
        if (dense && outer_copy_fits(src, dst, total)) side.emplace(stream);
        if (side && side->forked()) {
            copy_outside(OuterCopy::of(src, dst, row_bytes, fh, rx1 * 3, rx2 * 3, ry1, ry2), side->multiprocessors(),
                         side->stream());
        } else {
            copy_frame();
        }
    }
    const InsLayout lay = ins_layout(f, cw);
    float* white = p.ws + lay.white;
    float* t = p.ws + lay.t;
    float* e = p.ws + lay.e;
    float* hbuf = p.ws + lay.h;
    float* kern = p.ws + lay.kern;
    const int ks = 2 * r + 1;
    std::vector<float> kh(ks + 1);
    ins_gaussian_kernel(ks, kh.data());
    kh[ks] = 1.0f;  // the 1-tap kernel of a skipped pass (ins_pass_radius)
    for (int k0 = 0; k0 < ks + 1; k0 += kKernChunk) {
        KernChunk chunk;
        const int kn = std::min(kKernChunk, ks + 1 - k0);
        for (int i = 0; i < kn; ++i) chunk.w[i] = kh[k0 + i];
        const int n = std::max(k0 == 0 ? cw : 0, kn);
        launch("paste_insightface", init_kernel, dim3((n + 255) / 256), dim3(256), 0, stream, white, k0 == 0 ? cw : 0,
               kern, k0, kn, chunk);
    }
    const WarpParams wp = ins_white_params(white, cw, ch, fw);
    const dim3 block(32, 8);
    if (ke <= kFuseMaxKe) {
        erode_rows(FromMask<M>{wp, f.k}, e, b, fw, ke, stream);
    } else {
        launch("paste_insightface", mask_kernel<M>, dim3(blocks(b.w, 32), blocks(b.h, 8)), block, 0, stream, wp, f.k, b,
               t);
        erode_rows(FromBuffer{t}, e, b, fw, ke, stream);
    }
    launch("paste_insightface", erode_cols_kernel, dim3(blocks(b.w, 32), blocks(b.h, 8 * kErodeRows)), block, 0,
           stream, e, t, b, fh, ke, ke / 2);
    const float* k_row = r_row == r ? kern : kern + ks;
    const float* k_col = r_col == r ? kern : kern + ks;
    launch("paste_insightface", row_blur_kernel, dim3(blocks(rw, kRowTileW), blocks(b.h, 32)), dim3(32, kRowGroups), 0,
           stream, t, hbuf, b, rx1, rw, fw, k_row, r_row, p.blur);
    const auto col_blend = [&](auto rows, auto warps) {
        constexpr int K = decltype(rows)::value, W = decltype(warps)::value;
        launch("paste_insightface", col_blend_kernel<M, K, W>, dim3(blocks(rw, 32), blocks(rh, W * K)), dim3(32, W), 0,
               stream, hbuf, b, rx1, ry1, rw, rh, fw, fh, k_col, r_col, p.blur, p.frame, p.out,
               ins_crop_params(p.crop, fw), f.k);
    };
    if (r_col >= kColWideRadius) {
        col_blend(std::integral_constant<int, 8>{}, std::integral_constant<int, 2>{});
    } else {
        col_blend(std::integral_constant<int, 4>{}, std::integral_constant<int, 8>{});
    }
    if (side) side->join();
    return true;
}

}  // namespace

bool paste_insightface(const InsParams& p, const InsFace& f, std::uintptr_t stream) {
    const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
    if (p.warp == WarpMode::OpenCV5) return run<WarpMode::OpenCV5>(p, f, s);
    if (p.warp == WarpMode::OpenCV4) return run<WarpMode::OpenCV4>(p, f, s);
    throw std::invalid_argument("paste_insightface: warp mode must be OpenCV4 or OpenCV5");
}

}  // namespace ffaccel::cuda
