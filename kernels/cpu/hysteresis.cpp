// CPU loops for mask_hysteresis (rows of the ROI, plus plain row copies outside it) and
// seam_ring (one pass: the ring bytes and per-chunk boxes merged at the end).
#include "ffaccel/hysteresis.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <typename T>
void hysteresis_rows(const HysteresisParams& p) {
    const int x0 = p.roi_x, x1 = p.roi_x + p.roi_w;
    const int y0 = p.roi_y, y1 = p.roi_y + p.roi_h;
    const bool empty_roi = p.roi_w <= 0 || p.roi_h <= 0;
    const std::size_t px = sizeof(T);
    // Without the outside copy only the ROI rows are visited at all.
    const int first = p.copy_outside ? 0 : y0;
    const int last = p.copy_outside ? p.dst.h : (empty_roi ? y0 : y1);
    // 0.8 ns a pixel on one core (float32 1080p, ROI = frame), rounded up to 1; copied rows
    // cost less.
    parallel_for(last - first, 1.0 * p.dst.w, [&](int b, int e) {
        // Locals, not captured references or fields read through `p`: uint8 stores could
        // alias those, which stops the compiler from vectorising the row loop.
        const HysteresisParams q = p;
        const int box_x0 = x0, box_x1 = x1;
        for (int y = first + b; y < first + e; ++y) {
            const T* m = row_ptr<T>(p.mask, 0, y);
            const T* held = row_ptr<T>(p.prev, 0, y);
            T* o = row_ptr_mut<T>(p.dst, 0, y);
            if (empty_roi || y < y0 || y >= y1) {
                std::memcpy(o, m, p.dst.w * px);  // only reached with copy_outside
                continue;
            }
            if (p.copy_outside) {
                std::memcpy(o, m, x0 * px);
                std::memcpy(o + x1, m + x1, (p.dst.w - x1) * px);
            }
            for (int x = box_x0; x < box_x1; ++x) o[x] = hysteresis_value<T>(m[x], held[x], q);
        }
    });
}

template <typename T>
Box ring_rows(const Image& mask, float lo, float hi, const Image& ring) {
    Box total{mask.w, mask.h, 0, 0};
    const int w = mask.w;
    std::mutex merge;
    parallel_for(mask.h, 0.3 * w, [&](int b, int e) {  // 0.2 ns a pixel measured, rounded up
        // Locals, not captured references: the byte stores below cannot alias them, so the
        // compiler knows the loop count and bounds and vectorises the pass.
        const int width = w;
        const float ring_lo = lo, ring_hi = hi;
        Box part{mask.w, mask.h, 0, 0};
        std::vector<std::uint8_t> scratch(ring.data ? 0 : width);  // when the caller wants the box only
        for (int y = b; y < e; ++y) {
            // Distinct buffers (ring is a fresh array); saying so lets the byte stores
            // not count as possible writes to the mask, so the loop vectorises.
            const T* __restrict m = row_ptr<T>(mask, 0, y);
            std::uint8_t* __restrict r = ring.data ? row_ptr_mut<std::uint8_t>(ring, 0, y) : scratch.data();
            // A branch-free pass the compiler vectorises, then two byte scans for the ends.
            for (int x = 0; x < width; ++x) r[x] = in_open_ring(static_cast<float>(m[x]), ring_lo, ring_hi) ? 1 : 0;
            const void* first = std::memchr(r, 1, width);
            if (!first) continue;
            int last = width - 1;
            while (r[last] == 0) --last;
            part.x0 = std::min(part.x0, static_cast<int>(static_cast<const std::uint8_t*>(first) - r));
            part.x1 = std::max(part.x1, last + 1);
            part.y0 = std::min(part.y0, y);
            part.y1 = y + 1;
        }
        std::lock_guard<std::mutex> lock(merge);
        total.x0 = std::min(total.x0, part.x0);
        total.y0 = std::min(total.y0, part.y0);
        total.x1 = std::max(total.x1, part.x1);
        total.y1 = std::max(total.y1, part.y1);
    });
    if (total.x1 <= total.x0) return Box{0, 0, 0, 0};
    return total;
}

}  // namespace

void mask_hysteresis(const HysteresisParams& p) {
    if (p.mask.dtype == DType::U8) {
        hysteresis_rows<std::uint8_t>(p);
    } else {
        hysteresis_rows<float>(p);
    }
}

Box seam_ring(const Image& mask, float lo, float hi, const Image& ring) {
    return mask.dtype == DType::U8 ? ring_rows<std::uint8_t>(mask, lo, hi, ring) : ring_rows<float>(mask, lo, hi, ring);
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, mask_hysteresis, (const HysteresisParams& p), (p))
FFACCEL_CPU_DISPATCH(Box, seam_ring, (const Image& mask, float lo, float hi, const Image& ring), (mask, lo, hi, ring))

}  // namespace ffaccel::cpu
