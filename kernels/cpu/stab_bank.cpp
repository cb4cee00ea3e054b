// CPU loops for stab_bank (kernels/include/ffaccel/stab_bank.h): one thread, the channels of
// a level in the inner loop (contiguous, so the recursions vectorise across channels).
#include "ffaccel/stab_bank.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "variant.h"

namespace ffaccel {

#if defined(FFACCEL_CPU_BASE)
void stab_noise_variance(const double* y, const std::uint8_t* measured, const double* floor, int t_len, int channels,
                         double scale, double* out) {
    std::vector<double> d2;
    d2.reserve(t_len > 2 ? t_len - 2 : 0);
    for (int c = 0; c < channels; ++c) {
        d2.clear();
        for (int t = 0; t + 2 < t_len; ++t) {
            if (measured[t] && measured[t + 1] && measured[t + 2]) {
                const double* r = y + static_cast<std::int64_t>(t) * channels + c;
                d2.push_back(std::abs((r[2 * channels] - 2.0 * r[channels]) + r[0]));
            }
        }
        if (d2.empty()) {
            out[c] = floor[c];
            continue;
        }
        const std::size_t n = d2.size(), h = n / 2;
        std::nth_element(d2.begin(), d2.begin() + h, d2.end());
        double med = d2[h];
        if (n % 2 == 0) med = (*std::max_element(d2.begin(), d2.begin() + h) + med) / 2.0;
        out[c] = std::max(med * med * scale, floor[c]);
    }
}

std::int64_t stab_bank_work_size(int t_len, int channels, int levels, int max_warm) {
    const std::int64_t tc = static_cast<std::int64_t>(t_len) * channels;
    // estimates (T, J, C) + one level's recursion buffer + lower, upper (+1 row), count, eroded
    // (+1 row for the prefix sums) + offsets, five correction rows, two sums, the noise widths (J, C)
    return tc * levels + (static_cast<std::int64_t>(t_len) + 2 * max_warm + 2 * STAB_BANK_MAX_ORDER) * channels +
           4 * tc + (9 + static_cast<std::int64_t>(levels)) * channels;
}
#endif

namespace cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// Value at frame 0 of the least-squares line through frames 0..k-1 of x (stride `step`
// rows of C doubles; x[0] is frame 0), for the first `active` channels: the sums run in
// frame order, as numpy's cumsum does.
void line_start(const double* x, std::int64_t step, int k, int active, double* s0, double* s1, double* res) {
    for (int c = 0; c < active; ++c) s0[c] = s1[c] = 0.0;
    for (int t = 0; t < k; ++t) {
        const double* row = x + step * t;
        const double td = static_cast<double>(t);
        for (int c = 0; c < active; ++c) {
            s0[c] = s0[c] + row[c];
            s1[c] = s1[c] + td * row[c];
        }
    }
    const double kd = static_cast<double>(k);
    const double mean_t = (kd - 1.0) / 2.0;
    const double sxx = kd * (kd * kd - 1.0) / 12.0;
    for (int c = 0; c < active; ++c) {
        const double slope = (s1[c] - mean_t * s0[c]) / sxx;
        res[c] = s0[c] / kd - slope * mean_t;
    }
}

// One level: forward and backward recursions of order K over the periodic signal, for the
// first `active` channels; writes est rows (frames, stride J * C) of this level.
template <int K>
void level_pass(const StabBankParams& p, int j, int active, const double* off, double* scratch, double* buf,
                double* est) {
    const int C = p.channels, T = p.t_len, n = p.n, pad = p.pad, J = p.levels;
    const int W = p.warm[j];
    const double* a = p.coef + static_cast<std::int64_t>(j) * p.order;
    double tap[STAB_BANK_MAX_ORDER];
    double g = 1.0;
    for (int m = 0; m < K; ++m) {
        tap[m] = a[m];
        g += a[m];
    }
    // The level's own end values (lines through its first / last ends[j] frames), and the
    // additive corrections of the common padded signal by region: 0 none, 1 left pad
    // (2 d0), 2 first frame (d0), 3 last frame (d1), 4 right pad (2 d1).
    const std::int64_t Cs = C;
    const double* y0 = p.padded + static_cast<std::int64_t>(pad) * C;
    const double* y1 = p.padded + static_cast<std::int64_t>(pad + T - 1) * C;
    const int k_end = std::min(std::max(p.ends[j], 2), T);
    double* cd = scratch;            // (5, C)
    double* s0 = scratch + 5 * Cs;   // (C,)
    double* s1 = s0 + Cs;            // (C,)
    line_start(y0, Cs, k_end, active, s0, s1, cd + 2 * Cs);   // p0 into row 2
    line_start(y1, -Cs, k_end, active, s0, s1, cd + 3 * Cs);  // p1 into row 3
    for (int c = 0; c < active; ++c) {
        const double d0 = cd[2 * Cs + c] - y0[c], d1 = cd[3 * Cs + c] - y1[c];
        cd[c] = 0.0;
        cd[1 * Cs + c] = 2.0 * d0;
        cd[2 * Cs + c] = d0;
        cd[3 * Cs + c] = d1;
        cd[4 * Cs + c] = 2.0 * d1;
    }
    // buf: K zero rows, the len rows of the recursion, K zero rows (the states before the
    // forward pass and after the backward one start at zero).
    const int len = T + 2 * W;
    std::memset(buf, 0, sizeof(double) * static_cast<std::size_t>(K) * C);
    std::memset(buf + static_cast<std::int64_t>(K + len) * C, 0, sizeof(double) * static_cast<std::size_t>(K) * C);
    double* const rows = buf + static_cast<std::int64_t>(K) * C;
    long long start = (static_cast<long long>(pad) - W) % n;
    if (start < 0) start += n;
    int k = static_cast<int>(start);
    for (int i = 0; i < len; ++i) {
        int region = 0;
        if (k < pad) region = 1;
        else if (k == pad) region = 2;
        else if (k == pad + T - 1) region = 3;
        else if (k >= pad + T && k < T + 2 * pad) region = 4;
        const double* __restrict x = p.padded + static_cast<std::int64_t>(k) * C;
        const double* __restrict corr = cd + region * Cs;
        double* __restrict v = rows + static_cast<std::int64_t>(i) * C;
        for (int c = 0; c < active; ++c) {
            // the oldest tap first: the newest output enters last (shortest dependency chain)
            double acc = g * ((x[c] - off[c]) + corr[c]);
            for (int m = K; m >= 1; --m) acc = acc - tap[m - 1] * v[c - m * Cs];
            v[c] = acc;
        }
        if (++k == n) k = 0;
    }
    const std::int64_t jc = static_cast<std::int64_t>(J) * C;
    for (int i = len - 1; i >= W; --i) {
        double* __restrict v = rows + static_cast<std::int64_t>(i) * C;
        double* __restrict e = (i < W + T) ? est + (i - W) * jc : nullptr;
        for (int c = 0; c < active; ++c) {
            double acc = g * v[c];
            for (int m = K; m >= 1; --m) acc = acc - tap[m - 1] * v[c + m * Cs];
            v[c] = acc;
        }
        if (e) {
            for (int c = 0; c < active; ++c) e[c] = v[c] + off[c];
        }
    }
}

}  // namespace

void stab_bank(const StabBankParams& p) {
    const int C = p.channels, T = p.t_len, J = p.levels;
    const std::int64_t tc = static_cast<std::int64_t>(T) * C;
    const std::int64_t jc = static_cast<std::int64_t>(J) * C;
    int max_warm = 0;
    for (int j = 0; j < J; ++j) max_warm = std::max(max_warm, p.warm[j]);
    double* est = p.work;        // (T, J, C)
    double* buf = est + tc * J;  // (T + 2 W + 2 K, C)
    double* lower = buf + (static_cast<std::int64_t>(T) + 2 * max_warm + 2 * STAB_BANK_MAX_ORDER) * C;  // (T + 1, C)
    double* upper = lower + tc + C;                                                                     // (T, C)
    double* count = upper + tc;                                                                         // (T, C)
    double* eroded = count + tc;                                                                        // (T, C)
    double* off = eroded + tc;                                                                          // (C,)
    double* scratch = off + C;                                                                          // (7 + J, C)
    for (int c = 0; c < C; ++c) off[c] = p.padded[static_cast<std::int64_t>(p.pad) * C + c];
    // low[] is non-decreasing: the channels that may use level j are a prefix.
    for (int j = 0; j < J; ++j) {
        int active = 0;
        while (active < C && p.low[active] <= j) ++active;
        if (active == 0) continue;
        double* e = est + static_cast<std::int64_t>(j) * C;
        switch (p.order) {
            case 1: level_pass<1>(p, j, active, off, scratch, buf, e); break;
            case 2: level_pass<2>(p, j, active, off, scratch, buf, e); break;
            case 3: level_pass<3>(p, j, active, off, scratch, buf, e); break;
            default: level_pass<4>(p, j, active, off, scratch, buf, e); break;
        }
    }
    // ICI from the lightest level toward the smoothest, frame by frame (a frame's levels are
    // one small block of est): lower only rises and upper only falls, so the agreeing levels
    // are a leading run; its length `run` gives level = max(J - run, low).
    double* __restrict lo_b = lower;  // (C,) scratch
    double* __restrict up_b = upper;  // (C,)
    double* __restrict cnt = count;   // (T, C): the level
    double* gs = scratch + 7 * static_cast<std::int64_t>(C);  // (J, C)
    int act[STAB_BANK_MAX_LEVELS];
    for (int j = 0; j < J; ++j) {
        int active = 0;
        while (active < C && p.low[active] <= j) ++active;
        act[j] = active;
        for (int c = 0; c < C; ++c) gs[static_cast<std::int64_t>(j) * C + c] = p.gamma * (p.norm[j] * p.sdr[c]);
    }
    double lowd[STAB_BANK_MAX_CHANNELS];
    for (int c = 0; c < C; ++c) lowd[c] = static_cast<double>(p.low[c]);
    const double jd = static_cast<double>(J);
    for (int t = 0; t < T; ++t) {
        const double* __restrict et = est + t * jc;
        double* __restrict ct = cnt + static_cast<std::int64_t>(t) * C;
        {
            const double* __restrict e = et + static_cast<std::int64_t>(J - 1) * C;
            const double* __restrict g = gs + static_cast<std::int64_t>(J - 1) * C;
            for (int c = 0; c < C; ++c) {
                lo_b[c] = e[c] - g[c];
                up_b[c] = e[c] + g[c];
                ct[c] = 1.0;
            }
        }
        for (int j = J - 2; j >= 0 && act[j] > 0; --j) {
            const double* __restrict e = et + static_cast<std::int64_t>(j) * C;
            const double* __restrict g = gs + static_cast<std::int64_t>(j) * C;
            const int active = act[j];
            for (int c = 0; c < active; ++c) {
                const double lo = std::max(lo_b[c], e[c] - g[c]);
                const double up = std::min(up_b[c], e[c] + g[c]);
                lo_b[c] = lo;
                up_b[c] = up;
                ct[c] += (lo <= up) ? 1.0 : 0.0;
            }
        }
        for (int c = 0; c < C; ++c) ct[c] = std::max(jd - ct[c], lowd[c]);
    }
    // Running maximum over +-erode frames (clipped at the ends): flat passes over (T, C),
    // one per offset, each way.
    double* __restrict er = eroded;
    std::memcpy(er, cnt, sizeof(double) * static_cast<std::size_t>(tc));
    for (int k = 1; k <= p.erode && k < T; ++k) {
        const std::int64_t sh = static_cast<std::int64_t>(k) * C;
        for (std::int64_t q = sh; q < tc; ++q) er[q] = std::max(er[q], cnt[q - sh]);
        for (std::int64_t q = 0; q < tc - sh; ++q) er[q] = std::max(er[q], cnt[q + sh]);
    }
    // Moving average over +-average frames (the window shrinks at the ends). The values are
    // small integers, so prefix sums are exact and the result is numpy's to the bit.
    const bool avg = p.average > 0 && T >= 2;
    double* __restrict pre = lower;  // (T + 1, C)
    for (int c = 0; c < C; ++c) pre[c] = 0.0;
    for (int t = 0; t < T; ++t) {
        const std::int64_t r = static_cast<std::int64_t>(t) * C;
        for (int c = 0; c < C; ++c) pre[r + C + c] = pre[r + c] + er[r + c];
    }
    double* __restrict o = p.out;
    for (int t = 0; t < T; ++t) {
        const int a = avg ? std::max(0, t - p.average) : t, b = avg ? std::min(T, t + p.average + 1) : t + 1;
        const double frames = static_cast<double>(b - a);
        const std::int64_t ra = static_cast<std::int64_t>(a) * C, rb = static_cast<std::int64_t>(b) * C;
        const std::int64_t r = static_cast<std::int64_t>(t) * C;
        const double* et = est + t * jc;
        for (int c = 0; c < C; ++c) {
            const double lv = (pre[rb + c] - pre[ra + c]) / frames;
            int j0 = static_cast<int>(std::floor(lv));
            j0 = std::min(std::max(j0, 0), J - 1);
            const int j1 = std::min(j0 + 1, J - 1);
            const double frac = lv - static_cast<double>(j0);
            const double va = et[static_cast<std::int64_t>(j0) * C + c];
            const double vb = et[static_cast<std::int64_t>(j1) * C + c];
            o[r + c] = va + frac * (vb - va);
        }
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, stab_bank, (const StabBankParams& p), (p))

}  // namespace cpu
}  // namespace ffaccel
