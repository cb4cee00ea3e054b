// paste_back_insightface: insightface's INSwapper.get(..., paste_back=True) paste, byte for
// byte, computed over the face's neighbourhood instead of the whole frame.
//
// Stock (insightface 2.1, model_zoo/inswapper.py), with IM = invertAffineTransform(M):
//   white  = warpAffine(255-filled float32 crop-sized image, IM, frame size)   CONSTANT 0
//   T      = white, with every value > 20 set to 255 (values <= 20 are kept as they are)
//   mh, mw = max - min of the rows / columns where T == 255;  ms = int(sqrt(mh * mw))
//   E      = erode(T, ones(ke, ke)),      ke = max(ms // 10, 10), anchor ke / 2,
//            outside the frame ignored (OpenCV's default morphology border)
//   G      = GaussianBlur(E, (ks, ks), 0), ks = 2 r + 1, r = max(ms // 20, 5), REFLECT_101
//   c      = warpAffine(crop, IM, frame size)                          uint8, CONSTANT 0
//   out    = uint8(trunc(m * c + (1 - m) * frame)),  m = G / 255        all in float32
// (its fake_diff image is computed and never used; it is skipped here).
//
// Both warps invert IM once more (OpenCV's formula, see invert_affine), so the sampling
// map is inv(inv(M)). warpAffine writes the whole frame, so the vector/tail split of the
// OpenCV 5 warp uses the frame width and frame columns.
//
// Where the work is done: T > 0 only where some bilinear tap lies inside the crop, i.e.
// crop coordinates in (-1, w) x (-1, h); B is that region's bounding box in the frame
// (with a 2 px margin for the float / 1/32 px coordinates). Outside B (inside the frame)
// T = 0, so E = 0 (the erode window contains the pixel itself), so G = 0 farther than r
// from B (every blur tap, reflected or not, lies within r of the pixel), and there
// m = 0 gives out = 0 * c + 1 * f = f exactly. Hence only R = B grown by r, clipped to
// the frame, can change; every other byte is copied.
//
// The extent (mh, mw) is computed on the host from M alone (ins_set_extent): T is the
// warp of a constant image, so it is known exactly without the frame; CPU and GPU use it,
// and the GPU path never reads the mask back.
//
// GaussianBlur on CV_32F is OpenCV's separable filter (sepFilter2D): a row pass with the
// plain (non-symmetric) loop, s = x0 k0, s = s + x_j k_j for j = 1..ks-1, then a column
// pass with the symmetric loop, s = H_0 k_r, s = s + (H_{+j} + H_{-j}) k_{r+j}. In the
// OpenCV 4.12 wheel every one of these multiply-adds is fused (AVX2 and the contracted
// scalar tail alike). In OpenCV 5.0 and 5.1 the vector loops fuse but the scalar tails
// do not: row pass columns x >= W - W % 4 and column pass columns x >= W - W % 8 (W: frame
// width) round the product and the sum separately. Found and checked against cv2 (see
// docs/insightface.md); the kernel is getGaussianKernel's bit-exact double formula
// rounded to float (checked equal to cv2 for every odd size 11..4001). On a frame 1 pixel
// wide (high) cv2 skips the row (column) pass: see ins_pass_radius.
#pragma once

#include <cmath>
#include <cstdint>

#include "ffaccel/paste_back.h"

namespace ffaccel {

// Which GaussianBlur arithmetic: OpenCV 4.x (all fused) or 5.x (unfused scalar tails).
enum class BlurMode : int { OpenCV4 = 0, OpenCV5 = 1 };

constexpr float kInsThreshold = 20.0f;  // img_white[img_white > 20] = 255

struct InsFace {
    WarpCoeffs k;           // frame pixel -> crop pixel (what warpAffine computes from IM)
    int bx1, by1, bx2, by2; // B: outside it (in the frame) the thresholded mask is 0
    int rmax;               // an upper bound of the blur radius r, for the workspace size
    // The rows / columns where T == 255: [ey0, ey1] x [ex0, ex1], ey1 < 0 when there is
    // none (stock fails there). Set on the host by ins_set_extent before any pixel work.
    int ey0 = 0, ey1 = -1, ex0 = 0, ex1 = -1;
};

// OpenCV's BORDER_REFLECT_101 index (borderInterpolate), any offset.
FFACCEL_HD int reflect101(int p, int n) {
    if (n == 1) return 0;
    while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
    return p;
}


// The erode and blur sizes of insightface for a thresholded extent mh x mw (max - min).
FFACCEL_HD void ins_sizes(int mh, int mw, int* ke, int* r) {
    const int ms = static_cast<int>(sqrt(static_cast<double>(mh) * static_cast<double>(mw)));
    *ke = ms / 10 > 10 ? ms / 10 : 10;
    *r = ms / 20 > 5 ? ms / 20 : 5;
}

// The face plan: sampling map and box B (see the header comment). `m` is M, frame -> crop.
inline InsFace make_ins_face(const double* m, int fw, int fh, int cw, int ch) {
    double im[6], k[6];
    invert_affine(m, im);  // IM = cv2.invertAffineTransform(M)
    invert_affine(im, k);  // what warpAffine samples with
    InsFace f;
    f.k = make_warp_coeffs(k);
    const double corners[4][2] = {{-1.0, -1.0}, {double(cw), -1.0}, {double(cw), double(ch)}, {-1.0, double(ch)}};
    double lo_x = 0, lo_y = 0, hi_x = 0, hi_y = 0;
    bool finite = true;
    for (int i = 0; i < 4; ++i) {
        const double x = im[0] * corners[i][0] + im[1] * corners[i][1] + im[2];
        const double y = im[3] * corners[i][0] + im[4] * corners[i][1] + im[5];
        finite = finite && std::isfinite(x) && std::isfinite(y);
        lo_x = i == 0 || x < lo_x ? x : lo_x;
        hi_x = i == 0 || x > hi_x ? x : hi_x;
        lo_y = i == 0 || y < lo_y ? y : lo_y;
        hi_y = i == 0 || y > hi_y ? y : hi_y;
    }
    auto clip = [](double v, int hi) { return v < 0.0 ? 0 : (v > hi ? hi : static_cast<int>(v)); };
    const double margin = 2.0;  // float (OpenCV 5) and 1/32 px (OpenCV 4) coordinates: < 0.1 px
    f.bx1 = finite ? clip(std::floor(lo_x - margin), fw) : 0;
    f.by1 = finite ? clip(std::floor(lo_y - margin), fh) : 0;
    f.bx2 = finite ? clip(std::ceil(hi_x + margin) + 1, fw) : 0;
    f.by2 = finite ? clip(std::ceil(hi_y + margin) + 1, fh) : 0;
    if (f.bx2 < f.bx1) f.bx2 = f.bx1;
    if (f.by2 < f.by1) f.by2 = f.by1;
    const int bw = f.bx2 - f.bx1, bh = f.by2 - f.by1;
    int ke = 0, r = 0;
    ins_sizes(bh > 0 ? bh - 1 : 0, bw > 0 ? bw - 1 : 0, &ke, &r);  // mh <= bh - 1, mw <= bw - 1
    f.rmax = r;
    return f;
}

// getGaussianKernel(ks, 0, CV_32F) for ks >= 9 (OpenCV's bit-exact double formula, then
// rounded to float); writes ks floats. sigma = 0.3 ((ks - 1) / 2 - 1) + 0.8 = 0.15 ks + 0.35.
inline void ins_gaussian_kernel(int ks, float* out) {
    const double sigma = ks * 0.15 + 0.35;
    const double scale2 = -0.125 / (sigma * sigma);
    const int half = (ks - 1) / 2;
    double sum = 0.0;
    for (int i = 0, x = 1 - ks; i < half; ++i, x += 2) sum += std::exp(static_cast<double>(x) * x * scale2);
    sum = sum * 2.0 + 1.0;
    const double inv = 1.0 / sum;
    for (int i = 0, x = 1 - ks; i < half; ++i, x += 2) {
        const float t = static_cast<float>(std::exp(static_cast<double>(x) * x * scale2) * inv);
        out[i] = t;
        out[ks - 1 - i] = t;
    }
    out[half] = static_cast<float>(1.0 * inv);
}

// The thresholded mask T at frame pixel (x, y). `white` samples the 255-filled float32
// crop with CONSTANT 0 and dst.w = frame width.
template <WarpMode M>
FFACCEL_HD float ins_mask_value(const WarpParams& white, const WarpCoeffs& k, int x, int y) {
    float v;
    warp_sample<M, float, 1>(white, k, x, y, &v);
    return v > kInsThreshold ? 255.0f : v;
}

// Spans along one line of B: a frame row y (rows = true: frame columns in [bx1, bx2)) or a
// frame column x (rows = false: frame rows in [by1, by2)). [in0, in1) where T is surely
// 255 and [l0, l1) outside which the warped value is surely <= `far` (in0 >= l0, in1 <= l1).
// The crop coordinate s of each axis is affine along the line; the spans come from it in
// double, with one pixel of slack on each side:
// - inside: s in [-0.5, size - 0.5] on both axes puts a weight of at least 0.47 on the
//   inside taps of each axis (at most 0.02 px of coordinate error: OpenCV 4's 1/32 px
//   steps, OpenCV 5's float32 coordinates), so the warped 255s give >= 255 * 0.47^2 = 56 > 20.
// - live (lo = -1.5, hi = 0.5): a tap inside the crop needs s in (-1, size) on both axes.
// - could be 255 (lo = -0.96, hi = -0.04): the value is at most 255 times the inside
//   weight of either axis, which is < 0.06 (< 15.3 <= 20) outside s in [-0.96, size - 0.04].
inline void ins_spans(const InsFace& f, int cw, int ch, bool rows, int line, double lo_at, double hi_off, int* in0,
                      int* in1, int* l0, int* l1) {
    double ilo = -1e300, ihi = 1e300, llo = -1e300, lhi = 1e300;
    for (int axis = 0; axis < 2; ++axis) {
        const double* d = f.k.d + 3 * axis;
        const double a = rows ? d[0] : d[1], b = rows ? d[1] * line + d[2] : d[0] * line + d[2];
        const double size = axis == 0 ? cw : ch;
        auto narrow = [&](double lo, double hi, double& rlo, double& rhi) {
            if (std::fabs(a) < 1e-12) {
                if (!(b >= lo && b <= hi)) rlo = 1e300, rhi = -1e300;
                return;
            }
            double t0 = (lo - b) / a, t1 = (hi - b) / a;
            if (t0 > t1) {
                const double t = t0;
                t0 = t1, t1 = t;
            }
            rlo = rlo > t0 ? rlo : t0;
            rhi = rhi < t1 ? rhi : t1;
        };
        narrow(-0.5, size - 0.5, ilo, ihi);
        narrow(lo_at, size + hi_off, llo, lhi);
    }
    const int c1 = rows ? f.bx1 : f.by1, c2 = rows ? f.bx2 : f.by2, n = rows ? f.bx2 : f.by2;
    auto to_int = [&](double lo, double hi, bool outer, int* x0, int* x1) {
        if (!(lo <= hi)) {
            *x0 = *x1 = c1;
            return;
        }
        const double top = double(n) + 1;
        double a = outer ? std::floor(lo) - 1 : std::ceil(lo) + 1;
        double b = outer ? std::ceil(hi) + 2 : std::floor(hi);
        a = a < -1.0 ? -1.0 : (a > top ? top : a);
        b = b < -1.0 ? -1.0 : (b > top ? top : b);
        *x0 = static_cast<int>(a) < c1 ? c1 : (static_cast<int>(a) > c2 ? c2 : static_cast<int>(a));
        *x1 = static_cast<int>(b) > c2 ? c2 : static_cast<int>(b);
        if (*x1 < *x0) *x1 = *x0;
    };
    to_int(llo, lhi, true, l0, l1);
    to_int(ilo, ihi, false, in0, in1);
    if (*in0 < *l0) *in0 = *l0;
    if (*in1 > *l1) *in1 = *l1;
    if (*in1 < *in0) *in1 = *in0;
}

// Frame columns of row y: [in0, in1) surely 255, [l0, l1) outside which T is surely 0.
inline void ins_row_spans(const InsFace& f, int cw, int ch, int y, int* in0, int* in1, int* l0, int* l1) {
    ins_spans(f, cw, ch, true, y, -1.5, 0.5, in0, in1, l0, l1);
}

// The warp parameters of both of the paste's samplings: source src, CONSTANT 0 border,
// dst.w = frame width fw.
inline WarpParams ins_warp_params(const Image& src, int fw) {
    WarpParams w;
    w.src = src;
    w.dst.w = fw;
    w.dst.h = 0;
    w.border = Border::Constant;
    w.border_value[0] = w.border_value[1] = w.border_value[2] = w.border_value[3] = 0.f;
    return w;
}

// The mask's white source image: one 255-filled row, read with stride 0 for every row.
inline WarpParams ins_white_params(const float* white_row, int cw, int ch, int fw) {
    return ins_warp_params(Image(reinterpret_cast<std::uintptr_t>(white_row), ch, cw, 1, 0, 0, DType::F32), fw);
}

// The crop's warp parameters: uint8, CONSTANT 0, dst.w = frame width.
inline WarpParams ins_crop_params(const Image& crop, int fw) { return ins_warp_params(crop, fw); }

// The extent of T == 255 (stock's mask_h / mask_w inputs) on the host, exactly, from M:
// rows are searched from B's top edge down (and from its bottom edge up) for the first
// that holds a 255, columns likewise from its left and right edges. A line with a surely
// 255 span holds one; otherwise its could-be-255 span is sampled with the generation's
// exact warp formula. Sets f.ey0 .. f.ex1; returns false (ey1 = -1) when no pixel of T is
// 255. `white_row` holds cw floats of 255.
template <WarpMode M>
inline bool ins_set_extent(InsFace& f, const float* white_row, int cw, int ch, int fw) {
    f.ey0 = 0, f.ey1 = -1, f.ex0 = 0, f.ex1 = -1;
    if (f.bx2 <= f.bx1 || f.by2 <= f.by1) return false;
    const WarpParams w = ins_white_params(white_row, cw, ch, fw);
    auto has255 = [&](bool rows, int line) {
        int in0, in1, c0, c1;
        ins_spans(f, cw, ch, rows, line, -0.96, -0.04, &in0, &in1, &c0, &c1);
        if (in1 > in0) return true;
        for (int t = c0; t < c1; ++t)
            if (ins_mask_value<M>(w, f.k, rows ? t : line, rows ? line : t) == 255.0f) return true;
        return false;
    };
    int y0 = f.by1;
    while (y0 < f.by2 && !has255(true, y0)) ++y0;
    if (y0 == f.by2) return false;
    int y1 = f.by2 - 1;
    while (y1 > y0 && !has255(true, y1)) --y1;
    int x0 = f.bx1;
    while (x0 < f.bx2 && !has255(false, x0)) ++x0;
    int x1 = f.bx2 - 1;
    while (x1 > x0 && !has255(false, x1)) --x1;
    if (x0 == f.bx2) return false;  // cannot happen once a row holds a 255
    f.ey0 = y0, f.ey1 = y1, f.ex0 = x0, f.ex1 = x1;
    return true;
}

// The blur radius of the pass along a frame axis of n pixels. cv2.GaussianBlur on a whole
// image (insightface's mask is one) with any border but CONSTANT sets the kernel's width to
// 1 when the image is 1 column wide, and its height to 1 when it is 1 row high (a 1x1 image
// is copied). getGaussianKernel(1) is {1}, so that pass is the identity: v * 1 = v. The
// other pass keeps radius r and its arithmetic. Checked against cv2.GaussianBlur on float32
// images of width 1, height 1 and 1x1 in OpenCV 4.8 to 4.14, 5.0 and 5.1 (IPP on and off).
// A pass of radius 0 reads the 1-tap kernel {1} (kern + ks in the workspace, see ins_layout).
FFACCEL_HD int ins_pass_radius(int n, int r) { return n == 1 ? 0 : r; }

// One multiply-add of the blur, fused or as two roundings (`fused` from the column class).
FFACCEL_HD float ins_madd(float x, float k, float s, bool fused) { return fused ? fma32(x, k, s) : s + x * k; }

FFACCEL_HD bool ins_row_fused(BlurMode b, int x, int fw) { return b == BlurMode::OpenCV4 || x < fw - fw % 4; }
FFACCEL_HD bool ins_col_fused(BlurMode b, int x, int fw) { return b == BlurMode::OpenCV4 || x < fw - fw % 8; }

// Row pass at frame column x: e(xx) returns E at frame column xx (0 <= xx < fw).
template <typename Get>
FFACCEL_HD float ins_blur_row(const Get& e, const float* kern, int r, int x, int fw, BlurMode b) {
    const bool fused = ins_row_fused(b, x, fw);
    float s = e(reflect101(x - r, fw)) * kern[0];
    for (int j = 1; j <= 2 * r; ++j) s = ins_madd(e(reflect101(x - r + j, fw)), kern[j], s, fused);
    return s;
}

// Column pass at frame pixel (x, y): h(yy) returns the row pass result at frame row yy.
template <typename Get>
FFACCEL_HD float ins_blur_col(const Get& h, const float* kern, int r, int x, int y, int fw, int fh, BlurMode b) {
    const bool fused = ins_col_fused(b, x, fw);
    float s = h(y) * kern[r];
    for (int j = 1; j <= r; ++j) {
        const float t = h(reflect101(y + j, fh)) + h(reflect101(y - j, fh));
        s = ins_madd(t, kern[r + j], s, fused);
    }
    return s;
}

// The blend of one pixel: m = G / 255; out = trunc(m * c + (1 - m) * f) per channel.
FFACCEL_HD void ins_blend(std::uint8_t* px, const float* crop, float g) {
    const float m = g / 255.0f;
    const float keep = 1.0f - m;
#pragma unroll
    for (int c = 0; c < 3; ++c) {
        const float r = m * crop[c] + keep * static_cast<float>(px[c]);
        px[c] = static_cast<std::uint8_t>(r < 0.f ? 0.f : (r > 255.f ? 255.f : r));
    }
}

struct InsParams {
    Image frame;    // (H, W, 3) uint8, read (and written when in place)
    Image out;      // (H, W, 3) uint8 result; equal to `frame` when in place
    Image crop;     // (h, w, 3) uint8, bgr_fake
    WarpMode warp;  // the OpenCV generation's warp formula (OpenCV4 or OpenCV5)
    BlurMode blur;
    bool in_place;
    float* ws;      // workspace, ins_workspace_floats() floats (device memory on the GPU)
};

// Workspace layout (float offsets) for a face.
struct InsLayout {
    std::int64_t white, ext, kern, t, e, h, total;
};

inline InsLayout ins_layout(const InsFace& f, int cw) {
    const std::int64_t bw = f.bx2 - f.bx1, bh = f.by2 - f.by1;
    auto pad = [](std::int64_t n) { return (n + 15) / 16 * 16; };
    InsLayout l;
    l.white = 0;
    l.ext = l.white + pad(cw);
    l.kern = l.ext + 16;
    l.t = l.kern + pad(2 * f.rmax + 2);  // the ks <= 2 rmax + 1 weights, then a 1 (ins_pass_radius)
    l.e = l.t + pad(bw * bh);
    l.h = l.e + pad(bw * bh);
    l.total = l.h + pad(bh * (bw + 2 * f.rmax)) + 16;
    return l;
}

namespace cpu {
// Returns false (frame copied unchanged) when no pixel of T is 255: stock insightface
// fails there (np.max of an empty array).
bool paste_insightface(const InsParams& p, const InsFace& f);
}
namespace cuda {
bool paste_insightface(const InsParams& p, const InsFace& f, std::uintptr_t stream);
}

}  // namespace ffaccel
