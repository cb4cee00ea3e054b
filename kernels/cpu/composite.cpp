// CPU loop for composite: rows split across the thread pool. Each row first expands the
// fg weight of every pixel to every channel byte, then blends the row as one flat loop
// of bytes, which the compiler vectorises (the per-pixel form with C = 3 does not).
// Both steps call the header's composite_weight / composite_blend, so the bytes are
// those of composite_pixel, which the GPU runs.
#include "ffaccel/composite.h"

#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

void blend_bytes(const std::uint8_t* f, const std::uint8_t* b, const float* m, std::uint8_t* o, int n) {
    for (int i = 0; i < n; ++i) o[i] = composite_blend(static_cast<float>(f[i]), static_cast<float>(b[i]), m[i]);
}

template <typename A, int C>
struct CompositeRows {
    static void run(const CompositeParams& p) {
        // uint8 alpha has 256 values: their weights once, from the same function.
        float table[256];
        if constexpr (sizeof(A) == 1) {
            for (int v = 0; v < 256; ++v) table[v] = composite_weight<std::uint8_t>(static_cast<std::uint8_t>(v), p);
        }
        const int w = p.dst.w;
        // 2.9 (uint8 alpha) and 3.9 ns (float32) a pixel on one core, x86-64-v3, 1080p.
        parallel_for(p.dst.h, w * (sizeof(A) == 1 ? 3.0 : 4.0), [&](int first, int last) {
            const int width = w;  // a local: stores cannot alias it, so loop counts are known
            std::vector<float> scratch(static_cast<std::size_t>(width) * (C + 3));
            float* __restrict pw = scratch.data();  // per-pixel weights; scratch aliases nothing
            float* __restrict bw = pw + width;      // the same per channel byte
            float* __restrict a255 = bw + static_cast<std::size_t>(width) * C;
            float* __restrict pulled = a255 + width;
            for (int y = first; y < last; ++y) {
                const A* __restrict a = row_ptr<A>(p.alpha, 0, y);
                if constexpr (sizeof(A) == 1) {
                    for (int x = 0; x < width; ++x) pw[x] = table[a[x]];
                } else {
                    // composite_weight<float> in passes: written as one, the compiler
                    // sinks the pull into a branch it may not vectorise (it keeps FP
                    // exception semantics), so the pull is stored first and selected after.
                    const CompositeParams q = p;  // a local copy: the stores cannot alias it
                    for (int x = 0; x < width; ++x) a255[x] = alpha_clip_low(a[x]);
                    for (int x = 0; x < width; ++x) a255[x] = alpha_clip_high_255(a255[x]);
                    for (int x = 0; x < width; ++x) pulled[x] = composite_band_pull(a255[x], q);
                    for (int x = 0; x < width; ++x) {
                        pw[x] = (composite_in_band(a255[x], q) ? pulled[x] : a255[x]) / 255.0f;
                    }
                }
                for (int x = 0; x < width; ++x) {
                    for (int c = 0; c < C; ++c) bw[x * C + c] = pw[x];
                }
                blend_bytes(row_ptr<std::uint8_t>(p.fg, 0, y), row_ptr<std::uint8_t>(p.bg, 0, y), bw,
                            row_ptr_mut<std::uint8_t>(p.dst, 0, y), width * C);
            }
        });
    }
};

}  // namespace

void composite(const CompositeParams& p) {
    if (!dispatch_composite<CompositeRows>(p.alpha.dtype, p.dst.c, p)) {
        throw std::invalid_argument("composite: unsupported alpha dtype/channel combination");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, composite, (const CompositeParams& p), (p))

}  // namespace ffaccel::cpu
