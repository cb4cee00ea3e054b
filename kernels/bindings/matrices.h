// What the bindings share about the caller's affine matrices: how they arrive, how each
// call turns them into inverse maps (affine.h), and the status a prepared call returns.
#pragma once

#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ffaccel/affine.h"

namespace ffaccel::bindings {

namespace nb = nanobind;

// Forward matrices as the caller gave them (float64, C order, host): (2, 3), (N, 2, 3)
// or (N, 6). The shape is checked by matrix_rows, so one type serves every form.
using Matrices = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;

// The n matrices' rows (6 doubles each), or nullptr when `m` does not hold n matrices in
// the form asked for: exactly (2, 3) for one matrix of a single call, (n, 2, 3) for a
// batch, and for `any_form` also (n, 6) and (2, 3) with n == 1.
inline const double* matrix_rows(const Matrices& m, std::size_t n, bool batched, bool any_form = false) {
    const std::size_t d = m.ndim();
    const bool single = d == 2 && m.shape(0) == 2 && m.shape(1) == 3 && n == 1;
    const bool batch = d == 3 && m.shape(0) == n && m.shape(1) == 2 && m.shape(2) == 3;
    const bool rows6 = d == 2 && m.shape(0) == n && m.shape(1) == 6;
    if (any_form ? (single || batch || rows6) : (batched ? batch : single)) return m.data();
    return nullptr;
}

// How many matrices `m` holds, by its shape (matrix_rows then checks the rest).
inline std::size_t matrix_count(const Matrices& m) {
    if (m.ndim() == 3) return m.shape(0);
    if (m.ndim() == 2) return m.shape(1) == 6 ? m.shape(0) : 1;
    return 0;
}

// What a prepared call (WarpCall, PasteCall) returns. Anything but Launched means that
// nothing was written and the Python layer must run its full checks, which name the
// argument at fault.
enum CallStatus : int { Launched = 0, BadMatrixShape = 1, BadMatrix = 2, Overlap = 3 };

// Byte ranges [a, a + na) and [b, b + nb) share no byte.
inline bool apart(std::uintptr_t a, std::int64_t na, std::uintptr_t b, std::int64_t nb_) {
    return a + static_cast<std::uintptr_t>(na) <= b || b + static_cast<std::uintptr_t>(nb_) <= a;
}

// Per-call storage for a few faces without a heap allocation (a face swapper passes one
// to eight); larger batches take the vector.
template <typename T, int Inline = 8>
class Scratch {
public:
    T* get(int n) {
        if (n <= Inline) return local_;
        heap_.resize(static_cast<std::size_t>(n));
        return heap_.data();
    }

private:
    T local_[Inline];
    std::vector<T> heap_;
};

// Inverts n matrix rows into out (n x 6 doubles); false when one breaks a rule of
// affine.h (then the caller launches nothing).
inline bool invert_all(const double* rows, int n, double* out) {
    double det;
    for (int i = 0; i < n; ++i) {
        if (checked_inverse(rows + 6 * i, out + 6 * i, &det) != AffineFault::None) return false;
    }
    return true;
}

}  // namespace ffaccel::bindings
