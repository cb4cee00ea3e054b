// CPU loops for stab_bank (kernels/include/ffaccel/stab_bank.h): one thread, the channels of
// a level in the inner loop (contiguous, so the recursions vectorise across channels).
#include "ffaccel/stab_bank.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "select.h"
#include "variant.h"

namespace ffaccel {

namespace cpu {
void noise_variance(const double* y, const std::uint8_t* measured, const double* floor, int t_len, int channels,
                    double scale, double* out);
}  // namespace cpu

#if defined(FFACCEL_CPU_BASE)
void stab_noise_variance(const double* y, const std::uint8_t* measured, const double* floor, int t_len, int channels,
                         double scale, double* out) {
    cpu::noise_variance(y, measured, floor, t_len, channels, scale, out);
}

std::int64_t stab_bank_work_size(int t_len, int channels, int stride, int levels, int max_warm, int period) {
    (void)channels;
    const std::int64_t tcp = static_cast<std::int64_t>(t_len) * stride;
    const std::int64_t lanes = std::max(stride / 4, STAB_BANK_LANES / 4);
    // in doubles: a group's recursion buffer (T + 2 W + 2 K rows of `lanes` four-lane blocks)
    // and scratch (taps, gains, offsets, 5 correction rows), estimates (J, T, stride), prefix
    // sums (T + 1, stride), count and eroded (T, stride), offsets (stride), widths (J, stride),
    // the period less the offsets (period, stride)
    return 4 * ((static_cast<std::int64_t>(t_len) + 2 * max_warm + 2 * STAB_BANK_MAX_ORDER) * lanes +
                (STAB_BANK_MAX_ORDER + 7) * lanes) +
           static_cast<std::int64_t>(t_len) * levels * stride + 3 * tcp + stride + stride +
           static_cast<std::int64_t>(levels) * stride + static_cast<std::int64_t>(period) * stride;
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

// Four doubles side by side (GCC / Clang vector extension): plain elementwise IEEE
// arithmetic, so the baseline build (two SSE2 halves) and the x86-64-v3 build (one AVX2
// register) give the same bytes.
typedef double v4d __attribute__((vector_size(32)));

inline v4d load4(const double* q) {
    v4d r;
    std::memcpy(&r, q, sizeof(r));
    return r;
}
inline void store4(double* q, v4d v) { std::memcpy(q, &v, sizeof(v)); }
inline v4d splat(double x) { return v4d{x, x, x, x}; }
typedef long long v4i __attribute__((vector_size(32)));  // a v4d comparison's result

// The four-lane blocks of a group (see group_pass): L of them, level-major (block l is
// channel block l % Q of level j0 + l / Q), each with its own taps (K, L), gain (L) and
// corrections by region (5, L).
struct Lanes {
    int L, Q;
    bool always_corr;  // several levels: the correction is added on every row (0 on most)
    const v4d* tap;
    const v4d* gain;
    const v4d* cd;
};

// Forward recursion of blocks l0 .. l0 + B - 1 over rows 0 .. len - 1 (row i is sample k of
// the period, k starting at k0): v_i = gain (x_k + corr) - a_K v_{i-K} - ... - a_1 v_{i-1},
// the oldest tap first (the newest output enters last: the shortest dependency chain), with
// v_{<0} = 0. The states stay in registers; each row's outputs are stored for the backward
// pass (rows: (len, L) blocks).
template <int K, int B>
void forward_chunk(const StabBankParams& p, const Lanes& ln, int l0, int len, int k0, const double* xs, v4d* rows) {
    const int Cp = p.stride, T = p.t_len, n = p.n, pad = p.pad, L = ln.L;
    v4d s[K][B], tp[K][B], gn[B];
    int col[B];
    for (int b = 0; b < B; ++b) {
        const int l = l0 + b;
        col[b] = 4 * (l % ln.Q);
        gn[b] = ln.gain[l];
        for (int m = 0; m < K; ++m) {
            tp[m][b] = ln.tap[m * L + l];
            s[m][b] = splat(0.0);
        }
    }
    int k = k0;
    for (int i = 0; i < len; ++i) {
        int region = 0;
        if (k < pad) region = 1;
        else if (k == pad) region = 2;
        else if (k == pad + T - 1) region = 3;
        else if (k >= pad + T && k < T + 2 * pad) region = 4;
        const double* x = xs + static_cast<std::int64_t>(k) * Cp;  // the period less the offsets
        v4d acc[B];
        if (region == 0 && !ln.always_corr) {  // no correction (most rows; x + 0 would differ
                                               // from x only in the sign of an exact zero)
            for (int b = 0; b < B; ++b) acc[b] = gn[b] * load4(x + col[b]);
        } else {
            const v4d* corr = ln.cd + region * L + l0;
            for (int b = 0; b < B; ++b) acc[b] = gn[b] * (load4(x + col[b]) + corr[b]);
        }
        v4d* v = rows + static_cast<std::int64_t>(i) * L + l0;
        for (int b = 0; b < B; ++b) {
            for (int m = K; m >= 1; --m) acc[b] = acc[b] - tp[m - 1][b] * s[m - 1][b];
            for (int m = K - 1; m >= 1; --m) s[m][b] = s[m - 1][b];
            s[0][b] = acc[b];
            v[b] = acc[b];
        }
        if (++k == n) k = 0;
    }
}

// Backward recursion of the same blocks over rows len - 1 .. W of the forward outputs:
// u_i = gain v_i - a_K u_{i+K} - ... - a_1 u_{i+1}, u_{>=len} = 0; rows W .. W + T - 1 are the
// frames: u + the channel's offset goes to est (level-major, (levels, T, Cp) from e0, the
// group's first level).
template <int K, int B>
void backward_chunk(const StabBankParams& p, const Lanes& ln, int l0, int len, int W, const v4d* rows,
                    const v4d* offq, double* e0) {
    const int Cp = p.stride, T = p.t_len, L = ln.L;
    const std::int64_t tc = static_cast<std::int64_t>(T) * Cp;
    v4d s[K][B], tp[K][B], gn[B], of[B];
    double* dst[B];
    for (int b = 0; b < B; ++b) {
        const int l = l0 + b;
        gn[b] = ln.gain[l];
        of[b] = offq[l % ln.Q];
        dst[b] = e0 + (l / ln.Q) * tc + 4 * (l % ln.Q);
        for (int m = 0; m < K; ++m) {
            tp[m][b] = ln.tap[m * L + l];
            s[m][b] = splat(0.0);
        }
    }
    for (int i = len - 1; i >= W; --i) {
        const v4d* v = rows + static_cast<std::int64_t>(i) * L + l0;
        v4d acc[B];
        for (int b = 0; b < B; ++b) {
            acc[b] = gn[b] * v[b];
            for (int m = K; m >= 1; --m) acc[b] = acc[b] - tp[m - 1][b] * s[m - 1][b];
            for (int m = K - 1; m >= 1; --m) s[m][b] = s[m - 1][b];
            s[0][b] = acc[b];
        }
        if (i < W + T) {
            const std::int64_t r = static_cast<std::int64_t>(i - W) * Cp;
            for (int b = 0; b < B; ++b) store4(dst[b] + r, acc[b] + of[b]);
        }
    }
}

// A group of G consecutive levels j0 .. j0 + G - 1 that share their active channels (the
// first A, rounded up to Q blocks of 4 columns of the padded input, whose columns past C are
// zero): forward and backward recursions of order K over the periodic signal, the G x Q
// four-lane blocks up to four at a time in one time loop (independent chains, so the loop is
// not bound by one recursion's latency), each started the group's largest warm-up early (more
// warm-up only brings a lane closer to the periodic steady state). Writes the levels' est
// (level-major: (J, T, Cp)).
template <int K>
void group_pass(const StabBankParams& p, int j0, int G, int A, const double* off, const double* xs, v4d* scratch,
                v4d* buf, double* est) {
    const int Cp = p.stride, T = p.t_len, n = p.n, pad = p.pad;
    const int Q = (A + 3) / 4;
    const int L = G * Q;  // four-lane blocks: level-major, channel block minor
    int W = 0;
    for (int g = 0; g < G; ++g) W = std::max(W, p.warm[j0 + g]);
    // scratch: taps (K, L), gain (L), offset (Q), corrections (5, L)
    v4d* tap = scratch;
    v4d* gain = tap + K * L;
    v4d* offq = gain + L;
    v4d* cd = offq + Q;
    const double* y0 = p.padded + static_cast<std::int64_t>(pad) * Cp;
    const double* y1 = p.padded + static_cast<std::int64_t>(pad + T - 1) * Cp;
    for (int q = 0; q < Q; ++q) offq[q] = load4(off + 4 * q);
    double e0[STAB_BANK_MAX_CHANNELS + 4], e1[STAB_BANK_MAX_CHANNELS + 4], s0[STAB_BANK_MAX_CHANNELS + 4],
        s1[STAB_BANK_MAX_CHANNELS + 4];
    for (int g = 0; g < G; ++g) {
        const int j = j0 + g;
        const double* a = p.coef + static_cast<std::int64_t>(j) * p.order;
        double gj = 1.0;
        for (int m = 0; m < K; ++m) gj += a[m];
        // the level's own end values: lines through its first / last ends[j] frames
        const int k_end = std::min(std::max(p.ends[j], 2), T);
        line_start(y0, Cp, k_end, 4 * Q, s0, s1, e0);
        line_start(y1, -static_cast<std::int64_t>(Cp), k_end, 4 * Q, s0, s1, e1);
        for (int q = 0; q < Q; ++q) {
            const int l = g * Q + q;
            for (int m = 0; m < K; ++m) tap[m * L + l] = splat(a[m]);
            gain[l] = splat(gj);
            // additive corrections by region: 0 none, 1 left pad (2 d0), 2 first frame (d0),
            // 3 last frame (d1), 4 right pad (2 d1)
            const v4d d0 = load4(e0 + 4 * q) - load4(y0 + 4 * q), d1 = load4(e1 + 4 * q) - load4(y1 + 4 * q);
            cd[l] = splat(0.0);
            cd[1 * L + l] = splat(2.0) * d0;
            cd[2 * L + l] = d0;
            cd[3 * L + l] = d1;
            cd[4 * L + l] = splat(2.0) * d1;
        }
    }
    // rows: the len rows of the forward recursion, L blocks each (the states before the forward
    // pass and after the backward one start at zero). The lanes run in chunks of up to 4
    // blocks, each chunk over all rows with its states in registers.
    const int len = T + 2 * W;
    long long start = (static_cast<long long>(pad) - W) % n;
    if (start < 0) start += n;
    const Lanes ln{L, Q, G > 1, tap, gain, cd};
    for (int l0 = 0; l0 < L; l0 += 4) {
        switch (std::min(4, L - l0)) {
            case 4: forward_chunk<K, 4>(p, ln, l0, len, static_cast<int>(start), xs, buf); break;
            case 3: forward_chunk<K, 3>(p, ln, l0, len, static_cast<int>(start), xs, buf); break;
            case 2: forward_chunk<K, 2>(p, ln, l0, len, static_cast<int>(start), xs, buf); break;
            default: forward_chunk<K, 1>(p, ln, l0, len, static_cast<int>(start), xs, buf); break;
        }
    }
    double* e0j = est + static_cast<std::int64_t>(j0) * T * Cp;  // est is level-major: (J, T, Cp)
    for (int l0 = 0; l0 < L; l0 += 4) {
        switch (std::min(4, L - l0)) {
            case 4: backward_chunk<K, 4>(p, ln, l0, len, W, buf, offq, e0j); break;
            case 3: backward_chunk<K, 3>(p, ln, l0, len, W, buf, offq, e0j); break;
            case 2: backward_chunk<K, 2>(p, ln, l0, len, W, buf, offq, e0j); break;
            default: backward_chunk<K, 1>(p, ln, l0, len, W, buf, offq, e0j); break;
        }
    }
}

}  // namespace

// stab_noise_variance's loop, compiled in both builds (the baseline one is size-optimised).
void noise_variance(const double* y, const std::uint8_t* measured, const double* floor, int t_len, int channels,
                    double scale, double* out) {
    // fourth differences: smooth head motion (a nod, a turn) adds far less to them than to
    // second differences, white noise exactly sqrt(70) times its std (stab_bank.h).
    // The first frames of the runs of five measured frames, then every channel's |fourth
    // difference| in one pass along the rows, channel-major (each median reads one run).
    std::vector<int> at;
    at.reserve(t_len > 4 ? t_len - 4 : 0);
    for (int t = 0; t + 4 < t_len; ++t) {
        if (measured[t] && measured[t + 1] && measured[t + 2] && measured[t + 3] && measured[t + 4]) at.push_back(t);
    }
    const std::int64_t M = static_cast<std::int64_t>(at.size());
    if (M == 0) {
        for (int c = 0; c < channels; ++c) out[c] = floor[c];
        return;
    }
    const std::int64_t s = channels;
    std::unique_ptr<double[]> d4(new double[static_cast<std::size_t>(M) * channels]);
    for (std::int64_t k = 0; k < M; ++k) {
        const double* r = y + static_cast<std::int64_t>(at[k]) * channels;
        for (int c = 0; c < channels; ++c) {
            const double d = (((r[c] - 4.0 * r[s + c]) + 6.0 * r[2 * s + c]) - 4.0 * r[3 * s + c]) + r[4 * s + c];
            d4[c * M + k] = std::abs(d);
        }
    }
    for (int c = 0; c < channels; ++c) {
        const double med = median_of(d4.get() + c * M, M);
        out[c] = std::max(med * med * scale, floor[c]);
    }
}

void stab_bank(const StabBankParams& p) {
    const int C = p.channels, Cp = p.stride, T = p.t_len, J = p.levels;
    const std::int64_t jc = static_cast<std::int64_t>(J) * Cp;
    int max_warm = 0;
    for (int j = 0; j < J; ++j) max_warm = std::max(max_warm, p.warm[j]);
    const int lanes = std::max(Cp / 4, STAB_BANK_LANES / 4);  // four-lane blocks of a group, at most
    // work (see stab_bank_work_size): the group's blocks first (32-byte units), then doubles
    v4d* buf = reinterpret_cast<v4d*>(p.work);  // (T + 2 W + 2 K, lanes)
    v4d* scratch = buf + (static_cast<std::int64_t>(T) + 2 * max_warm + 2 * STAB_BANK_MAX_ORDER) * lanes;
    double* est = reinterpret_cast<double*>(scratch + (STAB_BANK_MAX_ORDER + 7) * lanes);  // (J, T, Cp)
    const std::int64_t tcp = static_cast<std::int64_t>(T) * Cp;
    double* lower = est + static_cast<std::int64_t>(T) * jc;  // (T + 1, Cp): prefix sums
    double* count = lower + tcp + Cp;                         // (T, Cp)
    double* eroded = count + tcp;                             // (T, Cp)
    double* off = eroded + tcp;                               // (Cp,)
    double* gs = off + Cp;                                    // (J, Cp)
    double* xs = gs + static_cast<std::int64_t>(J) * Cp;      // (n, Cp): the period less the offsets
    for (int c = 0; c < Cp; ++c) off[c] = p.padded[static_cast<std::int64_t>(p.pad) * Cp + c];
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(p.n) * Cp; k += Cp) {
        for (int c = 0; c < Cp; ++c) xs[k + c] = p.padded[k + c] - off[c];
    }
    // low[] is non-decreasing: the channels that may use level j are a prefix. Consecutive
    // levels with the same prefix run together, about STAB_BANK_LANES lanes at a time.
    for (int j = 0; j < J;) {
        int active = 0;
        while (active < C && p.low[active] <= j) ++active;
        if (active == 0) {
            ++j;
            continue;
        }
        const int blocks = (active + 3) / 4;
        const int want = std::max(1, (STAB_BANK_LANES / 4) / blocks);
        int G = 1;
        while (G < want && j + G < J) {
            int a2 = 0;
            while (a2 < C && p.low[a2] <= j + G) ++a2;
            if (a2 != active) break;
            ++G;
        }
        switch (p.order) {
            case 1: group_pass<1>(p, j, G, active, off, xs, scratch, buf, est); break;
            case 2: group_pass<2>(p, j, G, active, off, xs, scratch, buf, est); break;
            case 3: group_pass<3>(p, j, G, active, off, xs, scratch, buf, est); break;
            default: group_pass<4>(p, j, G, active, off, xs, scratch, buf, est); break;
        }
        j += G;
    }
    // ICI from the lightest level toward the smoothest, frame by frame and four channels at a
    // time (a frame's levels are one small block of est): lower only rises and upper only
    // falls, so the agreeing levels are a leading run; its length `run` gives
    // level = max(J - run, low).
    const int Q = Cp / 4;
    int act[STAB_BANK_MAX_LEVELS];
    for (int j = 0; j < J; ++j) {
        int active = 0;
        while (active < C && p.low[active] <= j) ++active;
        act[j] = active;  // non-decreasing in j
        for (int c = 0; c < Cp; ++c) gs[static_cast<std::int64_t>(j) * Cp + c] = c < C ? p.gamma * (p.norm[j] * p.sdr[c]) : 0.0;
    }
    double lowd[STAB_BANK_MAX_CHANNELS + 4];
    for (int c = 0; c < Cp; ++c) lowd[c] = c < C ? static_cast<double>(p.low[c]) : 0.0;
    const v4d jd = splat(static_cast<double>(J));
    double* cnt = count;  // (T, Cp): the level
    for (int t = 0; t < T; ++t) {
        const double* et = est + t * Cp;  // level j of frame t at et + j * tcp
        for (int q = 0; q < Q; ++q) {
            const v4d e = load4(et + static_cast<std::int64_t>(J - 1) * tcp + 4 * q);
            const v4d g = load4(gs + static_cast<std::int64_t>(J - 1) * Cp + 4 * q);
            v4d lo = e - g, up = e + g;
            v4i run = v4i{1, 1, 1, 1};  // a comparison gives -1 (true) or 0 per lane
            // Down to the first level at which this block has no active channel. Lanes of a
            // block whose channel may not use level j (or past C) were computed all the same
            // (finite) and may run on: the run is clamped to their `low` below, and counting
            // on past a disagreement changes nothing (lower > upper stays so).
            int jlo = 0;  // the first level at which this block has an active channel
            while (jlo < J - 1 && act[jlo] <= 4 * q) ++jlo;
            for (int j = J - 2; j >= jlo; --j) {
                const v4d ej = load4(et + static_cast<std::int64_t>(j) * tcp + 4 * q);
                const v4d gj = load4(gs + static_cast<std::int64_t>(j) * Cp + 4 * q);
                const v4d lj = ej - gj, uj = ej + gj;
                lo = (lo < lj) ? lj : lo;  // max
                up = (uj < up) ? uj : up;  // min
                run = run - (lo <= up);
            }
            const v4d lv = jd - __builtin_convertvector(run, v4d), lw = load4(lowd + 4 * q);
            store4(cnt + static_cast<std::int64_t>(t) * Cp + 4 * q, (lv < lw) ? lw : lv);
        }
    }
    // Running maximum over +-erode frames (clipped at the ends): flat passes over (T, Cp),
    // one per offset, each way.
    double* __restrict er = eroded;
    const double* __restrict cn = cnt;
    std::memcpy(er, cn, sizeof(double) * static_cast<std::size_t>(tcp));
    for (int k = 1; k <= p.erode && k < T; ++k) {
        const std::int64_t sh = static_cast<std::int64_t>(k) * Cp;
        for (std::int64_t q = sh; q < tcp; ++q) er[q] = std::max(er[q], cn[q - sh]);
        for (std::int64_t q = 0; q < tcp - sh; ++q) er[q] = std::max(er[q], cn[q + sh]);
    }
    // Moving average over +-average frames (the window shrinks at the ends). The values are
    // small integers, so prefix sums are exact and the result is numpy's to the bit.
    const bool avg = p.average > 0 && T >= 2;
    double* __restrict pre = lower;  // (T + 1, Cp)
    for (int c = 0; c < Cp; ++c) pre[c] = 0.0;
    for (int t = 0; t < T; ++t) {
        const std::int64_t r = static_cast<std::int64_t>(t) * Cp;
        for (int c = 0; c < Cp; ++c) pre[r + Cp + c] = pre[r + c] + er[r + c];
    }
    double* __restrict o = p.out;
    for (int t = 0; t < T; ++t) {
        const int a = avg ? std::max(0, t - p.average) : t, b = avg ? std::min(T, t + p.average + 1) : t + 1;
        const double frames = static_cast<double>(b - a);
        const std::int64_t ra = static_cast<std::int64_t>(a) * Cp, rb = static_cast<std::int64_t>(b) * Cp;
        const double* et = est + t * Cp;
        const v4d fr = splat(frames);
        for (int q = 0; q < C; q += 4) {  // the levels four channels at a time (one vector division)
            double lv4[4];
            store4(lv4, (load4(pre + rb + q) - load4(pre + ra + q)) / fr);
            const int cn = std::min(4, C - q);
            for (int u = 0; u < cn; ++u) {
                const int c = q + u;
                const double lv = lv4[u];
                int j0 = static_cast<int>(std::floor(lv));
                j0 = std::min(std::max(j0, 0), J - 1);
                const int j1 = std::min(j0 + 1, J - 1);
                const double frac = lv - static_cast<double>(j0);
                const double va = et[static_cast<std::int64_t>(j0) * tcp + c];
                const double vb = et[static_cast<std::int64_t>(j1) * tcp + c];
                o[static_cast<std::int64_t>(t) * C + c] = va + frac * (vb - va);
            }
        }
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, stab_bank, (const StabBankParams& p), (p))
FFACCEL_CPU_DISPATCH(void, noise_variance,
                     (const double* y, const std::uint8_t* measured, const double* floor, int t_len, int channels,
                      double scale, double* out),
                     (y, measured, floor, t_len, channels, scale, out))

}  // namespace cpu
}  // namespace ffaccel
