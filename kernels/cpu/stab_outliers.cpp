// CPU loop for stab_outliers (kernels/include/ffaccel/stab_outliers.h): one thread.
#include "ffaccel/stab_outliers.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "line_fit.h"
#include "select.h"
#include "variant.h"

namespace ffaccel {
namespace cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// Median of five as a min/max network (stability/stabilize.py's _median_deviation).
inline double median5(double a, double b, double c, double d, double e) {
    const double f = std::max(std::min(a, b), std::min(c, d));
    const double g = std::min(std::max(a, b), std::max(c, d));
    return std::max(std::min(f, g), std::min(std::max(f, g), e));
}

// Weights w (4) of the least-squares parabola's value at offset 0 through points at offsets
// tau (4): w = A (A^T A)^-1 e0, A's rows (1, tau, tau^2).
void parabola_weights(const double* tau, double* w) {
    double s[5] = {0, 0, 0, 0, 0};  // sums of tau^0 .. tau^4
    for (int k = 0; k < 4; ++k) {
        const double t = tau[k], t2 = t * t;
        s[0] += 1.0;
        s[1] += t;
        s[2] += t2;
        s[3] += t2 * t;
        s[4] += t2 * t2;
    }
    // g = [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]]; first column of its inverse by cofactors
    const double c0 = s[2] * s[4] - s[3] * s[3];
    const double c1 = -(s[1] * s[4] - s[3] * s[2]);
    const double c2 = s[1] * s[3] - s[2] * s[2];
    const double det = s[0] * c0 + s[1] * c1 + s[2] * c2;
    const double x0 = c0 / det, x1 = c1 / det, x2 = c2 / det;
    for (int k = 0; k < 4; ++k) w[k] = x0 + x1 * tau[k] + x2 * tau[k] * tau[k];
}

// |y[e] - the line (parabola) through frames f[0..3] at e's time| in channel c of the (T, C)
// rows y; w: line_weights (parabola_weights) of the offsets |at[f] - at[e]|.
inline double edge_residual(const double* y, int C, int e, const int* f, const double* w, int c) {
    const auto at = [&](int t) { return y[static_cast<std::int64_t>(t) * C + c]; };
    const double pred = ((w[0] * at(f[0]) + w[1] * at(f[1])) + w[2] * at(f[2])) + w[3] * at(f[3]);
    return std::abs(at(e) - pred);
}

// The one-sided line test's (curve false) or parabola test's (curve true) residuals at every
// frame of all T (the first pass keeps every frame) that has four frames after it, then at
// every one that has four before it: (C, 2 (T - 4)) channel-major into buf (each channel's
// count reads one run). The parabola's value at 0 is the same for offsets tau and -tau, so
// both sides use the positive offsets.
void edge_residuals(const double* y, const double* at, int T, int C, bool curve, std::vector<double>& buf) {
    const int n = T - 4;
    const std::size_t N = static_cast<std::size_t>(2 * n);
    buf.resize(N * C);
    double tau[4], w[4], last[4] = {0, 0, 0, 0};
    bool have = false;
    for (int side = 0; side < 2; ++side) {
        for (int t = 0; t < n; ++t) {
            const int e = side == 0 ? t : T - 1 - t;
            int f[4];
            for (int k = 0; k < 4; ++k) {
                f[k] = side == 0 ? e + 1 + k : e - 1 - k;
                tau[k] = side == 0 ? at[f[k]] - at[e] : at[e] - at[f[k]];
            }
            if (!have || tau[0] != last[0] || tau[1] != last[1] || tau[2] != last[2] || tau[3] != last[3]) {
                if (curve) {
                    parabola_weights(tau, w);
                } else {
                    line_weights(tau, w);
                }
                for (int k = 0; k < 4; ++k) last[k] = tau[k];
                have = true;
            }
            const double* ye = y + static_cast<std::int64_t>(e) * C;
            const double* y0 = y + static_cast<std::int64_t>(f[0]) * C;
            const double* y1 = y + static_cast<std::int64_t>(f[1]) * C;
            const double* y2 = y + static_cast<std::int64_t>(f[2]) * C;
            const double* y3 = y + static_cast<std::int64_t>(f[3]) * C;
            double* r = buf.data() + static_cast<std::size_t>(side * n + t);
            for (int c = 0; c < C; ++c)
                r[c * N] = std::abs(ye[c] - (((w[0] * y0[c] + w[1] * y1[c]) + w[2] * y2[c]) + w[3] * y3[c]));
        }
    }
}

// Whether er / se > lim, se = max(1.4826 x the median of the N (even) values v[0..N),
// floor): the line test of an end frame. One counting pass instead of the median: the
// median is below er / (1.4826 lim) where more than N / 2 values are, not where fewer are;
// where exactly N / 2 are, the two middle values are the largest of them and the least of
// the others, and the scale is made from them as numpy's median makes it.
bool edge_flag(const double* v, int N, double er, double floor, double lim) {
    if (!(er / floor > lim)) return false;  // se >= floor
    const double thr = er / (1.4826 * lim);
    int below = 0;
    double lo = -HUGE_VAL, hi = HUGE_VAL;
    for (int k = 0; k < N; ++k) {
        const double x = v[k];
        const bool b = x < thr;
        below += b ? 1 : 0;
        lo = b && x > lo ? x : lo;
        hi = !b && x < hi ? x : hi;
    }
    if (below > N / 2) return true;
    if (below < N / 2) return false;
    return er / std::max(1.4826 * ((lo + hi) / 2.0), floor) > lim;
}

// 1 / sqrt(1 + (v / v0)^2) at each of the K kept frames into inv_f: v the median over the
// kept frames within `reach` of the translation speed (channels 0 and 1, central
// differences, one-sided at the ends; the upper median of an even count); 1 with fewer than
// 2 channels.
void inverse_speed_factor(const double* y, const double* at, const int* keep, int K, int C, double v0, int reach,
                          std::vector<double>& d, std::vector<double>& win, double* inv_f) {
    if (C < 2 || K < 2) {
        std::fill(inv_f, inv_f + K, 1.0);
        return;
    }
    const auto row = [&](int i) { return y + static_cast<std::int64_t>(keep[i]) * C; };
    for (int i = 0; i < K; ++i) {
        const int lo = i == 0 ? 0 : (i == K - 1 ? K - 2 : i - 1), hi = i == 0 ? 1 : (i == K - 1 ? K - 1 : i + 1);
        const double dt = at[keep[hi]] - at[keep[lo]];
        const double dx = (row(hi)[0] - row(lo)[0]) / dt, dy = (row(hi)[1] - row(lo)[1]) / dt;
        d[i] = std::sqrt(dx * dx + dy * dy);
    }
    for (int i = 0; i < K; ++i) {
        const int a = std::max(0, i - reach), b = std::min(K, i + reach + 1), n = b - a;
        std::copy(d.begin() + a, d.begin() + b, win.begin());
        std::nth_element(win.begin(), win.begin() + n / 2, win.begin() + n);
        const double q = win[n / 2] / v0;
        inv_f[i] = 1.0 / std::sqrt(1.0 + q * q);
    }
}

}  // namespace

void stab_outliers(const StabOutlierParams& p) {
    const int T = p.t_len, C = p.channels;
    for (int t = 0; t < T; ++t) p.bad[t] = 0;
    std::vector<int> keep(T);
    // the tests' values channel-major, (C, T): each channel's median reads one run, and the
    // flag pass runs along the frames
    // (uninitialised: a pass writes the values of its K frames before it reads them)
    std::unique_ptr<double[]> dq(new double[static_cast<std::size_t>(T) * C]), dm(new double[static_cast<std::size_t>(T) * C]);
    std::vector<double> col(T);
    std::vector<std::uint8_t> hit(T);
    std::vector<double> sq(C), sm(C), isq(C), ism(C), amx(C);
    // the interior parabola test's speed scaling, per kept frame (1 / the factor)
    std::vector<double> speed(T), window(2 * static_cast<std::size_t>(std::max(p.speed_reach, 0)) + 1), inv_f(T);
    // the end frames' one-sided line test and its parabola confirmation: this pass's residuals
    // at the first and last kept frame, and each residual at every frame of the first pass,
    // for its scale (made only where an end frame's median test fires and its line residual
    // exceeds the scale's floor)
    std::vector<double> er0(C), er1(C), ep0(C), ep1(C), eres, pres;
    bool have_eres = false, have_pres = false;
    // Whether end frame `end` (0: the first kept, 1: the last) is flagged in channel c: the
    // median test, the line test and the parabola test fire, the one-sided tests' scales
    // floored at `floor` (the interior parabola test's, lq or sq; inv_floor = 1 / floor), so
    // the one-sided residuals are made only where dm fires and er / floor does.
    const auto end_flagged = [&](int c, int end, double dm_scaled, double inv_floor, double floor) {
        const double er = end == 0 ? er0[c] : er1[c];
        if (!(dm_scaled > p.outlier) || !(er * inv_floor > p.outlier)) return false;
        if (!have_eres) {
            edge_residuals(p.y, p.at, T, C, false, eres);
            have_eres = true;
        }
        const int N = 2 * (T - 4);
        if (!edge_flag(eres.data() + static_cast<std::size_t>(c) * N, N, er, floor, p.outlier)) return false;
        if (!have_pres) {
            edge_residuals(p.y, p.at, T, C, true, pres);
            have_pres = true;
        }
        const double ep = end == 0 ? ep0[c] : ep1[c];
        return edge_flag(pres.data() + static_cast<std::size_t>(c) * N, N, ep, floor, p.end_curve);
    };
    bool have_scales = false;
    // One pass of the tests over the kept frames (the scales are made on the first, when every
    // frame is kept); flags the frames that fail. Returns whether it flagged any.
    const auto test_pass = [&]() -> bool {
        int K = 0;
        for (int t = 0; t < T; ++t) {
            if (!p.bad[t]) keep[K++] = t;
        }
        if (K < 5) return false;
        double tau[4], w[4], last_tau[4] = {0, 0, 0, 0}, noise = 1.0;
        bool have_w = false;
        for (int i = 0; i < K; ++i) {
            const int start = std::min(std::max(i - 2, 0), K - 5);
            int near[4], q = 0;
            for (int k = start; k < start + 5; ++k) {
                if (k != i) near[q++] = keep[k];
            }
            const double ti = p.at[keep[i]];
            for (int k = 0; k < 4; ++k) tau[k] = p.at[near[k]] - ti;
            if (!have_w || tau[0] != last_tau[0] || tau[1] != last_tau[1] || tau[2] != last_tau[2] ||
                tau[3] != last_tau[3]) {
                parabola_weights(tau, w);
                double ww = 0.0;
                for (int k = 0; k < 4; ++k) ww += w[k] * w[k];
                noise = std::sqrt(1.0 + ww);
                for (int k = 0; k < 4; ++k) last_tau[k] = tau[k];
                have_w = true;
            }
            const double* yi = p.y + static_cast<std::int64_t>(keep[i]) * C;
            const double* y0 = p.y + static_cast<std::int64_t>(near[0]) * C;
            const double* y1 = p.y + static_cast<std::int64_t>(near[1]) * C;
            const double* y2 = p.y + static_cast<std::int64_t>(near[2]) * C;
            const double* y3 = p.y + static_cast<std::int64_t>(near[3]) * C;
            const double* m0 = p.y + static_cast<std::int64_t>(keep[start]) * C;
            const double* m1 = p.y + static_cast<std::int64_t>(keep[start + 1]) * C;
            const double* m2 = p.y + static_cast<std::int64_t>(keep[start + 2]) * C;
            const double* m3 = p.y + static_cast<std::int64_t>(keep[start + 3]) * C;
            const double* m4 = p.y + static_cast<std::int64_t>(keep[start + 4]) * C;
            double* dqi = dq.get() + i;
            double* dmi = dm.get() + i;
            const double inv_noise = 1.0 / noise;
            for (int c = 0; c < C; ++c) {
                const double pred = ((w[0] * y0[c] + w[1] * y1[c]) + w[2] * y2[c]) + w[3] * y3[c];
                dqi[static_cast<std::int64_t>(c) * T] = std::abs(yi[c] - pred) * inv_noise;
                dmi[static_cast<std::int64_t>(c) * T] = std::abs(yi[c] - median5(m0[c], m1[c], m2[c], m3[c], m4[c]));
            }
        }
        {  // the end frames: the line through the next (previous) four kept frames
            int f0[4], f1[4];
            double t0[4], t1[4], w0[4], w1[4];
            for (int k = 0; k < 4; ++k) {
                f0[k] = keep[1 + k];
                f1[k] = keep[K - 2 - k];
                t0[k] = p.at[f0[k]] - p.at[keep[0]];
                t1[k] = p.at[keep[K - 1]] - p.at[f1[k]];
            }
            double v0[4], v1[4];
            line_weights(t0, w0);
            line_weights(t1, w1);
            parabola_weights(t0, v0);
            parabola_weights(t1, v1);
            for (int c = 0; c < C; ++c) {
                er0[c] = edge_residual(p.y, C, keep[0], f0, w0, c);
                er1[c] = edge_residual(p.y, C, keep[K - 1], f1, w1, c);
                ep0[c] = edge_residual(p.y, C, keep[0], f0, v0, c);
                ep1[c] = edge_residual(p.y, C, keep[K - 1], f1, v1, c);
            }
        }
        if (!have_scales) {  // first pass: every frame is kept
            // each channel's largest magnitude, in one pass along the rows
            for (int c = 0; c < C; ++c) amx[c] = 0.0;
            for (int i = 0; i < K; ++i) {
                const double* yr = p.y + static_cast<std::int64_t>(i) * C;
                for (int c = 0; c < C; ++c) amx[c] = std::max(amx[c], std::abs(yr[c]));
            }
            // First with lower bounds of the medians (each proved by a count): the scales they
            // give are no larger than the exact ones, and every step of the test (reciprocal,
            // product with a magnitude, minimum, comparison) is monotone in the scale, so a frame
            // that the exact scales flag is flagged with the bounds too. When the bounds flag
            // none (the usual case), no frame is flagged and the exact medians are not needed.
            bool clear = true;
            for (int c = 0; c < C && clear; ++c) {
                const double* dqc = dq.get() + static_cast<std::int64_t>(c) * T;
                const double* dmc = dm.get() + static_cast<std::int64_t>(c) * T;
                const double lq = std::max(1.4826 * median_lower_bound(dqc, K), 1e-9 * (1.0 + amx[c]));
                const double lm = std::max(1.4826 * median_lower_bound(dmc, K), 0.5 * lq);
                const double a = 1.0 / lq, b = 1.0 / lm, lim = p.outlier;
                int over = 0;
                // without the speed scaling, which only divides dq by a factor >= 1: clear here
                // is clear with it (and the usual clean shot skips the speeds altogether)
                for (int i = 1; i < K - 1; ++i) over += std::min(dqc[i] * a, dmc[i] * b) > lim ? 1 : 0;
                // the end frames' line test, its scale floored at lq (<= dq's); this is the first
                // pass, so both ends are the shot's own
                for (int end = 0; end < 2 && over == 0; ++end)
                    over += end_flagged(c, end, dmc[end == 0 ? 0 : K - 1] * b, a, lq) ? 1 : 0;
                clear = over == 0;
            }
            if (clear) return false;  // nothing flagged: every frame kept
            for (int c = 0; c < C; ++c) {
                const double amax = amx[c];
                const double* dqc = dq.get() + static_cast<std::int64_t>(c) * T;
                const double* dmc = dm.get() + static_cast<std::int64_t>(c) * T;
                std::copy(dqc, dqc + K, col.data());
                sq[c] = std::max(1.4826 * median_of(col.data(), K), 1e-9 * (1.0 + amax));
                std::copy(dmc, dmc + K, col.data());
                sm[c] = std::max(1.4826 * median_of(col.data(), K), 0.5 * sq[c]);
            }
            have_scales = true;
        }
        inverse_speed_factor(p.y, p.at, keep.data(), K, C, p.speed_v0, p.speed_reach, speed, window, inv_f.data());
        bool any = false;
        for (int c = 0; c < C; ++c) {
            isq[c] = 1.0 / sq[c];
            ism[c] = 1.0 / sm[c];
        }
        std::fill(hit.begin(), hit.begin() + K, std::uint8_t{0});
        for (int c = 0; c < C; ++c) {
            const double* dqc = dq.get() + static_cast<std::int64_t>(c) * T;
            const double* dmc = dm.get() + static_cast<std::int64_t>(c) * T;
            const double a = isq[c], b = ism[c], lim = p.outlier;
            std::uint8_t* h = hit.data();
            for (int i = 1; i < K - 1; ++i) h[i] |= std::min(dqc[i] * a * inv_f[i], dmc[i] * b) > lim ? 1 : 0;
            // the end frames: the line test, its scale floored at sq; only at the shot's own
            // first / last frame (a kept frame that became the end when its neighbour was
            // dropped is not tested again: see the run rule below)
            for (int end = 0; end < 2; ++end) {
                const int i = end == 0 ? 0 : K - 1;
                if (keep[i] != (end == 0 ? 0 : T - 1)) continue;
                h[i] |= end_flagged(c, end, dmc[i] * b, a, sq[c]) ? 1 : 0;
            }
        }
        for (int i = 0; i < K; ++i) {
            if (hit[i]) {
                p.bad[keep[i]] = 1;
                any = true;
            }
        }
        return any;
    };
    for (int pass = 0; pass < p.passes; ++pass) {
        if (!test_pass()) break;
    }
    const auto kept_enough = [&]() {
        int kept = 0;
        for (int t = 0; t < T; ++t) kept += p.bad[t] ? 0 : 1;
        return kept >= std::max(5, T / 2);
    };
    if (!kept_enough()) {
        for (int t = 0; t < T; ++t) p.bad[t] = 0;
    }
    // A run of dropped frames that reaches a shot end keeps only the end frame dropped: the
    // caller extrapolates dropped end frames, and past one frame that extrapolation is not
    // to be trusted (a shot that ends at the turn of a fast nod: 3 frames dropped and
    // extrapolated put the last one 28 % F off its detection's 0.4 % F, on real tracks).
    // Returns whether it gave any frame back.
    const auto end_runs = [&]() {
        bool gave_back = false;
        if (T < 2) return gave_back;
        int r = 0;
        while (r < T && p.bad[r]) ++r;
        for (int t = 1; t < r; ++t) p.bad[t] = 0;
        gave_back = gave_back || r > 1;
        r = 0;
        while (r < T && p.bad[T - 1 - r]) ++r;
        for (int t = 1; t < r; ++t) p.bad[T - 1 - t] = 0;
        return gave_back || r > 1;
    };
    // A glitch near a shot's end pulls its neighbours' tests, the run of flags reaches the end,
    // and the rule above gives the glitch back with the rest (a slow pan's lock-on glitch at
    // frame 3 of a real MTCNN track stayed: 3.3x less jitter than raw on that clip, 20x on its
    // twins). So where it gave frames back, one more pass tests the frames kept now (its
    // flags stand only if enough frames stay), and the rule applies again.
    if (end_runs() && have_scales) {
        std::vector<std::uint8_t> before(p.bad, p.bad + T);
        test_pass();
        if (!kept_enough()) std::copy(before.begin(), before.end(), p.bad);
        end_runs();
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, stab_outliers, (const StabOutlierParams& p), (p))

}  // namespace cpu
}  // namespace ffaccel
