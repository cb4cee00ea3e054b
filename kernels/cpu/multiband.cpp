// CPU loops for multi-band paste-back: each pass of multiband.h over one pyramid level,
// rows split across the thread pool; faces one after another.
#include "ffaccel/multiband.h"

#include <cstring>
#include <stdexcept>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// Every pass costs 20 to 35 ns a pixel on one core (x86-64-v3; 64 and 512 crops, 5
// levels): coarse levels of a few thousand pixels stay on the calling thread, as the
// pool decides from this estimate.
constexpr double kPixelNs = 30.0;

template <typename Fn>
void for_level(int w, int h, Fn&& fn) {
    parallel_for(h, w * kPixelNs, [&](int b, int e) {
        for (int y = b; y < e; ++y) {
            for (int x = 0; x < w; ++x) fn(x, y);
        }
    });
}

template <typename CropT, typename MaskT, int C>
struct MultibandFaces {
    static void run(const PasteParams& p, const PasteFace* faces, int n, int levels, float* ws) {
        for (int i = 0; i < n; ++i) {
            const PasteFace& face = faces[i];
            const int aw = face.x2 - face.x1, ah = face.y2 - face.y1;
            if (aw <= 0 || ah <= 0) continue;
            const MultibandPlan plan = plan_multiband(aw, ah, levels, C);
            for_level(aw, ah, [&](int u, int v) { mb_prepare_pixel<CropT, MaskT, C>(p, face, i, ws, plan, u, v); });
            for (int k = 1; k <= levels; ++k) {
                const MultibandLevel &f = plan.lv[k - 1], &c = plan.lv[k];
                for_level(c.w, c.h, [&](int x, int y) {
                    mb_reduce_pixel<C>(ws + f.d_off, f.w, f.h, ws + c.d_off, c.w, x, y);
                    mb_reduce_pixel<1>(ws + f.m_off, f.w, f.h, ws + c.m_off, c.w, x, y);
                });
            }
            for (int k = 1; k <= levels; ++k) {
                const std::int64_t dst = k == 1 ? plan.x_off : plan.lv[k].d_off;
                for_level(plan.lv[k].w, plan.lv[k].h, [&](int x, int y) { mb_band_pixel<C>(ws, plan, k, dst, x, y); });
            }
            for (int k = levels - 1; k >= 1; --k) {
                const std::int64_t at = k == 1 ? plan.x_off : plan.lv[k].d_off;
                for_level(plan.lv[k].w, plan.lv[k].h, [&](int x, int y) { mb_collapse_pixel<C>(ws, plan, k, at, x, y); });
            }
            for_level(aw, ah, [&](int u, int v) { mb_finish_pixel<C>(p, face, ws, plan, u, v); });
        }
    }
};

}  // namespace

void paste_back_multiband(const PasteParams& params, const PasteFace* faces, int n, int levels, float* workspace) {
    PasteParams p = params;
    if (!p.in_place) {
        const std::size_t row = static_cast<std::size_t>(p.out.w) * p.out.c;
        parallel_for(p.out.h, 0.1 * static_cast<double>(row), [&](int b, int e) {  // 0.1 ns a byte
            for (int y = b; y < e; ++y) std::memcpy(row_ptr_mut<std::uint8_t>(p.out, 0, y), row_ptr<std::uint8_t>(p.frame, 0, y), row);
        });
        p.in_place = true;
        p.frame = p.out;
    }
    if (!dispatch_multiband<MultibandFaces>(p.crops.dtype, p.masks.dtype, p.out.c, p, faces, n, levels, workspace)) {
        throw std::invalid_argument("paste_back_multiband: unsupported dtype/channel combination");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, paste_back_multiband,
                     (const PasteParams& p, const PasteFace* faces, int n, int levels, float* workspace),
                     (p, faces, n, levels, workspace))

}  // namespace ffaccel::cpu
