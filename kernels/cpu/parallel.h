// A small persistent thread pool for the CPU paths.
//
// parallel_for(n, fn) calls fn(begin, end) on disjoint chunks of [0, n) and returns
// when all are done. One job runs at a time; a call that finds the pool busy (another
// Python thread is inside an op) runs its whole range on the calling thread instead of
// waiting, so concurrent callers never deadlock. Thread count: FFACCEL_NUM_THREADS, or
// the hardware concurrency.
#pragma once

#include <functional>

namespace ffaccel::cpu {

void parallel_for(int n, const std::function<void(int, int)>& fn);
int num_threads();

}  // namespace ffaccel::cpu
