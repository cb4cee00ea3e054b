// CPU loop for composite: rows split across the thread pool.
#include "ffaccel/composite.h"

#include <stdexcept>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

template <typename A, int C>
struct CompositeRows {
    static void run(const CompositeParams& p) {
        parallel_for(p.dst.h, [&](int b, int e) {
            for (int y = b; y < e; ++y) {
                for (int x = 0; x < p.dst.w; ++x) composite_pixel<A, C>(p, x, y);
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
