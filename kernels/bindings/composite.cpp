// Binding for composite: the band arrives already validated in 0..255 alpha units.
#include "ffaccel/composite.h"

#include "bindings.h"

namespace ffaccel::bindings {

static void composite(const Image& fg, const Image& bg, const Image& alpha, const Image& dst, bool band_on,
                      float band_lo, float band_hi, float feather, int device, std::uintptr_t stream) {
    if (band_on && !(band_lo < band_hi)) throw nb::value_error("composite: band_lo must be below band_hi");
    CompositeParams p;
    p.fg = fg;
    p.bg = bg;
    p.alpha = alpha;
    p.dst = dst;
    p.band_on = band_on ? 1 : 0;
    p.band_lo = band_lo;
    p.band_hi = band_hi;
    p.band_width = band_hi - band_lo;  // integers in 0..255: exact
    p.feather = feather;
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::composite(p);
    } else {
        on_device(device, [&] { cuda::composite(p, stream); });
    }
}

void register_composite(nb::module_& m) {
    m.def("composite", &composite, nb::arg("fg"), nb::arg("bg"), nb::arg("alpha"), nb::arg("dst"),
          nb::arg("band_on"), nb::arg("band_lo"), nb::arg("band_hi"), nb::arg("feather"), nb::arg("device"),
          nb::arg("stream"),
          "Blend fg over bg with alpha (seam band remapped) into dst. "
          "device < 0 runs on the CPU; otherwise on that CUDA device and stream.");
}

}  // namespace ffaccel::bindings
