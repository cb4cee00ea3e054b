// CPU loop for feather_mask: rows split across the thread pool. Each row first sums
// the vertical taps into a float row, then the horizontal taps over a copy of that row
// padded by reflection. Both loops run the taps in the outer loop and the columns in
// the inner loop so they vectorise, yet every pixel still sees the exact sequence of
// feather_tap() calls of feather_column()/feather_row(), so the bytes match the GPU.
#include "ffaccel/feather_mask.h"

#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <typename T>
void vertical_row(const FeatherParams& p, const float* taps, int y, float* column) {
    const int w = p.src.w, r = p.radius;
    if (!p.vertical) {
        const T* s = row_ptr<T>(p.src, 0, y);
        for (int x = 0; x < w; ++x) column[x] = static_cast<float>(s[x]);
        return;
    }
    for (int x = 0; x < w; ++x) column[x] = 0.0f;
    for (int i = 0; i <= 2 * r; ++i) {
        const T* s = row_ptr<T>(p.src, 0, reflect101(y - r + i, p.src.h));
        const float tap = taps[i];
        for (int x = 0; x < w; ++x) column[x] = feather_tap(column[x], tap, static_cast<float>(s[x]));
    }
}

template <typename T>
struct FeatherRows {
    static void run(const FeatherParams& p, const float* taps) {
        const int w = p.src.w, r = p.radius;
        parallel_for(p.src.h, [&](int b, int e) {
            std::vector<float> column(w), padded(p.horizontal ? w + 2 * r : 0), acc(w);
            for (int y = b; y < e; ++y) {
                vertical_row<T>(p, taps, y, column.data());
                T* out = row_ptr_mut<T>(p.dst, 0, y);
                if (!p.horizontal) {
                    for (int x = 0; x < w; ++x) out[x] = store_as<T>(column[x]);
                    continue;
                }
                // padded[j] is column[reflect(j - r)], so tap i of pixel x reads padded[x + i].
                for (int j = 0; j < w + 2 * r; ++j) padded[j] = column[reflect101(j - r, w)];
                for (int x = 0; x < w; ++x) acc[x] = 0.0f;
                for (int i = 0; i <= 2 * r; ++i) {
                    const float tap = taps[i];
                    const float* src = padded.data() + i;
                    for (int x = 0; x < w; ++x) acc[x] = feather_tap(acc[x], tap, src[x]);
                }
                for (int x = 0; x < w; ++x) out[x] = store_as<T>(acc[x]);
            }
        });
    }
};

}  // namespace

void feather_mask(const FeatherParams& p, const float* taps) {
    if (!dispatch_feather<FeatherRows>(p.src.dtype, p, taps)) {
        throw std::invalid_argument("feather_mask: unsupported dtype");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, feather_mask, (const FeatherParams& p, const float* taps), (p, taps))

}  // namespace ffaccel::cpu
