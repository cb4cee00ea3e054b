// CPU orchestration of stab_offline (kernels/include/ffaccel/stab_offline.h): one thread.
// It only chains the offline kernels (each picks its own x86-64-v3 build), so it is compiled
// once, in the baseline build.
#include "ffaccel/stab_offline.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "ffaccel/stab_bank.h"
#include "ffaccel/stab_cuts.h"
#include "ffaccel/stab_outliers.h"
#include "line_fit.h"
#include "variant.h"

#if defined(FFACCEL_CPU_BASE)
namespace ffaccel {

int stab_offline_period_exponent(int t_len, int pad) {
    const long long need = static_cast<long long>(t_len) + 2LL * pad + 16;
    int e = 0;
    while ((1LL << e) < need) ++e;
    return e;
}

struct StabOfflineWork::Impl {
    int channels = 0, stride = 0;
    std::unique_ptr<double[]> ch, sm;  // (T, C), uninitialised: written before they are read
    std::vector<double> m, at, r, sdr;
    std::vector<std::uint8_t> bad, measured;
    std::unique_ptr<double[]> padded;  // (max_period, stride): the columns past C zero, the others written per shot
    double* bank = nullptr;            // stab_bank's scratch, 64-byte aligned
};

StabOfflineWork::StabOfflineWork(int max_len, int points, const StabOfflineBank& b, int max_period)
    : impl(new Impl) {
    Impl& w = *impl;
    const int T = std::max(max_len, 1), C = 4 + 2 * points, Cp = (C + 3) / 4 * 4;
    w.channels = C;
    w.stride = Cp;
    w.ch.reset(new double[static_cast<std::size_t>(T) * C]);
    w.sm.reset(new double[static_cast<std::size_t>(T) * C]);
    w.m.resize(static_cast<std::size_t>(points) * 2);
    w.at.resize(T);
    for (int t = 0; t < T; ++t) w.at[t] = static_cast<double>(t);
    w.r.resize(C);
    w.sdr.resize(C);
    w.bad.resize(T);
    w.measured.assign(T, 1);
    const std::size_t rows = static_cast<std::size_t>(std::max(max_period, 1));
    w.padded.reset(new double[rows * Cp]);
    for (std::size_t k = 0; k < rows && Cp > C; ++k) std::fill(&w.padded[k * Cp + C], &w.padded[(k + 1) * Cp], 0.0);
    int max_warm = 0;
    for (int j = 0; j < b.levels; ++j) max_warm = std::max(max_warm, b.warm[j]);
    const std::size_t bytes =
        sizeof(double) * static_cast<std::size_t>(stab_bank_work_size(T, C, Cp, b.levels, max_warm, std::max(max_period, 1)));
    w.bank = static_cast<double*>(::operator new[](bytes, std::align_val_t(64)));
}

StabOfflineWork::~StabOfflineWork() {
    ::operator delete[](impl->bank, std::align_val_t(64));
    delete impl;
}

namespace {

// The channels (T, C) of the frames the glitch test dropped (bad), as
// stability/stabilize.py's _offline_segment makes them: between two kept frames a and b,
// numpy.interp's line ((y[b] - y[a]) / (b - a) * (t - a) + y[a]); before the first / after
// the last kept frame (one frame at most) the least-squares line through the nearest 4
// kept frames (in frame order) at that frame. measured (T,) out: 1 where kept. False (nothing
// changed) where fewer than 4 frames are kept.
bool fill_dropped(double* ch, const std::uint8_t* bad, int T, int C, std::uint8_t* measured) {
    std::vector<int> kept;
    kept.reserve(T);
    for (int t = 0; t < T; ++t) {
        if (!bad[t]) kept.push_back(t);
    }
    const int K = static_cast<int>(kept.size());
    if (K < 4) return false;
    const auto row = [&](int t) { return ch + static_cast<std::size_t>(t) * C; };
    for (int j = 0; j + 1 < K; ++j) {
        const int a = kept[j], e = kept[j + 1];
        if (e - a < 2) continue;
        const double span = static_cast<double>(e) - static_cast<double>(a);
        for (int c = 0; c < C; ++c) {
            const double slope = (row(e)[c] - row(a)[c]) / span;
            for (int t = a + 1; t < e; ++t) row(t)[c] = slope * (static_cast<double>(t) - static_cast<double>(a)) + row(a)[c];
        }
    }
    for (int side = 0; side < 2; ++side) {
        const int f[4] = {side == 0 ? kept[0] : kept[K - 4], side == 0 ? kept[1] : kept[K - 3],
                          side == 0 ? kept[2] : kept[K - 2], side == 0 ? kept[3] : kept[K - 1]};
        const int lo = side == 0 ? 0 : kept[K - 1] + 1, hi = side == 0 ? kept[0] : T;
        for (int t = lo; t < hi; ++t) {
            double tau[4], wt[4];
            for (int k = 0; k < 4; ++k) tau[k] = std::abs(static_cast<double>(f[k]) - static_cast<double>(t));
            cpu::line_weights(tau, wt);
            for (int c = 0; c < C; ++c)
                row(t)[c] = ((wt[0] * row(f[0])[c] + wt[1] * row(f[1])[c]) + wt[2] * row(f[2])[c]) + wt[3] * row(f[3])[c];
        }
    }
    for (int t = 0; t < T; ++t) measured[t] = bad[t] ? 0 : 1;
    return true;
}

}  // namespace

bool stab_offline_shot(const double* z, int T, int N, const StabOfflineBank& b, int n, const double* norm,
                       StabOfflineWork& work, double* out, StabRigidStatus* status, bool drops) {
    StabOfflineWork::Impl& w = *work.impl;
    const int C = w.channels, Cp = w.stride, pad = b.pad;
    double size = 0.0;
    *status = cpu::stab_rigid(StabRigidParams{z, w.m.data(), w.ch.get(), T, N}, &size);
    if (*status != StabRigidStatus::ok) return false;
    cpu::stab_outliers(StabOutlierParams{w.ch.get(), w.at.data(), w.bad.data(), T, C, b.outlier, 3});
    bool dropped = false;
    for (int t = 0; t < T; ++t) dropped = dropped || w.bad[t] != 0;
    if (dropped && (!drops || !fill_dropped(w.ch.get(), w.bad.data(), T, C, w.measured.data()))) return false;
    const double* ch = w.ch.get();
    stab_noise_variance(ch, w.measured.data(), b.floor, T, C, b.mad_to_var, w.r.data());
    if (dropped) std::fill(w.measured.begin(), w.measured.end(), std::uint8_t{1});  // all measured again, for the next shot
    for (int c = 0; c < C; ++c) w.sdr[c] = std::sqrt(w.r[c]);
    // one period: odd reflection about the end frames (T > pad), then a straight-line filler
    // back to the start (stability/_bank.py builds the same)
    double* const padded = w.padded.get();
    const int mrows = T + 2 * pad;
    for (int t = 0; t < T; ++t)
        std::memcpy(padded + static_cast<std::size_t>(pad + t) * Cp, ch + static_cast<std::size_t>(t) * C,
                    sizeof(double) * C);
    for (int k = 1; k <= pad; ++k) {
        double* l = padded + static_cast<std::size_t>(pad - k) * Cp;
        double* rr = padded + static_cast<std::size_t>(pad + T - 1 + k) * Cp;
        const double* y0 = ch;
        const double* yk = ch + static_cast<std::size_t>(k) * C;
        const double* ye = ch + static_cast<std::size_t>(T - 1) * C;
        const double* yek = ch + static_cast<std::size_t>(T - 1 - k) * C;
        for (int c = 0; c < C; ++c) {
            l[c] = 2 * y0[c] - yk[c];
            rr[c] = 2 * ye[c] - yek[c];
        }
    }
    const int gap = n - mrows;
    const double* first = padded;
    const double* last = padded + static_cast<std::size_t>(mrows - 1) * Cp;
    for (int i = 1; i <= gap; ++i) {
        const double wt = static_cast<double>(i) / static_cast<double>(gap + 1);
        double* row = padded + static_cast<std::size_t>(mrows - 1 + i) * Cp;
        for (int c = 0; c < C; ++c) row[c] = last[c] + wt * (first[c] - last[c]);
    }
    StabBankParams p;
    p.padded = padded;
    p.ends = b.ends;
    p.coef = b.coef;
    p.warm = b.warm;
    p.norm = norm;
    p.sdr = w.sdr.data();
    p.low = b.low;
    p.out = w.sm.get();
    p.work = w.bank;
    p.n = n;
    p.t_len = T;
    p.pad = pad;
    p.channels = C;
    p.stride = Cp;
    p.levels = b.levels;
    p.order = b.order;
    p.gamma = b.gamma;
    p.erode = b.erode;
    p.average = b.average;
    cpu::stab_bank(p);
    stab_points(w.sm.get(), w.m.data(), size, T, N, out);
    return true;
}

namespace cpu {

int stab_offline_track(const StabOfflineTrack& p, const StabOfflineBank& b) {
    const int T = p.t_len, N = p.points;
    if (T < 1) return 0;
    const std::int64_t row = 2LL * N;
    std::vector<std::uint8_t> valid(T);
    for (int t = 0; t < T; ++t) valid[t] = std::isnan(p.z[row * t]) ? 0 : 1;
    if (p.detect) {
        cpu::stab_cuts(StabCutParams{p.z, valid.data(), p.flags, T, N, p.move, p.zoom, p.turn, p.shape});
    }
    p.flags[0] &= 1;
    for (int t = 1; t < T; ++t) p.flags[t] &= 1;
    // the shots [a, b) and the longest one that is for this path
    std::vector<int> starts;
    starts.push_back(0);
    for (int t = 1; t < T; ++t) {
        if (p.flags[t] & 1) starts.push_back(t);
    }
    starts.push_back(T);
    int longest = 0;
    const int shots = static_cast<int>(starts.size()) - 1;
    std::vector<std::uint8_t> clean(shots, 0);
    for (int s = 0; s < shots; ++s) {
        const int a = starts[s], e = starts[s + 1], len = e - a;
        bool all = len >= 3 && len > b.pad && stab_offline_period_exponent(len, b.pad) < b.norm_rows;
        for (int t = a; t < e && all; ++t) all = valid[t] != 0;
        clean[s] = all;
        if (all) longest = std::max(longest, len);
    }
    int left = 0;
    if (longest > 0) {
        StabOfflineWork work(longest, N, b, 1 << stab_offline_period_exponent(longest, b.pad));
        for (int s = 0; s < shots; ++s) {
            const int a = starts[s], len = starts[s + 1] - a;
            const int e = stab_offline_period_exponent(len, b.pad);
            StabRigidStatus st;
            const bool done = clean[s] && stab_offline_shot(p.z + row * a, len, N, b, 1 << e,
                                                            b.norms + static_cast<std::int64_t>(e) * b.levels, work,
                                                            p.out + row * a, &st, true);
            if (!done) {
                p.flags[a] |= 2;
                ++left;
            }
        }
    } else {
        for (int s = 0; s < shots; ++s) p.flags[starts[s]] |= 2;
        left = shots;
    }
    return left;
}

}  // namespace cpu
}  // namespace ffaccel
#endif  // FFACCEL_CPU_BASE
