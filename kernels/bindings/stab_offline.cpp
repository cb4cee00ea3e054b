// Binding for the clean-track path of stabilize_track's offline mode: one call that chains the
// offline kernels (stab_rigid, stab_outliers, stab_noise_variance, stab_bank, stab_points) for
// a shot whose frames are all measured. It returns False, having written nothing, when the
// shot needs the general path (a detector glitch to drop, fewer than 3 frames, or a shot no
// longer than the pad), which the Python side (stability/stabilize.py) then takes.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "ffaccel/stab_bank.h"
#include "ffaccel/stab_outliers.h"
#include "ffaccel/stab_rigid.h"
#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

static bool stab_offline_clean(In3 z, int n, int pad, double outlier, In1 floor, Int1 low, double mad_to_var,
                               Int1 ends, In2 coef, Int1 warm, In1 norm, double gamma, int erode, int average,
                               Out3 out) {
    const Need need("stab_offline_clean");
    const BankLevels lv{ends, coef, warm, norm, low, gamma, erode, average};
    const int T = static_cast<int>(z.shape(0)), N = static_cast<int>(z.shape(1));
    const int C = 4 + 2 * N, Cp = (C + 3) / 4 * 4;
    const int J = lv.levels(), order = lv.order();
    need(N >= 2 && z.shape(2) == 2, "z: expected (T, N >= 2, 2) points");
    need(out.shape(0) == z.shape(0) && out.shape(1) == z.shape(1) && out.shape(2) == 2, "out: expected (T, N, 2)");
    need(floor.shape(0) == static_cast<size_t>(C) && low.shape(0) == static_cast<size_t>(C),
         "floor, low: expected (4 + 2N,)");
    need(C <= STAB_BANK_MAX_CHANNELS && J >= 1 && J <= STAB_BANK_MAX_LEVELS && order >= 1 &&
             order <= STAB_BANK_MAX_ORDER,
         "coef: expected (J <= 64, 1 .. 4), N <= 510");
    need(lv.lengths_match(), "ends, warm, norm: expected (J,)");
    need(pad >= 1 && static_cast<long long>(T) + 2LL * pad <= n, "n, pad: expected pad >= 1 and T + 2 pad <= n");
    need(outlier > 0 && mad_to_var > 0 && erode >= 0 && average >= 0, "outlier, mad_to_var, erode, average: out of range");
    int max_warm = 0;
    for (int j = 0; j < J; ++j) {
        need(warm.data()[j] >= 0 && warm.data()[j] <= (1 << 24) && ends.data()[j] >= 1, "warm, ends: out of range");
        max_warm = std::max(max_warm, warm.data()[j]);
    }
    for (int c = 0; c < C; ++c) {
        need(low.data()[c] >= 0 && low.data()[c] < J && (c == 0 || low.data()[c] >= low.data()[c - 1]),
             "low: expected non-decreasing levels in [0, J)");
    }
    if (T < 3 || T <= pad) return false;
    const size_t bytes = sizeof(double) * static_cast<size_t>(T) * N * 2;
    need(!overlaps(out.data(), bytes, z.data(), bytes), "out: must not overlap z");

    std::vector<double> ch(static_cast<size_t>(T) * C), m(static_cast<size_t>(N) * 2), at(T), r(C), sdr(C);
    std::vector<std::uint8_t> bad(T), measured(T, 1);
    // every column < C of `padded` is written below; the extra ones (to Cp) must be 0
    std::unique_ptr<double[]> padded_buf(new double[static_cast<size_t>(n) * Cp]);
    double* const padded = padded_buf.get();
    if (Cp > C) {
        for (int k = 0; k < n; ++k) std::fill(padded + static_cast<size_t>(k) * Cp + C, padded + static_cast<size_t>(k + 1) * Cp, 0.0);
    }
    std::vector<double> sm(static_cast<size_t>(T) * C);
    const BankWork work = bank_work(T, C, Cp, J, max_warm);
    bool done = false;
    StabRigidStatus st;
    {
        nb::gil_scoped_release release;
        const StabRigidParams rp{z.data(), m.data(), ch.data(), T, N};
        double size = 0.0;
        st = cpu::stab_rigid(rp, &size);
        if (st == StabRigidStatus::ok) {
            for (int t = 0; t < T; ++t) at[t] = static_cast<double>(t);
            cpu::stab_outliers(StabOutlierParams{ch.data(), at.data(), bad.data(), T, C, outlier, 3});
            bool any = false;
            for (int t = 0; t < T; ++t) any |= bad[t] != 0;
            if (!any) {
                stab_noise_variance(ch.data(), measured.data(), floor.data(), T, C, mad_to_var, r.data());
                for (int c = 0; c < C; ++c) sdr[c] = std::sqrt(r[c]);
                // one period: odd reflection about the end frames (T > pad), then a straight-line
                // filler back to the start (stability/_bank.py builds the same)
                const int mrows = T + 2 * pad;
                for (int t = 0; t < T; ++t)
                    std::copy(&ch[static_cast<size_t>(t) * C], &ch[static_cast<size_t>(t) * C] + C,
                              padded + static_cast<size_t>(pad + t) * Cp);
                for (int k = 1; k <= pad; ++k) {
                    double* l = padded + static_cast<size_t>(pad - k) * Cp;
                    double* rr = padded + static_cast<size_t>(pad + T - 1 + k) * Cp;
                    const double* y0 = &ch[0];
                    const double* yk = &ch[static_cast<size_t>(k) * C];
                    const double* ye = &ch[static_cast<size_t>(T - 1) * C];
                    const double* yek = &ch[static_cast<size_t>(T - 1 - k) * C];
                    for (int c = 0; c < C; ++c) {
                        l[c] = 2 * y0[c] - yk[c];
                        rr[c] = 2 * ye[c] - yek[c];
                    }
                }
                const int gap = n - mrows;
                const double* first = padded;
                const double* last = padded + static_cast<size_t>(mrows - 1) * Cp;
                for (int i = 1; i <= gap; ++i) {
                    const double w = static_cast<double>(i) / static_cast<double>(gap + 1);
                    double* row = padded + static_cast<size_t>(mrows - 1 + i) * Cp;
                    for (int c = 0; c < C; ++c) row[c] = last[c] + w * (first[c] - last[c]);
                }
                cpu::stab_bank(lv.params(padded, n, Cp, T, pad, C, sdr.data(), sm.data(), work.get()));
                stab_points(sm.data(), m.data(), size, T, N, out.data());
                done = true;
            }
        }
    }
    raise_rigid_failure(st);
    return done;
}

void register_stab_offline(nb::module_& m) {
    m.def("stab_offline_clean", &stab_offline_clean, nb::arg("z"), nb::arg("n"), nb::arg("pad"), nb::arg("outlier"),
          nb::arg("floor"), nb::arg("low"), nb::arg("mad_to_var"), nb::arg("ends"), nb::arg("coef"), nb::arg("warm"),
          nb::arg("norm"), nb::arg("gamma"), nb::arg("erode"), nb::arg("average"), nb::arg("out").noconvert(),
          "stabilize_track's offline path for a shot whose frames are all measured: z (T, N, 2) float64 -> out "
          "(T, N, 2). Returns False (nothing written) when the shot needs the general path.");
}

}  // namespace ffaccel::bindings
