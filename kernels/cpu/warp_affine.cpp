// CPU loop for warp_affine: rows of all output images, split across the thread pool.
#include "ffaccel/warp_affine.h"

#include <algorithm>
#include <stdexcept>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <WarpMode M, typename T, int C>
struct WarpRows {
    static void run(const WarpParams& p, const WarpCoeffs* coeffs, int n) {
        const int h = p.dst.h;
        parallel_for(n * h, [&](int b, int e) {
            for (int i = b; i < e; ++i) {
                const int face = i / h, y = i % h;
                T* out = row_ptr_mut<T>(p.dst, face, y);
                for (int x = 0; x < p.dst.w; ++x) warp_pixel<M, T, C>(p, coeffs[face], x, y, out + x * C);
            }
        });
    }
};

}  // namespace

void warp_affine(const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode) {
    if (!dispatch_warp<WarpRows>(mode, p.src.dtype, p.src.c, p, coeffs, n)) {
        throw std::invalid_argument("warp_affine: unsupported dtype/channel combination");
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, warp_affine, (const WarpParams& p, const WarpCoeffs* coeffs, int n, WarpMode mode),
                     (p, coeffs, n, mode))

}  // namespace ffaccel::cpu
