#include "ffaccel/cuda_runtime_info.h"

#include <mutex>
#include <vector>

#include "cuda_check.h"
#include "side_branch.h"

namespace ffaccel::cuda {

RuntimeInfo runtime_info() {
    RuntimeInfo info;
    cudaRuntimeGetVersion(&info.runtime_version);
    if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        info.error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return info;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        info.devices.push_back({i, prop.name, prop.major, prop.minor, prop.totalGlobalMem});
    }
    return info;
}

DeviceScope::DeviceScope(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
}

DeviceScope::~DeviceScope() {
    int current = -1;
    if (cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
}

struct SideSlot {
    int device, multiprocessors;
    cudaStream_t stream;
    cudaEvent_t fork, join;
};

namespace {

std::mutex side_mutex;
std::vector<SideSlot*> side_free;  // idle slots of every device; never destroyed: a process
                                   // exit may come after the driver is gone

// Where a stream stands in stream capture: none, or capturing into the capture `id`.
struct Capture {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    unsigned long long id = 0;
};

Capture capture_of(cudaStream_t stream) {
    Capture c;
    check_cuda(cudaStreamGetCaptureInfo(stream, &c.status, &c.id), "cudaStreamGetCaptureInfo");
    return c;
}

// A side stream pulled into a capture by a fork stays in it until that capture ends,
// joined or not. So a slot serves a caller outside capture only when it is outside
// capture too, and a capturing caller when it is idle or already in the same capture.
bool slot_fits(const Capture& caller, const Capture& slot) {
    if (slot.status == cudaStreamCaptureStatusNone) return true;
    return caller.status == cudaStreamCaptureStatusActive && slot.status == cudaStreamCaptureStatusActive &&
           slot.id == caller.id;
}

SideSlot* take_side_slot(cudaStream_t caller) {
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    const Capture want = capture_of(caller);
    if (want.status == cudaStreamCaptureStatusInvalidated) return nullptr;
    {
        std::lock_guard<std::mutex> lock(side_mutex);
        for (auto it = side_free.begin(); it != side_free.end(); ++it) {
            if ((*it)->device == device && slot_fits(want, capture_of((*it)->stream))) {
                SideSlot* slot = *it;
                side_free.erase(it);
                return slot;
            }
        }
    }
    // Creating streams and events is not allowed in every capture mode: no new slot then
    // (the work stays on the caller's stream; the usual warm-up call before a capture
    // leaves a slot in the pool).
    if (want.status != cudaStreamCaptureStatusNone) return nullptr;
    auto* slot = new SideSlot{device, 0, nullptr, nullptr, nullptr};
    const cudaError_t err = [&] {
        cudaError_t e = cudaDeviceGetAttribute(&slot->multiprocessors, cudaDevAttrMultiProcessorCount, device);
        if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&slot->stream, cudaStreamNonBlocking);
        if (e == cudaSuccess) e = cudaEventCreateWithFlags(&slot->fork, cudaEventDisableTiming);
        if (e == cudaSuccess) e = cudaEventCreateWithFlags(&slot->join, cudaEventDisableTiming);
        return e;
    }();
    if (err != cudaSuccess) {
        if (slot->join) cudaEventDestroy(slot->join);
        if (slot->fork) cudaEventDestroy(slot->fork);
        if (slot->stream) cudaStreamDestroy(slot->stream);
        delete slot;
        check_cuda(err, "side stream");
    }
    return slot;
}

void give_side_slot(SideSlot* slot) {
    std::lock_guard<std::mutex> lock(side_mutex);
    side_free.push_back(slot);
}

}  // namespace

SideBranch::SideBranch(cudaStream_t caller) : caller_(caller), slot_(take_side_slot(caller)) {
    if (!slot_) return;
    cudaError_t err = cudaEventRecord(slot_->fork, caller_);
    if (err == cudaSuccess) err = cudaStreamWaitEvent(slot_->stream, slot_->fork, 0);
    if (err != cudaSuccess) {
        give_side_slot(slot_);  // the side stream was not forked, nothing to join
        slot_ = nullptr;
        check_cuda(err, "side stream fork");
    }
}

cudaStream_t SideBranch::stream() const { return slot_ ? slot_->stream : caller_; }

int SideBranch::multiprocessors() const {
    if (slot_) return slot_->multiprocessors;
    int device = 0, n = 1;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    return n;
}

void SideBranch::join() {
    if (!slot_) return;
    SideSlot* slot = slot_;
    slot_ = nullptr;
    cudaError_t err = cudaEventRecord(slot->join, slot->stream);
    if (err == cudaSuccess) err = cudaStreamWaitEvent(caller_, slot->join, 0);
    give_side_slot(slot);
    check_cuda(err, "side stream join");
}

SideBranch::~SideBranch() {
    if (!slot_) return;
    // An exception left the branch open: join without throwing (a capture must not end
    // with an unjoined stream, and later work on the caller's stream must follow the copy).
    if (cudaEventRecord(slot_->join, slot_->stream) == cudaSuccess) cudaStreamWaitEvent(caller_, slot_->join, 0);
    give_side_slot(slot_);
}

}  // namespace ffaccel::cuda
