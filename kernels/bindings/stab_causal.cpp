// Binding of stab_causal (kernels/include/ffaccel/stab_causal.h): the StabCausal class that
// LandmarkStabilizer(mode="causal") holds (src/ffaccel/stability/stabilizer.py). Argument checks
// and the timestamps stay on the Python side; here: one frame per call.
#include <nanobind/ndarray.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "bindings.h"
#include "stab_args.h"
#include "ffaccel/stab_causal.h"

namespace ffaccel::bindings {

namespace {

using Pts = nb::ndarray<const double, nb::ndim<2>, nb::device::cpu>;
using OutPts = nb::ndarray<nb::numpy, double, nb::ndim<2>>;

double key(const nb::dict& d, const char* name) {
    stab::Need("StabCausal")(d.contains(name), (std::string("consts: missing ") + name).c_str());
    return nb::cast<double>(d[name]);
}

StabCausalConsts consts_from(const nb::dict& d) {
    StabCausalConsts k;
#define FFACCEL_KEY(f) k.f = key(d, #f)
    FFACCEL_KEY(mad); FFACCEL_KEY(d4_gain); FFACCEL_KEY(r_prior); FFACCEL_KEY(r_floor); FFACCEL_KEY(up); FFACCEL_KEY(down);
    FFACCEL_KEY(v_prior); FFACCEL_KEY(glitch); FFACCEL_KEY(start_v0); FFACCEL_KEY(start_p0);
    FFACCEL_KEY(log_min_rigid); FFACCEL_KEY(log_min_resid); FFACCEL_KEY(lam_rigid); FFACCEL_KEY(lam_resid);
    FFACCEL_KEY(alpha_rigid); FFACCEL_KEY(alpha_resid); FFACCEL_KEY(a_det); FFACCEL_KEY(b_det);
    FFACCEL_KEY(thresh_nu0); FFACCEL_KEY(rise_rate); FFACCEL_KEY(memory); FFACCEL_KEY(vgate2); FFACCEL_KEY(lam_det);
    FFACCEL_KEY(bias_memory); FFACCEL_KEY(bias_var); FFACCEL_KEY(bias_gate); FFACCEL_KEY(step);
    FFACCEL_KEY(boost_decay); FFACCEL_KEY(kappa); FFACCEL_KEY(log_max); FFACCEL_KEY(alpha_min); FFACCEL_KEY(beta_min);
    FFACCEL_KEY(move); FFACCEL_KEY(log_zoom); FFACCEL_KEY(turn); FFACCEL_KEY(shape); FFACCEL_KEY(follow);
#undef FFACCEL_KEY
    k.predict_max = static_cast<int>(key(d, "predict_max"));
    k.persist = key(d, "persist") != 0.0;
    k.vgate = key(d, "vgate") != 0.0;
    return k;
}

struct Causal {
    explicit Causal(const nb::dict& d) : st(consts_from(d)) {}
    explicit Causal(cpu::StabCausal&& s) : st(std::move(s)), n(s_n(st)) {}
    static int s_n(const cpu::StabCausal& s) { return s.points_per_frame(); }
    cpu::StabCausal st;
    int n = 0;

    nb::object run(const double* z, int npts, std::ptrdiff_t s0, std::ptrdiff_t s1, double dt, bool cut) {
        stab::Need("StabCausal")(dt > 0.0, "dt: expected > 0");
        const int N = z ? npts : n;
        std::unique_ptr<double[]> buf(new double[2 * static_cast<size_t>(N > 0 ? N : 1)]);
        const cpu::StabCausalResult res = st.feed(z, npts, s0, s1, dt, cut, buf.get());
        if (z && res == cpu::StabCausalResult::points) n = npts;  // (an error leaves N unset)
        switch (res) {
            case cpu::StabCausalResult::none: return nb::none();
            case cpu::StabCausalResult::error_no_size:
                throw nb::value_error("points: every point is at the same place (no face size)");
            case cpu::StabCausalResult::error_degenerate:
                throw nb::value_error("landmarks: a frame has no similarity to the reference shape (degenerate points)");
            default: break;
        }
        double* p = buf.release();
        nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<double*>(q); });
        return nb::cast(OutPts(p, {static_cast<size_t>(N), 2}, owner));
    }
};

}  // namespace

void register_stab_causal(nb::module_& m) {
    nb::class_<Causal>(m, "StabCausal",
                       "LandmarkStabilizer's causal mode for one face: state of the track; one frame per call.")
        .def(nb::init<const nb::dict&>(), nb::arg("consts"))
        .def("reset", [](Causal& c) { c.st.reset(); c.n = 0; })
        .def("__copy__", [](const Causal& c) { return Causal(c); })
        .def("__deepcopy__", [](const Causal& c, nb::handle) { return Causal(c); }, nb::arg("memo"))
        .def("__getstate__",
             [](const Causal& c) {
                 const std::vector<double> s = c.st.save();
                 return nb::bytes(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(double));
             })
        .def("__setstate__",
             [](Causal& c, const nb::bytes& b) {
                 const stab::Need need("StabCausal");
                 need(b.size() % sizeof(double) == 0, "state: expected what __getstate__ returned");
                 std::vector<double> s(b.size() / sizeof(double));
                 if (!s.empty()) std::memcpy(s.data(), b.c_str(), b.size());
                 cpu::StabCausal st{StabCausalConsts{}};
                 need(st.load(s), "state: expected what __getstate__ returned (same ffaccel version)");
                 new (&c) Causal(std::move(st));
             },
             nb::arg("state"))
        .def(
            "feed",
            [](Causal& c, Pts z, double dt, bool cut) -> nb::object {
                const stab::Need need("StabCausal.feed");
                need(z.shape(1) == 2 && z.shape(0) >= 2, "points: expected shape (N >= 2, 2)");
                need(!c.n || static_cast<int>(z.shape(0)) == c.n, "points: expected the same N as before");
                const double* p = z.data();
                for (size_t i = 0; i < z.shape(0); ++i)  // finite and within kCoordMax (NaN fails <=)
                    if (!(std::abs(p[i * z.stride(0)]) <= stab::kCoordMax) ||
                        !(std::abs(p[i * z.stride(0) + z.stride(1)]) <= stab::kCoordMax))
                        return nb::cast(false);  // nothing changed: the caller words the error
                return c.run(p, static_cast<int>(z.shape(0)), z.stride(0), z.stride(1), dt, cut);
            },
            nb::arg("z"), nb::arg("dt"), nb::arg("cut"),
            "One detected frame: z (N, 2) float64 pixels, dt frames since the last one, cut a known new shot. "
            "Returns (N, 2) float64 pixels, or False (and changes nothing) when z has a NaN, an infinity or a "
            "coordinate beyond 1e12 in magnitude.")
        .def(
            "miss", [](Causal& c, double dt, bool cut) { return c.run(nullptr, 0, 0, 0, dt, cut); }, nb::arg("dt"),
            nb::arg("cut"), "One missed frame; returns (N, 2) float64 pixels or None (no face yet in this shot).");
}

}  // namespace ffaccel::bindings
