// CUDA kernel for paste_back, one launch per group of 32 faces (face_groups.h). Faces are
// looped inside a pixel's thread, in order, so overlapping faces compose exactly as
// successive calls would.
//
// Only the pixels of the region, p.region_* (the union of the faces' paste areas,
// paste_region), can change; they get one thread each (paste_pixel, in 32 x 8 tiles).
// Into a new frame everything else is a plain copy, done in the same launch by blocks of
// its own: a warp copies one piece of a row's bytes outside the region, in 16-byte words
// where frame and out allow (warp_copy.h). A copy at one thread per pixel, 3 bytes each,
// was about as slow as the whole blend (H100, 1080p frame, one 512 x 512 face: 10.4 us
// into a new frame against 5.9 us in place). The copy's blocks come first in the grid,
// so the bandwidth-bound copy starts at once and the blend's tiles fill the SMs around it.
// Copy and tiles write disjoint bytes (byte stores never touch their neighbours), so
// every byte is the one the per-pixel copy wrote.
#include "ffaccel/paste_back.h"

#include <climits>
#include <stdexcept>

#include "cuda_check.h"
#include "launch.h"
#include "face_groups.h"
#include "warp_copy.h"

namespace ffaccel::cuda {
namespace {

constexpr int kThreads = 256, kWarps = kThreads / 32;
constexpr int kTileW = 32, kTileH = kThreads / kTileW;

// How one launch shares its blocks out: the first copy_blocks copy a new frame outside
// the region, the rest take a 32 x 8 tile each of the pixels [x0, x0 + w) x [y0, y0 + h).
struct PasteGrid {
    int copy_blocks;     // 0 in place, and for every group of faces after the first
    int pieces_per_row;  // copy warps a row
    int tiles_x;
    int x0, y0, w, h;
};

// A row's bytes outside the region, [0, gap_at) and [gap_at + gap, row_bytes), numbered
// without the gap as [0, outside), cut into `pieces` of whole 16-byte units (aligned
// where the row start is), one a copy warp. The first bound at or past the gap is moved
// onto it, so no piece straddles the gap and each warp copies one span: a warp copying
// two spans (one call site each, or a loop over them) took 42 or 66 registers where the
// blend's tiles take 32 to 40 (ptxas, sm_90), and the whole kernel would run at the lower
// occupancy.
struct RowPieces {
    int outside, gap_at, gap, units, pieces, gap_bound;

    __device__ __forceinline__ RowPieces(int row_bytes, int region_from, int region_to, int pieces_)
        : outside(row_bytes - (region_to - region_from)), gap_at(region_from), gap(region_to - region_from),
          units((outside + 15) / 16), pieces(pieces_), gap_bound(-1) {
        if (gap_at > 0 && gap_at < outside) {  // bytes on both sides; pieces >= 2, so bound pieces - 1 is inner
            const long long first = (static_cast<long long>((gap_at + 15) / 16) * pieces + units - 1) / units;
            gap_bound = static_cast<int>(first < pieces - 1 ? first : pieces - 1);
        }
    }

    // Bound j, 0 .. pieces, from 0 to outside. Still monotonic with the moved bound: the
    // bound before it is below the gap (it is the first at or past it, or pieces - 1 when
    // none of the inner ones is), the bound after it is at or past the gap.
    __device__ __forceinline__ int bound(int j) const {
        if (j == gap_bound) return gap_at;
        const long long at = 16 * (static_cast<long long>(units) * j / pieces);
        return at < outside ? static_cast<int>(at) : outside;
    }
};

// The copy warp `warp` (0 .. h * pieces): one piece of row y.
template <int C>
__device__ void copy_outside_piece(const PasteParams& p, int pieces, int warp, int lane) {
    const int y = warp / pieces, k = warp - y * pieces;
    const bool region_row = y >= p.region_y1 && y < p.region_y2;
    const int row_bytes = p.out.w * C;
    const RowPieces row(row_bytes, region_row ? p.region_x1 * C : row_bytes, region_row ? p.region_x2 * C : row_bytes,
                        pieces);
    const int begin = row.bound(k), end = row.bound(k + 1);
    const int from = begin + (begin >= row.gap_at ? row.gap : 0);  // right of the gap: past it
    warp_copy(row_ptr_mut<unsigned char>(p.out, 0, y) + from, row_ptr<unsigned char>(p.frame, 0, y) + from,
              end - begin, lane);
}

template <typename CropT, typename MaskT, WarpMode M, int C>
__global__ void paste_back_kernel(PasteParams p, FaceGroup<PasteFace> faces, int n, PasteGrid g) {
    wait_for_previous_grid();
    const int block = static_cast<int>(blockIdx.x);
    if (block < g.copy_blocks) {  // whole warps: the copy's branch is uniform across each
        const int warp = block * kWarps + static_cast<int>(threadIdx.x >> 5);
        if (warp < p.out.h * g.pieces_per_row) copy_outside_piece<C>(p, g.pieces_per_row, warp, threadIdx.x & 31);
        return;
    }
    const int tile = block - g.copy_blocks;
    const int ty = tile / g.tiles_x, tx = tile - ty * g.tiles_x;
    const int dx = tx * kTileW + static_cast<int>(threadIdx.x % kTileW);
    const int dy = ty * kTileH + static_cast<int>(threadIdx.x / kTileW);
    if (dx >= g.w || dy >= g.h) return;
    paste_pixel<CropT, MaskT, M, C>(p, faces.f, n, g.x0 + dx, g.y0 + dy);
}

int clamp_to(int v, int hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

// Copy warps a row: enough that each moves about one round of loads (warp_copy.h), so the
// whole copy is in flight at once; narrower words, from frames at odd relative offsets,
// make more pieces rather than longer ones.
int pieces_per_row(const PasteParams& p, int c) {
    const int word = warp_copy_word(p.out.data, p.out.stride, p.frame.data, p.frame.stride, p.out.h);
    const long long row_bytes = static_cast<long long>(p.out.w) * c, round = warp_copy_round(word);
    const long long pieces = (row_bytes + round - 1) / round;
    const long long most = (INT_MAX - kWarps) / p.out.h;  // warp numbers stay ints
    if (most < 2) throw std::invalid_argument("paste_back: frame too tall for one launch");
    // At least 2: one bound can then always sit on the gap (RowPieces).
    return static_cast<int>(pieces < 2 ? 2 : (pieces > most ? most : pieces));
}

template <typename CropT, typename MaskT, WarpMode M, int C>
struct PasteLaunch {
    static void run(const PasteParams& params, const PasteFace* faces, int n, cudaStream_t stream) {
        if (params.out.w <= 0 || params.out.h <= 0) return;  // no pixel (the Python checks refuse such frames)
        // paste_region clips to the frame already; clamped again so that the copy's row
        // pieces stay inside the rows whatever region a caller sets.
        PasteParams base = params;
        base.region_x1 = clamp_to(params.region_x1, params.out.w);
        base.region_x2 = clamp_to(params.region_x2, params.out.w);
        base.region_y1 = clamp_to(params.region_y1, params.out.h);
        base.region_y2 = clamp_to(params.region_y2, params.out.h);
        if (base.region_x2 <= base.region_x1 || base.region_y2 <= base.region_y1) {  // no face touches the frame
            base.region_x1 = base.region_x2 = base.region_y1 = base.region_y2 = 0;
        }
        PasteGrid g{};
        g.x0 = base.region_x1, g.y0 = base.region_y1;
        g.w = base.region_x2 - base.region_x1, g.h = base.region_y2 - base.region_y1;
        g.tiles_x = (g.w + kTileW - 1) / kTileW;
        const long long tiles = static_cast<long long>(g.tiles_x) * ((g.h + kTileH - 1) / kTileH);
        for_each_face_group(faces, n, [&](const FaceGroup<PasteFace>& group, int first, int count) {
            PasteParams p = base;  // region: the union of every face's area (paste_region)
            p.crops.data += static_cast<std::uintptr_t>(first) * params.crops.batch_stride;
            p.masks.data += static_cast<std::uintptr_t>(first) * params.masks.batch_stride;
            if (first > 0) {  // later groups paste over the result of the earlier ones
                p.in_place = true;
                p.frame = params.out;
            }
            PasteGrid grid = g;
            if (!p.in_place) {
                grid.pieces_per_row = pieces_per_row(p, C);
                const long long warps = static_cast<long long>(p.out.h) * grid.pieces_per_row;
                grid.copy_blocks = static_cast<int>((warps + kWarps - 1) / kWarps);
            }
            const long long blocks = grid.copy_blocks + tiles;
            if (blocks == 0) return;  // in place, no face touches the frame
            if (blocks > INT_MAX) throw std::invalid_argument("paste_back: frame too large for one launch");
            launch("paste_back", paste_back_kernel<CropT, MaskT, M, C>, dim3(static_cast<unsigned int>(blocks)),
                   dim3(kThreads), 0, stream, p, group, count, grid);
        });
    }
};

}  // namespace

void paste_back(const PasteParams& p, const PasteFace* faces, int n, std::uintptr_t stream) {
    if (!dispatch_paste<PasteLaunch>(p.mode, p.crops.dtype, p.masks.dtype, p.out.c, p, faces, n,
                                     reinterpret_cast<cudaStream_t>(stream))) {
        throw std::invalid_argument("paste_back: unsupported dtype/channel combination");
    }
}

}  // namespace ffaccel::cuda
