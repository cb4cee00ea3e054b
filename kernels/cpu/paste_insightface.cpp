// CPU loop for paste_back_insightface (formulas: ffaccel/paste_insightface.h).
//
// Phases, each split over the thread pool: the frame copy (new output only); the
// thresholded mask T over the box B with its 255-extent; the erode as two 1-D sliding
// minimums (van Herk / Gil-Werman: min is exact in any order); the blur's row pass over
// B's rows; the column pass fused with the blend over R.
//
// Shortcuts that change no byte:
// - Mask: a pixel whose sample lies at least half a crop pixel inside the crop (all four
//   taps inside) warps to 255 or to a lerp/weighted sum of 255s, > 20 in every mode, so
//   T = 255; one whose sample is far outside has all taps outside, so T = 0. Only the
//   rim in between is sampled. Intervals are found in double with 1 px of slack.
// - Blur: a window (no reflection) whose inputs are all 0 gives 0; one whose inputs
//   all equal the same value v gives the formula's result for constant v, computed once
//   per column class. The formula itself runs elsewhere, in the header's order.
// - Blend: where G = 0 the pixel is m = 0: 0 * c + 1 * f = f, left as is.
#include "ffaccel/paste_insightface.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// Frame columns [x0, x1) of row y where the mask sample is surely inside / possibly live.
void mask_spans(const WarpCoeffs& k, int cw, int ch, int y, int fw, int* in0, int* in1, int* live0, int* live1) {
    double ilo = -1e300, ihi = 1e300, llo = -1e300, lhi = 1e300;
    for (int axis = 0; axis < 2; ++axis) {
        const double a = k.d[3 * axis], b = k.d[3 * axis + 1] * y + k.d[3 * axis + 2];
        const double size = axis == 0 ? cw : ch;
        const double in_lo = 0.5, in_hi = size - 1.5, live_lo = -1.5, live_hi = size + 0.5;
        auto clamp_range = [&](double lo, double hi, double& rlo, double& rhi) {
            if (std::fabs(a) < 1e-12) {
                if (!(b >= lo && b <= hi)) rlo = 1e300, rhi = -1e300;
                return;
            }
            double t0 = (lo - b) / a, t1 = (hi - b) / a;
            if (t0 > t1) std::swap(t0, t1);
            rlo = std::max(rlo, t0);
            rhi = std::min(rhi, t1);
        };
        clamp_range(in_lo, in_hi, ilo, ihi);
        clamp_range(live_lo, live_hi, llo, lhi);
    }
    auto to_int = [&](double lo, double hi, int grow, int* x0, int* x1) {
        if (!(lo <= hi)) {
            *x0 = *x1 = 0;
            return;
        }
        const double a = std::max(-1.0, std::min(double(fw) + 1, grow > 0 ? std::floor(lo) - grow : std::ceil(lo) + 1));
        const double b = std::max(-1.0, std::min(double(fw) + 1, grow > 0 ? std::ceil(hi) + grow + 1 : std::floor(hi)));
        *x0 = std::max(0, std::min(fw, static_cast<int>(a)));
        *x1 = std::max(*x0, std::min(fw, static_cast<int>(b)));
    };
    to_int(ilo, ihi, 0, in0, in1);
    to_int(llo, lhi, 1, live0, live1);
    if (*in0 < *live0) *in0 = *live0;
    if (*in1 > *live1) *in1 = *live1;
    if (*in1 < *in0) *in1 = *in0;
}

// Sliding minimum of length L over p[0 .. n) (n >= L), for `lanes` interleaved series
// (element i of lane l at p[i * lanes + l]); out[j * lanes + l] = min p[j .. j + L).
void sliding_min(const float* p, int n, int L, int lanes, float* g, float* h, float* out) {
    for (int i = 0; i < n; ++i) {
        for (int l = 0; l < lanes; ++l) {
            const float v = p[i * lanes + l];
            g[i * lanes + l] = (i % L == 0) ? v : std::min(g[(i - 1) * lanes + l], v);
        }
    }
    for (int i = n - 1; i >= 0; --i) {
        for (int l = 0; l < lanes; ++l) {
            const float v = p[i * lanes + l];
            h[i * lanes + l] = (i % L == L - 1 || i == n - 1) ? v : std::min(h[(i + 1) * lanes + l], v);
        }
    }
    for (int j = 0; j + L <= n; ++j) {
        for (int l = 0; l < lanes; ++l) out[j * lanes + l] = std::min(h[j * lanes + l], g[(j + L - 1) * lanes + l]);
    }
}

float row_const(const float* kern, int r, float v, bool fused) {
    float s = v * kern[0];
    for (int j = 1; j <= 2 * r; ++j) s = ins_madd(v, kern[j], s, fused);
    return s;
}

float col_const(const float* kern, int r, float v, bool fused) {
    float s = v * kern[r];
    for (int j = 1; j <= r; ++j) s = ins_madd(v + v, kern[r + j], s, fused);
    return s;
}

template <typename T>
T* scratch(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

template <WarpMode M>
struct Impl {
    static bool run(const InsParams& p, const InsFace& f) {
        const int fw = p.out.w, fh = p.out.h, cw = p.crop.w, ch = p.crop.h;
        const std::size_t row_bytes = static_cast<std::size_t>(fw) * 3;
        if (!p.in_place) {
            parallel_for(fh, [&](int b, int e) {
                for (int y = b; y < e; ++y)
                    std::memcpy(row_ptr_mut<std::uint8_t>(p.out, 0, y), row_ptr<std::uint8_t>(p.frame, 0, y), row_bytes);
            });
        }
        const int bw = f.bx2 - f.bx1, bh = f.by2 - f.by1;
        if (bw <= 0 || bh <= 0) return false;
        const InsLayout lay = ins_layout(f, cw);
        float* white = p.ws + lay.white;
        for (int i = 0; i < cw; ++i) white[i] = 255.0f;
        const WarpParams wp = ins_white_params(white, cw, ch, fw);
        float* T = p.ws + lay.t;
        float* E = p.ws + lay.e;

        // 1. T over B, and the rows / columns where T == 255.
        std::mutex mu;
        int ymin = INT_MAX, ymax = -1, xmin = INT_MAX, xmax = -1;
        parallel_for(bh, [&](int b, int e) {
            int y0 = INT_MAX, y1 = -1, x0 = INT_MAX, x1 = -1;
            for (int i = b; i < e; ++i) {
                const int y = f.by1 + i;
                float* row = T + static_cast<std::int64_t>(i) * bw;
                int in0, in1, l0, l1;
                mask_spans(f.k, cw, ch, y, fw, &in0, &in1, &l0, &l1);
                l0 = std::max(l0, f.bx1), l1 = std::min(l1, f.bx2);
                in0 = std::max(in0, l0), in1 = std::min(in1, l1);
                if (in1 < in0) in1 = in0;
                for (int x = f.bx1; x < f.bx2; ++x) {
                    float v;
                    if (x < l0 || x >= l1) {
                        v = 0.f;
                    } else if (x >= in0 && x < in1) {
                        v = 255.f;
                    } else {
                        v = ins_mask_value<M>(wp, f.k, x, y);
                    }
                    row[x - f.bx1] = v;
                    if (v == 255.f) {
                        x0 = std::min(x0, x), x1 = std::max(x1, x);
                        y0 = std::min(y0, y), y1 = std::max(y1, y);
                    }
                }
            }
            std::lock_guard<std::mutex> lock(mu);
            ymin = std::min(ymin, y0), ymax = std::max(ymax, y1);
            xmin = std::min(xmin, x0), xmax = std::max(xmax, x1);
        });
        if (ymax < 0) return false;  // stock: np.max of an empty array
        int ke, r;
        ins_sizes(ymax - ymin, xmax - xmin, &ke, &r);
        if (r > f.rmax) throw std::logic_error("paste_insightface: blur radius above its bound");
        const int a = ke / 2, ks = 2 * r + 1;
        float* kern = p.ws + lay.kern;
        ins_gaussian_kernel(ks, kern);
        const float inf = std::numeric_limits<float>::infinity();

        // 2. Erode: rows T -> E, then columns E -> T (T then holds the eroded mask).
        parallel_for(bh, [&](int b, int e) {
            thread_local std::vector<float> buf;
            const int n = bw + ke - 1;
            float* pad = scratch(buf, static_cast<std::size_t>(n) * 3);
            float *g = pad + n, *h = pad + 2 * n;
            for (int i = b; i < e; ++i) {
                const float* row = T + static_cast<std::int64_t>(i) * bw;
                for (int j = 0; j < n; ++j) {
                    const int c = f.bx1 - a + j;
                    pad[j] = (c < 0 || c >= fw) ? inf : (c >= f.bx1 && c < f.bx2 ? row[c - f.bx1] : 0.f);
                }
                sliding_min(pad, n, ke, 1, g, h, E + static_cast<std::int64_t>(i) * bw);
            }
        });
        constexpr int kLanes = 16;
        const int stripes = (bw + kLanes - 1) / kLanes;
        parallel_for(stripes, [&](int b, int e) {
            thread_local std::vector<float> buf;
            const int n = bh + ke - 1;
            float* pad = scratch(buf, static_cast<std::size_t>(n) * kLanes * 4);
            float *g = pad + n * kLanes, *h = pad + 2 * n * kLanes, *o = pad + 3 * n * kLanes;
            for (int s = b; s < e; ++s) {
                const int c0 = s * kLanes, lanes = std::min(kLanes, bw - c0);
                for (int j = 0; j < n; ++j) {
                    const int y = f.by1 - a + j;
                    for (int l = 0; l < lanes; ++l) {
                        pad[j * lanes + l] = (y < 0 || y >= fh)
                                                 ? inf
                                                 : (y >= f.by1 && y < f.by2 ? E[static_cast<std::int64_t>(y - f.by1) * bw + c0 + l] : 0.f);
                    }
                }
                sliding_min(pad, n, ke, lanes, g, h, o);
                for (int i = 0; i < bh; ++i)
                    for (int l = 0; l < lanes; ++l) T[static_cast<std::int64_t>(i) * bw + c0 + l] = o[i * lanes + l];
            }
        });
        const float* Ev = T;  // the eroded mask over B

        // 3. Row pass over B's rows, columns of R.
        const int rx1 = std::max(0, f.bx1 - r), rx2 = std::min(fw, f.bx2 + r);
        const int ry1 = std::max(0, f.by1 - r), ry2 = std::min(fh, f.by2 + r);
        const int rw = rx2 - rx1;
        float* H = p.ws + lay.h;
        const float row255[2] = {row_const(kern, r, 255.f, false), row_const(kern, r, 255.f, true)};
        parallel_for(bh, [&](int b, int e) {
            thread_local std::vector<int> cnt;
            int* nz = scratch(cnt, static_cast<std::size_t>(bw + 1) * 2);
            int* n255 = nz + bw + 1;
            for (int i = b; i < e; ++i) {
                const float* erow = Ev + static_cast<std::int64_t>(i) * bw;
                float* hrow = H + static_cast<std::int64_t>(i) * rw;
                nz[0] = n255[0] = 0;
                for (int j = 0; j < bw; ++j) {
                    nz[j + 1] = nz[j] + (erow[j] != 0.f);
                    n255[j + 1] = n255[j] + (erow[j] != 255.f);
                }
                auto get = [&](int xx) { return xx >= f.bx1 && xx < f.bx2 ? erow[xx - f.bx1] : 0.f; };
                for (int x = rx1; x < rx2; ++x) {
                    const int w0 = x - r, w1 = x + r + 1;
                    float v;
                    if (w0 >= 0 && w1 <= fw) {
                        const int c0 = std::max(w0, f.bx1) - f.bx1, c1 = std::min(w1, f.bx2) - f.bx1;
                        if (c1 <= c0 || nz[c1] == nz[c0]) {
                            hrow[x - rx1] = 0.f;
                            continue;
                        }
                        if (w0 >= f.bx1 && w1 <= f.bx2 && n255[c1] == n255[c0]) {
                            hrow[x - rx1] = row255[ins_row_fused(p.blur, x, fw)];
                            continue;
                        }
                    }
                    v = ins_blur_row(get, kern, r, x, fw, p.blur);
                    hrow[x - rx1] = v;
                }
            }
        });

        // 4. Column pass and blend over R. Per-column prefix counts of H != 0 and of
        // H != (the row-pass value of an all-255 window at that column).
        thread_local std::vector<int> counts;
        int* cz = scratch(counts, static_cast<std::size_t>(bh + 1) * rw * 2);
        int* cc = cz + static_cast<std::size_t>(bh + 1) * rw;
        parallel_for(rw, [&](int b, int e) {
            for (int x = b; x < e; ++x) cz[x] = cc[x] = 0;
            for (int i = 0; i < bh; ++i) {
                const float* hrow = H + static_cast<std::int64_t>(i) * rw;
                const std::int64_t o = static_cast<std::int64_t>(i) * rw, o1 = o + rw;
                for (int x = b; x < e; ++x) {
                    const float hc = row255[ins_row_fused(p.blur, rx1 + x, fw)];
                    cz[o1 + x] = cz[o + x] + (hrow[x] != 0.f);
                    cc[o1 + x] = cc[o + x] + (hrow[x] != hc);
                }
            }
        });
        float g255[2][2];
        for (int rf = 0; rf < 2; ++rf)
            for (int cf = 0; cf < 2; ++cf) g255[rf][cf] = col_const(kern, r, row255[rf], cf != 0);
        const WarpParams cp = ins_crop_params(p.crop, fw);
        parallel_for(ry2 - ry1, [&](int b, int e) {
            for (int yy = b; yy < e; ++yy) {
                const int y = ry1 + yy;
                std::uint8_t* orow = row_ptr_mut<std::uint8_t>(p.out, 0, y);
                const int w0 = y - r, w1 = y + r + 1;
                const bool inner = w0 >= 0 && w1 <= fh;
                const int i0 = std::max(w0, f.by1) - f.by1, i1 = std::min(w1, f.by2) - f.by1;
                const bool full = inner && w0 >= f.by1 && w1 <= f.by2;
                for (int x = rx1; x < rx2; ++x) {
                    const int xi = x - rx1;
                    float g;
                    if (inner && (i1 <= i0 || cz[static_cast<std::int64_t>(i1) * rw + xi] == cz[static_cast<std::int64_t>(i0) * rw + xi])) {
                        continue;  // G = 0
                    }
                    if (full && cc[static_cast<std::int64_t>(i1) * rw + xi] == cc[static_cast<std::int64_t>(i0) * rw + xi]) {
                        g = g255[ins_row_fused(p.blur, x, fw)][ins_col_fused(p.blur, x, fw)];
                    } else {
                        auto get = [&](int yv) {
                            return yv >= f.by1 && yv < f.by2 ? H[static_cast<std::int64_t>(yv - f.by1) * rw + xi] : 0.f;
                        };
                        g = ins_blur_col(get, kern, r, x, y, fw, fh, p.blur);
                    }
                    if (g == 0.f) continue;
                    float c[3];
                    warp_sample<M, std::uint8_t, 3>(cp, f.k, x, y, c);
                    ins_blend(orow + x * 3, c, g);
                }
            }
        });
        return true;
    }
};

}  // namespace

bool paste_insightface(const InsParams& p, const InsFace& f) {
    if (p.warp == WarpMode::OpenCV5) return Impl<WarpMode::OpenCV5>::run(p, f);
    if (p.warp == WarpMode::OpenCV4) return Impl<WarpMode::OpenCV4>::run(p, f);
    throw std::invalid_argument("paste_insightface: warp mode must be OpenCV4 or OpenCV5");
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(bool, paste_insightface, (const InsParams& p, const InsFace& f), (p, f))

}  // namespace ffaccel::cpu
