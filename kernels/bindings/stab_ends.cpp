// Bindings for the offline mode's end step (kernels/include/ffaccel/stab_ends.h): the two
// halves of stability/_ends.py's straighten_end around its numpy product.
#include "ffaccel/stab_ends.h"

#include <nanobind/stl/tuple.h>

#include <cmath>
#include <tuple>

#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

static std::tuple<int, double> stab_end_prepare(In3 out, In3 det, int first, int stop, int frames, int noise_frames,
                                                In1 floor, double mad_to_var, Out2 m, Out2 ch, Out2 cen, Out1 sd) {
    const Need need("stab_end_prepare");
    const int T = static_cast<int>(out.shape(0)), N = static_cast<int>(out.shape(1)), C = 4 + 2 * N;
    need(N >= 2 && out.shape(2) == 2, "out: expected (T, N >= 2, 2) points");
    need(det.shape(0) == out.shape(0) && det.shape(1) == out.shape(1) && det.shape(2) == 2, "det: expected out's shape");
    need(0 <= first && first < stop && stop <= T, "first, stop: expected 0 <= first < stop <= T");
    need(frames >= 1 && noise_frames >= 1, "frames, noise_frames: expected >= 1");
    need(floor.shape(0) == static_cast<size_t>(C) && sd.shape(0) == static_cast<size_t>(C), "floor, sd: expected (4 + 2N,)");
    need(m.shape(0) == static_cast<size_t>(N) && m.shape(1) == 2, "m: expected (N, 2)");
    need(ch.shape(0) == static_cast<size_t>(frames + 1) && ch.shape(1) == static_cast<size_t>(C) &&
             cen.shape(0) == ch.shape(0) && cen.shape(1) == ch.shape(1),
         "ch, cen: expected (frames + 1, 4 + 2N)");
    const StabEndPrepare p{out.data(), det.data(), T, N, first, stop, frames, noise_frames, floor.data(), mad_to_var,
                           m.data(), ch.data(), cen.data(), sd.data()};
    double size = 0.0;
    StabRigidStatus st = StabRigidStatus::ok;
    int start;
    {
        nb::gil_scoped_release release;
        start = ffaccel::stab_end_prepare(p, &size, &st);
    }
    if (start >= 0) raise_rigid_failure(st);
    return {start, size};
}

static bool stab_end_finish(In2 ch, In1 slope, In1 t, In1 sd, double kappa, In2 m, double size, Out3 out) {
    const Need need("stab_end_finish");
    const size_t N = m.shape(0), C = 4 + 2 * N, F = out.shape(0);
    need(N >= 1 && m.shape(1) == 2 && out.shape(1) == N && out.shape(2) == 2, "m, out: expected (N, 2) and (frames, N, 2)");
    need(F >= 1 && ch.shape(0) == F + 1 && ch.shape(1) == C, "ch: expected (frames + 1, 4 + 2N)");
    need(slope.shape(0) == C && sd.shape(0) == C && t.shape(0) == F + 1, "slope, sd, t: expected (4 + 2N,), (4 + 2N,), (frames + 1,)");
    need(std::isfinite(size) && size > 0, "size: expected a finite value > 0");
    nb::gil_scoped_release release;
    return ffaccel::stab_end_finish(ch.data(), slope.data(), t.data(), sd.data(), kappa, m.data(), size,
                                    static_cast<int>(F), static_cast<int>(N), out.data());
}

void register_stab_ends(nb::module_& m) {
    m.def("stab_end_prepare", &stab_end_prepare, nb::arg("out"), nb::arg("det"), nb::arg("first"), nb::arg("stop"),
          nb::arg("frames"), nb::arg("noise_frames"), nb::arg("floor"), nb::arg("mad_to_var"), nb::arg("m").noconvert(),
          nb::arg("ch").noconvert(), nb::arg("cen").noconvert(), nb::arg("sd").noconvert(),
          "First half of the offline end step: out, det (T, N, 2) float64; writes m (N, 2), ch and cen "
          "(frames + 1, 4 + 2N), sd (4 + 2N,); returns (start, size), start -1 when the shot first:stop has "
          "no end to treat.");
    m.def("stab_end_finish", &stab_end_finish, nb::arg("ch"), nb::arg("slope"), nb::arg("t"), nb::arg("sd"),
          nb::arg("kappa"), nb::arg("m"), nb::arg("size"), nb::arg("out").noconvert(),
          "Second half: the line ch[0] + t slope, the blend weights from the tail's median departure, and "
          "(unless every weight is 0: returns False, writes nothing) the blended rows back to points in out "
          "(frames, N, 2).");
}

}  // namespace ffaccel::bindings
