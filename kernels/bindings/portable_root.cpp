// Binding for portable_root (ffaccel/portable_root.h): float64 in, float64 out, same shape.
#include "ffaccel/portable_root.h"

#include "stab_args.h"

namespace ffaccel::bindings {

using Flat = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;
using FlatOut = nb::ndarray<double, nb::c_contig, nb::device::cpu>;

static void portable_root(Flat x, FlatOut y, int n, std::int64_t magic, int steps) {
    const stab::Need need("portable_root");
    need(n == 3 || n == 5, "n: expected 3 or 5");
    need(steps >= 0 && steps <= 64, "steps: expected 0..64");
    need(x.size() == y.size(), "y: expected as many elements as x");
    need(!stab::overlaps(y.data(), y.nbytes(), x.data(), x.nbytes()), "y: expected an array apart from x");
    const RootParams p{x.data(), y.data(), static_cast<std::int64_t>(x.size()), n, magic, steps};
    nb::gil_scoped_release release;
    cpu::portable_root(p);
}

void register_portable_root(nb::module_& m) {
    m.def("portable_root", &portable_root, nb::arg("x"), nb::arg("y"), nb::arg("n"), nb::arg("magic"),
          nb::arg("steps"),
          "y = x ** (1 / n) (n = 3 or 5) of C-contiguous float64 arrays, as ffaccel._portable's "
          "array-operation chain computes it, bit for bit.");
}

}  // namespace ffaccel::bindings
