// Binding for warp_affine: argument shapes checked, then straight to cpu:: or cuda::.
#include "ffaccel/warp_affine.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/array.h>

#include <array>
#include <vector>

#include "bindings.h"

namespace ffaccel::bindings {

using Inverse = nb::ndarray<const double, nb::shape<-1, 6>, nb::c_contig, nb::device::cpu>;

static void warp_affine(const Image& src, const Image& dst, Inverse inverse, int mode, int border,
                        std::array<float, 4> border_value, int device, std::uintptr_t stream) {
    const int n = static_cast<int>(inverse.shape(0));
    if (n < 1) throw nb::value_error("warp_affine: need at least one matrix");
    if (mode < 0 || mode > 2) throw nb::value_error("warp_affine: unknown mode");
    if (border < 0 || border > 1) throw nb::value_error("warp_affine: unknown border");
    std::vector<WarpCoeffs> coeffs(n);
    for (int i = 0; i < n; ++i) coeffs[i] = make_warp_coeffs(inverse.data() + 6 * i);
    const WarpParams p{src, dst, static_cast<Border>(border),
                       {border_value[0], border_value[1], border_value[2], border_value[3]}};
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::warp_affine(p, coeffs.data(), n, static_cast<WarpMode>(mode));
    } else {
        on_device(device, [&] { cuda::warp_affine(p, coeffs.data(), n, static_cast<WarpMode>(mode), stream); });
    }
}

void register_warp_affine(nb::module_& m) {
    m.def("warp_affine", &warp_affine, nb::arg("src"), nb::arg("dst"), nb::arg("inverse"), nb::arg("mode"),
          nb::arg("border"), nb::arg("border_value"), nb::arg("device"), nb::arg("stream"),
          "Resample `src` into the batch `dst` through the inverse affine maps (N, 6). "
          "device < 0 runs on the CPU; otherwise on that CUDA device and stream.");
}

}  // namespace ffaccel::bindings
