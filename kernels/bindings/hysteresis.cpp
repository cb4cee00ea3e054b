// Bindings for mask_hysteresis (CPU and CUDA) and the CPU seam_ring pass.
#include "ffaccel/hysteresis.h"

#include <nanobind/stl/array.h>
#include <nanobind/stl/tuple.h>

#include <array>
#include <tuple>

#include "bindings.h"

namespace ffaccel::bindings {

static void mask_hysteresis(const Image& mask, const Image& prev, const Image& dst, float t_in, float t_out,
                            bool ring_gate, float ring_lo, float ring_hi, std::array<int, 4> roi, bool copy_outside,
                            int device, std::uintptr_t stream) {
    if (roi[0] < 0 || roi[1] < 0 || roi[2] < 0 || roi[3] < 0 || roi[0] + roi[2] > dst.w || roi[1] + roi[3] > dst.h) {
        throw nb::value_error("mask_hysteresis: roi outside the image");
    }
    HysteresisParams p;
    p.mask = mask;
    p.prev = prev;
    p.dst = dst;
    p.t_in = t_in;
    p.t_out = t_out;
    p.ring_gate = ring_gate ? 1 : 0;
    p.ring_lo = ring_lo;
    p.ring_hi = ring_hi;
    p.roi_x = roi[0];
    p.roi_y = roi[1];
    p.roi_w = roi[2];
    p.roi_h = roi[3];
    p.copy_outside = copy_outside ? 1 : 0;
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::mask_hysteresis(p);
    } else {
        on_device(device, [&] { cuda::mask_hysteresis(p, stream); });
    }
}

static std::tuple<int, int, int, int> seam_ring(const Image& mask, float lo, float hi, const Image& ring) {
    Box b;
    {
        nb::gil_scoped_release release;
        b = cpu::seam_ring(mask, lo, hi, ring);
    }
    return {b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0};
}

void register_hysteresis(nb::module_& m) {
    m.def("mask_hysteresis", &mask_hysteresis, nb::arg("mask"), nb::arg("prev"), nb::arg("dst"), nb::arg("t_in"),
          nb::arg("t_out"), nb::arg("ring_gate"), nb::arg("ring_lo"), nb::arg("ring_hi"), nb::arg("roi"),
          nb::arg("copy_outside"), nb::arg("device"), nb::arg("stream"),
          "Hold prev where mask moved by no more than the thresholds, inside roi (x, y, w, h); "
          "outside roi dst = mask (copied only when copy_outside). device < 0 runs on the CPU.");
    m.def("seam_ring", &seam_ring, nb::arg("mask"), nb::arg("lo"), nb::arg("hi"), nb::arg("ring"),
          "CPU: write ring = (lo < mask < hi) as 0/1 bytes (skipped when ring.data == 0); "
          "return the ring's box (x, y, w, h), w == 0 when empty.");
}

}  // namespace ffaccel::bindings
