// One warp copying a byte span between two buffers that share no byte, in the widest
// words both ends allow: 16 bytes where source and destination sit at the same offset
// modulo 16, else 8, 4 or single bytes. Only the relative offset matters: the bytes before
// the first aligned word and after the last one (at most 2 x 15) go one a lane, so any
// pointer pair copies right, and two dense frames from an allocator (256-byte aligned,
// equal strides) take 16-byte words on every row whatever their width.
//
// Every lane issues kWarpCopyLoads loads before its first store, so a warp has up to
// 32 x kWarpCopyLoads words in flight: a copy is bound by the bytes in flight over the
// memory latency, so a caller gives each warp a span of about one round of loads
// (warp_copy_round) and launches warps enough for the whole copy at once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ffaccel::cuda {

constexpr int kWarpCopyLoads = 4;

// The word warp_copy uses on every row of two images: the widest dividing both the
// distance between their first rows and the difference of their strides.
inline int warp_copy_word(std::uintptr_t dst, std::int64_t dst_stride, std::uintptr_t src, std::int64_t src_stride,
                          int rows) {
    std::uint64_t bits = static_cast<std::uint64_t>(dst ^ src);
    if (rows > 1) bits |= static_cast<std::uint64_t>(dst_stride - src_stride);
    return (bits & 15) == 0 ? 16 : (bits & 7) == 0 ? 8 : (bits & 3) == 0 ? 4 : 1;
}

// Bytes a warp moves in one round of loads of `word`-byte words.
constexpr int warp_copy_round(int word) { return 32 * kWarpCopyLoads * word; }

template <typename Word>
__device__ __forceinline__ void warp_copy_words(unsigned char* dst, const unsigned char* src, int len, int lane) {
    constexpr int kSize = sizeof(Word);
    int head = static_cast<int>((0u - static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(dst))) & (kSize - 1));
    head = head < len ? head : len;
    const int words = (len - head) / kSize;
    const int body_end = head + words * kSize;
    if (lane < head) {
        dst[lane] = src[lane];
    } else if (lane - head < len - body_end) {  // the tail, under kSize bytes
        const int at = body_end + lane - head;
        dst[at] = src[at];
    }
    Word* d = reinterpret_cast<Word*>(dst + head);
    const Word* s = reinterpret_cast<const Word*>(src + head);
    // Not unrolled: ptxas would keep two rounds' words live, 40 registers instead of 32
    // in paste_back's kernel (sm_90), above what its blend needs.
#pragma unroll 1
    for (int i = lane; i < words; i += 32 * kWarpCopyLoads) {
        Word v[kWarpCopyLoads];
#pragma unroll
        for (int u = 0; u < kWarpCopyLoads; ++u) {
            if (i + 32 * u < words) v[u] = __ldg(s + i + 32 * u);
        }
#pragma unroll
        for (int u = 0; u < kWarpCopyLoads; ++u) {
            if (i + 32 * u < words) d[i + 32 * u] = v[u];
        }
    }
}

// Copies src[0, len) to dst[0, len); all 32 lanes of the warp call it with the same
// arguments (`lane` is the caller's lane, 0..31).
__device__ __forceinline__ void warp_copy(unsigned char* dst, const unsigned char* src, int len, int lane) {
    if (len <= 0) return;
    const auto relative =
        static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(dst) ^ reinterpret_cast<std::uintptr_t>(src));
    if ((relative & 15) == 0) {
        warp_copy_words<uint4>(dst, src, len, lane);
    } else if ((relative & 7) == 0) {
        warp_copy_words<uint2>(dst, src, len, lane);
    } else if ((relative & 3) == 0) {
        warp_copy_words<unsigned int>(dst, src, len, lane);
    } else {
        warp_copy_words<unsigned char>(dst, src, len, lane);
    }
}

}  // namespace ffaccel::cuda
