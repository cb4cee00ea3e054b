// Bindings for stabilize_track's offline mode (kernels/include/ffaccel/stab_offline.h):
// - stab_offline_track: the whole track without timestamps in one call (cuts, then every
//   shot whose frames are all measured, detector glitches dropped and filled in the core);
//   the shots it leaves are marked for the Python side;
// - stab_offline_clean: one such shot with no glitch to drop (for the tests and the cost
//   benchmark, which check and time that chain alone). It returns False, having written
//   nothing, when the shot needs more (a detector glitch to drop, fewer than 3 frames, or a
//   shot no longer than the pad).
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "ffaccel/stab_bank.h"
#include "ffaccel/stab_offline.h"
#include "ffaccel/stab_rigid.h"
#include "stab_args.h"

namespace ffaccel::bindings {

using namespace stab;

namespace {

// The level bank's arrays and settings, as both bindings take them from Python.
struct Levels {
    const Int1& ends;
    const In2& coef;
    const Int1& warm;
    const Int1& low;
    const In1& floor;
    double gamma;
    int erode, average, pad;
    double outlier, mad_to_var;

    int count() const { return static_cast<int>(coef.shape(0)); }

    // The checks both bindings share, for C channels (the messages of stab_offline_clean).
    void check(const Need& need, int C) const {
        const int J = count(), order = static_cast<int>(coef.shape(1));
        need(floor.shape(0) == static_cast<size_t>(C) && low.shape(0) == static_cast<size_t>(C),
             "floor, low: expected (4 + 2N,)");
        need(C <= STAB_BANK_MAX_CHANNELS && J >= 1 && J <= STAB_BANK_MAX_LEVELS && order >= 1 &&
                 order <= STAB_BANK_MAX_ORDER,
             "coef: expected (J <= 64, 1 .. 4), N <= 510");
        need(ends.shape(0) == static_cast<size_t>(J) && warm.shape(0) == static_cast<size_t>(J),
             "ends, warm, norm: expected (J,)");
        need(outlier > 0 && mad_to_var > 0 && erode >= 0 && average >= 0,
             "outlier, mad_to_var, erode, average: out of range");
        for (int j = 0; j < J; ++j) {
            need(warm.data()[j] >= 0 && warm.data()[j] <= (1 << 24) && ends.data()[j] >= 1, "warm, ends: out of range");
        }
        for (int c = 0; c < C; ++c) {
            need(low.data()[c] >= 0 && low.data()[c] < J && (c == 0 || low.data()[c] >= low.data()[c - 1]),
                 "low: expected non-decreasing levels in [0, J)");
        }
    }

    StabOfflineBank bank(const double* norms, int rows) const {
        StabOfflineBank b;
        b.ends = ends.data();
        b.coef = coef.data();
        b.warm = warm.data();
        b.norms = norms;
        b.low = low.data();
        b.floor = floor.data();
        b.norm_rows = rows;
        b.levels = count();
        b.order = static_cast<int>(coef.shape(1));
        b.pad = pad;
        b.outlier = outlier;
        b.mad_to_var = mad_to_var;
        b.gamma = gamma;
        b.erode = erode;
        b.average = average;
        return b;
    }
};

}  // namespace

static bool stab_offline_clean(In3 z, int n, int pad, double outlier, In1 floor, Int1 low, double mad_to_var,
                               Int1 ends, In2 coef, Int1 warm, In1 norm, double gamma, int erode, int average,
                               Out3 out) {
    const Need need("stab_offline_clean");
    const Levels lv{ends, coef, warm, low, floor, gamma, erode, average, pad, outlier, mad_to_var};
    const int T = static_cast<int>(z.shape(0)), N = static_cast<int>(z.shape(1));
    need(N >= 2 && z.shape(2) == 2, "z: expected (T, N >= 2, 2) points");
    need(out.shape(0) == z.shape(0) && out.shape(1) == z.shape(1) && out.shape(2) == 2, "out: expected (T, N, 2)");
    lv.check(need, 4 + 2 * N);
    need(norm.shape(0) == static_cast<size_t>(lv.count()), "ends, warm, norm: expected (J,)");
    need(pad >= 1 && static_cast<long long>(T) + 2LL * pad <= n, "n, pad: expected pad >= 1 and T + 2 pad <= n");
    if (T < 3 || T <= pad) return false;
    const size_t bytes = sizeof(double) * static_cast<size_t>(T) * N * 2;
    need(!overlaps(out.data(), bytes, z.data(), bytes), "out: must not overlap z");
    const StabOfflineBank b = lv.bank(nullptr, 0);
    bool done = false;
    StabRigidStatus st = StabRigidStatus::ok;
    {
        nb::gil_scoped_release release;
        StabOfflineWork work(T, N, b, n);
        done = stab_offline_shot(z.data(), T, N, b, n, norm.data(), work, out.data(), &st, false);
    }
    raise_rigid_failure(st);
    return done;
}

// The whole offline mode of a track without timestamps: cuts (detected, or given in flags),
// then every clean shot; returns the number of shots left to the Python side (bit 1 of the
// flag of their first frame).
static int stab_offline_track(In3 z, bool detect, double move, double zoom, double turn, double shape, int pad,
                              double outlier, In1 floor, Int1 low, double mad_to_var, Int1 ends, In2 coef, Int1 warm,
                              In2 norms, double gamma, int erode, int average, Flags flags, Out3 out) {
    const Need need("stab_offline_track");
    const Levels lv{ends, coef, warm, low, floor, gamma, erode, average, pad, outlier, mad_to_var};
    const int T = static_cast<int>(z.shape(0)), N = static_cast<int>(z.shape(1));
    need(T >= 1 && N >= 2 && z.shape(2) == 2, "z: expected (T >= 1, N >= 2, 2) points");
    need(flags.shape(0) == z.shape(0), "flags: expected (T,)");
    need(out.shape(0) == z.shape(0) && out.shape(1) == z.shape(1) && out.shape(2) == 2, "out: expected (T, N, 2)");
    lv.check(need, 4 + 2 * N);
    need(norms.shape(1) == static_cast<size_t>(lv.count()) && norms.shape(0) >= 1 && norms.shape(0) <= 30,
         "norms: expected (E <= 30, J)");
    need(pad >= 1 && pad <= (1 << 20), "pad: expected 1 .. 2^20");
    need(std::isfinite(move) && move > 0 && std::isfinite(zoom) && zoom > 1 && std::isfinite(turn) && turn > 0 &&
             turn < 1.5 && std::isfinite(shape) && shape > 0,
         "move, zoom, turn, shape: expected finite thresholds (move, shape > 0; zoom > 1; 0 < turn < 1.5)");
    const size_t bytes = sizeof(double) * static_cast<size_t>(T) * N * 2;
    need(!overlaps(out.data(), bytes, z.data(), bytes), "out: must not overlap z");
    const StabOfflineBank b = lv.bank(norms.data(), static_cast<int>(norms.shape(0)));
    StabOfflineTrack p;
    p.z = z.data();
    p.t_len = T;
    p.points = N;
    p.detect = detect;
    p.move = move;
    p.zoom = zoom;
    p.turn = turn;
    p.shape = shape;
    p.flags = flags.data();
    p.out = out.data();
    nb::gil_scoped_release release;
    return cpu::stab_offline_track(p, b);
}

void register_stab_offline(nb::module_& m) {
    m.def("stab_offline_clean", &stab_offline_clean, nb::arg("z"), nb::arg("n"), nb::arg("pad"), nb::arg("outlier"),
          nb::arg("floor"), nb::arg("low"), nb::arg("mad_to_var"), nb::arg("ends"), nb::arg("coef"), nb::arg("warm"),
          nb::arg("norm"), nb::arg("gamma"), nb::arg("erode"), nb::arg("average"), nb::arg("out").noconvert(),
          "stabilize_track's offline path for a shot whose frames are all measured: z (T, N, 2) float64 -> out "
          "(T, N, 2). Returns False (nothing written) when the shot needs the general path.");
    m.def("stab_offline_track", &stab_offline_track, nb::arg("z"), nb::arg("detect"), nb::arg("move"), nb::arg("zoom"),
          nb::arg("turn"), nb::arg("shape"), nb::arg("pad"), nb::arg("outlier"), nb::arg("floor"), nb::arg("low"),
          nb::arg("mad_to_var"), nb::arg("ends"), nb::arg("coef"), nb::arg("warm"), nb::arg("norms"), nb::arg("gamma"),
          nb::arg("erode"), nb::arg("average"), nb::arg("flags").noconvert(), nb::arg("out").noconvert(),
          "stabilize_track's offline mode over a track without timestamps: z (T, N, 2) float64 (rows finite or all "
          "NaN). Cuts are detected (detect=True) or read from flags (T,) uint8 bit 0; every shot whose frames are "
          "all measured and need no glitch dropped is smoothed into out (T, N, 2). Returns the number of shots left "
          "to the caller; bit 1 of flags marks their first frames. norms (E, J): row e = the levels' noise gains "
          "on a circle of 2^e samples.");
}

}  // namespace ffaccel::bindings
