// Selection (the k-th smallest value) for the stabiliser kernels' medians: a quickselect with a
// branch-free Lomuto partition, several times faster than std::nth_element on the noisy,
// unsorted data those medians see. Header-only, internal to kernels/cpu.
#pragma once

#include <algorithm>
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

}  // namespace
}  // namespace ffaccel::cpu
