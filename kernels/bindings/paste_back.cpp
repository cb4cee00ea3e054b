// Binding for paste_back: a PasteCall holds what the Python checks settled once (image
// geometry, mode, in-place, device); each call brings only the pointers, the frame ->
// crop matrices and the stream, and does here, in one crossing, the overlap tests, the
// matrix rules and inversion (affine.h), the faces, and the launch.
#include "ffaccel/paste_back.h"

#include <nanobind/ndarray.h>

#include "bindings.h"
#include "matrices.h"

namespace ffaccel::bindings {

using Areas = nb::ndarray<std::int64_t, nb::shape<-1, 4>, nb::c_contig, nb::device::cpu>;

struct PasteCall {
    PasteParams p;  // data pointers and the region are set per call
    std::int64_t frame_bytes, crop_bytes, mask_bytes;
    int n, device;
    bool batched;

    PasteCall(const Image& frame, const Image& out, const Image& crops, const Image& masks, int n_, bool batched_, int mode,
              bool truncate, bool in_place, int device_, std::int64_t frame_bytes_, std::int64_t crop_bytes_,
              std::int64_t mask_bytes_)
        : frame_bytes(frame_bytes_), crop_bytes(crop_bytes_), mask_bytes(mask_bytes_), n(n_), device(device_),
          batched(batched_) {
        if (n < 1 || (!batched && n != 1)) throw nb::value_error("PasteCall: need one matrix, or n >= 1 for a batch");
        if (mode < 0 || mode > 2) throw nb::value_error("PasteCall: unknown mode");
        p.frame = frame;
        p.out = out;
        p.crops = crops;
        p.masks = masks;
        p.mode = static_cast<WarpMode>(mode);
        p.truncate = truncate;
        p.in_place = in_place;
    }

    // Pastes into `out` (ignored in place: the frame is the result) on `stream` (0: the
    // CPU), or returns why not (CallStatus) with nothing written.
    int operator()(std::uintptr_t frame, std::uintptr_t crops, std::uintptr_t masks, std::uintptr_t out,
                   const Matrices& matrices, std::uintptr_t stream) const {
        if (!apart(crops, crop_bytes, frame, frame_bytes) || !apart(masks, mask_bytes, frame, frame_bytes)) {
            return Overlap;
        }
        if (p.in_place) {
            out = frame;
        } else if (!apart(out, frame_bytes, frame, frame_bytes) || !apart(out, frame_bytes, crops, crop_bytes) ||
                   !apart(out, frame_bytes, masks, mask_bytes)) {
            return Overlap;
        }
        const double* rows = matrix_rows(matrices, static_cast<std::size_t>(n), batched);
        if (rows == nullptr) return BadMatrixShape;
        Scratch<double, 48> inv;
        double* k = inv.get(6 * n);
        if (!invert_all(rows, n, k)) return BadMatrix;
        PasteParams q = p;
        q.frame.data = frame;
        q.out.data = out;
        q.crops.data = crops;
        q.masks.data = masks;
        Scratch<PasteFace> storage;
        PasteFace* faces = storage.get(n);
        for (int i = 0; i < n; ++i) {
            faces[i] = make_paste_face(k + 6 * i, q.out.w, q.out.h, q.crops.w, q.crops.h, q.truncate);
        }
        paste_region(q, faces, n);
        nb::gil_scoped_release release;
        if (device < 0) {
            cpu::paste_back(q, faces, n);
        } else {
            on_device(device, [&] { cuda::paste_back(q, faces, n, stream); });
        }
        return Launched;
    }
};

// The paste areas paste_back uses for N frame -> crop matrices (checked by the caller).
static void paste_areas(Matrices matrices, int fw, int fh, int cw, int ch, bool facefusion, Areas areas) {
    const std::size_t n = areas.shape(0);
    const double* rows = matrix_rows(matrices, n, true, true);
    if (rows == nullptr) throw nb::value_error("paste_areas: one row in areas per matrix");
    for (std::size_t i = 0; i < n; ++i) {
        double inv[6], det;
        if (checked_inverse(rows + 6 * i, inv, &det) != AffineFault::None) {
            throw nb::value_error("paste_areas: a matrix breaks the rules of ffaccel._checks.affine_inverse");
        }
        const PasteFace f = make_paste_face(inv, fw, fh, cw, ch, facefusion);
        std::int64_t* a = areas.data() + 4 * i;
        a[0] = f.x1, a[1] = f.y1, a[2] = f.x2, a[3] = f.y2;
    }
}

void register_paste_back(nb::module_& m) {
    nb::class_<PasteCall>(m, "PasteCall",
                          "A paste checked once (ffaccel.ops.paste_back.PasteSpec). Call it with the frame, crops, "
                          "masks and out pointers, the frame -> crop matrices and the stream; it returns a "
                          "CallStatus (kernels/bindings/matrices.h), 0 when launched.")
        .def(nb::init<const Image&, const Image&, const Image&, const Image&, int, bool, int, bool, bool, int, std::int64_t,
                      std::int64_t, std::int64_t>(),
             nb::arg("frame"), nb::arg("out"), nb::arg("crops"), nb::arg("masks"), nb::arg("n"), nb::arg("batched"), nb::arg("mode"),
             nb::arg("truncate"), nb::arg("in_place"), nb::arg("device"), nb::arg("frame_bytes"),
             nb::arg("crop_bytes"), nb::arg("mask_bytes"))
        .def("__call__", &PasteCall::operator(), nb::arg("frame"), nb::arg("crops"), nb::arg("masks"), nb::arg("out"),
             nb::arg("matrices"), nb::arg("stream"));
    m.def("paste_areas", &paste_areas, nb::arg("matrices"), nb::arg("frame_w"), nb::arg("frame_h"),
          nb::arg("crop_w"), nb::arg("crop_h"), nb::arg("facefusion"), nb::arg("areas"),
          "Fill `areas` (N, 4: x1, y1, x2, y2) with the paste areas paste_back uses for the frame -> crop "
          "matrices (N, 2, 3).");
}

}  // namespace ffaccel::bindings
