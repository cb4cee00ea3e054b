// Binding for stab_rigid (the rigid / residual split of stabilize_track's offline mode) and
// stab_points (the way back).
#include "ffaccel/stab_rigid.h"

#include <cmath>

#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

static double stab_rigid(In3 z, Out2 m, Out2 channels) {
    const Need need("stab_rigid");
    const int K = static_cast<int>(z.shape(0)), N = static_cast<int>(z.shape(1));
    need(K >= 1 && N >= 2 && z.shape(2) == 2, "z: expected (K >= 1, N >= 2, 2) points");
    need(m.shape(0) == z.shape(1) && m.shape(1) == 2, "m: expected (N, 2)");
    need(channels.shape(0) == z.shape(0) && channels.shape(1) == 4 + 2 * z.shape(1), "channels: expected (K, 4 + 2N)");
    const StabRigidParams p{z.data(), m.data(), channels.data(), K, N};
    double size = 0.0;
    StabRigidStatus st;
    {
        nb::gil_scoped_release release;
        st = cpu::stab_rigid(p, &size);
    }
    raise_rigid_failure(st);
    return size;
}

static void stab_points(In2 channels, In2 m, double size, Out3 out) {
    const Need need("stab_points");
    const size_t T = channels.shape(0), N = m.shape(0);
    need(N >= 1 && m.shape(1) == 2 && channels.shape(1) == 4 + 2 * N, "channels, m: expected (T, 4 + 2N) and (N, 2)");
    need(out.shape(0) == T && out.shape(1) == N && out.shape(2) == 2, "out: expected (T, N, 2)");
    need(std::isfinite(size) && size > 0, "size: expected a finite value > 0");
    nb::gil_scoped_release release;
    ffaccel::stab_points(channels.data(), m.data(), size, static_cast<int>(T), static_cast<int>(N), out.data());
}

void register_stab_rigid(nb::module_& m) {
    m.def("stab_points", &stab_points, nb::arg("channels"), nb::arg("m"), nb::arg("size"), nb::arg("out").noconvert(),
          "The way back from stab_rigid's channels (T, 4 + 2N) float64, reference shape m (N, 2) and size (px): "
          "writes the points out (T, N, 2).");
    m.def("stab_rigid", &stab_rigid, nb::arg("z"), nb::arg("m").noconvert(), nb::arg("channels").noconvert(),
          "Offline rigid / residual split of stabilize_track: z (K, N, 2) float64 points (finite); writes the "
          "reference shape m (N, 2) and channels (K, 4 + 2N); returns the reference size in px.");
}

}  // namespace ffaccel::bindings
