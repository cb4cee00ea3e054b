// FaceFusion's paste_back blend for float64 crops, computed as numpy computes it (a private
// helper of ffaccel.integrations.facefusion; not a public op).
//
// FaceFusion's paste_back ends with
//     paste = frame[y1:y2, x1:x2] * (1 - mask) + crop * mask      # mask (h, w, 1) float32
//     frame[y1:y2, x1:x2] = paste.astype(uint8)
// With a uint8 frame, a float32 mask and a float64 crop (FaceFusion's hyperswap, ghost,
// hififace, uniface), numpy's promotion makes that, per channel value:
//     a = float(p) * (1.0f - m)        in float32 (uint8 x float32 -> float32)
//     b = crop * double(m)             in float64
//     r = double(a) + b                in float64
//     out = uint8(r)                   C conversion: truncation, defined for 0 <= r < 256
// One rounding per operation (the extension is built with -ffp-contract=off), so the
// bytes are numpy's. A value r outside [0, 256) or NaN (whose uint8 conversion C leaves
// undefined) stops the loop and returns false: the caller then discards `region` (its own
// copy) and runs FaceFusion's function instead.
#include <cstdint>

#include <nanobind/ndarray.h>

#include "bindings.h"

namespace ffaccel::bindings {

using Region = nb::ndarray<std::uint8_t, nb::ndim<3>, nb::device::cpu>;
using Mask = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Crop = nb::ndarray<const double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;

static bool facefusion_blend_f64(Region region, Mask mask, Crop crop) {
    const std::size_t h = region.shape(0), w = region.shape(1), c = region.shape(2);
    if (mask.shape(0) != h || mask.shape(1) != w) {
        throw nb::value_error("mask: expected the region's (height, width)");
    }
    if (crop.shape(0) != h || crop.shape(1) != w || crop.shape(2) != c) {
        throw nb::value_error("crop: expected the region's (height, width, channels)");
    }
    const std::int64_t sy = region.stride(0), sx = region.stride(1), sc = region.stride(2);
    std::uint8_t* const base = region.data();
    const float* const m = mask.data();
    const double* const f = crop.data();
    nb::gil_scoped_release release;
    for (std::size_t y = 0; y < h; ++y) {
        std::uint8_t* const row = base + static_cast<std::int64_t>(y) * sy;
        for (std::size_t x = 0; x < w; ++x) {
            const float mm = m[y * w + x];
            const float keep = 1.0f - mm;
            const double md = static_cast<double>(mm);
            const double* const px = f + (y * w + x) * c;
            std::uint8_t* const out = row + static_cast<std::int64_t>(x) * sx;
            for (std::size_t k = 0; k < c; ++k) {
                std::uint8_t& p = out[static_cast<std::int64_t>(k) * sc];
                const float a = static_cast<float>(p) * keep;
                const double b = px[k] * md;
                const double r = static_cast<double>(a) + b;
                if (!(r >= 0.0 && r < 256.0)) return false;
                p = static_cast<std::uint8_t>(r);
            }
        }
    }
    return true;
}

void register_facefusion_blend(nb::module_& m) {
    m.def("facefusion_blend_f64", &facefusion_blend_f64, nb::arg("region").noconvert(),
          nb::arg("mask").noconvert(), nb::arg("crop").noconvert(),
          "FaceFusion's paste_back blend of a float64 crop into a uint8 region, in place, with numpy's "
          "bytes. region (h, w, c) uint8 (any strides), mask (h, w) float32 and crop (h, w, c) float64 "
          "(C-contiguous). Returns False, with region partly written, if a value falls outside 0..255.");
}

}  // namespace ffaccel::bindings
