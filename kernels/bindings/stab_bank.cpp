// Binding for stab_bank (the offline level bank of stabilize_track): typed float64 / int32
// arrays in, shapes checked, cpu::stab_bank out. The Python side (stability/_bank.py)
// builds the padded signal, the end values and the filter coefficients.
#include "ffaccel/stab_bank.h"

#include <algorithm>

#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

static void stab_bank(In2 padded, int t_len, int pad, Int1 ends, In2 coef, Int1 warm, In1 norm, In1 sdr,
                      Int1 low, double gamma, int erode, int average, Out2 out) {
    const Need need("stab_bank");
    const BankLevels lv{ends, coef, warm, norm, low, gamma, erode, average};
    const int n = static_cast<int>(padded.shape(0));
    const int Cp = static_cast<int>(padded.shape(1));
    const int C = static_cast<int>(sdr.shape(0));
    const int J = lv.levels(), order = lv.order();
    need(C >= 1 && C <= STAB_BANK_MAX_CHANNELS && J >= 1 && J <= STAB_BANK_MAX_LEVELS,
         "sdr, coef: expected (C,) with 1 <= C <= 1024 and (J, order) with 1 <= J <= 64");
    need(Cp % 4 == 0 && Cp >= C && Cp < C + 4, "padded: expected (n, C rounded up to a multiple of 4) columns");
    need(order >= 1 && order <= STAB_BANK_MAX_ORDER, "coef: expected 1 to 4 columns (filter order)");
    need(t_len >= 3 && pad >= 1 && static_cast<long long>(t_len) + 2LL * pad <= n,
         "t_len, pad: expected t_len >= 3, pad >= 1, t_len + 2 pad <= n");
    need(lv.lengths_match(), "ends, warm, norm: expected (J,)");
    need(sdr.shape(0) == static_cast<size_t>(C) && low.shape(0) == static_cast<size_t>(C), "sdr, low: expected (C,)");
    need(out.shape(0) == static_cast<size_t>(t_len) && out.shape(1) == static_cast<size_t>(C), "out: expected (t_len, C)");
    need(erode >= 0 && average >= 0, "erode, average: expected >= 0");
    for (int j = 0; j < J; ++j) need(ends.data()[j] >= 1, "ends: expected >= 1");
    int max_warm = 0;
    for (int j = 0; j < J; ++j) {
        need(warm.data()[j] >= 0 && warm.data()[j] <= (1 << 24), "warm: expected 0 .. 2^24");
        max_warm = std::max(max_warm, warm.data()[j]);
    }
    for (int c = 0; c < C; ++c) {
        need(low.data()[c] >= 0 && low.data()[c] < J, "low: expected levels in [0, J)");
        need(c == 0 || low.data()[c] >= low.data()[c - 1], "low: expected non-decreasing");
    }
    // out must not overlap an input (it is written while they are read)
    const size_t out_bytes = sizeof(double) * static_cast<size_t>(t_len) * C;
    auto meets_out = [&](const void* d, size_t bytes) { return overlaps(out.data(), out_bytes, d, bytes); };
    need(!meets_out(padded.data(), sizeof(double) * static_cast<size_t>(n) * Cp) &&
             !meets_out(coef.data(), sizeof(double) * static_cast<size_t>(J) * order) &&
             !meets_out(norm.data(), sizeof(double) * J) && !meets_out(sdr.data(), sizeof(double) * C),
         "out: must not overlap an input");
    const BankWork work = bank_work(t_len, C, Cp, J, max_warm, n);
    const StabBankParams p = lv.params(padded.data(), n, Cp, t_len, pad, C, sdr.data(), out.data(), work.get());
    nb::gil_scoped_release release;
    cpu::stab_bank(p);
}

static void stab_noise_variance(In2 y, U8 measured, In1 floor, double scale, Out1 out) {
    const Need need("stab_bank");
    const int T = static_cast<int>(y.shape(0)), C = static_cast<int>(y.shape(1));
    need(measured.shape(0) == y.shape(0), "measured: expected (T,)");
    need(floor.shape(0) == y.shape(1) && out.shape(0) == y.shape(1), "floor, out: expected (C,)");
    need(scale > 0, "scale: expected > 0");
    nb::gil_scoped_release release;
    ffaccel::stab_noise_variance(y.data(), measured.data(), floor.data(), T, C, scale, out.data());
}

void register_stab_bank(nb::module_& m) {
    m.def("stab_noise_variance", &stab_noise_variance, nb::arg("y"), nb::arg("measured"), nb::arg("floor"),
          nb::arg("scale"), nb::arg("out").noconvert(),
          "Per-channel noise variance of y (T, C) float64 from the median |fourth difference| over runs of five "
          "measured frames (uint8 (T,)), squared, times scale, floored (C,); writes out (C,).");
    m.def("stab_bank", &stab_bank, nb::arg("padded"), nb::arg("t_len"), nb::arg("pad"), nb::arg("ends"),
          nb::arg("coef"), nb::arg("warm"), nb::arg("norm"), nb::arg("sdr"), nb::arg("low"), nb::arg("gamma"),
          nb::arg("erode"), nb::arg("average"), nb::arg("out").noconvert(),
          "Offline level bank of stabilize_track (float64): padded (n, C rounded up to 4; extra columns 0) "
          "periodic signal, end-line lengths "
          "ends (J,), recursion coefficients coef (J, order), warm-up lengths (J,), noise gains norm (J,), noise "
          "std sdr (C,), smoothest level low (C,, non-decreasing); writes out (t_len, C).");
}

}  // namespace ffaccel::bindings
