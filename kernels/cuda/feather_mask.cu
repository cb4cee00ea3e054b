// CUDA kernels for feather_mask. Both give every pixel the exact tap sequence of
// feather_column()/feather_row() (ffaccel/feather_mask.h), so the bytes equal the CPU's.
//
// Tiled kernel (radius <= kTileMaxRadius, the usual face-mask sigmas up to 12): one block per
// kTileW x kTileH output tile. Phase 1 computes the vertical sums of the tile's rows for the
// tile's columns plus a reflected halo of `radius` columns each side, into shared memory. Each
// thread owns one column and kRowsPerThread consecutive output rows: it streams the source rows
// once, top to bottom, and adds each row to every accumulator whose tap window contains it.
// Streaming top to bottom visits the taps of each output in ascending order, so each sum is the
// reference's sum. Phase 2 sums the horizontal taps from shared memory, 4 adjacent output
// columns a thread over a register window of the sums (see the kernel).
// Why: the row kernel below re-reads 2r+1 source rows for every output row and waits on each
// load in turn; on a 512 x 512 mask at sigma 8 it took about 45 us of device time on an H100,
// three times the warp and the paste together.
//
// Staged tile kernel (the usual case: vertical pass, radius <= kStageMaxRadius = 32): the tiled
// kernel with the tile's source rows copied into shared memory first (see the kernel).
//
// Row kernel (any radius up to kFeatherMaxRadius): one block per output row, vertical sums of
// the row to shared memory, then the horizontal taps from there. No intermediate image, so
// nothing is allocated and `src` is never written.
#include "ffaccel/feather_mask.h"

#include <stdexcept>

#include "cuda_check.h"
#include "launch.h"

namespace ffaccel::cuda {
namespace {

struct FeatherTaps {
    float w[kFeatherMaxTaps];
};

// Kernel arguments must stay within 4 KB (see kFeatherMaxRadius).
static_assert(sizeof(FeatherTaps) + sizeof(FeatherParams) <= 4000, "feather_mask kernel arguments exceed 4 KB");

constexpr int kThreads = 256;
constexpr int kTileW = 64;
constexpr int kTileH = 16;
// Accumulators per thread in phase 1. 4, with 512 threads a block (twice the warps, for the
// latency), was slower: 15.19 against 11.59 us (H100, 512 x 512, sigma 8, docs/results/h100-4e07a68).
constexpr int kRowsPerThread = 8;
constexpr int kRowGroups = kTileH / kRowsPerThread;
// Phase 2: each thread computes kOutCols adjacent output columns of one row, and takes the taps
// kOutCols at a time (one float4 of sums and one float4 of taps a chunk).
constexpr int kOutCols = 4;
constexpr int kOutThreadsPerRow = kTileW / kOutCols;
static_assert(kTileW % kOutCols == 0 && kThreads == kOutThreadsPerRow * kTileH, "phase 2 must cover the tile exactly");
constexpr int kTileMaxRadius = 48;
constexpr int kTileMaxCols = kTileW + 2 * kTileMaxRadius;
static_assert(kTileH % kRowsPerThread == 0, "tile rows must split into whole row groups");
constexpr int round_up4(int n) { return (n + 3) / 4 * 4; }
// Row pitch of the sums in shared memory: a multiple of 4 floats, so every chunk's float4 is
// 16-byte aligned, and at least 8 floats past the widest row (kTileMaxCols) so that the window
// loads of the last chunk, which may reach past the row's used columns, stay inside the array
// (the loads as written reach at most 4 past it: the static_assert below checks the bound).
constexpr int kSumsPitch = round_up4(kTileMaxCols + 8);
// Phase 2's furthest read: the last thread of a row (columns kTileW - kOutCols ..) loads
// sums[c + i0 + 4 .. c + i0 + 7] for its last chunk i0, the largest multiple of 4 below
// ntaps = 2r + 1 (at most 2 * kTileMaxRadius). Its last needed value is c + 3 + 2r.
static_assert(kTileW - kOutCols + 2 * kTileMaxRadius / 4 * 4 + 7 < kSumsPitch, "phase 2 reads past a row of sums");
// The taps likewise: a chunk loads taps[i0 .. i0 + 3], so the array is rounded up to whole float4s.
constexpr int kTapsPitch = round_up4(2 * kTileMaxRadius + 1);
static_assert(2 * kTileMaxRadius / 4 * 4 + 3 < kTapsPitch, "phase 2 reads past the taps");
// Shared memory of the tiled kernel: taps, then kTileH rows of vertical sums.
constexpr size_t kTileShared = (kTapsPitch + kTileH * kSumsPitch) * sizeof(float);
static_assert(kTileShared <= 48 * 1024, "feather_mask tile exceeds the default shared memory");

// The tiled kernel's taps: kTileMaxRadius bounds its radius, so its argument block is 388 bytes
// instead of FeatherTaps's 3,844 (why: the driver copies every launch's whole argument block,
// and the feather launch is one of three in a face's paste).
struct TileTaps {
    float w[2 * kTileMaxRadius + 1];
};

// The taps of kRowsPerThread consecutive outputs of one column: acc[k] += taps[i] * load(i + k),
// i = 0 .. ntaps - 1 in order; load(t) is source row offset t (a row at most ntaps + R - 2;
// the window also loads offsets up to R past that, which no tap uses, so `load` must be
// safe there: it clamps, or its rows are padded). The taps run in chunks of R over a register
// window of 2R rows: a whole chunk is R reads of taps and R x R multiply-adds, with no test per
// tap. Whole chunks run two at a time, the second reading the window's halves the other way
// round, so no register is copied from one chunk to the next (the one-chunk loop spent 8 moves
// a chunk on that copy); the last, partial chunk follows the loop.
template <class Load>
__device__ __forceinline__ void window_taps(const float* taps, int ntaps, Load load, float (&acc)[kRowsPerThread]) {
    constexpr int R = kRowsPerThread;
    float lo[R], hi[R];  // window rows i0 .. i0 + R - 1 and i0 + R .. i0 + 2R - 1
    // chunk i0 with the window's first half in `a`: loads the second half into `b`, then the taps
    auto chunk = [&](int i0, float (&a)[R], float (&b)[R]) {
#pragma unroll
        for (int q = 0; q < R; ++q) b[q] = load(i0 + R + q);
#pragma unroll
        for (int q = 0; q < R; ++q) {
            const float w = taps[i0 + q];
#pragma unroll
            for (int k = 0; k < R; ++k) acc[k] = feather_tap(acc[k], w, q + k < R ? a[q + k] : b[q + k - R]);
        }
    };
#pragma unroll
    for (int q = 0; q < R; ++q) lo[q] = load(q);
    int i0 = 0;
    for (; i0 + 2 * R <= ntaps; i0 += 2 * R) {
        chunk(i0, lo, hi);
        chunk(i0 + R, hi, lo);
    }
    if (i0 + R <= ntaps) {  // one whole chunk left: its second half becomes the tail's first
        chunk(i0, lo, hi);
        i0 += R;
#pragma unroll
        for (int q = 0; q < R; ++q) lo[q] = hi[q];
    }
    if (i0 < ntaps) {  // the last, partial chunk
#pragma unroll
        for (int q = 0; q < R; ++q) hi[q] = load(i0 + R + q);
#pragma unroll
        for (int q = 0; q < R; ++q) {
            if (i0 + q < ntaps) {
                const float w = taps[i0 + q];
#pragma unroll
                for (int k = 0; k < R; ++k) acc[k] = feather_tap(acc[k], w, q + k < R ? lo[q + k] : hi[q + k - R]);
            }
        }
    }
}

// Phase 1's vertical sums of one column x for output rows first .. first + kRowsPerThread - 1:
// acc[k] = sum_i taps[i] * src[reflect(first + k - r + i)][x], i = 0 .. 2r in order. Tap i of
// row first + k reads source row offset t = i + k (row first - r + t). The taps run as
// window_taps (chunks of R = kRowsPerThread over a register window of 2R rows). Why: the
// earlier form tested every (row, tap) pair and reflected every row; those tests and index
// sums were over half of the kernel's instructions (Nsight Compute, H100: 8.5 M instructions,
// 3.4 M of them the FP32 multiply-adds). Rows far enough from the top and bottom edge (all of a
// 512-row mask's tiles but the first and last few) step a pointer instead of reflecting.
// Measured: 12.47 -> 11.59 us of device time (H100, 512 x 512, sigma 8).
template <typename T>
__device__ __forceinline__ void vertical_sums(const FeatherParams& p, const float* taps, int x, int first,
                                              float (&acc)[kRowsPerThread]) {
    constexpr int R = kRowsPerThread;
    const int r = p.radius, ntaps = 2 * r + 1, last = ntaps + R - 2;  // last offset any tap reads
    const int top = first - r;
    const bool inside = top >= 0 && top + last < p.src.h;
    const char* column = reinterpret_cast<const char*>(p.src.data) + static_cast<std::int64_t>(x) * sizeof(T);
    // Offsets past `last` (the tail of the final chunk) are clamped to it: loaded, never used.
    auto load = [&](int t) {
        t = min(t, last);
        const int y = inside ? top + t : reflect101(top + t, p.src.h);
        return static_cast<float>(*reinterpret_cast<const T*>(column + y * p.src.stride));
    };
    window_taps(taps, ntaps, load, acc);
}

// Phase 2 of the tile kernels: the horizontal taps over the vertical sums in shared memory
// (`sums`: kTileH rows of kSumsPitch floats, column j the vertical sum at source column
// reflect(x0 - r + j)), and the stores of the tile's outputs.
template <typename T>
__device__ __forceinline__ void horizontal_pass(const FeatherParams& p, const float* taps, const float* sums, int x0,
                                                int y0) {
    const int r = p.radius, ntaps = 2 * r + 1;
    // Horizontal taps. Thread t computes output row k = t / kOutThreadsPerRow, columns
    // c .. c + 3 of the tile (c = 4 * (t % kOutThreadsPerRow)); output column c + u is
    // acc = feather_tap(acc, taps[i], sums[k][c + u + i]) for i = 0 .. 2r in order, from 0.
    // The taps run in chunks of 4 over a register window w[0 .. 7] = sums[k][c + i0 .. c + i0 + 7]:
    // tap i0 + q of column u reads w[q + u]. A chunk is one float4 of sums (w[4 .. 7]; w[0 .. 3]
    // is the previous chunk's w[4 .. 7]), one float4 of taps and 16 multiply-adds. Each column's
    // sum still takes its taps one at a time in ascending order, so the bits do not change.
    // Why: the earlier form (4 rows of one column a thread) did one 4-byte shared read per tap
    // and output, 260 reads for 260 multiply-adds at radius 32; now there are 2 reads (16 bytes
    // each) per 16 multiply-adds. The gain is small, since phase 1 and the grid's fill (0.39 of
    // a wave) weigh more: H100, 512 x 512, sigma 8, three rounds in one run, 11.50-11.61 ->
    // 11.10-11.18 us of device time (docs/results/h100-280ed94).
    // Bank conflicts: a quarter warp's float4 reads cover 128 contiguous bytes of one row, and
    // the taps' float4 is one address for the whole warp (a broadcast). The window's float4 is
    // loaded at the start of each chunk, so no load follows the last one.
    const int k = threadIdx.x / kOutThreadsPerRow, c = kOutCols * (threadIdx.x % kOutThreadsPerRow);
    const float* row = sums + k * kSumsPitch + c;
    float acc[kOutCols];
    if (!p.horizontal) {
#pragma unroll
        for (int u = 0; u < kOutCols; ++u) acc[u] = row[r + u];
    } else {
#pragma unroll
        for (int u = 0; u < kOutCols; ++u) acc[u] = 0.0f;
        // w[0 .. 3] and w[4 .. 7] of the comment above; a chunk reads its window as (a, b), the
        // next one as (b, a), so whole chunks run two at a time with no register copied between
        float lo[4], hi[4];
        const float4 head = *reinterpret_cast<const float4*>(row);
        lo[0] = head.x, lo[1] = head.y, lo[2] = head.z, lo[3] = head.w;
        // Chunk i0 with the window's first half in `a`: loads its second half (16-byte aligned:
        // c and i0 are multiples of 4) into `b` and the chunk's taps, then sums the taps
        // (n of them: 4, or 1 or 3 for the last, partial chunk; ntaps is odd).
        auto chunk = [&](int i0, int n, float (&a)[4], float (&b)[4]) {
            const float4 next = *reinterpret_cast<const float4*>(row + i0 + 4);
            b[0] = next.x, b[1] = next.y, b[2] = next.z, b[3] = next.w;
            const float4 t = *reinterpret_cast<const float4*>(taps + i0);
            const float tq[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                if (q < n) {
#pragma unroll
                    for (int u = 0; u < kOutCols; ++u)
                        acc[u] = feather_tap(acc[u], tq[q], q + u < 4 ? a[q + u] : b[q + u - 4]);
                }
            }
        };
        int i0 = 0;
        for (; i0 + 8 <= ntaps; i0 += 8) {  // whole chunks, two at a time: no test per tap
            chunk(i0, 4, lo, hi);
            chunk(i0 + 4, 4, hi, lo);
        }
        if (i0 + 4 <= ntaps) {  // one whole chunk left: the partial one reads its second half
            chunk(i0, 4, lo, hi);
            i0 += 4;
#pragma unroll
            for (int q = 0; q < 4; ++q) lo[q] = hi[q];
        }
        if (i0 < ntaps) chunk(i0, ntaps - i0, lo, hi);  // the last, partial chunk
    }
    const int y = y0 + k;
    if (y >= p.src.h) return;
    T* out = row_ptr_mut<T>(p.dst, 0, y);
#pragma unroll
    for (int u = 0; u < kOutCols; ++u) {
        const int x = x0 + c + u;
        if (x < p.src.w) out[x] = store_as<T>(acc[u]);
    }
}

template <typename T>
__global__ void feather_tile_kernel(FeatherParams p, TileTaps taps_arg) {
    wait_for_previous_grid();
    // 16-byte aligned for phase 2's float4 reads. Taps past ntaps and sums past a row's `cols`
    // columns are never written: phase 2's float4 reads load some of them, and never use them.
    // (Zero-filling the taps' tail took the uint8 instantiation from 48 to 56 registers, ptxas of
    // CUDA 13, sm_90.)
    __shared__ __align__(16) float taps[kTapsPitch];
    __shared__ __align__(16) float sums[kTileH][kSumsPitch];
    const int r = p.radius, ntaps = 2 * r + 1, cols = kTileW + 2 * r;
    const int x0 = blockIdx.x * kTileW, y0 = blockIdx.y * kTileH;
    for (int i = threadIdx.x; i < ntaps; i += blockDim.x) taps[i] = taps_arg.w[i];
    __syncthreads();

    // Phase 1: sums[k][j] = vertical sum of output row y0 + k at column reflect(x0 - r + j).
    for (int item = threadIdx.x; item < cols * kRowGroups; item += blockDim.x) {
        const int j = item % cols, group = item / cols;
        const int x = reflect101(x0 - r + j, p.src.w);
        const int first = y0 + group * kRowsPerThread;  // first output row of this group
        float acc[kRowsPerThread];
        if (!p.vertical) {
#pragma unroll
            for (int k = 0; k < kRowsPerThread; ++k) {
                const int y = min(first + k, p.src.h - 1);  // rows past the image are never stored
                acc[k] = static_cast<float>(row_ptr<T>(p.src, 0, y)[x]);
            }
        } else {
#pragma unroll
            for (int k = 0; k < kRowsPerThread; ++k) acc[k] = 0.0f;
            vertical_sums<T>(p, taps, x, first, acc);
        }
#pragma unroll
        for (int k = 0; k < kRowsPerThread; ++k) sums[group * kRowsPerThread + k][j] = acc[k];
    }
    __syncthreads();

    horizontal_pass<T>(p, taps, &sums[0][0], x0, y0);
}

// Staged tile kernel (vertical pass, radius <= kStageMaxRadius): the tiled kernel with its
// source rows first copied into shared memory by the whole block, so phase 1's taps read
// shared memory. Why: phase 1 of the tiled kernel streams each column's 2r + 8 source rows
// from global memory in chunks of 8, one memory latency per chunk, 9 in a row at sigma 8,
// with too few warps on an SM (2 blocks of 8) to hide them; staging issues every load of the
// tile at once (kStageUnroll rows x up to 4 columns a thread in flight). Each output still
// takes its vertical taps in ascending order from the same values, then phase 2 is the
// tiled kernel's, so the bytes do not change. The tile (kTileH + 2r rows of kTileW + 2r
// columns at pitch kStagePitch, the source's own type) and the sums share one shared-memory block: the sums are
// written after every thread has read the tile. Measured (H100, 512 x 512 float, sigma 8,
// two builds alternating in one run): 11.11 -> 9.72 us of device time
// (docs/results/h100-feather-d8c92a5), less than expected: the load rounds were not most of it.
// Then the fixed pitch (kStagePitch) and the paired chunks of window_taps and horizontal_pass:
// 9.72 -> 8.02 us (same run, two builds; docs/results/h100-feather2-9173501).
constexpr int kStageMaxRadius = 32;  // cols <= 128: one phase-1 item per thread (kThreads = 2 x 128)
constexpr int kStageUnroll = 4;      // rows a warp loads before it stores them
// The staged tile's row pitch (elements), the same for every radius: a compile-time pitch makes
// every phase-1 load one shared-memory read at a constant offset from a pointer stepped once a
// chunk (with the radius's `cols` as pitch each load cost a multiply, an add and a clamp: 3 of
// every 5 non-arithmetic instructions of phase 1's chunk, CUDA 13 sm_90 SASS).
constexpr int kStagePitch = kTileW + 2 * kStageMaxRadius;
constexpr int kStageColsPerLane = (kStagePitch + 31) / 32;
static_assert(kStagePitch * kRowGroups <= kThreads, "staged phase 1: one item per thread");

// Rows of the staged tile for radius r: kTileH + 2r source rows, then kRowsPerThread rows of
// padding that window_taps's window reads past the last tap (never written, never used in a
// sum), so its loads need no clamp.
constexpr int staged_rows(int r) { return kTileH + 2 * r + kRowsPerThread; }

// Shared memory of the staged kernel for radius r and source element size `elem` (bytes).
constexpr size_t staged_shared(int r, size_t elem) {
    const size_t tile = static_cast<size_t>(staged_rows(r)) * kStagePitch * elem;
    const size_t sums = static_cast<size_t>(kTileH) * kSumsPitch * sizeof(float);
    return kTapsPitch * sizeof(float) + (tile > sums ? tile : sums);
}
static_assert(staged_shared(kStageMaxRadius, sizeof(float)) <= 48 * 1024, "staged tile exceeds the default shared memory");

template <typename T>
__global__ void __launch_bounds__(kThreads) feather_staged_kernel(FeatherParams p, TileTaps taps_arg) {
    wait_for_previous_grid();
    extern __shared__ __align__(16) float staged[];
    float* taps = staged;                   // kTapsPitch floats
    float* sums = staged + kTapsPitch;      // kTileH rows of kSumsPitch floats, after the tile is read
    T* tile = reinterpret_cast<T*>(sums);   // staged_rows(r) rows of kStagePitch source values, before
    const int r = p.radius, ntaps = 2 * r + 1, cols = kTileW + 2 * r, rows = kTileH + 2 * r;
    const int x0 = blockIdx.x * kTileW, y0 = blockIdx.y * kTileH;
    for (int i = threadIdx.x; i < ntaps; i += blockDim.x) taps[i] = taps_arg.w[i];
    // Stage: tile row t is source row reflect(y0 - r + t), tile column j source column
    // reflect(x0 - r + j). Warp w takes rows w, w + 8, ...; its lanes take columns lane, lane + 32, ...
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    int src_x[kStageColsPerLane];
#pragma unroll
    for (int q = 0; q < kStageColsPerLane; ++q) src_x[q] = reflect101(x0 - r + lane + 32 * q, p.src.w);
    for (int t0 = warp; t0 < rows; t0 += warps * kStageUnroll) {
        T v[kStageUnroll][kStageColsPerLane];
#pragma unroll
        for (int u = 0; u < kStageUnroll; ++u) {  // every load first, then the stores
            const int t = t0 + u * warps;
            if (t >= rows) break;
            const T* src_row = row_ptr<T>(p.src, 0, reflect101(y0 - r + t, p.src.h));
#pragma unroll
            for (int q = 0; q < kStageColsPerLane; ++q)
                if (lane + 32 * q < cols) v[u][q] = __ldg(src_row + src_x[q]);
        }
#pragma unroll
        for (int u = 0; u < kStageUnroll; ++u) {
            const int t = t0 + u * warps;
            if (t >= rows) break;
#pragma unroll
            for (int q = 0; q < kStageColsPerLane; ++q)
                if (lane + 32 * q < cols) tile[t * kStagePitch + lane + 32 * q] = v[u][q];
        }
    }
    __syncthreads();

    // Phase 1 (one item a thread): the vertical sums of output rows y0 + 8 g .. y0 + 8 g + 7 at
    // tile column j, the taps in chunks of R over a register window as vertical_sums.
    constexpr int R = kRowsPerThread;
    const int item = threadIdx.x, j = item % cols, group = item / cols;
    const bool active = group < kRowGroups;
    float acc[R];
#pragma unroll
    for (int k = 0; k < R; ++k) acc[k] = 0.0f;
    if (active) {
        // tile row group * R + t at column[t * kStagePitch]; offsets past the last tap's
        // (ntaps + R - 2) read the padding rows (staged_rows)
        const T* column = tile + group * R * kStagePitch + j;
        auto load = [&](int t) { return static_cast<float>(column[t * kStagePitch]); };
        window_taps(taps, ntaps, load, acc);
    }
    __syncthreads();  // every thread has read the tile: its space takes the sums
    if (active) {
#pragma unroll
        for (int k = 0; k < R; ++k) sums[(group * R + k) * kSumsPitch + j] = acc[k];
    }
    __syncthreads();

    horizontal_pass<T>(p, taps, sums, x0, y0);
}

template <typename T>
__global__ void feather_row_kernel(FeatherParams p, FeatherTaps taps) {
    wait_for_previous_grid();
    extern __shared__ float column[];
    const int y = blockIdx.x;
    for (int x = threadIdx.x; x < p.src.w; x += blockDim.x) column[x] = feather_column<T>(p, taps.w, x, y);
    __syncthreads();
    T* out = row_ptr_mut<T>(p.dst, 0, y);
    for (int x = threadIdx.x; x < p.src.w; x += blockDim.x) out[x] = store_as<T>(feather_row(p, taps.w, column, x));
}

template <typename T>
struct FeatherLaunch {
    static void run(const FeatherParams& p, const float* taps, cudaStream_t stream) {
        const int tile_rows = (p.src.h + kTileH - 1) / kTileH;
        if (p.radius <= kTileMaxRadius && tile_rows <= 65535) {  // 65535: the limit of gridDim.y
            TileTaps tile_taps{};
            for (int i = 0; i <= 2 * p.radius; ++i) tile_taps.w[i] = taps[i];
            const dim3 grid((p.src.w + kTileW - 1) / kTileW, tile_rows);
            if (p.vertical && p.radius <= kStageMaxRadius) {
                launch("feather_mask", feather_staged_kernel<T>, grid, dim3(kThreads), staged_shared(p.radius, sizeof(T)),
                       stream, p, tile_taps);
            } else {
                launch("feather_mask", feather_tile_kernel<T>, grid, dim3(kThreads), 0, stream, p, tile_taps);
            }
        } else {
            FeatherTaps row_taps{};
            for (int i = 0; i <= 2 * p.radius; ++i) row_taps.w[i] = taps[i];
            const size_t shared = static_cast<size_t>(p.src.w) * sizeof(float);
            launch("feather_mask", feather_row_kernel<T>, dim3(p.src.h), dim3(kThreads), shared, stream, p, row_taps);
        }
    }
};

}  // namespace

void feather_mask(const FeatherParams& p, const float* taps, std::uintptr_t stream) {
    if (p.radius < 0 || p.radius > kFeatherMaxRadius) throw std::invalid_argument("feather_mask: kernel too wide");
    if (p.src.w > kFeatherMaxWidth) throw std::invalid_argument("feather_mask: mask too wide for the GPU kernel");
    if (!dispatch_feather<FeatherLaunch>(p.src.dtype, p, taps, reinterpret_cast<cudaStream_t>(stream))) {
        throw std::invalid_argument("feather_mask: unsupported dtype");
    }
}

}  // namespace ffaccel::cuda
