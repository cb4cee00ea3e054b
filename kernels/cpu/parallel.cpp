#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace ffaccel::cpu {
namespace {

// Work that pays for one more thread, in ns of one core (the grain): a job below two
// grains runs on the caller's thread, a larger one engages one thread per grain (see
// parallel.h). About twice what engaging one helper cost on the 2-core CI machine (4 to
// 8 us, threads warm: a warp split over 2 threads first beats the caller alone at 10 to
// 16 us of work), so each engaged thread's share is at least twice its cost; 8 and 12
// us only traded a few us between cases there (docs/results/cpu2/pool-inline.md,
// benchmarks/bench_pool.py).
// Machines with many idle cores may want more: FFACCEL_POOL_GRAIN_US tries other values.
constexpr double kGrainNs = 16000.0;

struct Job {
    const std::function<void(int, int)>* fn;
    int n, chunks;
    int helpers;     // workers wanted: the ones beyond that go back to sleep
    int woken = 0;   // wake-ups sent for it so far, guarded by Pool::m_
    int joined = 0;  // workers that took the job, guarded by Pool::m_
    std::atomic<int> next{0};
    int done = 0;    // chunks finished, guarded by Pool::m_
    int active = 0;  // workers holding a pointer to this job, guarded by Pool::m_
};

class Pool {
public:
    Pool(int threads, double grain_ns) : pid_(getpid()), grain_ns_(grain_ns) {
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { loop(); });
    }

    // Leaked on purpose (see pool()): joining at interpreter exit races with Python's
    // own teardown, and the OS reclaims the threads.
    int size() const { return static_cast<int>(workers_.size()) + 1; }
    pid_t pid() const { return pid_; }

    // Workers a job of n items worth `total_ns` engages beside the caller; 0: none.
    int helpers_for(int n, double total_ns) const {
        const int most = std::min(n, size()) - 1;
        if (grain_ns_ <= 0.0) return most;
        const double t = std::floor(total_ns / grain_ns_);  // NaN, negative: 0
        return t - 1.0 >= most ? most : (t >= 2.0 ? static_cast<int>(t) - 1 : 0);
    }

    bool try_run(int n, int helpers, const std::function<void(int, int)>& fn) {
        std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
        if (!job_lock.owns_lock()) return false;
        Job job;
        job.fn = &fn;
        job.n = n;
        // Chunks are claimed one at a time, so several per thread let the threads that
        // start first take over the share of one that wakes late.
        job.chunks = std::min(n, 4 * (helpers + 1));
        job.helpers = helpers;
        // Every worker engaged: one broadcast wakes them all at once (a tree would start the
        // last ones a few wake-up latencies late). Else the tree of take_wakes.
        const bool all = helpers == static_cast<int>(workers_.size());
        int wake;
        {
            std::lock_guard<std::mutex> lk(m_);
            job_ = &job;
            ++generation_;
            if (all) job.woken = helpers;
            wake = all ? 0 : take_wakes(job);
        }
        if (all) cv_.notify_all();
        for (int i = 0; i < wake; ++i) cv_.notify_one();
        work(job);
        std::unique_lock<std::mutex> lk(m_);
        // Every chunk is taken: close the job to late wakers, then wait for the chunks in
        // flight. The job lives on this stack frame, so no worker may still hold it.
        job_ = nullptr;
        done_cv_.wait(lk, [&] { return job.done == job.chunks && job.active == 0; });
        return true;
    }

private:
    // A job that engages part of the pool wakes only those workers, as a tree: the caller
    // wakes two, and each worker that takes the job wakes up to two more before it starts.
    // A wake-up is a system call, so no thread (the caller least) pays for more than two,
    // and the k-th helper starts after about log2(k) wake-up latencies; a broadcast would
    // wake every worker to contend for the lock (16 threads on 2 cores, a 128x128 warp
    // on 4 of them: 66 us with the tree, 81 with a broadcast). A woken worker that finds
    // the job full or gone goes back to sleep; one that never comes leaves its share to
    // the others (chunks are claimed one at a time). Called with m_ held.
    static int take_wakes(Job& job) {
        const int n = std::min(2, job.helpers - job.woken);
        job.woken += n;
        return n;
    }

    void work(Job& job) {
        int finished = 0;
        for (;;) {
            const int i = job.next.fetch_add(1);
            if (i >= job.chunks) break;
            const int b = static_cast<int>(static_cast<long long>(job.n) * i / job.chunks);
            const int e = static_cast<int>(static_cast<long long>(job.n) * (i + 1) / job.chunks);
            if (b < e) (*job.fn)(b, e);
            ++finished;
        }
        std::lock_guard<std::mutex> lk(m_);
        job.done += finished;
    }

    void loop() {
        unsigned seen = 0;
        for (;;) {
            Job* job;
            int wake;
            {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [&] { return generation_ != seen; });
                seen = generation_;
                job = job_;
                if (job == nullptr || job->joined >= job->helpers) continue;
                ++job->joined;
                ++job->active;
                wake = take_wakes(*job);
            }
            for (int i = 0; i < wake; ++i) cv_.notify_one();
            work(*job);
            {
                std::lock_guard<std::mutex> lk(m_);
                --job->active;
            }
            done_cv_.notify_all();
        }
    }

    pid_t pid_;
    double grain_ns_;
    std::vector<std::thread> workers_;
    std::mutex job_mutex_, m_;
    std::condition_variable cv_, done_cv_;
    Job* job_ = nullptr;
    unsigned generation_ = 0;
};

int configured_threads() {
    if (const char* env = std::getenv("FFACCEL_NUM_THREADS")) {
        const int v = std::atoi(env);
        if (v > 0) return std::min(v, 256);
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

double configured_grain_ns() {
    if (const char* env = std::getenv("FFACCEL_POOL_GRAIN_US")) {
        char* end = nullptr;
        const double us = std::strtod(env, &end);
        if (end != env && us >= 0.0 && us <= 1e9) return us * 1000.0;  // else: the default
    }
    return kGrainNs;
}

Pool* pool() {
    static std::mutex m;
    static Pool* p = nullptr;
    std::lock_guard<std::mutex> lk(m);
    // A forked child inherits the pointer but not the threads: start a fresh pool.
    if (p == nullptr || p->pid() != getpid()) p = new Pool(configured_threads(), configured_grain_ns());
    return p;
}

}  // namespace

int num_threads() { return pool()->size(); }

void parallel_for_cost(int n, double item_ns, const std::function<void(int, int)>& fn) {
    if (n <= 0) return;
    Pool* p = pool();
    const int helpers = p->helpers_for(n, static_cast<double>(n) * item_ns);
    if (helpers == 0 || !p->try_run(n, helpers, fn)) fn(0, n);
}

}  // namespace ffaccel::cpu
