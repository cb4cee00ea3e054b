// Binding for stab_cuts (the scene-cut rule of stabilize_track's offline mode).
#include "ffaccel/stab_cuts.h"

#include <cmath>

#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

static void stab_cuts(In3 z, U8 valid, double move, double zoom, double turn, double shape, Flags flags) {
    const Need need("stab_cuts");
    need(z.shape(1) >= 1 && z.shape(2) == 2, "z: expected (T, N >= 1, 2) points");
    need(valid.shape(0) == z.shape(0) && flags.shape(0) == z.shape(0), "valid, flags: expected (T,)");
    need(std::isfinite(move) && move > 0 && std::isfinite(zoom) && zoom > 1 && std::isfinite(turn) && turn > 0 &&
             turn < 1.5 && std::isfinite(shape) && shape > 0,
         "move, zoom, turn, shape: expected finite thresholds (move, shape > 0; zoom > 1; 0 < turn < 1.5)");
    const int T = static_cast<int>(z.shape(0)), N = static_cast<int>(z.shape(1));
    const StabCutParams p{z.data(), valid.data(), flags.data(), T, N, move, zoom, turn, shape};
    nb::gil_scoped_release release;
    cpu::stab_cuts(p);
}

void register_stab_cuts(nb::module_& m) {
    m.def("stab_cuts", &stab_cuts, nb::arg("z"), nb::arg("valid"), nb::arg("move"), nb::arg("zoom"), nb::arg("turn"),
          nb::arg("shape"), nb::arg("flags").noconvert(),
          "Scene-cut rule of stabilize_track's offline mode over a track: z (T, N, 2) float64 points, valid "
          "(T,) uint8 (rows read only where valid); writes flags (T,) uint8, 1 where a frame starts a new shot.");
}

}  // namespace ffaccel::bindings
