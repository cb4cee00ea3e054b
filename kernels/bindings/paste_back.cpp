// Binding for paste_back: argument shapes checked, then straight to cpu:: or cuda::.
#include "ffaccel/paste_back.h"

#include <nanobind/ndarray.h>

#include <vector>

#include "bindings.h"

namespace ffaccel::bindings {

using Inverse = nb::ndarray<const double, nb::shape<-1, 6>, nb::c_contig, nb::device::cpu>;
using Areas = nb::ndarray<std::int64_t, nb::shape<-1, 4>, nb::c_contig, nb::device::cpu>;

static void paste_back(const Image& frame, const Image& out, const Image& crops, const Image& masks, Inverse inverse,
                       int mode, bool truncate, bool in_place, int device, std::uintptr_t stream) {
    const int n = static_cast<int>(inverse.shape(0));
    if (n < 1) throw nb::value_error("paste_back: need at least one matrix");
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
    for (int i = 0; i < n; ++i) {
        faces[i] = make_paste_face(inverse.data() + 6 * i, out.w, out.h, crops.w, crops.h, truncate);
    }
    paste_region(p, faces.data(), n);
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::paste_back(p, faces.data(), n);
    } else {
        on_device(device, [&] { cuda::paste_back(p, faces.data(), n, stream); });
    }
}

static void paste_areas(Inverse inverse, int fw, int fh, int cw, int ch, bool facefusion, Areas areas) {
    if (areas.shape(0) != inverse.shape(0)) throw nb::value_error("paste_areas: one row per matrix");
    for (size_t i = 0; i < inverse.shape(0); ++i) {
        const PasteFace f = make_paste_face(inverse.data() + 6 * i, fw, fh, cw, ch, facefusion);
        std::int64_t* a = areas.data() + 4 * i;
        a[0] = f.x1, a[1] = f.y1, a[2] = f.x2, a[3] = f.y2;
    }
}

void register_paste_back(nb::module_& m) {
    m.def("paste_back", &paste_back, nb::arg("frame"), nb::arg("out"), nb::arg("crops"), nb::arg("masks"),
          nb::arg("inverse"), nb::arg("mode"), nb::arg("truncate"), nb::arg("in_place"), nb::arg("device"),
          nb::arg("stream"),
          "Blend N crops into `out` (a copy of `frame`, or `frame` itself in place) through the inverses (N, 6) "
          "of their frame -> crop matrices; `truncate` selects FaceFusion's semantics (rounded paste areas, "
          "truncation).");
    m.def("paste_areas", &paste_areas, nb::arg("inverse"), nb::arg("frame_w"), nb::arg("frame_h"),
          nb::arg("crop_w"), nb::arg("crop_h"), nb::arg("facefusion"), nb::arg("areas"),
          "Fill `areas` (N, 4: x1, y1, x2, y2) with the paste areas paste_back uses, from the inverses (N, 6).");
}

}  // namespace ffaccel::bindings
