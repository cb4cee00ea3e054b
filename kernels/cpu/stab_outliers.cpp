// CPU loop for stab_outliers (kernels/include/ffaccel/stab_outliers.h): one thread.
#include "ffaccel/stab_outliers.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

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
    bool have_scales = false;
    for (int pass = 0; pass < p.passes; ++pass) {
        int K = 0;
        for (int t = 0; t < T; ++t) {
            if (!p.bad[t]) keep[K++] = t;
        }
        if (K < 5) break;
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
                for (int i = 0; i < K; ++i) over += std::min(dqc[i] * a, dmc[i] * b) > lim ? 1 : 0;
                clear = over == 0;
            }
            if (clear) break;  // nothing flagged: every frame kept
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
            for (int i = 0; i < K; ++i) h[i] |= std::min(dqc[i] * a, dmc[i] * b) > lim ? 1 : 0;
        }
        for (int i = 0; i < K; ++i) {
            if (hit[i]) {
                p.bad[keep[i]] = 1;
                any = true;
            }
        }
        if (!any) break;
    }
    int kept = 0;
    for (int t = 0; t < T; ++t) kept += p.bad[t] ? 0 : 1;
    if (kept < std::max(5, T / 2)) {
        for (int t = 0; t < T; ++t) p.bad[t] = 0;
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, stab_outliers, (const StabOutlierParams& p), (p))

}  // namespace cpu
}  // namespace ffaccel
