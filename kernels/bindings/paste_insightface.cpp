// Binding for paste_back_insightface: the face plan and its workspace size, then straight
// to cpu:: or cuda::.
#include "ffaccel/paste_insightface.h"

#include <nanobind/ndarray.h>

#include <vector>

#include "bindings.h"

namespace ffaccel::bindings {

using Matrix = nb::ndarray<const double, nb::shape<6>, nb::c_contig, nb::device::cpu>;

static InsFace face_of(Matrix matrix, int fw, int fh, int cw, int ch) {
    if (fw < 1 || fh < 1 || cw < 1 || ch < 1) throw nb::value_error("paste_insightface: empty frame or crop");
    return make_ins_face(matrix.data(), fw, fh, cw, ch);
}

// The face plan with its thresholded-mask extent, from the matrix alone (host only: the
// GPU path never reads the mask back).
static InsFace face_with_extent(Matrix matrix, int fw, int fh, int cw, int ch, int warp) {
    InsFace f = face_of(matrix, fw, fh, cw, ch);
    const std::vector<float> white(static_cast<std::size_t>(cw), 255.0f);
    if (warp == static_cast<int>(WarpMode::OpenCV4)) {
        ins_set_extent<WarpMode::OpenCV4>(f, white.data(), cw, ch, fw);
    } else if (warp == static_cast<int>(WarpMode::OpenCV5)) {
        ins_set_extent<WarpMode::OpenCV5>(f, white.data(), cw, ch, fw);
    } else {
        throw nb::value_error("paste_insightface: unknown warp mode");
    }
    return f;
}

// float32 elements of workspace the face needs.
static std::int64_t insightface_workspace_floats(Matrix matrix, int fw, int fh, int cw, int ch) {
    return ins_layout(face_of(matrix, fw, fh, cw, ch), cw).total;
}

static bool paste_insightface(const Image& frame, const Image& out, const Image& crop, Matrix matrix, int warp,
                              int blur, bool in_place, std::uintptr_t workspace, std::int64_t workspace_floats,
                              int device, std::uintptr_t stream) {
    if (blur != 0 && blur != 1) throw nb::value_error("paste_insightface: unknown blur mode");
    if (out.c != 3 || crop.c != 3) throw nb::value_error("paste_insightface: 3 channels expected");
    const InsFace f = face_with_extent(matrix, out.w, out.h, crop.w, crop.h, warp);
    if (ins_layout(f, crop.w).total > workspace_floats) throw nb::value_error("paste_insightface: workspace too small");
    InsParams p;
    p.frame = frame;
    p.out = out;
    p.crop = crop;
    p.warp = static_cast<WarpMode>(warp);
    p.blur = static_cast<BlurMode>(blur);
    p.in_place = in_place;
    p.ws = reinterpret_cast<float*>(workspace);
    bool pasted = false;
    nb::gil_scoped_release release;
    if (device < 0) {
        pasted = cpu::paste_insightface(p, f);
    } else {
        on_device(device, [&] { pasted = cuda::paste_insightface(p, f, stream); });
    }
    return pasted;
}

static nb::tuple insightface_box(Matrix matrix, int fw, int fh, int cw, int ch) {
    const InsFace f = face_of(matrix, fw, fh, cw, ch);
    return nb::make_tuple(f.bx1, f.by1, f.bx2, f.by2, f.rmax);
}

// (ymin, ymax, xmin, xmax) of the frame pixels where the thresholded mask is 255, or None.
static nb::object insightface_extent(Matrix matrix, int fw, int fh, int cw, int ch, int warp) {
    const InsFace f = face_with_extent(matrix, fw, fh, cw, ch, warp);
    if (f.ey1 < 0) return nb::none();
    return nb::make_tuple(f.ey0, f.ey1, f.ex0, f.ex1);
}

static nb::ndarray<nb::numpy, float, nb::ndim<1>> insightface_gaussian_kernel(int ksize) {
    if (ksize < 9 || ksize % 2 == 0) throw nb::value_error("ksize: expected an odd size >= 9");
    float* data = new float[ksize];
    ins_gaussian_kernel(ksize, data);
    nb::capsule owner(data, [](void* d) noexcept { delete[] static_cast<float*>(d); });
    return nb::ndarray<nb::numpy, float, nb::ndim<1>>(data, {static_cast<size_t>(ksize)}, owner);
}

void register_paste_insightface(nb::module_& m) {
    m.def("insightface_workspace_floats", &insightface_workspace_floats, nb::arg("matrix"), nb::arg("frame_w"),
          nb::arg("frame_h"), nb::arg("crop_w"), nb::arg("crop_h"),
          "float32 elements of workspace paste_insightface needs for this face.");
    m.def("paste_insightface", &paste_insightface, nb::arg("frame"), nb::arg("out"), nb::arg("crop"),
          nb::arg("matrix"), nb::arg("warp"), nb::arg("blur"), nb::arg("in_place"), nb::arg("workspace"),
          nb::arg("workspace_floats"), nb::arg("device"), nb::arg("stream"),
          "insightface's INSwapper paste of `crop` through the frame -> crop matrix into `out` (a copy of "
          "`frame`, or `frame` in place). Returns False (frame unchanged) where stock insightface fails.");
    m.def("insightface_box", &insightface_box, nb::arg("matrix"), nb::arg("frame_w"), nb::arg("frame_h"),
          nb::arg("crop_w"), nb::arg("crop_h"), "(x1, y1, x2, y2, rmax): the box B outside which the mask is 0.");
    m.def("insightface_extent", &insightface_extent, nb::arg("matrix"), nb::arg("frame_w"), nb::arg("frame_h"),
          nb::arg("crop_w"), nb::arg("crop_h"), nb::arg("warp"),
          "(ymin, ymax, xmin, xmax) where the warped, thresholded mask is 255, from the matrix alone; None if empty.");
    m.def("insightface_gaussian_kernel", &insightface_gaussian_kernel, nb::arg("ksize"),
          "getGaussianKernel(ksize, 0, CV_32F) as paste_insightface computes it.");
}

}  // namespace ffaccel::bindings
