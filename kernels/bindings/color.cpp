// Binding for the colour ops: tables copied into the parameter block, then cpu:: or cuda::.
#include "ffaccel/color.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/array.h>

#include <array>

#include "bindings.h"

namespace ffaccel::bindings {

using Table = nb::ndarray<const float, nb::shape<256>, nb::c_contig, nb::device::cpu>;

static ColorTables make_tables(Table table, Table bound) {
    ColorTables t;
    for (int i = 0; i < 256; ++i) {
        t.table[i] = table.data()[i];
        t.bound[i] = bound.data()[i];
    }
    return t;
}

static void color_convert(const Image& src, const Image& dst, int mode, Table table, Table bound, int device,
                          std::uintptr_t stream) {
    if (mode < 0 || mode > 5) throw nb::value_error("color_convert: unknown mode");
    if (src.h != dst.h || src.w != dst.w || src.c != dst.c) throw nb::value_error("color_convert: size mismatch");
    const ColorMode m = static_cast<ColorMode>(mode);
    const DType want_src = m == ColorMode::U8ToLinear ? DType::U8 : DType::F32;
    const DType want_dst = m == ColorMode::ToSrgbU8 ? DType::U8 : DType::F32;
    if (src.dtype != want_src || dst.dtype != want_dst) throw nb::value_error("color_convert: dtype does not fit mode");
    const ColorParams p{src, dst, m};
    const ColorTables t = make_tables(table, bound);
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::color_convert(p, t);
    } else {
        on_device(device, [&] { cuda::color_convert(p, t, stream); });
    }
}

static void apply_gain(const Image& src, const Image& dst, const Image& mask, std::array<float, 3> gain, Table table,
                       Table bound, int device, std::uintptr_t stream) {
    if (src.c != 3 || dst.c != 3 || src.dtype != DType::U8 || dst.dtype != DType::U8) {
        throw nb::value_error("apply_gain: src and dst must be uint8 with 3 channels");
    }
    if (src.h != dst.h || src.w != dst.w) throw nb::value_error("apply_gain: size mismatch");
    if (mask.data != 0 && (mask.h != src.h || mask.w != src.w || mask.c != 1)) {
        throw nb::value_error("apply_gain: mask must be one channel of the image's size");
    }
    const GainParams p{src, dst, mask, {gain[0], gain[1], gain[2]}};
    const ColorTables t = make_tables(table, bound);
    nb::gil_scoped_release release;
    if (device < 0) {
        cpu::apply_gain(p, t);
    } else {
        on_device(device, [&] { cuda::apply_gain(p, t, stream); });
    }
}

void register_color(nb::module_& m) {
    m.def("color_convert", &color_convert, nb::arg("src"), nb::arg("dst"), nb::arg("mode"), nb::arg("table"),
          nb::arg("bound"), nb::arg("device"), nb::arg("stream"),
          "Element-wise sRGB <-> linear conversion (mode: 0 u8->linear table, 1/2 to linear exact/fast, "
          "3/4 to sRGB exact/fast, 5 linear->u8 codes).");
    m.def("apply_gain", &apply_gain, nb::arg("src"), nb::arg("dst"), nb::arg("mask"), nb::arg("gain"),
          nb::arg("table"), nb::arg("bound"), nb::arg("device"), nb::arg("stream"),
          "Per-channel gains in linear light on a uint8 3-channel image; mask.data == 0 means no mask.");
}

}  // namespace ffaccel::bindings
