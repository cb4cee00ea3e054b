// The ffaccel._core extension: the Image view type, CudaError, build and runtime facts,
// and one register_* call per op.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include "bindings.h"
#include "ffaccel/common.h"
#include "ffaccel/cuda_runtime_info.h"
#include "../cpu/parallel.h"
#include "../cpu/variant.h"

namespace nb = nanobind;
using namespace ffaccel;

static nb::dict build_info() {
    nb::dict d;
#if defined(FFACCEL_WITH_CUDA)
    d["cuda_built"] = true;
#else
    d["cuda_built"] = false;
#endif
    d["cuda_reason"] = FFACCEL_CUDA_REASON;
    d["cuda_archs"] = FFACCEL_CUDA_ARCHS;
    d["cuda_compiler"] = FFACCEL_CUDA_COMPILER;
    d["cpu_threads"] = cpu::num_threads();
    // Which build of the CPU loops runs here (cpu/variant.h): "x86-64-v3" (AVX2 + FMA) or
    // "baseline" (no v3 build, a CPU without AVX2/FMA/BMI2, or FFACCEL_CPU_BASELINE=1).
#if defined(FFACCEL_HAVE_V3_BUILD)
    d["cpu_v3_built"] = true;
#else
    d["cpu_v3_built"] = false;
#endif
    d["cpu_variant"] = cpu::has_x86_64_v3() ? "x86-64-v3" : "baseline";
    return d;
}

static nb::dict runtime_info() {
    nb::dict d;
#if defined(FFACCEL_WITH_CUDA)
    const cuda::RuntimeInfo info = cuda::runtime_info();
    d["runtime_version"] = info.runtime_version;
    d["driver_version"] = info.driver_version;
    d["error"] = info.error;
    nb::list devices;
    for (const auto& dev : info.devices) {
        nb::dict e;
        e["index"] = dev.index;
        e["name"] = dev.name;
        e["compute_capability"] = nb::make_tuple(dev.major, dev.minor);
        e["total_memory"] = dev.total_memory;
        devices.append(e);
    }
    d["devices"] = devices;
#else
    d["runtime_version"] = 0;
    d["driver_version"] = 0;
    d["error"] = "built without CUDA kernels";
    d["devices"] = nb::list();
#endif
    return d;
}

NB_MODULE(_core, m) {
    m.doc() = "ffaccel compiled core: thin bindings over kernels/cpu and kernels/cuda.";
    nb::exception<CudaError>(m, "CudaError", PyExc_RuntimeError);

    nb::enum_<DType>(m, "DType").value("U8", DType::U8).value("F32", DType::F32);

    nb::class_<Image>(m, "Image")
        .def(nb::init<std::uintptr_t, int, int, int, std::int64_t, std::int64_t, DType>(), nb::arg("data"),
             nb::arg("h"), nb::arg("w"), nb::arg("c"), nb::arg("stride"), nb::arg("batch_stride"), nb::arg("dtype"))
        .def_ro("data", &Image::data)
        .def_ro("h", &Image::h)
        .def_ro("w", &Image::w)
        .def_ro("c", &Image::c);

    // The address of a host array's data: cheaper than numpy's own .ctypes.data.
    // Read-only arrays are accepted (box_mask returns one, and inputs are only read);
    // _checks.output refuses a read-only `out`.
    m.def("host_ptr", [](nb::ndarray<nb::ro, nb::device::cpu> a) {
              return reinterpret_cast<std::uintptr_t>(a.data());
          }, nb::arg("array"));

    m.def("build_info", &build_info, "What this build of the extension contains.");
    m.def("runtime_info", &runtime_info, "CUDA runtime/driver versions and visible devices.");

    bindings::register_affine(m);
    bindings::register_warp_affine(m);
    bindings::register_paste_back(m);
    bindings::register_composite(m);
    bindings::register_hysteresis(m);
    bindings::register_feather_mask(m);
    bindings::register_color(m);
    bindings::register_multiband(m);
    bindings::register_paste_insightface(m);
    bindings::register_stab_bank(m);
    bindings::register_stab_outliers(m);
    bindings::register_stab_rigid(m);
    bindings::register_stab_cuts(m);
    bindings::register_stab_offline(m);
    bindings::register_stab_causal(m);
    bindings::register_stab_ends(m);
    bindings::register_facefusion_blend(m);
    bindings::register_portable_root(m);
}
