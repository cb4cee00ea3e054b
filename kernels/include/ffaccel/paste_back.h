// paste_back: blend warped face crops back into a frame, one fused pass, no intermediates.
//
// For each frame pixel inside a face's paste area (x1 <= x < x2, y1 <= y < y2), with
// (u, v) = (x - x1, y - y1) and the face's inverse map k (paste area -> crop):
//   m = clamp(sample(mask, u, v; CONSTANT 0), 0, 1)      (uint8 masks: / 255 first; NaN -> 0)
//   c = sample(crop, u, v; REPLICATE)
//   r = f * (1 - m) + c * m                                (float32, two products, one sum)
// and the pixel becomes round_half_even(r) (Default) or trunc(r) (FaceFusion, as numpy's
// astype(uint8)), saturated to 0..255 (a NaN result, from a NaN or infinite float crop,
// writes 0). sample() is warp_sample() of the chosen mode, so
// under the OpenCV modes the crop and mask values are the bytes OpenCV's warpAffine would
// have produced for FaceFusion's intermediate images. Where m == 0 the pixel is left as
// is: f * 1 + c * 0 == f exactly, so skipping the crop fetch changes no byte.
//
// Faces are applied in order, so where areas overlap face i lands over face i - 1.
#pragma once

#include <cmath>

#include "ffaccel/affine.h"
#include "ffaccel/warp_affine.h"

namespace ffaccel {

struct PasteFace {
    WarpCoeffs k;         // paste area pixel -> crop pixel
    int x1, y1, x2, y2;   // paste area in frame pixels, clipped to the frame
};

// The paste area of a crop (cw x ch) cut from a frame (fw x fh), and the map from area
// pixels back to crop pixels, from `inv`, the crop -> frame inverse of the frame -> crop
// matrix (affine.h's checked_inverse, run by the binding once per call). The crop's corners are
// mapped into the frame by it; the area runs from the floor of their minimum to the ceil
// of their maximum, clipped to the frame. FaceFusion's calculate_paste_area means the
// same, but its corner array is integer, so OpenCV's transform hands back the corners
// rounded half to even and floor/ceil change nothing: `facefusion` does that.
// The area map is what warpAffine computes from FaceFusion's paste_matrix (the inverse
// shifted to the area's origin): it inverts that once more, by the same formula, as
// warpAffine does.
inline PasteFace make_paste_face(const double* inv, int fw, int fh, int cw, int ch, bool facefusion) {
    const double corners[4][2] = {{0.0, 0.0}, {double(cw), 0.0}, {double(cw), double(ch)}, {0.0, double(ch)}};
    double lo_x = 0, lo_y = 0, hi_x = 0, hi_y = 0;
    for (int i = 0; i < 4; ++i) {
        double x = inv[0] * corners[i][0] + inv[1] * corners[i][1] + inv[2];
        double y = inv[3] * corners[i][0] + inv[4] * corners[i][1] + inv[5];
        if (facefusion) x = std::rint(x), y = std::rint(y);
        lo_x = i == 0 || x < lo_x ? x : lo_x;
        hi_x = i == 0 || x > hi_x ? x : hi_x;
        lo_y = i == 0 || y < lo_y ? y : lo_y;
        hi_y = i == 0 || y > hi_y ? y : hi_y;
    }
    auto clip = [](double v, int hi) { return v < 0.0 ? 0 : (v > hi ? hi : static_cast<int>(v)); };
    PasteFace face;
    face.x1 = clip(std::floor(lo_x), fw);
    face.y1 = clip(std::floor(lo_y), fh);
    face.x2 = clip(std::ceil(hi_x), fw);
    face.y2 = clip(std::ceil(hi_y), fh);
    double paste[6] = {inv[0], inv[1], inv[2] - face.x1, inv[3], inv[4], inv[5] - face.y1};
    double k[6];
    invert_affine(paste, k);
    face.k = make_warp_coeffs(k);
    return face;
}

struct PasteParams {
    Image frame;          // read (and written when in place)
    Image out;            // the result; equal to `frame` when in place
    Image crops;          // batch of N crops, crops.batch_stride apart
    Image masks;          // batch of N single-channel masks
    WarpMode mode;
    bool truncate;        // FaceFusion's astype(uint8) instead of round half to even
    bool in_place;
    int region_x1, region_y1, region_x2, region_y2;  // union of the faces' areas (paste_region)
};

// The union of the non-empty paste areas of n faces into p.region_*, computed once per
// call (by the binding) for every launch of it; x2 <= x1 or y2 <= y1 when no face
// touches the frame. Pixels outside it are only copied (or left alone in place).
inline void paste_region(PasteParams& p, const PasteFace* faces, int n) {
    p.region_x1 = p.out.w, p.region_y1 = p.out.h, p.region_x2 = 0, p.region_y2 = 0;
    for (int i = 0; i < n; ++i) {
        const PasteFace& f = faces[i];
        if (f.x1 >= f.x2 || f.y1 >= f.y2) continue;
        p.region_x1 = f.x1 < p.region_x1 ? f.x1 : p.region_x1;
        p.region_y1 = f.y1 < p.region_y1 ? f.y1 : p.region_y1;
        p.region_x2 = f.x2 > p.region_x2 ? f.x2 : p.region_x2;
        p.region_y2 = f.y2 > p.region_y2 ? f.y2 : p.region_y2;
    }
}

// The warped, clipped mask of face i at area pixel (u, v): CONSTANT 0 outside the crop.
template <typename MaskT, WarpMode M>
FFACCEL_HD float paste_mask_sample(const PasteParams& p, const PasteFace& face, int i, int u, int v) {
    WarpParams mp;
    mp.src = p.masks;
    mp.src.data = p.masks.data + i * p.masks.batch_stride;
    mp.dst.w = face.x2 - face.x1;  // OpenCV5's vector/tail split depends on the area width
    mp.border = Border::Constant;
    mp.border_value[0] = mp.border_value[1] = mp.border_value[2] = mp.border_value[3] = 0.f;
    float m;
    warp_sample<M, MaskT, 1>(mp, face.k, u, v, &m);
    if constexpr (sizeof(MaskT) == 1) m = m * (1.0f / 255.0f);
    return m > 0.f ? (m < 1.f ? m : 1.f) : 0.f;  // NaN weighs 0: the frame pixel is kept
}

// The warped crop of face i at area pixel (u, v): REPLICATE outside the crop.
template <typename CropT, WarpMode M, int C>
FFACCEL_HD void paste_crop_sample(const PasteParams& p, const PasteFace& face, int i, int u, int v, float* crop) {
    WarpParams cp;
    cp.src = p.crops;
    cp.src.data = p.crops.data + i * p.crops.batch_stride;
    cp.dst.w = face.x2 - face.x1;
    cp.border = Border::Replicate;
    cp.border_value[0] = cp.border_value[1] = cp.border_value[2] = cp.border_value[3] = 0.f;
    warp_sample<M, CropT, C>(cp, face.k, u, v, crop);
}

template <typename CropT, typename MaskT, WarpMode M, int C>
FFACCEL_HD void paste_pixel(const PasteParams& p, const PasteFace* faces, int n, int x, int y) {
    std::uint8_t* px = row_ptr_mut<std::uint8_t>(p.out, 0, y) + x * C;
    if (!p.in_place) {
        const std::uint8_t* src = row_ptr<std::uint8_t>(p.frame, 0, y) + x * C;
#pragma unroll
        for (int c = 0; c < C; ++c) px[c] = src[c];
    }
    if (x < p.region_x1 || x >= p.region_x2 || y < p.region_y1 || y >= p.region_y2) return;
    for (int i = 0; i < n; ++i) {
        const PasteFace& face = faces[i];
        if (x < face.x1 || x >= face.x2 || y < face.y1 || y >= face.y2) continue;
        const int u = x - face.x1, v = y - face.y1;
        const float m = paste_mask_sample<MaskT, M>(p, face, i, u, v);
        if (m == 0.f) continue;
        float crop[C];
        paste_crop_sample<CropT, M, C>(p, face, i, u, v, crop);
        const float keep = 1.0f - m;
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const float r = static_cast<float>(px[c]) * keep + crop[c] * m;
            if (p.truncate) {
                px[c] = truncate_u8(r);
            } else {
                px[c] = saturate_u8(r);
            }
        }
    }
}

template <template <typename, typename, WarpMode, int> class F, typename... Args>
bool dispatch_paste(WarpMode mode, DType crop, DType mask, int c, Args&&... args) {
#define FFACCEL_PASTE_CASE(CT, MT, MODE, CH)                                                   \
    if (crop == (sizeof(CT) == 1 ? DType::U8 : DType::F32) &&                                   \
        mask == (sizeof(MT) == 1 ? DType::U8 : DType::F32) && mode == MODE && c == CH) {        \
        F<CT, MT, MODE, CH>::run(args...);                                                       \
        return true;                                                                             \
    }
#define FFACCEL_PASTE_TYPES(MODE, CH)                     \
    FFACCEL_PASTE_CASE(std::uint8_t, float, MODE, CH)     \
    FFACCEL_PASTE_CASE(float, float, MODE, CH)            \
    FFACCEL_PASTE_CASE(std::uint8_t, std::uint8_t, MODE, CH) \
    FFACCEL_PASTE_CASE(float, std::uint8_t, MODE, CH)
#define FFACCEL_PASTE_MODE(MODE)   \
    FFACCEL_PASTE_TYPES(MODE, 3)   \
    FFACCEL_PASTE_TYPES(MODE, 4)
    FFACCEL_PASTE_MODE(WarpMode::Default)
    FFACCEL_PASTE_MODE(WarpMode::OpenCV5)
    FFACCEL_PASTE_MODE(WarpMode::OpenCV4)
#undef FFACCEL_PASTE_MODE
#undef FFACCEL_PASTE_TYPES
#undef FFACCEL_PASTE_CASE
    return false;
}

namespace cpu {
void paste_back(const PasteParams& p, const PasteFace* faces, int n);
}
namespace cuda {
void paste_back(const PasteParams& p, const PasteFace* faces, int n, std::uintptr_t stream);
}

}  // namespace ffaccel
