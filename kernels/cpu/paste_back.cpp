// CPU loop for paste_back: frame rows split across the thread pool; rows outside every
// paste area are only copied (and not touched at all in place).
#include "ffaccel/paste_back.h"

#include <cstring>
#include <stdexcept>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <typename CropT, typename MaskT, WarpMode M, int C>
struct PasteRows {
    static void run(const PasteParams& p, const PasteFace* faces, int n) {
        PasteParams in_place = p;  // after the row copy below, every pixel is updated in `out`
        in_place.in_place = true;
        in_place.frame = p.out;
        parallel_for(p.out.h, [&](int b, int e) {
            for (int y = b; y < e; ++y) {
                if (!p.in_place) {
                    std::memcpy(row_ptr_mut<std::uint8_t>(p.out, 0, y), row_ptr<std::uint8_t>(p.frame, 0, y),
                                static_cast<std::size_t>(p.out.w) * C);
                }
                if (y < p.region_y1 || y >= p.region_y2) continue;
                for (int x = p.region_x1; x < p.region_x2; ++x) {
                    paste_pixel<CropT, MaskT, M, C>(in_place, faces, n, x, y);
                }
            }
        });
    }
};

}  // namespace

void paste_back(const PasteParams& p, const PasteFace* faces, int n) {
    if (!dispatch_paste<PasteRows>(p.mode, p.crops.dtype, p.masks.dtype, p.out.c, p, faces, n)) {
        throw std::invalid_argument("paste_back: unsupported dtype/channel combination");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, paste_back, (const PasteParams& p, const PasteFace* faces, int n), (p, faces, n))

}  // namespace ffaccel::cpu
