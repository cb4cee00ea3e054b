// Binding for stab_outliers (the offline glitch test of stabilize_track): float64 channels
// and frame times in, a uint8 flag per frame out.
#include "ffaccel/stab_outliers.h"

#include <nanobind/ndarray.h>

#include <cmath>
#include <string>

#include "bindings.h"

namespace ffaccel::bindings {

using In2 = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using In1 = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Out1 = nb::ndarray<std::uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

static void stab_outliers(In2 y, In1 at, double outlier, int passes, Out1 bad) {
    const int T = static_cast<int>(y.shape(0));
    const int C = static_cast<int>(y.shape(1));
    auto need = [](bool ok, const char* msg) {
        if (!ok) throw nb::value_error((std::string("stab_outliers: ") + msg).c_str());
    };
    need(C >= 1, "y: expected (T, C >= 1)");
    need(at.shape(0) == y.shape(0), "at: expected (T,) frame times");
    need(bad.shape(0) == y.shape(0), "bad: expected (T,)");
    need(std::isfinite(outlier) && outlier > 0, "outlier: expected a finite value > 0");
    need(passes >= 0, "passes: expected >= 0");
    for (int t = 1; t < T; ++t) need(at.data()[t] > at.data()[t - 1], "at: expected strictly increasing times");
    StabOutlierParams p;
    p.y = y.data();
    p.at = at.data();
    p.bad = bad.data();
    p.t_len = T;
    p.channels = C;
    p.outlier = outlier;
    p.passes = passes;
    nb::gil_scoped_release release;
    cpu::stab_outliers(p);
}

void register_stab_outliers(nb::module_& m) {
    m.def("stab_outliers", &stab_outliers, nb::arg("y"), nb::arg("at"), nb::arg("outlier"), nb::arg("passes"),
          nb::arg("bad").noconvert(),
          "Offline glitch test of stabilize_track: y (T, C) float64 channels at frame times at (T,); writes "
          "bad (T,) uint8 (1 = a frame off both its parabola and its median of 5 by more than `outlier` "
          "robust standard deviations in one channel), over at most `passes` passes.");
}

}  // namespace ffaccel::bindings
