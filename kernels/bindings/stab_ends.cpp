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
                                                In1 floor, double mad_to_var, Out2 work) {
    const Need need("stab_end_prepare");
    const int T = static_cast<int>(out.shape(0)), N = static_cast<int>(out.shape(1)), C = 4 + 2 * N;
    need(N >= 2 && out.shape(2) == 2, "out: expected (T, N >= 2, 2) points");
    need(det.shape(0) == out.shape(0) && det.shape(1) == out.shape(1) && det.shape(2) == 2, "det: expected out's shape");
    need(0 <= first && first < stop && stop <= T, "first, stop: expected 0 <= first < stop <= T");
    need(frames >= 1 && noise_frames >= 1, "frames, noise_frames: expected >= 1");
    need(floor.shape(0) == static_cast<size_t>(C), "floor: expected (4 + 2N,)");
    need(work.shape(0) == static_cast<size_t>(2 * frames + 4) && work.shape(1) == static_cast<size_t>(C),
         "work: expected (2 frames + 4, 4 + 2N)");
    need(!overlaps(work.data(), work.nbytes(), out.data(), out.nbytes()) &&
             !overlaps(work.data(), work.nbytes(), det.data(), det.nbytes()) &&
             !overlaps(work.data(), work.nbytes(), floor.data(), floor.nbytes()),
         "work: expected an array apart from out, det and floor");
    const StabEndPrepare p{out.data(), det.data(), T, N, first, stop, frames, noise_frames, floor.data(), mad_to_var,
                           work.data()};
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

static bool stab_end_finish(In2 work, In1 num, double tt, In1 t, double kappa, double size, Out3 out) {
    const Need need("stab_end_finish");
    const size_t N = out.shape(1), C = 4 + 2 * N, F = out.shape(0);
    need(F >= 1 && N >= 2 && out.shape(2) == 2, "out: expected (frames >= 1, N >= 2, 2)");
    need(work.shape(0) == 2 * F + 4 && work.shape(1) == C, "work: expected (2 frames + 4, 4 + 2N)");
    need(num.shape(0) == C && t.shape(0) == F + 1, "num, t: expected (4 + 2N,) and (frames + 1,)");
    need(std::isfinite(tt) && tt > 0, "tt: expected a finite value > 0");
    need(std::isfinite(size) && size > 0, "size: expected a finite value > 0");
    need(!overlaps(out.data(), out.nbytes(), work.data(), work.nbytes()) &&
             !overlaps(out.data(), out.nbytes(), num.data(), num.nbytes()) &&
             !overlaps(out.data(), out.nbytes(), t.data(), t.nbytes()),
         "out: expected an array apart from work, num and t");
    nb::gil_scoped_release release;
    return ffaccel::stab_end_finish(work.data(), num.data(), tt, t.data(), kappa, size, static_cast<int>(F),
                                    static_cast<int>(N), out.data());
}

void register_stab_ends(nb::module_& m) {
    m.def("stab_end_prepare", &stab_end_prepare, nb::arg("out"), nb::arg("det"), nb::arg("first"), nb::arg("stop"),
          nb::arg("frames"), nb::arg("noise_frames"), nb::arg("floor"), nb::arg("mad_to_var"),
          nb::arg("work").noconvert(),
          "First half of the offline end step: out, det (T, N, 2) float64; writes work (2 frames + 4, 4 + 2N): "
          "cen = ch - ch[0] (frames + 1 rows), ch (frames + 1 rows), sd (a row), m (a row's first 2N); returns "
          "(start, size), start -1 when the shot first:stop has no end to treat.");
    m.def("stab_end_finish", &stab_end_finish, nb::arg("work"), nb::arg("num"), nb::arg("tt"), nb::arg("t"),
          nb::arg("kappa"), nb::arg("size"), nb::arg("out").noconvert(),
          "Second half: slope = num / tt (num = t @ cen), the line ch[0] + t slope, the blend weights from the "
          "tail's median departure, and (unless every weight is 0: returns False, writes nothing) the blended "
          "rows back to points in out (frames, N, 2).");
}

}  // namespace ffaccel::bindings
