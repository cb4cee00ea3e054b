// mask_hysteresis and seam_ring: temporal hold of a soft mask, and the band it acts on.
//
// Per pixel, in the mask's own units (float32 0..1 or uint8 0..255), float32 compares:
//
//   d   = mask - prev                          (float32; exact for uint8)
//   out = mask   if d > t_in or -d > t_out     (moved in / out by more than the threshold)
//         prev   otherwise                     (held)
//
// With the ring gate on, a pixel whose new mask value is not inside the open interval
// (ring_lo, ring_hi) takes the new mask as is: only seam-ring pixels are held. Inside
// the ROI box (x, y, w, h) the rule above applies; outside it out = mask. With the gate
// on, no pixel outside the ring's bounding box can be held, so running the ROI variant
// on that box gives the same bytes as running the whole image.
#pragma once

#include "ffaccel/common.h"

namespace ffaccel {

struct HysteresisParams {
    Image mask;  // c == 1, U8 or F32; prev and dst have the same dtype and size
    Image prev;
    Image dst;
    float t_in = 0.f, t_out = 0.f;
    int ring_gate = 0;
    float ring_lo = 0.f, ring_hi = 0.f;
    int roi_x = 0, roi_y = 0, roi_w = 0, roi_h = 0;
    // Outside the ROI, copy mask into dst. Off when dst *is* mask: then only the box is
    // read and written, which is the point of the ROI variant.
    int copy_outside = 1;
};

// `&` and `|` rather than `&&` and `||`: both compares always run, so the CPU compiler
// (which keeps FP-exception semantics) may evaluate them branch-free and vectorise.
FFACCEL_HD bool in_open_ring(float v, float lo, float hi) { return (v > lo) & (v < hi); }

template <typename T>
FFACCEL_HD T hysteresis_value(T mask, T prev, const HysteresisParams& p) {
    // Branch-free, so the CPU loop vectorises for both dtypes.
    const float m = static_cast<float>(mask);
    const float d = m - static_cast<float>(prev);
    const bool moved = (d > p.t_in) | (-d > p.t_out);
    const bool not_held = (p.ring_gate != 0) & !in_open_ring(m, p.ring_lo, p.ring_hi);
    return (moved | not_held) ? mask : prev;
}

// Bounding box of the pixels with lo < mask < hi; w == 0 when there are none.
struct Box {
    int x0, y0, x1, y1;  // half-open [x0, x1) x [y0, y1); empty when x1 <= x0
};

namespace cpu {
void mask_hysteresis(const HysteresisParams& p);
// Writes ring (uint8 0/1, may be an empty Image with data == 0 to skip) and returns the box.
Box seam_ring(const Image& mask, float lo, float hi, const Image& ring);
}  // namespace cpu
namespace cuda {
void mask_hysteresis(const HysteresisParams& p, std::uintptr_t stream);
}

}  // namespace ffaccel
