// CPU loop of portable_root (ffaccel/portable_root.h): chunks of the array on the pool.
#include "ffaccel/portable_root.h"

#include <algorithm>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {

void portable_root(const RootParams& p) {
    constexpr std::int64_t kChunk = 4096;  // elements a task (about 40 us): colour_transfer hands 12,288 at a time
    const int chunks = static_cast<int>((p.count + kChunk - 1) / kChunk);
    parallel_for(chunks, kChunk * 10.0, [&](int b, int e) {
        const RootParams q = p;  // locals: the stores cannot alias the parameters
        const std::int64_t end = std::min<std::int64_t>(static_cast<std::int64_t>(e) * kChunk, q.count);
        for (std::int64_t i = static_cast<std::int64_t>(b) * kChunk; i < end; ++i) {
            q.y[i] = portable_root_one(q.x[i], q.n, q.magic, q.steps);
        }
    });
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, portable_root, (const RootParams& p), (p))

}  // namespace ffaccel::cpu
