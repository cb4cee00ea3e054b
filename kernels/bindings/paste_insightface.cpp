// Binding for paste_back_insightface: the face plan and its workspace size, then straight
// to cpu:: or cuda::. An InsightfaceCall holds what the Python checks settled once (image
// geometry, in-place, device) for the lean path and prepared plans; each call brings the
// pointers, the matrix, the modes, the workspace and the stream, and does the overlap
// tests and the matrix rules here, as PasteCall does.
#include "ffaccel/paste_insightface.h"

#include <nanobind/ndarray.h>

#include <vector>

#include "bindings.h"
#include "matrices.h"

namespace ffaccel::bindings {

using Matrix = nb::ndarray<const double, nb::shape<6>, nb::c_contig, nb::device::cpu>;

static InsFace face_of(const double* matrix, int fw, int fh, int cw, int ch) {
    if (fw < 1 || fh < 1 || cw < 1 || ch < 1) throw nb::value_error("paste_insightface: empty frame or crop");
    return make_ins_face(matrix, fw, fh, cw, ch);
}

// The face plan with its thresholded-mask extent, from the matrix alone (host only: the
// GPU path never reads the mask back).
static InsFace face_with_extent(const double* matrix, int fw, int fh, int cw, int ch, int warp) {
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
    return ins_layout(face_of(matrix.data(), fw, fh, cw, ch), cw).total;
}

static bool paste_at(const Image& frame, const Image& out, const Image& crop, const double* matrix, int warp, int blur,
                     bool in_place, std::uintptr_t workspace, std::int64_t workspace_floats, int device,
                     std::uintptr_t stream) {
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

static bool paste_insightface(const Image& frame, const Image& out, const Image& crop, Matrix matrix, int warp,
                              int blur, bool in_place, std::uintptr_t workspace, std::int64_t workspace_floats,
                              int device, std::uintptr_t stream) {
    return paste_at(frame, out, crop, matrix.data(), warp, blur, in_place, workspace, workspace_floats, device, stream);
}

struct InsightfaceCall {
    Image frame, out, crop;  // geometry; the data pointers come with each call
    std::int64_t frame_bytes, crop_bytes;
    int device;
    bool in_place;

    // The matrix's row, or nullptr with *status set where its shape or its rules (affine.h)
    // refuse it.
    static const double* checked_matrix(const Matrices& matrix, int* status) {
        const double* m = matrix_rows(matrix, 1, false);
        double inv[6], det;
        *status = m == nullptr ? BadMatrixShape
                               : checked_inverse(m, inv, &det) != AffineFault::None ? BadMatrix : Launched;
        return *status == Launched ? m : nullptr;
    }

    // float32 elements of workspace the face of `matrix` needs (>= 1), or minus a
    // CallStatus (the matrix's shape or its rules): nothing to allocate, full checks.
    std::int64_t workspace_floats(const Matrices& matrix) const {
        int status;
        const double* m = checked_matrix(matrix, &status);
        if (m == nullptr) return -status;
        const std::int64_t n = ins_layout(make_ins_face(m, out.w, out.h, crop.w, crop.h), crop.w).total;
        return n > 1 ? n : 1;
    }

    // Pastes (into `out`; ignored in place) on `stream` (0: the CPU), or returns why not
    // (CallStatus) with nothing written. `workspace` holds `workspace_floats` floats.
    int operator()(std::uintptr_t frame_ptr, std::uintptr_t crop_ptr, std::uintptr_t out_ptr, const Matrices& matrix,
                   int warp, int blur, std::uintptr_t workspace, std::int64_t floats, std::uintptr_t stream) const {
        if (!apart(crop_ptr, crop_bytes, frame_ptr, frame_bytes)) return Overlap;
        if (in_place) {
            out_ptr = frame_ptr;
        } else if (!apart(out_ptr, frame_bytes, frame_ptr, frame_bytes) ||
                   !apart(out_ptr, frame_bytes, crop_ptr, crop_bytes)) {
            return Overlap;
        }
        int status;
        const double* m = checked_matrix(matrix, &status);
        if (m == nullptr) return status;
        Image f = frame, o = out, c = crop;
        f.data = frame_ptr, o.data = out_ptr, c.data = crop_ptr;
        paste_at(f, o, c, m, warp, blur, in_place, workspace, floats, device, stream);
        return Launched;
    }
};

static nb::tuple insightface_box(Matrix matrix, int fw, int fh, int cw, int ch) {
    const InsFace f = face_of(matrix.data(), fw, fh, cw, ch);
    return nb::make_tuple(f.bx1, f.by1, f.bx2, f.by2, f.rmax);
}

// (ymin, ymax, xmin, xmax) of the frame pixels where the thresholded mask is 255, or None.
static nb::object insightface_extent(Matrix matrix, int fw, int fh, int cw, int ch, int warp) {
    const InsFace f = face_with_extent(matrix.data(), fw, fh, cw, ch, warp);
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
    nb::class_<InsightfaceCall>(m, "InsightfaceCall",
                                "A paste_back_insightface call checked once (ffaccel.ops.paste_insightface). "
                                "workspace_floats(matrix) sizes the workspace (or returns minus a CallStatus); "
                                "the call takes the frame, crop and out pointers, the matrix, the modes, the "
                                "workspace and the stream, and returns a CallStatus (kernels/bindings/matrices.h), "
                                "0 when launched.")
        .def("__init__",
             [](InsightfaceCall* t, const Image& frame, const Image& out, const Image& crop, std::int64_t frame_bytes,
                std::int64_t crop_bytes, int device, bool in_place) {
                 if (out.c != 3 || crop.c != 3 || frame.c != 3) {
                     throw nb::value_error("InsightfaceCall: 3 channels expected");
                 }
                 if (out.w < 1 || out.h < 1 || crop.w < 1 || crop.h < 1) {
                     throw nb::value_error("InsightfaceCall: empty frame or crop");
                 }
                 new (t) InsightfaceCall{frame, out, crop, frame_bytes, crop_bytes, device, in_place};
             },
             nb::arg("frame"), nb::arg("out"), nb::arg("crop"), nb::arg("frame_bytes"), nb::arg("crop_bytes"),
             nb::arg("device"), nb::arg("in_place"))
        .def("workspace_floats", &InsightfaceCall::workspace_floats, nb::arg("matrix"))
        .def("__call__", &InsightfaceCall::operator(), nb::arg("frame"), nb::arg("crop"), nb::arg("out"),
             nb::arg("matrix"), nb::arg("warp"), nb::arg("blur"), nb::arg("workspace"), nb::arg("workspace_floats"),
             nb::arg("stream"));
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
