// Selection (the k-th smallest value) for the stabiliser kernels' medians: a quickselect with a
// branch-free Lomuto partition, several times faster than std::nth_element on the noisy,
// unsorted data those medians see. Header-only, internal to kernels/cpu.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace ffaccel::cpu {
namespace {  // internal linkage: each CPU build keeps its own copy

// k-th smallest of v[0..n) (reordered), NaN-free input: quickselect with a branch-free
// Lomuto partition about a median-of-3 pivot; equal keys handled (no endless loop): the
// pass that gathers the keys equal to the pivot runs only when the pivot is the least key
// of the range (the partition made no progress).
inline double select_kth(double* v, std::ptrdiff_t n, std::ptrdiff_t k) {
    std::ptrdiff_t lo = 0, hi = n;  // search [lo, hi)
    while (hi - lo > 24) {
        const double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        const double pivot = std::max(std::min(a, b), std::min(std::max(a, b), c));
        std::ptrdiff_t j = lo;
        for (std::ptrdiff_t i = lo; i < hi; ++i) {
            const double t = v[i];
            const bool less = t < pivot;
            v[i] = v[j];
            v[j] = t;
            j += less;
        }
        if (k < j) {
            hi = j;
            continue;
        }
        if (j > lo) {  // [j, hi) >= pivot holds the k-th and is shorter: go on there
            lo = j;
            continue;
        }
        // the pivot is the least key of [lo, hi): move the keys equal to it to the front
        std::ptrdiff_t e = j;
        for (std::ptrdiff_t i = j; i < hi; ++i) {
            const double t = v[i];
            const bool eq = t == pivot;
            v[i] = v[e];
            v[e] = t;
            e += eq;
        }
        if (k < e) return pivot;
        lo = e;
    }
    std::sort(v + lo, v + hi);
    return v[k];
}

// The largest of v[0..n) (n >= 1), NaN-free: four running maxima side by side (branch-free,
// vectorised), then combined. The same value std::max_element finds (for equal keys of
// different bits, +0 and -0 only, either may come back: the medians below see magnitudes).
inline double max_of(const double* v, std::ptrdiff_t n) {
    double m0 = v[0], m1 = v[0], m2 = v[0], m3 = v[0];
    std::ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        m0 = v[i] > m0 ? v[i] : m0;
        m1 = v[i + 1] > m1 ? v[i + 1] : m1;
        m2 = v[i + 2] > m2 ? v[i + 2] : m2;
        m3 = v[i + 3] > m3 ? v[i + 3] : m3;
    }
    for (; i < n; ++i) m0 = v[i] > m0 ? v[i] : m0;
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    return m2 > m0 ? m2 : m0;
}

// numpy's median of v[0..n) (reordered; n >= 1): the middle value, or the mean of the two
// middle ones (select_kth leaves the k smallest values in front of the k-th).
inline double median_of(double* v, std::ptrdiff_t n) {
    const std::ptrdiff_t h = n / 2;
    const double hi = select_kth(v, n, h);
    if (n % 2) return hi;
    const double lo = max_of(v, h);
    return (lo + hi) / 2.0;
}

// A value c no greater than numpy's median of v[0..n) (n >= 1, NaN-free; v not changed),
// proved by a count: at most (n - 1) / 2 values lie below c, so both middle values are >= c.
// The largest of a few fractions of a 31-value sample's median that passes (one pass over v
// counts for all), or -HUGE_VAL where none does. Much cheaper than the median itself.
inline double median_lower_bound(const double* v, std::ptrdiff_t n) {
    constexpr std::ptrdiff_t kSample = 31;
    double smp[kSample];
    const std::ptrdiff_t s = n < kSample ? n : kSample;
    for (std::ptrdiff_t i = 0; i < s; ++i) smp[i] = v[(2 * i + 1) * n / (2 * s)];
    std::nth_element(smp, smp + s / 2, smp + s);
    const double m = smp[s / 2];
    const double c0 = m, c1 = 0.9 * m, c2 = 0.8 * m, c3 = 0.65 * m;
    std::ptrdiff_t k0 = 0, k1 = 0, k2 = 0, k3 = 0;
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        const double t = v[i];
        k0 += t < c0;
        k1 += t < c1;
        k2 += t < c2;
        k3 += t < c3;
    }
    const std::ptrdiff_t most = (n - 1) / 2;
    if (k0 <= most) return c0;
    if (k1 <= most) return c1;
    if (k2 <= most) return c2;
    if (k3 <= most) return c3;
    return -HUGE_VAL;
}

}  // namespace
}  // namespace ffaccel::cpu
