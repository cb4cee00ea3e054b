// CPU loop for stab_cuts (kernels/include/ffaccel/stab_cuts.h): one thread.
#include "ffaccel/stab_cuts.h"

#include <cmath>
#include <vector>

#include "cx.h"
#include "variant.h"

// Scalar complex arithmetic (cx.h), compiled twice as stab_rigid (the x86-64-v3 build at -O3).
namespace ffaccel {
namespace cpu {
namespace FFACCEL_CPU_VARIANT {

void stab_cuts(const StabCutParams& p) {
    using cd = Cx;
    const int T = p.t_len, N = p.points;
    const double nd = static_cast<double>(N);
    for (int t = 0; t < T; ++t) p.flags[t] = 0;
    std::vector<int> idx;
    idx.reserve(T);
    for (int t = 0; t < T; ++t) {
        if (p.valid[t]) idx.push_back(t);
    }
    const int K = static_cast<int>(idx.size());
    if (K < 2) return;
    // features: centroid, RMS radius, normalised shape
    std::vector<cd> c(K), u(static_cast<std::size_t>(K) * N);
    std::vector<double> s(K);
    for (int k = 0; k < K; ++k) {
        const double* z = p.z + static_cast<std::int64_t>(idx[k]) * N * 2;
        cd sum;
        for (int i = 0; i < N; ++i) sum = sum + cd{z[2 * i], z[2 * i + 1]};
        c[k] = sum / nd;
        double ss = 0.0;
        cd* uk = u.data() + static_cast<std::size_t>(k) * N;
        for (int i = 0; i < N; ++i) {
            uk[i] = cd{z[2 * i], z[2 * i + 1]} - c[k];
            ss += uk[i].re * uk[i].re + uk[i].im * uk[i].im;
        }
        s[k] = std::sqrt(ss / nd);
        const double div = s[k] > 0 ? s[k] : 1.0;
        for (int i = 0; i < N; ++i) uk[i] = uk[i] / div;
    }
    const double inv_zoom = 1.0 / p.zoom, tan_turn = std::tan(p.turn);
    // pair k = (frame k - 1, frame k); the part of the rule without the velocity term
    std::vector<std::uint8_t> rest(K, 0), good(K, 0), flag(K, 0);
    for (int k = 1; k < K; ++k) {
        const double sp = s[k - 1], sc = s[k];
        good[k] = (sp > 0) && (sc > 0);
        const double sps = good[k] ? sp : 1.0, scs = good[k] ? sc : 1.0;
        const double ratio = scs / sps;  // |log(ratio)| > log(zoom), without the logarithm
        const bool zoom = ratio > p.zoom || ratio < inv_zoom;
        const cd* up = u.data() + static_cast<std::size_t>(k - 1) * N;
        const cd* uc = u.data() + static_cast<std::size_t>(k) * N;
        cd a;
        for (int i = 0; i < N; ++i) a = a + conj(up[i]) * uc[i];
        a = a / nd;
        const double absa = absc(a);
        // |arg a| > turn (turn < pi / 2): left half-plane, or |Im a| > Re a tan(turn)
        const bool turn = (absa == 0) || !(a.re > 0) || (std::abs(a.im) > a.re * tan_turn);
        const cd rot = absa > 0 ? a / absa : cd{1.0, 0.0};
        double dd = 0.0;
        for (int i = 0; i < N; ++i) dd += norm2(uc[i] - rot * up[i]);
        const bool shape = std::sqrt(dd / nd) > p.shape;
        rest[k] = zoom || turn || shape;
        const double gap = static_cast<double>(idx[k] - idx[k - 1]);
        cd pred = c[k - 1];
        if (k >= 2) pred = c[k - 1] + (c[k - 1] - c[k - 2]) * (gap / static_cast<double>(idx[k - 1] - idx[k - 2]));
        const double lim = p.move * sps * std::sqrt(std::max(gap, 1.0));
        const bool move = absc(c[k] - pred) > lim;
        flag[k] = good[k] && (move || rest[k]);
    }
    // a cut resets the velocity: the frame after a flagged one is judged without it
    for (int k = 1; k < K; ++k) {
        bool f = flag[k];
        if (k >= 2 && flag[k - 1]) {
            const double sps = good[k] ? s[k - 1] : 1.0;
            const double gap = static_cast<double>(idx[k] - idx[k - 1]);
            const bool move2 = absc(c[k] - c[k - 1]) > p.move * sps * std::sqrt(std::max(gap, 1.0));
            f = good[k] && (move2 || rest[k]);
        }
        p.flags[idx[k]] = f ? 1 : 0;
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, stab_cuts, (const StabCutParams& p), (p))

}  // namespace cpu
}  // namespace ffaccel
