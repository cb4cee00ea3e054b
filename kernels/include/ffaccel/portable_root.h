// portable_root: y = x ** (1 / n), n = 3 or 5, elementwise over float64, from basic IEEE
// operations only, in exactly the order of ffaccel/_portable.py's array-operation chain
// (and of its cupy kernel), so the three give the same bits:
//
//   bits(y0) = bits(x) / n + magic               (integer guess; x > 0, so / is Python's //)
//   y <- (y * (n - 1) + x / p) / n,  p = y*y (n = 3) or (y*y)*(y*y) (n = 5),  `steps` times
//
// each operation rounded on its own (built without contraction). 0, negative values, inf and
// NaN come back as they are. `magic` and `steps` come from Python, their one definition.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

namespace ffaccel {

struct RootParams {
    const double* x;
    double* y;  // apart from x (the binding refuses any overlap)
    std::int64_t count;
    int n;  // 3 or 5
    std::int64_t magic;
    int steps;
};

inline double portable_root_one(double x, int n, std::int64_t magic, int steps) {
    if (!(x > 0.0 && x <= std::numeric_limits<double>::max())) return x;
    std::int64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits = bits / n + magic;
    double y;
    std::memcpy(&y, &bits, sizeof y);
    const double k = static_cast<double>(n - 1), nd = static_cast<double>(n);
    for (int i = 0; i < steps; ++i) {
        double p = y * y;
        if (n == 5) p = p * p;
        y = (y * k + x / p) / nd;
    }
    return y;
}

namespace cpu {
void portable_root(const RootParams& p);
}

}  // namespace ffaccel
