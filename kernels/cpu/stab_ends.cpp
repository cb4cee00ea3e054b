// CPU loops of the offline end step (kernels/include/ffaccel/stab_ends.h): one thread. The
// element-wise steps are numpy's, one rounding each (contraction off), so both builds give
// numpy's bytes; compiled once (the split and the way back dispatch as stab_rigid does).
#include "ffaccel/stab_ends.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ffaccel/stab_bank.h"
#include "variant.h"

namespace ffaccel {

#if defined(FFACCEL_CPU_BASE)
int stab_end_prepare(const StabEndPrepare& p, double* size, StabRigidStatus* status) {
    const int N = p.points, C = 4 + 2 * N, row = 2 * N, F = p.frames;
    auto nan_at = [&](const double* a, int t) { return std::isnan(a[static_cast<std::ptrdiff_t>(t) * row]); };
    int end = p.stop - 1;
    while (end >= p.first && nan_at(p.out, end)) --end;
    if (end < p.first) return -1;
    const int start = end - F;
    if (start < p.first) return -1;
    for (int t = start; t <= end; ++t)
        if (nan_at(p.out, t)) return -1;
    // the last noise_frames finite detections among the last 2 * noise_frames frames
    const int lo = std::max(p.first, end + 1 - 2 * p.noise_frames);
    std::vector<int> rows;
    for (int t = end; t >= lo && static_cast<int>(rows.size()) < p.noise_frames; --t)
        if (!nan_at(p.det, t)) rows.push_back(t);
    const int nd = static_cast<int>(rows.size());
    if (nd < 5) return -1;
    const int K = nd + F + 1;
    std::vector<double> pts(static_cast<std::size_t>(K) * row), both(static_cast<std::size_t>(K) * C);
    for (int i = 0; i < nd; ++i)  // rows is newest first
        std::copy_n(p.det + static_cast<std::ptrdiff_t>(rows[nd - 1 - i]) * row, row, pts.data() + static_cast<std::size_t>(i) * row);
    std::copy_n(p.out + static_cast<std::ptrdiff_t>(start) * row, static_cast<std::size_t>(F + 1) * row,
                pts.data() + static_cast<std::size_t>(nd) * row);
    double* const cen = p.work;
    double* const ch_out = cen + static_cast<std::size_t>(F + 1) * C;
    double* const sd = ch_out + static_cast<std::size_t>(F + 1) * C;
    double* const m = sd + C;
    *status = cpu::stab_rigid(StabRigidParams{pts.data(), m, both.data(), K, N}, size);
    if (*status != StabRigidStatus::ok) return start;
    const std::vector<std::uint8_t> measured(static_cast<std::size_t>(nd), 1);
    stab_noise_variance(both.data(), measured.data(), p.floor, nd, C, p.mad_to_var, sd);
    for (int c = 0; c < C; ++c) sd[c] = std::sqrt(sd[c]);
    const double* ch = both.data() + static_cast<std::size_t>(nd) * C;
    std::copy_n(ch, static_cast<std::size_t>(F + 1) * C, ch_out);
    for (int k = 0; k <= F; ++k)
        for (int c = 0; c < C; ++c) cen[k * C + c] = ch[k * C + c] - ch[c];
    return start;
}

bool stab_end_finish(const double* work, const double* num, double tt, const double* t, double kappa, double size,
                     int frames, int points, double* out) {
    const int C = 4 + 2 * points, F = frames, mid = F / 2;
    const double* ch = work + static_cast<std::size_t>(F + 1) * C;
    const double* sd = ch + static_cast<std::size_t>(F + 1) * C;
    const double* m = sd + C;
    std::vector<double> line(static_cast<std::size_t>(F + 1) * C), w(C), dev(F);
    bool any = false;
    for (int c = 0; c < C; ++c) {
        const double slope = num[c] / tt;
        for (int k = 0; k <= F; ++k) line[k * C + c] = ch[c] + t[k] * slope;
        for (int k = 1; k <= F; ++k) dev[k - 1] = std::fabs(ch[k * C + c] - line[k * C + c]);
        std::sort(dev.begin(), dev.end());  // (finite values: numpy's sort order)
        const double d = F % 2 ? dev[mid] : 0.5 * (dev[mid - 1] + dev[mid]);
        const double x = 2.0 - d / (kappa * sd[c]);
        w[c] = std::isnan(x) ? x : std::min(std::max(x, 0.0), 1.0);  // np.clip keeps a NaN
        any = any || w[c] != 0.0;
    }
    if (!any) return false;
    std::vector<double> blend(static_cast<std::size_t>(F) * C);
    for (int k = 1; k <= F; ++k)
        for (int c = 0; c < C; ++c)
            blend[(k - 1) * C + c] = ch[k * C + c] + w[c] * (line[k * C + c] - ch[k * C + c]);
    stab_points(blend.data(), m, size, F, points, out);
    return true;
}
#endif

}  // namespace ffaccel
