// CPU loop for paste_back_insightface (formulas: ffaccel/paste_insightface.h).
//
// Phases, each split over the thread pool: the thresholded mask T over the box B (its
// 255-extent, which sets the erode and blur sizes, comes from the host: ins_set_extent);
// the erode as two 1-D sliding minimums (van Herk / Gil-Werman: min is exact in any
// order); the blur's row pass over B's rows; the column pass fused with the blend over R,
// and for a new output frame the frame's copy, row by row, in that same last phase.
//
// Shortcuts that change no byte:
// - Mask: a pixel whose sample lies in [-0.5, size - 0.5] on both crop axes warps to at
//   least 56 (> 20) in every mode, so T = 255; one whose taps all lie outside gives
//   T = 0. Only the rim in between is sampled (ins_row_spans: double, 1 px of slack).
// - Spans (paste_insightface_spans.h): where every row of T is one non-zero run holding
//   one 255 run and no erode or row-blur window meets the frame border, the erode and
//   the row pass work from each row's runs (fills, table values, exact rim windows).
// - Blur: a window (no reflection) whose inputs are all 0 gives 0; one whose inputs
//   all equal the same value v gives the formula's result for constant v, computed once
//   per column class. The formula itself runs elsewhere, in the header's order.
// - Blend: where G = 0 the pixel is m = 0: 0 * c + 1 * f = f, left as is.
#include "ffaccel/paste_insightface.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "parallel.h"
#include "paste_insightface_parts.h"
#include "paste_insightface_spans.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// The pool's estimates (parallel.h), one core, x86-64-v3, coarse: each phase over B or
// R about kPhaseNs a pixel of its rows, the last phase's column pass and blend kBlendNs
// a pixel of R, a frame byte copied kCopyNs. Summed over the phases they come within 2x
// of the whole call (a 300-px face into a new 1080p frame: about 1.3 ms).
constexpr double kPhaseNs = 1.0, kBlendNs = 3.0, kCopyNs = 0.1;

template <WarpMode M>
struct Impl {
    static bool run(const InsParams& p, const InsFace& f) {
        const int fw = p.out.w, fh = p.out.h, cw = p.crop.w, ch = p.crop.h;
        const std::size_t row_bytes = static_cast<std::size_t>(fw) * 3;
        // A new frame is copied row by row in the last phase (copy_row), beside the blend of
        // other rows: the copy is bound by memory and the blend by arithmetic, so threads on
        // different rows overlap the two, and a row of R is blended while it is in the cache.
        // A frame of 1 MB or more is copied with streaming stores (no read of the destination's
        // old bytes: about 40% less time for a 4K frame), except R's rows, which the blend reads
        // back at once.
        const bool stream = row_bytes * static_cast<std::size_t>(fh) >= (std::size_t{1} << 20);
        const auto copy_row = [&](int y, bool streamed) {
            auto* dst = row_ptr_mut<std::uint8_t>(p.out, 0, y);
            const auto* src = row_ptr<std::uint8_t>(p.frame, 0, y);
            if (streamed) {
                stream_copy(dst, src, row_bytes);
            } else {
                std::memcpy(dst, src, row_bytes);
            }
        };
        const auto copy_all = [&] {  // no face pixel to blend: the copy alone
            if (p.in_place) return;
            parallel_for(fh, kCopyNs * static_cast<double>(row_bytes), [&](int b, int e) {
                for (int y = b; y < e; ++y) copy_row(y, stream);
                if (stream) stream_fence();
            });
        };
        const int bw = f.bx2 - f.bx1, bh = f.by2 - f.by1;
        if (bw <= 0 || bh <= 0 || f.ey1 < 0) {  // f.ey1 < 0: stock's np.max of an empty array
            copy_all();
            return false;
        }
        const InsLayout lay = ins_layout(f, cw);
        float* white = p.ws + lay.white;
        for (int i = 0; i < cw; ++i) white[i] = 255.0f;
        const WarpParams wp = ins_white_params(white, cw, ch, fw);
        float* T = p.ws + lay.t;
        float* E = p.ws + lay.e;

        // 1. T over B: 0 outside the live span, 255 inside the sure span, sampled between.
        // The extent of T == 255 is the host's (ins_set_extent), computed from the matrix.
        int ke, r;
        ins_sizes(f.ey1 - f.ey0, f.ex1 - f.ex0, &ke, &r);
        if (r > f.rmax) throw std::logic_error("paste_insightface: blur radius above its bound");
        const int a = ke / 2, ks = 2 * r + 1;
        thread_local std::vector<RowDesc> desc_buf;
        RowDesc* desc = scratch(desc_buf, static_cast<std::size_t>(bh) * 3);  // T, row-eroded, eroded
        thread_local std::vector<int> span_buf;
        int* tspan = scratch(span_buf, static_cast<std::size_t>(bh) * 4);  // l0, in0, in1, l1 per row
        std::atomic<int> not_simple{0};
        parallel_for(bh, bw * kPhaseNs, [&](int b, int e) {
            int bad = 0;
            for (int i = b; i < e; ++i) {
                const int y = f.by1 + i;
                float* row = T + static_cast<std::int64_t>(i) * bw - f.bx1;  // indexed by frame column
                int in0, in1, l0, l1;
                ins_row_spans(f, cw, ch, y, &in0, &in1, &l0, &l1);
                // Only the rim is written here; the 0 and 255 spans are filled below for the
                // dense path (the span shortcuts never read them).
                for (int x = l0; x < in0; ++x) row[x] = ins_mask_value<M>(wp, f.k, x, y);
                for (int x = in1; x < l1; ++x) row[x] = ins_mask_value<M>(wp, f.k, x, y);
                int* sp4 = tspan + 4 * static_cast<std::int64_t>(i);
                sp4[0] = l0, sp4[1] = in0, sp4[2] = in1, sp4[3] = l1;
                RowScan sc;
                sc.scan(row, l0, in0);
                sc.all255(in0, in1);
                sc.scan(row, in1, l1);
                desc[i] = sc.done();
                bad += !desc[i].simple;
            }
            if (bad) not_simple.fetch_add(bad, std::memory_order_relaxed);
        });
        // The span shortcuts (paste_insightface_spans.h) where every row is simple and no
        // erode or row-blur window of B meets the frame's border.
        const bool fast = not_simple.load() == 0 && f.bx1 - a - 2 * r - 1 >= 0 && f.bx2 + ke + 2 * r + 1 <= fw &&
                          f.by1 - a - 1 >= 0 && f.by2 + ke + 1 <= fh;
        float* kern = p.ws + lay.kern;
        ins_gaussian_kernel(ks, kern);
        kern[ks] = 1.0f;
        // A 1-column (1-row) frame: cv2 skips the row (column) pass, the 1-tap kernel {1}
        // (ins_pass_radius). Radius and weights of each pass:
        const int r_row = ins_pass_radius(fw, r), r_col = ins_pass_radius(fh, r);
        const float* k_row = r_row == r ? kern : kern + ks;
        const float* k_col = r_col == r ? kern : kern + ks;
        const float inf = std::numeric_limits<float>::infinity();

        // 2. Erode: rows T -> E, then columns E -> T (T then holds the eroded mask).
        if (fast) {
            RowDesc* d1 = desc + bh;
            RowDesc* d2 = desc + 2 * bh;
            parallel_for(bh, bw * kPhaseNs, [&](int b, int e) {
                for (int i = b; i < e; ++i) {
                    const std::int64_t o = static_cast<std::int64_t>(i) * bw - f.bx1;
                    d1[i] = erode_row_fast(T + o, desc[i], ke, a, E + o);
                }
            });
            parallel_for(bh, bw * kPhaseNs, [&](int b, int e) {
                thread_local std::vector<const float*> rbuf;
                const float** rows = scratch(rbuf, static_cast<std::size_t>(ke));
                for (int i = b; i < e; ++i) {
                    float* dst = T + static_cast<std::int64_t>(i) * bw - f.bx1;
                    const int i0 = i - a;  // first window row, B index
                    if (i0 < 0 || i0 + ke > bh) {  // a window row outside B: all 0
                        d2[i] = RowDesc();
                        continue;
                    }
                    for (int j = 0; j < ke; ++j) rows[j] = E + static_cast<std::int64_t>(i0 + j) * bw - f.bx1;
                    d2[i] = erode_col_fast(rows, d1 + i0, ke, dst);
                }
            });
        } else {
        parallel_for(bh, bw * kPhaseNs, [&](int b, int e) {  // T's 0 and 255 spans
            for (int i = b; i < e; ++i) {
                float* row = T + static_cast<std::int64_t>(i) * bw - f.bx1;
                const int* sp4 = tspan + 4 * static_cast<std::int64_t>(i);
                std::fill(row + f.bx1, row + sp4[0], 0.f);
                std::fill(row + sp4[1], row + sp4[2], 255.f);
                std::fill(row + sp4[3], row + f.bx2, 0.f);
            }
        });
        parallel_for(bh, bw * kPhaseNs, [&](int b, int e) {
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
        parallel_for(stripes, (bh + ke) * kLanes * kPhaseNs, [&](int b, int e) {
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
        }
        const float* Ev = T;  // the eroded mask over B

        // 3. Row pass over B's rows, columns of R. Per row, the reflected E row is laid
        // out once (pe). A window of zeros gives 0. A window holding only 0s and 255s,
        // the 255s contiguous at taps [j0, j1), gives run255[j0][j1]: the formula over
        // those taps alone, since a leading 0 tap leaves s = +0 (0 k = +0, fma(0, k, +0)
        // = +0, +0 + 0 k = +0), then the first 255 tap gives round(255 k_j0) fused or
        // not, as the table's start does, and a trailing 0 tap leaves s as it is. The
        // other columns run the header's formula with the tap loop outermost (each column
        // still sees x0 k0, then its taps in order).
        const int rx1 = std::max(0, f.bx1 - r_row), rx2 = std::min(fw, f.bx2 + r_row);
        const int ry1 = std::max(0, f.by1 - r_col), ry2 = std::min(fh, f.by2 + r_col);
        const int rw = rx2 - rx1;
        float* H = p.ws + lay.h;
        const float row255[2] = {row_const(k_row, r_row, 255.f, false), row_const(k_row, r_row, 255.f, true)};
        const int row_split = p.blur == BlurMode::OpenCV4 ? fw : fw - fw % 4;  // fused below it
        const int col_split = p.blur == BlurMode::OpenCV4 ? fw : fw - fw % 8;
        const int ks_row = 2 * r_row + 1, ks1 = ks_row + 1;
        thread_local std::vector<float> run_tab;
        float* run255 = scratch(run_tab, static_cast<std::size_t>(ks1) * ks1 * 2);  // [fused][j0][j1]
        for (int fz = 0; fz < 2; ++fz) {
            for (int j0 = 0; j0 < ks_row; ++j0) {
                float* t = run255 + (static_cast<std::size_t>(fz) * ks1 + j0) * ks1;
                float acc = 255.f * k_row[j0];
                t[j0 + 1] = acc;
                for (int j1 = j0 + 2; j1 <= ks_row; ++j1) t[j1] = acc = ins_madd(255.f, k_row[j1 - 1], acc, fz != 0);
            }
        }
        thread_local std::vector<int> spans;
        int* sp = scratch(spans, static_cast<std::size_t>(bh) * 4);
        int *hz0 = sp, *hz1 = sp + bh, *hc0 = sp + 2 * bh, *hc1 = sp + 3 * bh;
        if (fast) {  // and the spans of H (step 4) from the rows' runs
            const RowDesc* d2 = desc + 2 * bh;
            parallel_for(bh, rw * kPhaseNs, [&](int b, int e) {
                thread_local std::vector<float> fbuf;
                const int n = rw + 2 * r_row;
                float* pe = scratch(fbuf, static_cast<std::size_t>(n));
                const int off = rx1 - r_row;  // frame column of pe[0]; B lies inside [off, off + n)
                for (int i = b; i < e; ++i) {
                    const float* erow = Ev + static_cast<std::int64_t>(i) * bw;
                    const RowDesc& d = d2[i];
                    if (d.z0 <= d.z1 && (d.z0 < d.a0 || d.z1 > d.a1)) {  // rim values: lay the row out
                        const float* ef = erow - f.bx1;                       // frame-column indexed
                        std::fill(pe, pe + n, 0.f);
                        if (d.a0 <= d.a1) {
                            std::fill(pe + (d.a0 - off), pe + (d.a1 - off) + 1, 255.f);
                            std::copy(ef + d.z0, ef + d.a0, pe + (d.z0 - off));
                            std::copy(ef + d.a1 + 1, ef + d.z1 + 1, pe + (d.a1 + 1 - off));
                        } else {
                            std::copy(ef + d.z0, ef + d.z1 + 1, pe + (d.z0 - off));
                        }
                    }
                    int z0, z1, c0, c1;
                    row_pass_fast(pe, off, d, k_row, r_row, run255 + static_cast<std::size_t>(ks1) * ks1, ks1, rx1, rx2,
                                  H + static_cast<std::int64_t>(i) * rw, &z0, &z1, &c0, &c1);
                    hz0[i] = z0 <= z1 ? z0 - rx1 : rw, hz1[i] = z0 <= z1 ? z1 - rx1 : -1;
                    hc0[i] = c0 <= c1 ? c0 - rx1 : rw, hc1[i] = c0 <= c1 ? c1 - rx1 : -1;
                }
            });
        } else {
        parallel_for(bh, rw * kPhaseNs, [&](int b, int e) {
            thread_local std::vector<float> fbuf;
            const int n = rw + 2 * r_row;
            float* pe = scratch(fbuf, static_cast<std::size_t>(n));
            const int off = rx1 - r_row;  // frame column of pe[0]
            for (int i = b; i < e; ++i) {
                const float* erow = Ev + static_cast<std::int64_t>(i) * bw;
                float* hrow = H + static_cast<std::int64_t>(i) * rw;
                // pe: E at reflect101(off + c); zero outside B.
                std::fill(pe, pe + n, 0.f);
                std::memcpy(pe + (f.bx1 - off), erow, static_cast<std::size_t>(bw) * sizeof(float));
                for (int c = 0; c < n; ++c) {
                    const int xx = off + c;
                    if (xx >= 0) break;
                    const int rr = reflect101(xx, fw);
                    pe[c] = rr >= f.bx1 && rr < f.bx2 ? erow[rr - f.bx1] : 0.f;
                }
                for (int c = n - 1; c >= 0; --c) {
                    const int xx = off + c;
                    if (xx < fw) break;
                    const int rr = reflect101(xx, fw);
                    pe[c] = rr >= f.bx1 && rr < f.bx2 ? erow[rr - f.bx1] : 0.f;
                }
                // The row's shape: non-zero span [z0, z1], 255 span [a0, a1]; `simple`
                // when every value in [z0, z1] is non-zero and every one in [a0, a1] is 255.
                int z0 = n, z1 = -1, a0 = n, a1 = -1, nonzero = 0, n255 = 0;
                for (int c = 0; c < n; ++c) {
                    const float v = pe[c];
                    if (v != 0.f) {
                        z0 = c < z0 ? c : z0;
                        z1 = c;
                        ++nonzero;
                        if (v == 255.f) {
                            a0 = c < a0 ? c : a0;
                            a1 = c;
                            ++n255;
                        }
                    }
                }
                const bool simple = nonzero == z1 - z0 + 1 && n255 == a1 - a0 + 1;
                // 1: value in *v (zero, or a 255 run over rim-free taps), 2: compute
                auto kind = [&](int c0, bool fused, float* v) {
                    const int c1 = c0 + 2 * r_row;  // inclusive
                    if (c1 < z0 || c0 > z1) {
                        *v = 0.f;
                        return 1;
                    }
                    if (!simple || n255 == 0) return 2;
                    const int lo = c0 > z0 ? c0 : z0, hi = c1 < z1 ? c1 : z1;  // non-zero taps
                    if (lo < a0 || hi > a1) return 2;                          // a rim value in the window
                    *v = run255[(static_cast<std::size_t>(fused) * ks1 + (lo - c0)) * ks1 + (hi - c0 + 1)];
                    return 1;
                };
                int x = rx1;
                while (x < rx2) {
                    const int c0 = x - rx1;
                    const bool fused = x < row_split;
                    float v;
                    if (kind(c0, fused, &v) == 1) {
                        hrow[c0] = v;
                        ++x;
                        continue;
                    }
                    // A run of columns to compute, all on one side of row_split.
                    int x2 = x + 1;
                    const int lim = fused ? std::min(rx2, row_split) : rx2;
                    float dummy;
                    while (x2 < lim && kind(x2 - rx1, fused, &dummy) == 2) ++x2;
                    row_run(pe + c0, hrow + c0, x2 - x, k_row, r_row, fused, c0, rw);
                    x = x2;
                }
            }
        });

        // 4. Column pass and blend over R, one output row at a time. Each row of H has
        // a non-zero span [hz0, hz1] (first and last non-zero) and, where the columns
        // holding the all-255 row value hc(x) are contiguous, that span [hc0, hc1]. For
        // an output row, outside the union of its taps' non-zero spans every tap is 0,
        // so G = 0; inside the intersection of their constant spans every tap is hc(x),
        // so G is the formula over constant input, computed once per column class; the
        // rest runs the formula. Rows outside B are 0 (empty spans).
        parallel_for(bh, rw * kPhaseNs, [&](int b, int e) {
            for (int i = b; i < e; ++i) {
                const float* hrow = H + static_cast<std::int64_t>(i) * rw;
                int z0 = rw, z1 = -1, c0 = rw, c1 = -1, nc = 0;
                for (int xi = 0; xi < rw; ++xi) {
                    const float v = hrow[xi];
                    if (v != 0.f) {
                        z0 = xi < z0 ? xi : z0;
                        z1 = xi;
                    }
                    if (v == row255[rx1 + xi < row_split]) {
                        c0 = xi < c0 ? xi : c0;
                        c1 = xi;
                        ++nc;
                    }
                }
                hz0[i] = z0, hz1[i] = z1;
                const bool contiguous = nc > 0 && nc == c1 - c0 + 1;
                hc0[i] = contiguous ? c0 : rw;
                hc1[i] = contiguous ? c1 : -1;
            }
        });
        }
        float g255[2][2];
        for (int rf = 0; rf < 2; ++rf)
            for (int cf = 0; cf < 2; ++cf) g255[rf][cf] = col_const(k_col, r_col, row255[rf], cf != 0);
        const Blender<M> blender(p, f, fw);
        const int split = std::max(0, std::min(rw, col_split - rx1));  // column pass fused below it
        // 4b. R's rows and, into a new frame, every row's copy (copy_row).
        const int row0 = p.in_place ? ry1 : 0;
        const int rows = p.in_place ? ry2 - ry1 : fh;
        const double last_ns = (p.in_place ? 0.0 : kCopyNs * static_cast<double>(row_bytes) * fh) +
                               kBlendNs * static_cast<double>(rw) * (ry2 - ry1);
        parallel_for(rows, last_ns / std::max(rows, 1), [&](int b, int e) {
            thread_local std::vector<float> gbuf, zbuf;
            thread_local std::vector<const float*> tbuf;
            const float** taps = scratch(tbuf, static_cast<std::size_t>(2 * r_col + 1));
            float* g = scratch(gbuf, static_cast<std::size_t>(rw) + 8);
            float* zero = scratch(zbuf, static_cast<std::size_t>(rw));
            std::fill(zero, zero + rw, 0.f);
            auto compute = [&](int lo, int hi) {  // columns [lo, hi) of R
                if (lo < std::min(hi, split)) col_run(taps, lo, g + lo, std::min(hi, split) - lo, k_col, r_col, true, rw);
                const int l2 = std::max(lo, split);
                if (l2 < hi) col_run(taps, l2, g + l2, hi - l2, k_col, r_col, p.blur == BlurMode::OpenCV4, rw);
            };
            bool streamed = false;
            for (int yi = b; yi < e; ++yi) {
                const int y = row0 + yi;
                const bool in_r = y >= ry1 && y < ry2;
                if (!p.in_place) {
                    copy_row(y, stream && !in_r);
                    streamed = streamed || (stream && !in_r);
                }
                if (!in_r) continue;
                int zlo = rw, zhi = -1, clo = 0, chi = rw - 1;
                for (int j = -r_col; j <= r_col; ++j) {
                    const int yv = reflect101(y + j, fh);
                    const bool in_b = yv >= f.by1 && yv < f.by2;
                    const float* row = in_b ? H + static_cast<std::int64_t>(yv - f.by1) * rw : zero;
                    taps[j == 0 ? 0 : (j > 0 ? 2 * j - 1 : -2 * j)] = row;
                    if (in_b) {
                        const int i = yv - f.by1;
                        zlo = std::min(zlo, hz0[i]), zhi = std::max(zhi, hz1[i]);
                        clo = std::max(clo, hc0[i]), chi = std::min(chi, hc1[i]);
                    } else {
                        clo = rw, chi = -1;
                    }
                }
                if (zlo > zhi) continue;  // G = 0 on the whole row
                std::fill(g, g + zlo, 0.f);
                std::fill(g + zhi + 1, g + rw, 0.f);
                if (clo <= chi) {
                    compute(zlo, clo);
                    // g255[x < row_split][x < col_split], as fills (col_split <= row_split).
                    const int c1 = chi + 1;
                    const int cs = std::clamp(col_split - rx1, clo, c1), rs = std::clamp(row_split - rx1, cs, c1);
                    std::fill(g + clo, g + cs, g255[1][1]);
                    std::fill(g + cs, g + rs, g255[1][0]);
                    std::fill(g + rs, g + c1, g255[0][0]);
                    compute(c1, zhi + 1);
                } else {
                    compute(zlo, zhi + 1);
                }
                blender.row(y, rx1, rx2, g);
            }
            if (streamed) stream_fence();
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
