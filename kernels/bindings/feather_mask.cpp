// Binding for feather_mask: the taps checked against the radius, then cpu:: or cuda::.
#include "ffaccel/feather_mask.h"

#include <nanobind/ndarray.h>

#include "bindings.h"

namespace ffaccel::bindings {

using Taps = nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

static void feather_mask(const Image& src, const Image& dst, Taps taps, bool vertical, bool horizontal, int device,
                         std::uintptr_t stream) {
    const int n = static_cast<int>(taps.shape(0));
    if (n < 1 || n % 2 == 0) throw nb::value_error("feather_mask: need an odd number of taps");
    if (src.c != 1 || dst.c != 1) throw nb::value_error("feather_mask: masks have one channel");
    if (src.h != dst.h || src.w != dst.w || src.dtype != dst.dtype) {
        throw nb::value_error("feather_mask: src and dst differ in size or dtype");
    }
    if (device >= 0 && n > kFeatherMaxTaps) throw nb::value_error("feather_mask: too many taps for the GPU kernel");
    if (device >= 0 && src.w > kFeatherMaxWidth) {
        throw nb::value_error("feather_mask: mask too wide for the GPU kernel");
    }
    const FeatherParams p{src, dst, (n - 1) / 2, vertical, horizontal};
    const float* w = taps.data();
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::feather_mask(p, w);
    } else {
        on_device(device, [&] { cuda::feather_mask(p, w, stream); });
    }
}

// CPU only: box_mask's blur in OpenCV's summation order (float32 host arrays).
static void gaussian_blur_opencv_order(const Image& src, const Image& dst, Taps taps, bool vertical, bool horizontal) {
    const int n = static_cast<int>(taps.shape(0));
    if (n < 1 || n % 2 == 0) throw nb::value_error("gaussian_blur_opencv_order: need an odd number of taps");
    if (src.c != 1 || dst.c != 1 || src.dtype != DType::F32 || dst.dtype != DType::F32 || src.h != dst.h ||
        src.w != dst.w) {
        throw nb::value_error("gaussian_blur_opencv_order: src and dst must be one-channel float32 of one size");
    }
    const FeatherParams p{src, dst, (n - 1) / 2, vertical, horizontal};
    const float* w = taps.data();
    nb::gil_scoped_release release;
    cpu::gaussian_blur_opencv_order(p, w);
}

void register_feather_mask(nb::module_& m) {
    m.def("feather_mask", &feather_mask, nb::arg("src"), nb::arg("dst"), nb::arg("taps"), nb::arg("vertical"),
          nb::arg("horizontal"), nb::arg("device"), nb::arg("stream"),
          "Separable Gaussian of a one-channel mask with BORDER_REFLECT_101 over the given float taps. "
          "device < 0 runs on the CPU; otherwise on that CUDA device and stream.");
    m.def("gaussian_blur_opencv_order", &gaussian_blur_opencv_order, nb::arg("src"), nb::arg("dst"),
          nb::arg("taps"), nb::arg("vertical"), nb::arg("horizontal"),
          "feather_mask's blur in OpenCV's float summation order, on host float32 arrays (for box_mask).");
    m.attr("FEATHER_MAX_TAPS") = kFeatherMaxTaps;
    m.attr("FEATHER_MAX_WIDTH") = kFeatherMaxWidth;
}

}  // namespace ffaccel::bindings
