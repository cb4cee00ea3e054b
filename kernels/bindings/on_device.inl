#pragma once

#include <string>

#include "ffaccel/common.h"
#include "ffaccel/cuda_runtime_info.h"

namespace ffaccel::bindings {

template <typename Fn>
void on_device(int device, Fn&& fn) {
#if defined(FFACCEL_WITH_CUDA)
    cuda::DeviceScope scope(device);
    fn();
#else
    (void)device;
    (void)fn;
    throw CudaError(std::string("ffaccel was built without CUDA kernels (") + FFACCEL_CUDA_REASON +
                    "); GPU arrays cannot be processed. Reinstall from a source tree with nvcc on PATH, "
                    "or pass numpy arrays.");
#endif
}

}  // namespace ffaccel::bindings
