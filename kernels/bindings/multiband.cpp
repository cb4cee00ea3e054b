// Binding for multi-band paste-back: paste areas from the matrices, the workspace size
// rule, then straight to cpu:: or cuda::.
#include "ffaccel/multiband.h"

#include <nanobind/ndarray.h>

#include <vector>

#include "bindings.h"

namespace ffaccel::bindings {

using Matrices = nb::ndarray<const double, nb::shape<-1, 6>, nb::c_contig, nb::device::cpu>;

static std::vector<PasteFace> faces_of(Matrices matrices, int fw, int fh, int cw, int ch) {
    std::vector<PasteFace> faces(matrices.shape(0));
    for (size_t i = 0; i < faces.size(); ++i) faces[i] = make_paste_face(matrices.data() + 6 * i, fw, fh, cw, ch, false);
    return faces;
}

static void check_levels(int levels) {
    if (levels < 1 || levels > kMultibandMaxLevels) throw nb::value_error("paste_back_multiband: levels out of range");
}

// float32 elements of workspace the faces need (the largest area's pyramids).
static std::int64_t multiband_workspace_floats(Matrices matrices, int fw, int fh, int cw, int ch, int c, int levels) {
    check_levels(levels);
    std::int64_t most = 0;
    for (const PasteFace& f : faces_of(matrices, fw, fh, cw, ch)) {
        if (f.x2 <= f.x1 || f.y2 <= f.y1) continue;
        const std::int64_t need = plan_multiband(f.x2 - f.x1, f.y2 - f.y1, levels, c).floats;
        most = need > most ? need : most;
    }
    return most;
}

static void paste_back_multiband(const Image& frame, const Image& out, const Image& crops, const Image& masks,
                                 Matrices matrices, bool in_place, int levels, std::uintptr_t workspace,
                                 std::int64_t workspace_floats, int device, std::uintptr_t stream) {
    check_levels(levels);
    if (matrices.shape(0) < 1) throw nb::value_error("paste_back_multiband: need at least one matrix");
    std::vector<PasteFace> faces = faces_of(matrices, out.w, out.h, crops.w, crops.h);
    if (multiband_workspace_floats(matrices, out.w, out.h, crops.w, crops.h, out.c, levels) > workspace_floats) {
        throw nb::value_error("paste_back_multiband: workspace too small");
    }
    PasteParams p;
    p.frame = frame;
    p.out = out;
    p.crops = crops;
    p.masks = masks;
    p.mode = WarpMode::Default;
    p.truncate = false;
    p.in_place = in_place;
    p.region_x1 = p.region_y1 = p.region_x2 = p.region_y2 = 0;  // unused: each face runs over its own area
    float* ws = reinterpret_cast<float*>(workspace);
    const int n = static_cast<int>(faces.size());
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::paste_back_multiband(p, faces.data(), n, levels, ws);
    } else {
        on_device(device, [&] { cuda::paste_back_multiband(p, faces.data(), n, levels, ws, stream); });
    }
}

void register_multiband(nb::module_& m) {
    m.def("multiband_workspace_floats", &multiband_workspace_floats, nb::arg("matrices"), nb::arg("frame_w"),
          nb::arg("frame_h"), nb::arg("crop_w"), nb::arg("crop_h"), nb::arg("channels"), nb::arg("levels"),
          "float32 elements of workspace paste_back_multiband needs for these faces.");
    m.def("paste_back_multiband", &paste_back_multiband, nb::arg("frame"), nb::arg("out"), nb::arg("crops"),
          nb::arg("masks"), nb::arg("matrices"), nb::arg("in_place"), nb::arg("levels"), nb::arg("workspace"),
          nb::arg("workspace_floats"), nb::arg("device"), nb::arg("stream"),
          "Laplacian-pyramid paste of N crops into `out` (a copy of `frame`, or `frame` in place), one face "
          "after another, using `workspace` (float32, device memory on the GPU path).");
}

}  // namespace ffaccel::bindings
