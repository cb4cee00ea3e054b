// Binding for paste_back: argument shapes checked, then straight to cpu:: or cuda::.
#include "ffaccel/paste_back.h"

#include <nanobind/ndarray.h>

#include <algorithm>
#include <vector>

#include "bindings.h"

namespace ffaccel::bindings {

using Inverse = nb::ndarray<const double, nb::shape<-1, 6>, nb::c_contig, nb::device::cpu>;
using Areas = nb::ndarray<const std::int64_t, nb::shape<-1, 4>, nb::c_contig, nb::device::cpu>;

static void paste_back(const Image& frame, const Image& out, const Image& crops, const Image& masks, Inverse inverse,
                       Areas areas, int mode, bool truncate, bool in_place, int device, std::uintptr_t stream) {
    const int n = static_cast<int>(inverse.shape(0));
    if (n < 1 || static_cast<int>(areas.shape(0)) != n) throw nb::value_error("paste_back: one area per matrix");
    if (mode < 0 || mode > 2) throw nb::value_error("paste_back: unknown mode");
    std::vector<PasteFace> faces(n);
    PasteParams p;
    p.frame = frame;
    p.out = out;
    p.crops = crops;
    p.masks = masks;
    p.mode = static_cast<WarpMode>(mode);
    p.truncate = truncate;
    p.in_place = in_place;
    p.region_x1 = out.w, p.region_y1 = out.h, p.region_x2 = 0, p.region_y2 = 0;
    for (int i = 0; i < n; ++i) {
        const std::int64_t* a = areas.data() + 4 * i;
        faces[i] = {make_warp_coeffs(inverse.data() + 6 * i), static_cast<int>(a[0]), static_cast<int>(a[1]),
                    static_cast<int>(a[2]), static_cast<int>(a[3])};
        if (a[0] < a[2] && a[1] < a[3]) {
            p.region_x1 = std::min(p.region_x1, faces[i].x1);
            p.region_y1 = std::min(p.region_y1, faces[i].y1);
            p.region_x2 = std::max(p.region_x2, faces[i].x2);
            p.region_y2 = std::max(p.region_y2, faces[i].y2);
        }
    }
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::paste_back(p, faces.data(), n);
    } else {
        on_device(device, [&] { cuda::paste_back(p, faces.data(), n, stream); });
    }
}

void register_paste_back(nb::module_& m) {
    m.def("paste_back", &paste_back, nb::arg("frame"), nb::arg("out"), nb::arg("crops"), nb::arg("masks"),
          nb::arg("inverse"), nb::arg("areas"), nb::arg("mode"), nb::arg("truncate"), nb::arg("in_place"),
          nb::arg("device"), nb::arg("stream"),
          "Blend N crops into `out` (a copy of `frame`, or `frame` itself in place) through their inverse maps "
          "(N, 6) over their paste areas (N, 4: x1, y1, x2, y2).");
}

}  // namespace ffaccel::bindings
