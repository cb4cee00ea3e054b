// Binding for paste_back: argument shapes checked, then straight to cpu:: or cuda::.
#include "ffaccel/paste_back.h"

#include <nanobind/ndarray.h>

#include <algorithm>
#include <vector>

#include "bindings.h"

namespace ffaccel::bindings {

using Matrices = nb::ndarray<const double, nb::shape<-1, 6>, nb::c_contig, nb::device::cpu>;
using Areas = nb::ndarray<std::int64_t, nb::shape<-1, 4>, nb::c_contig, nb::device::cpu>;

static void paste_back(const Image& frame, const Image& out, const Image& crops, const Image& masks, Matrices matrices,
                       int mode, bool truncate, bool in_place, int device, std::uintptr_t stream) {
    const int n = static_cast<int>(matrices.shape(0));
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
    p.region_x1 = out.w, p.region_y1 = out.h, p.region_x2 = 0, p.region_y2 = 0;
    for (int i = 0; i < n; ++i) {
        faces[i] = make_paste_face(matrices.data() + 6 * i, out.w, out.h, crops.w, crops.h, truncate);
        if (faces[i].x1 < faces[i].x2 && faces[i].y1 < faces[i].y2) {
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

static void paste_areas(Matrices matrices, int fw, int fh, int cw, int ch, bool facefusion, Areas areas) {
    if (areas.shape(0) != matrices.shape(0)) throw nb::value_error("paste_areas: one row per matrix");
    for (size_t i = 0; i < matrices.shape(0); ++i) {
        const PasteFace f = make_paste_face(matrices.data() + 6 * i, fw, fh, cw, ch, facefusion);
        std::int64_t* a = areas.data() + 4 * i;
        a[0] = f.x1, a[1] = f.y1, a[2] = f.x2, a[3] = f.y2;
    }
}

void register_paste_back(nb::module_& m) {
    m.def("paste_back", &paste_back, nb::arg("frame"), nb::arg("out"), nb::arg("crops"), nb::arg("masks"),
          nb::arg("matrices"), nb::arg("mode"), nb::arg("truncate"), nb::arg("in_place"), nb::arg("device"),
          nb::arg("stream"),
          "Blend N crops into `out` (a copy of `frame`, or `frame` itself in place) through their frame -> crop "
          "matrices (N, 6); `truncate` selects FaceFusion's semantics (rounded paste areas, truncation).");
    m.def("paste_areas", &paste_areas, nb::arg("matrices"), nb::arg("frame_w"), nb::arg("frame_h"),
          nb::arg("crop_w"), nb::arg("crop_h"), nb::arg("facefusion"), nb::arg("areas"),
          "Fill `areas` (N, 4: x1, y1, x2, y2) with the paste areas paste_back uses.");
}

}  // namespace ffaccel::bindings
