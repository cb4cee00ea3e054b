// Binding for the affine matrix rules: ffaccel._checks.affine_inverse calls it to check
// (and invert) the caller's matrices, and words the error of the first that fails.
#include "ffaccel/affine.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <optional>

#include "bindings.h"
#include "matrices.h"

namespace ffaccel::bindings {

using Rows = nb::ndarray<double, nb::shape<-1, 6>, nb::c_contig, nb::device::cpu>;

// (index, fault, determinant) of the first matrix that breaks a rule, (-1, 0, 0.0) when
// none does; the inverses of the matrices before it are in `out` when given.
static nb::tuple affine_inverse(Matrices m, std::optional<Rows> out) {
    const std::size_t n = matrix_count(m);
    const double* rows = matrix_rows(m, n, true, true);
    if (rows == nullptr) throw nb::value_error("affine_inverse: expected matrices of shape (2, 3), (N, 2, 3) or (N, 6)");
    if (out && out->shape(0) != n) throw nb::value_error("affine_inverse: out needs one row per matrix");
    double inv[6], det = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const AffineFault fault = checked_inverse(rows + 6 * i, inv, &det);
        if (fault != AffineFault::None) return nb::make_tuple(static_cast<long>(i), static_cast<int>(fault), det);
        if (out) {
            for (int j = 0; j < 6; ++j) out->data()[6 * i + j] = inv[j];
        }
    }
    return nb::make_tuple(-1L, 0, 0.0);
}

void register_affine(nb::module_& m) {
    m.attr("MATRIX_LIMIT") = kMatrixLimit;
    m.def("affine_inverse", &affine_inverse, nb::arg("matrices"), nb::arg("out").none(),
          "Check (N, 2, 3) float64 matrices against the rules of affine.h and write their OpenCV inverses "
          "(N, 6) to `out` (or None: check only). Returns (index, fault, determinant) of the first matrix "
          "that fails (fault 1 not finite, 2 entry too large, 3 singular, 4 inverse too large), or (-1, 0, 0.0).");
}

}  // namespace ffaccel::bindings
