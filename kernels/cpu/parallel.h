// A small persistent thread pool for the CPU paths.
//
// parallel_for(n, item_ns, fn) calls fn(begin, end) on disjoint chunks of [0, n) and
// returns when all are done. item_ns is the caller's estimate of one item's time on one
// core of the x86-64-v3 build, in nanoseconds (the average where items differ; within a
// factor of two or three is enough). From n * item_ns the pool decides how many threads
// the job is worth: waking a sleeping thread and waiting for it costs the caller tens of
// microseconds, more the more threads it wakes, so the job engages one thread per grain
// of work (kGrainNs in parallel.cpp), at most one per item and at most the pool's size:
//   - a job worth less than two grains runs on the caller's thread, waking nobody;
//   - a larger one wakes only the workers it engages beside the caller, and is cut into
//     4 chunks per engaged thread, claimed one at a time (a late waker's share is
//     taken by the others).
// Chunking never changes the bytes: every caller's items are independent (rows), and
// the few that merge results (seam_ring's box, a count) merge with min, max or sums of
// integers, whose order does not matter.
//
// One job runs at a time; a call that finds the pool busy (another Python thread is
// inside an op) runs its whole range on the calling thread instead of waiting, so
// concurrent callers never deadlock. Thread count: FFACCEL_NUM_THREADS, or the hardware
// concurrency. FFACCEL_POOL_GRAIN_US (read once, like the thread count) overrides the
// grain in microseconds, for tuning on a new machine and for the tests; 0 splits every
// job over every thread (4 chunks each), as the pool did before it took costs.
#pragma once

#include <functional>

namespace ffaccel::cpu {

void parallel_for_cost(int n, double item_ns, const std::function<void(int, int)>& fn);
int num_threads();

// The baseline (SSE2) build's loops run 2 to 15 times slower than the AVX2 ones the
// estimates are measured on (warp 8x, paste 15x, colour tables 2-3x): its jobs count 4x,
// so they split at closer to the same wall time; erring low only keeps a job on the
// caller a little longer. Internal linkage: each build of a file gets its own value.
#if defined(__AVX2__)
static constexpr double kBuildSlowdown = 1.0;
#else
static constexpr double kBuildSlowdown = 4.0;
#endif

static inline void parallel_for(int n, double item_ns, const std::function<void(int, int)>& fn) {
    parallel_for_cost(n, item_ns * kBuildSlowdown, fn);
}

}  // namespace ffaccel::cpu
