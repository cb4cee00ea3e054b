// Launching a batch of faces in groups of 32, shared by the warp and paste launchers.
//
// Per-face data (warp coefficients, paste areas) travels as a kernel argument: no device
// allocation and no copy, which keeps a launch capturable in a CUDA graph. 32 faces keep
// the argument block under the classic 4 KB parameter limit; a larger batch is launched
// in consecutive groups, in order.
#pragma once

namespace ffaccel::cuda {

constexpr int kMaxFacesPerLaunch = 32;

// The per-face data of one launch, passed by value to the kernel.
template <typename T>
struct FaceGroup {
    T f[kMaxFacesPerLaunch];
};

// Calls launch(group, first, count) for each run of up to 32 consecutive items of
// items[0..n): group.f[i] is items[first + i] for i < count.
template <typename T, typename Launch>
void for_each_face_group(const T* items, int n, Launch&& launch) {
    for (int first = 0; first < n; first += kMaxFacesPerLaunch) {
        const int count = n - first < kMaxFacesPerLaunch ? n - first : kMaxFacesPerLaunch;
        FaceGroup<T> group;
        for (int i = 0; i < count; ++i) group.f[i] = items[first + i];
        launch(group, first, count);
    }
}

}  // namespace ffaccel::cuda
