// Turning CUDA error codes into ffaccel::CudaError (raised in Python as ffaccel.CudaError).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "ffaccel/common.h"

namespace ffaccel {

inline void check_cuda(cudaError_t err, const char* what) {
    if (err != cudaSuccess) {
        throw CudaError(std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
    }
}

// After a launch: reports a bad configuration at once; asynchronous faults surface at
// the caller's next synchronisation, as with any CUDA library.
inline void check_launch(const char* op) { check_cuda(cudaGetLastError(), op); }

}  // namespace ffaccel
