// A new frame's copy of everything outside a rectangle R, for an op whose own kernel writes
// every byte of R at the same time (paste_back_insightface's blend, which writes the frame's
// own value where it changes nothing). Made for a side stream (side_branch.h) beside that
// op's kernels: the two never write one byte, and byte stores never touch their neighbours.
//
// The grid is narrow on purpose: one block of kCopyThreads an SM. A full-width copy takes
// every SM and the kernels beside it wait; a narrower one is latency-bound and becomes the
// longest path. H100, paste_back_insightface at 4K (25 MB frame, 600-px face), CUDA-graph
// call (docs/results/h100-fe0c773): 62.2-62.5 us with this shape; 8 / 16 / 32 / 64 blocks
// of 256 threads with 4 loads in flight 391 / 205 / 115 / 72 us; 132 blocks of 1024 threads
// 69.5 us, 264 of 256 or 132 of 512 64.0 us, 16 loads in flight 64.7 us; the copy first 69.1 us.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace ffaccel::cuda {

// Frames of dense rows of `rb` bytes, 16-byte aligned, under 2^31 bytes (outer_copy_fits).
struct OuterCopy {
    const unsigned char* src;  // the frame
    unsigned char* dst;        // the new frame
    unsigned int total, rb;    // bytes of the frame, of a row
    unsigned int gx0, gx1;     // R's bytes [gx0, gx1) of each row in [ry1, ry2)
    int ry1, ry2;
    unsigned int top_end, bottom_begin;  // ry1 * rb, ry2 * rb: whole rows outside R before and after

    // R = byte columns [gx0, gx1) of rows [ry1, ry2) of a frame of `rows` rows of `rb` bytes.
    static OuterCopy of(const unsigned char* src, unsigned char* dst, std::size_t rb, int rows, int gx0, int gx1,
                        int ry1, int ry2) {
        const auto b = static_cast<unsigned int>(rb);
        return {src,
                dst,
                static_cast<unsigned int>(rb * static_cast<std::size_t>(rows)),
                b,
                static_cast<unsigned int>(gx0),
                static_cast<unsigned int>(gx1),
                ry1,
                ry2,
                static_cast<unsigned int>(ry1) * b,
                static_cast<unsigned int>(ry2) * b};
    }
};

// Whether copy_outside takes these frames: both 16-byte aligned, `total` bytes under 2^31.
inline bool outer_copy_fits(const unsigned char* src, const unsigned char* dst, std::size_t total) {
    const auto bits = reinterpret_cast<std::size_t>(src) | reinterpret_cast<std::size_t>(dst);
    return (bits & 15) == 0 && total < (std::size_t{1} << 31);
}

// Enqueue the copy on `stream`, `multiprocessors` blocks wide at most.
void copy_outside(const OuterCopy& c, int multiprocessors, cudaStream_t stream);

}  // namespace ffaccel::cuda
