// Binding for warp_affine: a WarpCall holds what the Python checks settled once (image
// geometry, mode, border, device); each call brings only what changes between frames
// (pointers, matrices, stream) and does here, in one crossing, what is left: the
// overlap test, the matrix rules and inversion (affine.h), and the launch.
#include "ffaccel/warp_affine.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/array.h>

#include <array>

#include "bindings.h"
#include "matrices.h"

namespace ffaccel::bindings {

struct WarpCall {
    WarpParams p;                       // data pointers are set per call
    std::int64_t src_bytes, dst_bytes;  // extents for the overlap test
    int n, device;
    bool batched;
    WarpMode mode;

    WarpCall(const Image& src, const Image& dst, int n_, bool batched_, int mode_, int border,
             std::array<float, 4> border_value, int device_, std::int64_t src_bytes_, std::int64_t dst_bytes_)
        : p{src, dst, static_cast<Border>(border),
            {border_value[0], border_value[1], border_value[2], border_value[3]}},
          src_bytes(src_bytes_), dst_bytes(dst_bytes_), n(n_), device(device_), batched(batched_),
          mode(static_cast<WarpMode>(mode_)) {
        if (n < 1 || (!batched && n != 1)) throw nb::value_error("WarpCall: need one matrix, or n >= 1 for a batch");
        if (mode_ < 0 || mode_ > 2) throw nb::value_error("WarpCall: unknown mode");
        if (border < 0 || border > 1) throw nb::value_error("WarpCall: unknown border");
    }

    // Warps src into dst through the inverses of `matrices` on `stream` (0: the CPU),
    // or returns why not (CallStatus) with nothing written.
    int operator()(std::uintptr_t src, std::uintptr_t dst, const Matrices& matrices, std::uintptr_t stream) const {
        if (!apart(src, src_bytes, dst, dst_bytes)) return Overlap;
        const double* rows = matrix_rows(matrices, static_cast<std::size_t>(n), batched);
        if (rows == nullptr) return BadMatrixShape;
        Scratch<double, 48> inv;
        double* k = inv.get(6 * n);
        if (!invert_all(rows, n, k)) return BadMatrix;
        Scratch<WarpCoeffs> coeffs;
        WarpCoeffs* c = coeffs.get(n);
        for (int i = 0; i < n; ++i) c[i] = make_warp_coeffs(k + 6 * i);
        WarpParams q = p;
        q.src.data = src;
        q.dst.data = dst;
        nb::gil_scoped_release release;
        if (device < 0) {
            cpu::warp_affine(q, c, n, mode);
        } else {
            on_device(device, [&] { cuda::warp_affine(q, c, n, mode, stream); });
        }
        return Launched;
    }
};

void register_warp_affine(nb::module_& m) {
    nb::class_<WarpCall>(m, "WarpCall",
                         "A warp checked once (ffaccel.ops.warp_affine.WarpSpec). Call it with the src and dst "
                         "pointers, the forward matrices (2, 3) or (N, 2, 3) float64 and the stream; it returns a "
                         "CallStatus (kernels/bindings/matrices.h), 0 when launched.")
        .def(nb::init<const Image&, const Image&, int, bool, int, int, std::array<float, 4>, int, std::int64_t,
                      std::int64_t>(),
             nb::arg("src"), nb::arg("dst"), nb::arg("n"), nb::arg("batched"), nb::arg("mode"), nb::arg("border"),
             nb::arg("border_value"), nb::arg("device"), nb::arg("src_bytes"), nb::arg("dst_bytes"))
        .def("__call__", &WarpCall::operator(), nb::arg("src"), nb::arg("dst"), nb::arg("matrices"),
             nb::arg("stream"));
}

}  // namespace ffaccel::bindings
