// CPU loop of portable_root (ffaccel/portable_root.h): chunks of the array on the pool.
#include "ffaccel/portable_root.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {

// The usual call (n = 3 or 5, 4 steps): the integer guesses first (scalar: no 64-bit vector
// division), then the Newton steps with n and the step count fixed at compile time and no
// branch in the body (a select at the end), which the compiler runs on vector lanes; the
// same operations in the same order as portable_root_one.
template <int N>
void root_fixed(const double* x, double* y, std::int64_t b, std::int64_t e, std::int64_t magic) {
    for (std::int64_t i = b; i < e; ++i) {
        std::int64_t bits;
        std::memcpy(&bits, &x[i], sizeof bits);
        bits = bits / N + magic;
        std::memcpy(&y[i], &bits, sizeof bits);
    }
    constexpr double k = N - 1, nd = N;
    constexpr double kMax = std::numeric_limits<double>::max();
    for (std::int64_t i = b; i < e; ++i) {
        const double v = x[i];
        double r = y[i];
        for (int s = 0; s < 4; ++s) {
            double q = r * r;
            if (N == 5) q = q * q;
            r = (r * k + v / q) / nd;
        }
        y[i] = (v > 0.0 && v <= kMax) ? r : v;
    }
}

void portable_root(const RootParams& p) {
    constexpr std::int64_t kChunk = 4096;  // elements a task (about 40 us): colour_transfer hands 12,288 at a time
    const int chunks = static_cast<int>((p.count + kChunk - 1) / kChunk);
    parallel_for(chunks, [&](int b, int e) {
        const RootParams q = p;  // locals: the stores cannot alias the parameters
        const std::int64_t end = std::min<std::int64_t>(static_cast<std::int64_t>(e) * kChunk, q.count);
        const std::int64_t begin = static_cast<std::int64_t>(b) * kChunk;
        if (q.steps == 4 && q.n == 3) {
            root_fixed<3>(q.x, q.y, begin, end, q.magic);
        } else if (q.steps == 4 && q.n == 5) {
            root_fixed<5>(q.x, q.y, begin, end, q.magic);
        } else {
            for (std::int64_t i = begin; i < end; ++i) q.y[i] = portable_root_one(q.x[i], q.n, q.magic, q.steps);
        }
    });
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, portable_root, (const RootParams& p), (p))

}  // namespace ffaccel::cpu
