// Binding for multi-band paste-back. The faces (paste areas and maps, from the frame ->
// crop matrices, inverted here) are built once per call into a PasteFaces object: Python reads the workspace
// size from it, allocates the workspace with the frame's framework, and hands the same
// object to paste_back_multiband, which runs cpu:: or cuda:: on it.
#include "ffaccel/multiband.h"

#include <nanobind/ndarray.h>

#include <vector>

#include "bindings.h"
#include "matrices.h"

namespace ffaccel::bindings {

// The faces of one call and the frame and crop sizes they were built for.
struct PasteFaces {
    std::vector<PasteFace> faces;
    int frame_w, frame_h, crop_w, crop_h;
};

// The faces of N frame -> crop matrices (N, 2, 3), checked by the caller; a matrix that
// breaks a rule of affine.h is refused all the same.
static PasteFaces paste_faces(Matrices matrices, int fw, int fh, int cw, int ch) {
    const std::size_t n = matrix_count(matrices);
    const double* rows = matrix_rows(matrices, n, true, true);
    if (rows == nullptr || n < 1) throw nb::value_error("paste_faces: expected matrices of shape (N, 2, 3), N >= 1");
    PasteFaces f{std::vector<PasteFace>(n), fw, fh, cw, ch};
    for (std::size_t i = 0; i < n; ++i) {
        double inv[6], det;
        if (checked_inverse(rows + 6 * i, inv, &det) != AffineFault::None) {
            throw nb::value_error("paste_faces: a matrix breaks the rules of ffaccel._checks.affine_inverse");
        }
        f.faces[i] = make_paste_face(inv, fw, fh, cw, ch, false);
    }
    return f;
}

static void check_levels(int levels) {
    if (levels < 1 || levels > kMultibandMaxLevels) throw nb::value_error("paste_back_multiband: levels out of range");
}

static std::int64_t workspace_floats(const PasteFaces& f, int c, int levels) {
    check_levels(levels);
    return multiband_workspace_floats(f.faces.data(), static_cast<int>(f.faces.size()), levels, c);
}

static void paste_back_multiband(const Image& frame, const Image& out, const Image& crops, const Image& masks,
                                 const PasteFaces& f, bool in_place, int levels, std::uintptr_t workspace,
                                 std::int64_t workspace_floats_given, int device, std::uintptr_t stream) {
    check_levels(levels);
    if (f.frame_w != out.w || f.frame_h != out.h || f.crop_w != crops.w || f.crop_h != crops.h) {
        throw nb::value_error("paste_back_multiband: faces built for another frame or crop size");
    }
    if (workspace_floats(f, out.c, levels) > workspace_floats_given) {
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
    const int n = static_cast<int>(f.faces.size());
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::paste_back_multiband(p, f.faces.data(), n, levels, ws);
    } else {
        on_device(device, [&] { cuda::paste_back_multiband(p, f.faces.data(), n, levels, ws, stream); });
    }
}

void register_multiband(nb::module_& m) {
    m.attr("MULTIBAND_MAX_LEVELS") = kMultibandMaxLevels;
    nb::class_<PasteFaces>(m, "PasteFaces", "The faces of one multi-band paste call (paste_faces).");
    m.def("paste_faces", &paste_faces, nb::arg("matrices"), nb::arg("frame_w"), nb::arg("frame_h"),
          nb::arg("crop_w"), nb::arg("crop_h"),
          "The paste areas and maps of N faces, from their frame -> crop matrices (N, 2, 3) float64.");
    m.def("multiband_workspace_floats", &workspace_floats, nb::arg("faces"), nb::arg("channels"), nb::arg("levels"),
          "float32 elements of workspace paste_back_multiband needs for these faces.");
    m.def("paste_back_multiband", &paste_back_multiband, nb::arg("frame"), nb::arg("out"), nb::arg("crops"),
          nb::arg("masks"), nb::arg("faces"), nb::arg("in_place"), nb::arg("levels"), nb::arg("workspace"),
          nb::arg("workspace_floats"), nb::arg("device"), nb::arg("stream"),
          "Laplacian-pyramid paste of N crops into `out` (a copy of `frame`, or `frame` in place), one face "
          "after another, using `workspace` (float32, device memory on the GPU path).");
}

}  // namespace ffaccel::bindings
