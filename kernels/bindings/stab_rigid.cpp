// Binding for stab_rigid (the rigid / residual split of stabilize_track's offline mode).
#include "ffaccel/stab_rigid.h"

#include <nanobind/ndarray.h>

#include <cmath>
#include <string>

#include "bindings.h"

namespace ffaccel::bindings {

using In3 = nb::ndarray<const double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
using Out2 = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

static double stab_rigid(In3 z, Out2 m, Out2 channels) {
    const int K = static_cast<int>(z.shape(0)), N = static_cast<int>(z.shape(1));
    auto need = [](bool ok, const char* msg) {
        if (!ok) throw nb::value_error((std::string("stab_rigid: ") + msg).c_str());
    };
    need(K >= 1 && N >= 2 && z.shape(2) == 2, "z: expected (K >= 1, N >= 2, 2) points");
    need(m.shape(0) == z.shape(1) && m.shape(1) == 2, "m: expected (N, 2)");
    need(channels.shape(0) == z.shape(0) && channels.shape(1) == 4 + 2 * z.shape(1), "channels: expected (K, 4 + 2N)");
    StabRigidParams p;
    p.z = z.data();
    p.m = m.data();
    p.channels = channels.data();
    p.frames = K;
    p.points = N;
    double size = 0.0;
    StabRigidStatus st;
    {
        nb::gil_scoped_release release;
        st = cpu::stab_rigid(p, &size);
    }
    if (st == StabRigidStatus::no_size)
        throw nb::value_error("landmarks: every point of a frame is at the same place (no face size)");
    if (st == StabRigidStatus::no_similarity)
        throw nb::value_error("landmarks: a frame has no similarity to the reference shape (degenerate points)");
    return size;
}

using In2 = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Out3 = nb::ndarray<double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;

static void stab_points(In2 channels, In2 m, double size, Out3 out) {
    auto need = [](bool ok, const char* msg) {
        if (!ok) throw nb::value_error((std::string("stab_points: ") + msg).c_str());
    };
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
