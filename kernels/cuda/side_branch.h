// A second stream for work that the caller's next kernels do not depend on, forked from
// and joined back to the caller's stream (used for paste_back_insightface's copy of a new
// output frame outside the pixels its kernels write: the copy, bandwidth-bound, then runs
// beside those small kernels instead of before them, on a grid narrow enough to leave them
// most of each SM).
//
// Fork: an event recorded on the caller's stream, waited on by the side stream, so the
// side work starts after everything the caller enqueued. Join: an event recorded on the
// side stream, waited on by the caller's stream. Under stream capture this is CUDA's
// fork/join pattern: the side work becomes a parallel branch of the graph.
//
// Side streams come from a per-device pool (a mutex-guarded free list): a branch holds
// one from fork to join, so two host threads never record on one event, and the pool only
// grows to the number of calls in flight at once. A pool entry is created outside stream
// capture only; a branch that would have to create one while the caller's stream is being
// captured runs its work on the caller's stream instead (`stream()` returns that stream).
#pragma once

#include <cuda_runtime.h>

namespace ffaccel::cuda {

struct SideSlot;

class SideBranch {
public:
    explicit SideBranch(cudaStream_t caller);  // forks
    ~SideBranch();                             // joins, if join() was not called
    SideBranch(const SideBranch&) = delete;
    SideBranch& operator=(const SideBranch&) = delete;

    cudaStream_t stream() const;  // where to enqueue the side work
    bool forked() const { return slot_ != nullptr; }  // false: stream() is the caller's
    int multiprocessors() const;  // the SMs of the branch's device: a side grid's width
    void join();                  // the caller's stream waits for the side work

private:
    cudaStream_t caller_;
    SideSlot* slot_ = nullptr;  // null: no side stream, the work runs on the caller's stream
};

}  // namespace ffaccel::cuda
