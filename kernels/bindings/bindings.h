// Each op's binding registers itself from its own file; module.cpp calls them all.
#pragma once

#include <nanobind/nanobind.h>

namespace ffaccel::bindings {

namespace nb = nanobind;

void register_affine(nb::module_& m);
void register_warp_affine(nb::module_& m);
void register_paste_back(nb::module_& m);
void register_composite(nb::module_& m);
void register_hysteresis(nb::module_& m);
void register_feather_mask(nb::module_& m);
void register_color(nb::module_& m);
void register_multiband(nb::module_& m);
void register_paste_insightface(nb::module_& m);
void register_stab_bank(nb::module_& m);
void register_stab_outliers(nb::module_& m);
void register_stab_rigid(nb::module_& m);
void register_stab_cuts(nb::module_& m);
void register_stab_offline(nb::module_& m);
void register_stab_causal(nb::module_& m);
void register_stab_ends(nb::module_& m);
void register_facefusion_blend(nb::module_& m);
void register_portable_root(nb::module_& m);

// GPU work of a binding: runs `fn` with `device` current, or raises CudaError when
// this build has no CUDA kernels.
template <typename Fn>
void on_device(int device, Fn&& fn);

}  // namespace ffaccel::bindings

#include "on_device.inl"
