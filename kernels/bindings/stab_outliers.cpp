// Binding for stab_outliers (the offline glitch test of stabilize_track): float64 channels
// and frame times in, a uint8 flag per frame out.
#include "ffaccel/stab_outliers.h"

#include <cmath>

#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

static void stab_outliers(In2 y, In1 at, double outlier, int passes, Flags bad) {
    const Need need("stab_outliers");
    const int T = static_cast<int>(y.shape(0)), C = static_cast<int>(y.shape(1));
    need(C >= 1, "y: expected (T, C >= 1)");
    need(at.shape(0) == y.shape(0), "at: expected (T,) frame times");
    need(bad.shape(0) == y.shape(0), "bad: expected (T,)");
    need(std::isfinite(outlier) && outlier > 0, "outlier: expected a finite value > 0");
    need(passes >= 0, "passes: expected >= 0");
    for (int t = 1; t < T; ++t) need(at.data()[t] > at.data()[t - 1], "at: expected strictly increasing times");
    const StabOutlierParams p{y.data(), at.data(), bad.data(), T, C, outlier, passes};
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
